/**
 * A GROUP in JSON (docs/api.md#json-interface), as PUT /api/upstreams/NAME takes it, turned into the command body
 * Tengine's interface takes: the group is then checked, built and applied by the very code that checks a text body,
 * so both forms accept and refuse alike. Every value is checked here first, so that nothing in a JSON string can
 * become syntax in the command body (no `;`, braces, quotes, `#`, `$` or white space).
 */

/** A JSON body that is not a GROUP: 400 with `code` and `message`. */
export class JsonInputError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

const POLICIES = new Set(['round_robin', 'least_conn', 'ip_hash', 'hash', 'random', 'consistent_hash'])
const GROUP_FIELDS = new Set(['name', 'static', 'policy', 'keepalive', 'check', 'servers'])
// `id`, `address`, `state` and the counters are what GET answers: sent back as read, they are ignored.
const SERVER_FIELDS = new Set(['id', 'server', 'address', 'weight', 'max_fails', 'fail_timeout', 'max_conns', 'backup', 'down', 'slow_start', 'state', 'active', 'requests', 'fails'])
const KEEPALIVE_FIELDS = new Set(['connections', 'timeout_ms', 'requests', 'time_ms'])

/** A word that stays one token of the command body: no white space, quotes, `;`, braces, `#`, `$`, `\`, controls. */
const SAFE_WORD = /^[^\s;{}"'#$\\\x00-\x1f\x7f]+$/
/** A hash key may hold variables (`$request_uri`), still one token. */
const SAFE_KEY = /^[^\s;{}"'#\\\x00-\x1f\x7f]+$/

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function unknownFields(o: Record<string, unknown>, allowed: Set<string>, where: string): void {
  for (const k of Object.keys(o)) if (!allowed.has(k)) throw new JsonInputError('unknown_field', `unknown field "${k}" in ${where}`)
}

function integer(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new JsonInputError('invalid_value', `"${field}" must be an integer from ${min} to ${max}`)
  }
  return v
}

function flag(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new JsonInputError('invalid_value', `"${field}" must be true or false`)
  return v
}

function word(v: unknown, field: string, re = SAFE_WORD): string {
  if (typeof v !== 'string' || !re.test(v)) throw new JsonInputError('invalid_value', `"${field}" must be a string without white space, quotes, ";", braces or "#"`)
  return v
}

/**
 * The command body of a GROUP. `name`, `static`, and servers' read-only fields (`id`, `address`, `state`, counters)
 * may be present, as GET answers them, and are ignored; any other unknown field is refused.
 * @throws JsonInputError
 */
export function groupCommands(v: unknown): string {
  if (!isObject(v)) throw new JsonInputError('invalid_body', 'the body must be a JSON object (a GROUP)')
  unknownFields(v, GROUP_FIELDS, 'the group')
  let out = ''
  const p = v['policy']
  if (p !== undefined && p !== null) {
    if (!isObject(p)) throw new JsonInputError('invalid_value', '"policy" must be an object')
    unknownFields(p, new Set(['name', 'key', 'consistent', 'two']), '"policy"')
    const name = p['name']
    if (typeof name !== 'string' || !POLICIES.has(name)) throw new JsonInputError('invalid_value', `"policy.name" must be one of ${[...POLICIES].join(', ')}`)
    if (name === 'hash') {
      out += `hash ${word(p['key'], 'policy.key', SAFE_KEY)}${p['consistent'] !== undefined && flag(p['consistent'], 'policy.consistent') ? ' consistent' : ''};`
    } else if (name === 'consistent_hash') {
      out += `consistent_hash ${word(p['key'], 'policy.key', SAFE_KEY)};`
    } else if (name === 'random') {
      out += p['two'] !== undefined && flag(p['two'], 'policy.two') ? 'random two;' : 'random;'
    } else if (name !== 'round_robin') {
      out += `${name};`
    }
    if (name !== 'hash' && p['consistent'] !== undefined) throw new JsonInputError('invalid_value', '"policy.key" and "policy.consistent" are for "hash"')
    if (name !== 'hash' && name !== 'consistent_hash' && p['key'] !== undefined) throw new JsonInputError('invalid_value', '"policy.key" and "policy.consistent" are for "hash"')
    if (name !== 'random' && p['two'] !== undefined) throw new JsonInputError('invalid_value', '"policy.two" is for "random"')
  }
  if (v['check'] !== undefined && v['check'] !== null) {
    throw new JsonInputError('unsupported', 'a "check" is set through the text body (check ...;) for now')
  }
  const servers = v['servers']
  if (!Array.isArray(servers) || servers.length === 0) throw new JsonInputError('invalid_value', '"servers" must be a non-empty array')
  for (let i = 0; i < servers.length; i++) out += `server ${serverArgs(serverInput(servers[i], `servers[${i}]`, false))};`
  const k = v['keepalive']
  if (k !== undefined && k !== null) {
    if (!isObject(k)) throw new JsonInputError('invalid_value', '"keepalive" must be an object or null')
    unknownFields(k, KEEPALIVE_FIELDS, '"keepalive"')
    out += `keepalive ${integer(k['connections'], 'keepalive.connections', 1, 1_000_000)};`
    if (k['timeout_ms'] !== undefined) out += `keepalive_timeout ${integer(k['timeout_ms'], 'keepalive.timeout_ms', 0, 2_147_483_647)}ms;`
    if (k['requests'] !== undefined) out += `keepalive_requests ${integer(k['requests'], 'keepalive.requests', 0, 2_147_483_647)};`
    if (k['time_ms'] !== undefined) out += `keepalive_time ${integer(k['time_ms'], 'keepalive.time_ms', 0, 2_147_483_647)}ms;`
  }
  return out
}

/** A server's parameters as JSON gives them (`server` is the address as written); absent fields are not given. */
export interface ServerInput {
  server?: string
  weight?: number
  max_fails?: number
  fail_timeout?: number
  max_conns?: number
  slow_start?: number
  backup?: boolean
  down?: boolean
}

const NUMBERS = [['weight', 1, 1_000_000], ['max_fails', 0, 1_000_000], ['fail_timeout', 0, 31_536_000], ['max_conns', 0, 1_000_000],
  ['slow_start', 0, 31_536_000]] as const

/**
 * A server object checked: `partial` (a PATCH) may leave out `server`. Read-only fields GET answers are ignored.
 * @throws JsonInputError
 */
export function serverInput(s: unknown, at: string, partial: boolean): ServerInput {
  if (!isObject(s)) throw new JsonInputError('invalid_value', `"${at}" must be an object`)
  unknownFields(s, SERVER_FIELDS, `"${at}"`)
  const out: ServerInput = {}
  if (s['server'] !== undefined || !partial) out.server = word(s['server'], `${at}.server`)
  for (const [field, min, max] of NUMBERS) if (s[field] !== undefined) out[field] = integer(s[field], `${at}.${field}`, min, max)
  if (s['backup'] !== undefined) out.backup = flag(s['backup'], `${at}.backup`)
  if (s['down'] !== undefined) out.down = flag(s['down'], `${at}.down`)
  return out
}

/** The arguments of a `server` line for a complete ServerInput (`server` set). */
export function serverArgs(s: ServerInput): string {
  let out = s.server!
  for (const [field] of NUMBERS) if (s[field] !== undefined) out += ` ${field}=${s[field]}`
  if (s.backup === true) out += ' backup'
  if (s.down === true) out += ' down'
  return out
}

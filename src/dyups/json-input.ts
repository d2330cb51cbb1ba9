/**
 * A GROUP in JSON (docs/api.md#json-interface), as PUT /api/upstreams/NAME takes it, turned into the command body
 * Tengine's interface takes: the group is then checked, built and applied by the very code that checks a text body,
 * so both forms accept and refuse alike. Every value is checked here first, so that nothing in a JSON string can
 * become syntax in the command body (no `;`, braces, quotes, `#`, `$` or white space).
 */
import { checkLines, defaultExpectAlive, HTTP_DEFAULT_SEND, type CheckSpec, type CheckStatusClass, type CheckType } from '../upstream/index.js'

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
// `address`, `state`, `health` and the counters are what GET answers: sent back as read, they are ignored.
const SERVER_FIELDS = new Set(['id', 'server', 'address', 'weight', 'max_fails', 'fail_timeout', 'max_conns', 'backup', 'down', 'drain', 'slow_start', 'state', 'active', 'requests', 'fails', 'health'])
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
  const checkText = v['check'] === undefined || v['check'] === null ? '' : checkCommands(v['check'])
  const servers = v['servers']
  if (!Array.isArray(servers) || servers.length === 0) throw new JsonInputError('invalid_value', '"servers" must be a non-empty array')
  // One directive per line: a server's id and drain ride on a marker comment at the end of its line.
  for (let i = 0; i < servers.length; i++) {
    const si = serverInput(servers[i], `servers[${i}]`, false)
    out += `server ${serverArgs(si)};${serverMarkerOf(si)}\n`
  }
  const k = v['keepalive']
  if (k !== undefined && k !== null) {
    if (!isObject(k)) throw new JsonInputError('invalid_value', '"keepalive" must be an object or null')
    unknownFields(k, KEEPALIVE_FIELDS, '"keepalive"')
    out += `keepalive ${integer(k['connections'], 'keepalive.connections', 1, 1_000_000)};`
    if (k['timeout_ms'] !== undefined) out += `keepalive_timeout ${integer(k['timeout_ms'], 'keepalive.timeout_ms', 0, 2_147_483_647)}ms;`
    if (k['requests'] !== undefined) out += `keepalive_requests ${integer(k['requests'], 'keepalive.requests', 0, 2_147_483_647)};`
    if (k['time_ms'] !== undefined) out += `keepalive_time ${integer(k['time_ms'], 'keepalive.time_ms', 0, 2_147_483_647)}ms;`
  }
  return out + checkText
}

const CHECK_TYPES = ['tcp', 'http', 'fastcgi', 'ssl_hello', 'mysql', 'ajp'] as const
const CHECK_CLASSES = ['http_1xx', 'http_2xx', 'http_3xx', 'http_4xx', 'http_5xx'] as const
const CHECK_FIELDS = new Set(['type', 'interval', 'timeout', 'rise', 'fall', 'default_down', 'unique', 'port', 'send', 'expect_alive', 'keepalive_requests', 'fastcgi_params'])

/** A string of bytes for a quoted argument (quoteArg escapes what needs it): latin1 only. */
function bytes(v: unknown, field: string): string {
  // eslint-disable-next-line no-control-regex
  if (typeof v !== 'string' || /[^\x00-\xff]|\x00/.test(v)) throw new JsonInputError('invalid_value', `"${field}" must be a string of latin1 characters without NUL`)
  return v
}

/**
 * A `check` object as GET shows it, as its `check` and `check_*` lines (Tengine's defaults for fields left out; `type`
 * is needed). Strings go through quoteArg, so they stay one argument whatever they hold.
 * @throws JsonInputError
 */
function checkCommands(c: unknown): string {
  if (!isObject(c)) throw new JsonInputError('invalid_value', '"check" must be an object or null')
  unknownFields(c, CHECK_FIELDS, '"check"')
  const type = c['type']
  if (typeof type !== 'string' || !(CHECK_TYPES as readonly string[]).includes(type)) throw new JsonInputError('invalid_value', `"check.type" must be one of ${CHECK_TYPES.join(', ')}`)
  const t = type as CheckType
  const num = (f: string, dflt: number, min: number, max = 2_147_483_647): number => (c[f] === undefined ? dflt : integer(c[f], `check.${f}`, min, max))
  const alive = c['expect_alive']
  if (alive !== undefined && (!Array.isArray(alive) || !alive.every((x) => (CHECK_CLASSES as readonly unknown[]).includes(x)))) {
    throw new JsonInputError('invalid_value', `"check.expect_alive" must be an array of ${CHECK_CLASSES.join(', ')}`)
  }
  const params = c['fastcgi_params']
  if (params !== undefined && (!Array.isArray(params) || !params.every((p) => Array.isArray(p) && p.length === 2))) {
    throw new JsonInputError('invalid_value', '"check.fastcgi_params" must be an array of [name, value] pairs')
  }
  const spec: CheckSpec = {
    type: t,
    interval: num('interval', 30000, 1),
    timeout: num('timeout', 1000, 1),
    rise: num('rise', 2, 1),
    fall: num('fall', 5, 1),
    defaultDown: c['default_down'] === undefined ? true : flag(c['default_down'], 'check.default_down'),
    unique: c['unique'] === undefined ? false : flag(c['unique'], 'check.unique'),
    port: num('port', 0, 0, 65535),
    send: c['send'] === undefined ? (t === 'http' ? HTTP_DEFAULT_SEND : '') : bytes(c['send'], 'check.send'),
    expectAlive: alive === undefined ? defaultExpectAlive(t) : (alive as CheckStatusClass[]),
    keepaliveRequests: num('keepalive_requests', 1, 1),
    fastcgiParams: ((params ?? []) as unknown[][]).map((p, i) => [bytes(p[0], `check.fastcgi_params[${i}][0]`), bytes(p[1], `check.fastcgi_params[${i}][1]`)] as const),
  }
  return checkLines(spec)
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
  drain?: boolean
  /** A GROUP's server sent back as read keeps its id (and so its drain, when not given). */
  id?: number
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
  if (s['drain'] !== undefined) out.drain = flag(s['drain'], `${at}.drain`)
  if (s['id'] !== undefined && !partial) out.id = integer(s['id'], `${at}.id`, 0, 999_999_999)
  return out
}

/**
 * The marker comment (upstream/markers.ts) a server line needs for `id` and `drain`: with an id, the server's
 * drain is what `drain` says; without one, a kept server keeps its drain unless `drain: true` is given.
 */
export function serverMarkerOf(s: ServerInput): string {
  if (s.id === undefined && s.drain !== true) return ''
  return ` # dyups:${s.id !== undefined ? ` id=${s.id}` : ''}${s.drain === true ? ' drain' : ''}`
}

/** The arguments of a `server` line for a complete ServerInput (`server` set). */
export function serverArgs(s: ServerInput): string {
  let out = s.server!
  for (const [field] of NUMBERS) if (s[field] !== undefined) out += ` ${field}=${s[field]}`
  if (s.backup === true) out += ' backup'
  if (s.down === true) out += ' down'
  return out
}

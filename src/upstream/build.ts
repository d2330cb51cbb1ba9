/**
 * Builds an UpstreamGroup from the directives of an `upstream NAME { ... }` block or a dyups command body,
 * validating as nginx does: ngx_http_upstream_server, ngx_http_upstream_init_round_robin, the balancing modules
 * (ip_hash, least_conn, hash, random), keepalive, zone, and Tengine's check module. Messages are nginx's, bare;
 * the position goes in the error's `at`.
 */
import { ADDRCONFIG } from 'node:dns'
import { lookup } from 'node:dns/promises'
import { defaultRegistry, parseInto, type Directive } from '../config/index.js'
import { DyupsError, isDyupsError, type Pos } from '../errors.js'
import { canonicalIp, isResolvableName, parseAddress, type ParsedAddress } from './address.js'
import { CheckState } from './check.js'
import { readLineMarkers, withMarkers } from './markers.js'
import type { Keepalive, Policy, Server, UpstreamGroup } from './types.js'
import { ngxAtoi, ngxParseSize, ngxParseTime } from './values.js'

/** Resolves a host name to its addresses, IPv4 first (nginx's ngx_inet_resolve_host order). */
export type Resolver = (host: string) => Promise<string[]>

export interface BuildOptions {
  /** @default getaddrinfo through dns.lookup, IPv4 first, AI_ADDRCONFIG as nginx asks. */
  resolve?: Resolver
  /** Decides the error code: `E_COMMANDS` for a dyups command body, `E_CONFIG` for nginx.conf. */
  source: 'config' | 'commands'
  /** Where group-level errors point (`no servers are inside upstream`); @default the last directive's position. */
  at?: Pos
  /** nginx's configuration warnings (`load balancing method redefined`); they do not fail the build. */
  onWarning?: (message: string, at: Pos) => void
}

/**
 * The default resolver: getaddrinfo as nginx calls it (AI_ADDRCONFIG, so a host without IPv6 gets no `::1` for
 * `localhost`), IPv4 addresses first, each address once.
 * @throws the lookup's error when the name does not resolve.
 */
export const defaultResolver: Resolver = async (host) => {
  let found
  try {
    found = await lookup(host, { all: true, order: 'ipv4first', hints: ADDRCONFIG })
  } catch {
    // AI_ADDRCONFIG finds nothing on a host whose only addresses are loopback (a bare container): ask plainly.
    found = await lookup(host, { all: true, order: 'ipv4first' })
  }
  const v4: string[] = []
  const v6: string[] = []
  for (const a of found) {
    const list = a.family === 4 ? v4 : v6
    if (!list.includes(a.address)) list.push(a.address)
  }
  return v4.concat(v6)
}

/** `server` parameters with nginx's defaults. */
interface ServerParams {
  weight: number
  maxFails: number
  failTimeout: number
  maxConns: number
  backup: boolean
  down: boolean
  slowStart: number
}

interface PendingServer {
  readonly d: Directive
  readonly url: string
  readonly addr: ParsedAddress
  readonly params: ServerParams
}

/** Directives of the upstream context and their argument counts (nginx's NGX_CONF_* flags). */
const ARGS: ReadonlyMap<string, (n: number) => boolean> = new Map([
  ['server', (n: number) => n >= 1],
  ['ip_hash', (n: number) => n === 0],
  ['least_conn', (n: number) => n === 0],
  ['hash', (n: number) => n === 1 || n === 2],
  ['consistent_hash', (n: number) => n === 1],
  ['random', (n: number) => n <= 2],
  ['keepalive', (n: number) => n === 1],
  ['keepalive_timeout', (n: number) => n === 1],
  ['keepalive_requests', (n: number) => n === 1],
  ['keepalive_time', (n: number) => n === 1],
  ['zone', (n: number) => n === 1 || n === 2],
  ['check', (n: number) => n >= 1],
  ['check_http_send', (n: number) => n === 1],
  ['check_http_expect_alive', (n: number) => n >= 1],
  ['check_keepalive_requests', (n: number) => n === 1],
  ['check_fastcgi_param', (n: number) => n === 2],
])

const BACKUP_DENIED = 'balancing method does not support parameter "backup"'

/** The whole state of one upstream block while its directives are read in order. */
class GroupBuilder {
  policy: Policy = { name: 'round_robin' }
  policySet = false
  /** Whether `server ... backup` is allowed by the current method (nginx's NGX_HTTP_UPSTREAM_BACKUP flag). */
  backupAllowed = true
  keepalive: number | null = null
  keepaliveTimeout: number | null = null
  keepaliveRequests: number | null = null
  keepaliveTime: number | null = null
  readonly check = new CheckState()
  readonly servers: PendingServer[] = []

  constructor(private readonly warn: (message: string, d: Directive) => void) {}

  /** Checks and applies one directive; returns nginx's message when it is invalid. */
  apply(d: Directive): string | null {
    const argsOk = ARGS.get(d.name)
    if (argsOk === undefined) {
      // A directive nginx knows in other contexts is "not allowed here" rather than unknown.
      const known = defaultRegistry.lookup(d.name) !== undefined || defaultRegistry.isUnsupported(d.name)
      return known ? `"${d.name}" directive is not allowed here` : `unknown directive "${d.name}"`
    }
    if (d.block !== null) return `directive "${d.name}" is not terminated by ";"`
    if (!argsOk(d.args.length)) return `invalid number of arguments in "${d.name}" directive`
    const a = d.args
    switch (d.name) {
      case 'server':
        return this.server(d)
      case 'ip_hash':
        this.method(d, { name: 'ip_hash' }, false)
        return null
      case 'least_conn':
        this.method(d, { name: 'least_conn' }, true)
        return null
      case 'hash':
        this.method(d, { name: 'hash', key: a[0]!, consistent: a.length === 2 }, false)
        return a.length === 2 && a[1] !== 'consistent' ? `invalid parameter "${a[1]}"` : null
      case 'consistent_hash':
        // Tengine's module: no `backup` servers.
        this.method(d, { name: 'consistent_hash', key: a[0]! }, false)
        return null
      case 'random':
        this.method(d, { name: 'random', two: a.length > 0 }, false)
        if (a.length > 0 && a[0] !== 'two') return `invalid parameter "${a[0]}"`
        if (a.length > 1 && a[1] !== 'least_conn') return `invalid parameter "${a[1]}"`
        return null
      case 'keepalive': {
        if (this.keepalive !== null) return '"keepalive" directive is duplicate'
        const n = ngxAtoi(a[0]!)
        if (n <= 0) return `invalid value "${a[0]}" in "keepalive" directive`
        this.keepalive = n
        return null
      }
      case 'keepalive_timeout':
      case 'keepalive_time': {
        const key = d.name === 'keepalive_time' ? 'keepaliveTime' : 'keepaliveTimeout'
        if (this[key] !== null) return `"${d.name}" directive is duplicate`
        const ms = ngxParseTime(a[0]!, false)
        if (ms === null) return `"${d.name}" directive invalid value`
        this[key] = ms
        return null
      }
      case 'keepalive_requests': {
        if (this.keepaliveRequests !== null) return '"keepalive_requests" directive is duplicate'
        const n = ngxAtoi(a[0]!)
        if (n < 0) return '"keepalive_requests" directive invalid number'
        this.keepaliveRequests = n
        return null
      }
      case 'zone': {
        // Peers live in each worker and change through the store, so a shared zone has nothing to hold: the
        // directive is checked as nginx checks it and otherwise ignored.
        if (a[0]!.length === 0) return `invalid zone name "${a[0]}"`
        if (a.length === 2) {
          const size = ngxParseSize(a[1]!)
          if (size === null) return `invalid zone size "${a[1]}"`
          if (size < 8 * 4096) return `zone "${a[0]}" is too small`
        }
        return null
      }
      case 'check':
        return this.check.check(a)
      case 'check_http_send':
        return this.check.httpSend(a[0]!)
      case 'check_http_expect_alive':
        return this.check.expectAlive(a)
      case 'check_keepalive_requests': {
        const err = this.check.keepaliveRequestsDirective(a[0]!)
        return err === null ? null : `"${d.name}" directive ${err}`
      }
      case 'check_fastcgi_param':
        this.check.fastcgiParam(a[0]!, a[1]!)
        return null
    }
    return null
  }

  private method(d: Directive, policy: Policy, backup: boolean): void {
    // nginx warns and lets the later method win; keepalive also counts, because it hooks the same init function.
    if (this.policySet || this.keepalive !== null) this.warn('load balancing method redefined', d)
    this.policy = policy
    this.policySet = true
    this.backupAllowed = backup
  }

  /** ngx_http_upstream_server: parameters first, left to right, then the address. */
  private server(d: Directive): string | null {
    const p: ServerParams = {
      weight: 1,
      maxFails: 1,
      failTimeout: 10,
      maxConns: 0,
      backup: false,
      down: false,
      slowStart: 0,
    }
    for (let i = 1; i < d.args.length; i++) {
      const v = d.args[i]!
      if (v.startsWith('weight=')) {
        p.weight = ngxAtoi(v.slice(7))
        if (p.weight <= 0) return `invalid parameter "${v}"`
      } else if (v.startsWith('max_conns=')) {
        p.maxConns = ngxAtoi(v.slice(10))
        if (p.maxConns < 0) return `invalid parameter "${v}"`
      } else if (v.startsWith('max_fails=')) {
        p.maxFails = ngxAtoi(v.slice(10))
        if (p.maxFails < 0) return `invalid parameter "${v}"`
      } else if (v.startsWith('fail_timeout=')) {
        const t = ngxParseTime(v.slice(13), true)
        if (t === null) return `invalid parameter "${v}"`
        p.failTimeout = t
      } else if (v.startsWith('slow_start=')) {
        const t = ngxParseTime(v.slice(11), true)
        if (t === null) return `invalid parameter "${v}"`
        p.slowStart = t
      } else if (v === 'backup') {
        if (!this.backupAllowed) return BACKUP_DENIED
        p.backup = true
      } else if (v === 'down') {
        p.down = true
      } else {
        return `invalid parameter "${v}"`
      }
    }
    const url = d.args[0]!
    const addr = parseAddress(url)
    if (addr.kind === 'error') return `${addr.err} in upstream "${url}"`
    if (addr.kind === 'name' && !isResolvableName(addr.host)) return `host not found in upstream "${url}"`
    this.servers.push({ d, url, addr, params: p })
    return null
  }

  keepaliveSettings(): Keepalive {
    return {
      connections: this.keepalive ?? 0,
      timeout: this.keepaliveTimeout ?? 60000,
      requests: this.keepaliveRequests ?? 1000,
      time: this.keepaliveTime ?? 3600000,
    }
  }
}

const posOf = (d: Directive): Pos => ({ file: d.file, line: d.line })

/**
 * Builds and deep-freezes a group from the children of an `upstream NAME {}` block or a parsed command body.
 * Host names are resolved (all at once) after every directive has been checked; the error reported is the first
 * one in directive order, as nginx would report it.
 * @throws DyupsError `E_COMMANDS` (source 'commands') or `E_CONFIG` (source 'config') with nginx's message.
 */
export async function buildGroup(
  name: string,
  directives: readonly Directive[],
  opts: BuildOptions,
): Promise<UpstreamGroup> {
  const code = opts.source === 'commands' ? 'E_COMMANDS' : 'E_CONFIG'
  const b = new GroupBuilder((message, d) => opts.onWarning?.(message, posOf(d)))

  let failed: { message: string; at: Pos } | null = null
  for (const d of directives) {
    const err = b.apply(d)
    if (err !== null) {
      failed = { message: err, at: posOf(d) }
      break
    }
  }

  const resolve = opts.resolve ?? defaultResolver
  const resolved = await Promise.all(
    b.servers.map((s) => (s.addr.kind === 'name' ? resolveName(resolve, s.addr.host) : null)),
  )
  for (let i = 0; i < b.servers.length; i++) {
    if (resolved[i] !== null && resolved[i]!.length === 0) {
      const s = b.servers[i]!
      throw new DyupsError(code, `host not found in upstream "${s.url}"`, posOf(s.d))
    }
  }
  if (failed !== null) throw new DyupsError(code, failed.message, failed.at)

  const last = directives[directives.length - 1]
  const groupAt = opts.at ?? (last ? posOf(last) : { file: opts.source === 'commands' ? 'command body' : '', line: 1 })
  if (b.servers.length === 0) throw new DyupsError(code, 'no servers are inside upstream', groupAt)

  const servers: Server[] = []
  let primaries = 0
  for (let i = 0; i < b.servers.length; i++) {
    const s = b.servers[i]!
    // ip_hash, hash and random cannot serve backups: nginx refuses `backup` after the method; refuse it before too.
    if (s.params.backup && !b.backupAllowed) throw new DyupsError(code, BACKUP_DENIED, posOf(s.d))
    if (!s.params.backup) primaries++
    for (const peer of peersOf(s, resolved[i]!)) servers.push(freezeServer(peer, s, i))
  }
  if (primaries === 0) throw new DyupsError(code, `no servers in upstream "${name}"`, groupAt)

  return Object.freeze({
    name,
    policy: Object.freeze(b.policy),
    keepalive: Object.freeze(b.keepaliveSettings()),
    check: deepFreezeCheck(b.check.finish()),
    servers: Object.freeze(servers),
  })
}

/** Addresses of a name, canonical; [] when it does not resolve (nginx: "host not found"). */
async function resolveName(resolve: Resolver, host: string): Promise<{ host: string; v6: boolean }[]> {
  let found: string[]
  try {
    found = await resolve(host)
  } catch {
    return []
  }
  const out: { host: string; v6: boolean }[] = []
  for (const ip of found) {
    const c = canonicalIp(ip)
    if (c !== null) out.push(c)
  }
  return out
}

interface PeerAddr {
  addr: string
  host: string
  port: number
  unix: boolean
}

function peersOf(s: PendingServer, resolved: { host: string; v6: boolean }[] | null): PeerAddr[] {
  const a = s.addr
  switch (a.kind) {
    case 'unix':
      // nginx names a unix peer by the address as written (`unix:` in whatever case it was typed).
      return [{ addr: s.url, host: a.path, port: 0, unix: true }]
    case 'ip':
      return [{ addr: a.addr, host: a.host, port: a.port, unix: false }]
    case 'name':
      return resolved!.map((r) => ({
        addr: r.v6 ? `[${r.host}]:${a.port}` : `${r.host}:${a.port}`,
        host: r.host,
        port: a.port,
        unix: false,
      }))
    default:
      return []
  }
}

function freezeServer(peer: PeerAddr, s: PendingServer, entry: number): Server {
  const p = s.params
  return Object.freeze({
    addr: peer.addr,
    name: s.url,
    host: peer.host,
    port: peer.port,
    unix: peer.unix,
    entry,
    weight: p.weight,
    maxFails: p.maxFails,
    failTimeout: p.failTimeout,
    maxConns: p.maxConns,
    backup: p.backup,
    down: p.down,
    slowStart: p.slowStart,
    id: -1,
    drain: false,
  })
}

function deepFreezeCheck(c: ReturnType<CheckState['finish']>): UpstreamGroup['check'] {
  if (c === null) return null
  for (const pair of c.fastcgiParams) Object.freeze(pair)
  Object.freeze(c.fastcgiParams)
  Object.freeze(c.expectAlive)
  return Object.freeze(c)
}

/** The file name command-body errors carry (`... in command body:3`). */
export const COMMAND_BODY = 'command body'

/**
 * Parses a dyups command body (upstream-block contents as latin1 bytes, docs/api.md#post-creating-and-replacing-a-group) and builds the group.
 * The body is checked as nginx checks configuration: directive by directive, so an invalid directive before a
 * syntax error is reported first.
 * @throws DyupsError `E_COMMANDS`: empty or comment-only body (`no servers are inside upstream`), syntax errors,
 *   unknown or misplaced directives, invalid parameters, unresolvable or invalid addresses.
 */
export async function parseCommands(name: string, body: string, resolve?: Resolver): Promise<UpstreamGroup> {
  const nul = body.indexOf('\0')
  if (nul >= 0) throw new DyupsError('E_COMMANDS', 'unexpected NUL byte', { file: COMMAND_BODY, line: lineAt(body, nul) })

  const directives: Directive[] = []
  try {
    parseInto(body, COMMAND_BODY, directives)
  } catch (e) {
    if (!isDyupsError(e)) throw e
    // The directives read before the syntax error were checked by nginx before it got that far.
    const b = new GroupBuilder(() => {})
    for (const d of directives) {
      const err = b.apply(d)
      if (err !== null) throw new DyupsError('E_COMMANDS', err, posOf(d))
    }
    throw new DyupsError('E_COMMANDS', e.message, e.at)
  }
  const g = await buildGroup(name, directives, { resolve, source: 'commands', at: { file: COMMAND_BODY, line: lineAt(body, body.length) } })
  const markers = readLineMarkers(body)
  if (markers.size === 0) return g
  const lines: number[] = []
  for (const d of directives) if (d.name === 'server') lines.push(d.line)
  return withMarkers(g, markers, lines)
}

function lineAt(text: string, offset: number): number {
  let line = 1
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++
  return line
}

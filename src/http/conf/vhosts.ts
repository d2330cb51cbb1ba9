/**
 * Virtual servers: which `server {}` answers a request, as nginx decides it (ngx_http_find_virtual_server,
 * ngx_http_server_names, ngx_hash_add_key in src/http/ngx_http.c and src/core/ngx_hash.c).
 *
 * Each listen address (`0.0.0.0:8080`, `127.0.0.1:80`, `[::]:80`, `unix:/path`) has its own set of servers. The
 * Host (lower-cased, port and trailing dot removed, see {@link normalizeHost}) selects among them:
 *   1. an exact `server_name`;
 *   2. the longest leading wildcard: `*.example.com` (subdomains only) or `.example.com` (the domain too);
 *   3. the longest trailing wildcard: `www.example.*`;
 *   4. the first `~regex` that matches, in server order then name order (caseless when the pattern has an
 *      upper-case letter, as nginx compiles it; matched against the lower-cased host);
 *   5. the `default_server` of the address, else the first server that listens on it.
 * A server without `server_name` has the name "" and so answers requests without a Host.
 *
 * Per-request cost: one Map lookup for an exact name; only when wildcards are configured, one Map lookup per dot
 * of the host (each on a slice of it); one RegExp test per regex name tried.
 */
import { hostname as osHostname } from 'node:os'
import { DyupsError, type Pos } from '../../errors.js'
import type { Directive } from '../../config/index.js'
import { compileRegex, regexCaptures } from '../lib/regex.js'
import { asciiLower, wildcardKind } from '../lib/hostnames.js'

export interface Warning {
  readonly message: string
  readonly at?: Pos
}

/** One `listen` of a server, as the listener resolved it. */
export interface ListenInput {
  /** The address as nginx prints it: `0.0.0.0:8080`, `127.0.0.1:80`, `[::]:80`, `[::1]:80`, `unix:/path`. */
  readonly key: string
  readonly defaultServer: boolean
  readonly file: string
  readonly line: number
}

export interface ServerInput {
  /** The children of the `server` block; its `server_name` directives are read from here. */
  readonly directives: readonly Directive[]
  /** Where the server listens (nginx's implicit `*:80` must be included by the caller when there is no listen). */
  readonly listens: readonly ListenInput[]
}

export interface VhostOptions {
  /** What `server_name $hostname` means. @default os.hostname(), lower-cased */
  readonly hostname?: string
}

/** Filled by {@link AddressServers.select} when asked; reused per request. */
export class VhostMatch {
  server = -1
  /** Groups of the `server_name` regex that chose the server, when it has capture groups. */
  captures: RegExpExecArray | null = null
}

/**
 * nginx's Host validation (ngx_http_validate_host): lower-cases ASCII letters, drops `:port` and one trailing dot,
 * keeps `[IPv6]` literals whole.
 * @returns the host, or null when nginx answers 400 (empty, `..`, `/`, a control byte, space or DEL)
 */
export function normalizeHost(value: string): string | null {
  const len = value.length
  let dotPos = -2
  let hostLen = len
  let state = 0 // 0 usual, 1 in [literal], 2 rest (after ':' or ']')
  let upper = false
  for (let i = 0; i < len; i++) {
    const ch = value.charCodeAt(i)
    switch (ch) {
      case 0x2e: // '.'
        if (dotPos === i - 1) return null
        dotPos = i
        break
      case 0x3a: // ':'
        if (state === 0) {
          hostLen = i
          state = 2
        }
        break
      case 0x5b: // '['
        if (i === 0) state = 1
        break
      case 0x5d: // ']'
        if (state === 1) {
          hostLen = i + 1
          state = 2
        }
        break
      default:
        if (ch === 0x2f || ch <= 0x20 || ch === 0x7f) return null
        if (ch >= 0x41 && ch <= 0x5a) upper = true
    }
  }
  if (dotPos === hostLen - 1) hostLen--
  if (hostLen <= 0) return null
  const host = hostLen === len ? value : value.slice(0, hostLen)
  return upper ? asciiLower(host) : host
}

interface HeadEntry {
  /** `*.name` server, or -1 */
  star: number
  /** `.name` server, or -1 */
  dot: number
}

interface RegexName {
  re: RegExp
  server: number
  captures: boolean
}

/** The servers of one listen address and the compiled names that choose among them. */
export class AddressServers {
  /** The listen address, as given. */
  readonly key: string
  private readonly list: number[]
  private dflt: number
  private readonly exact = new Map<string, number>()
  private readonly head = new Map<string, HeadEntry>()
  private readonly tail = new Map<string, number>()
  private readonly regexes: RegexName[] = []
  /** One server and no regex captures: every request goes to it, as nginx then builds no name lookup at all. */
  private single = false

  /** @internal use {@link buildVirtualHosts} */
  constructor(key: string, first: number) {
    this.key = key
    this.list = [first]
    this.dflt = first
  }

  /** Indexes (into the input list) of the servers on this address, in configuration order. */
  get servers(): readonly number[] {
    return this.list
  }

  /** The server for requests no name matches: the `default_server`, else the first. */
  get defaultServer(): number {
    return this.dflt
  }

  /**
   * The server for a normalized host ('' when the request has none).
   * @param m receives the server and, for a regex name with groups, its captures
   * @returns the server's index in the list given to {@link buildVirtualHosts}
   */
  select(host: string, m?: VhostMatch): number {
    const s = this.find(host, m)
    if (m) m.server = s
    return s
  }

  private find(host: string, m: VhostMatch | undefined): number {
    if (m) m.captures = null
    if (this.single) return this.dflt
    const hit = this.exact.get(host)
    if (hit !== undefined) return hit
    const n = host.length
    if (n > 0) {
      if (this.head.size > 0) {
        // Longest suffix first: the host itself (".name" only), then from each dot leftmost first.
        const self = this.head.get(host)
        if (self !== undefined && self.dot >= 0) return self.dot
        for (let i = host.indexOf('.'); i >= 0 && i < n - 1; i = host.indexOf('.', i + 1)) {
          const e = this.head.get(host.slice(i + 1))
          if (e !== undefined) return e.star >= 0 ? e.star : e.dot
        }
      }
      if (this.tail.size > 0) {
        // Longest prefix first, always leaving at least one label after it.
        for (let i = host.lastIndexOf('.'); i > 0; i = host.lastIndexOf('.', i - 1)) {
          const t = this.tail.get(host.slice(0, i))
          if (t !== undefined) return t
        }
      }
    }
    const rs = this.regexes
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!
      if (r.captures && m) {
        const caps = r.re.exec(host)
        if (caps === null) continue
        m.captures = caps
        return r.server
      }
      if (r.re.test(host)) return r.server
    }
    return this.dflt
  }

  /** @internal */
  addServer(server: number): void {
    this.list.push(server)
  }

  /** @internal */
  setDefault(server: number): void {
    this.dflt = server
  }

  /** @internal ngx_http_server_names for this address; returns nginx's warnings. */
  compile(names: readonly ServerName[][], warnings: Warning[]): void {
    // nginx builds no name lookup for an address with one server, unless its names have regex captures to set;
    // then even invalid wildcards go unnoticed, as here.
    if (this.list.length === 1 && !names[this.dflt]!.some((n) => n.regex !== null && regexCaptures(n.regex)[0] > 0)) {
      this.single = true
      return
    }
    const exactSeen = new Set<string>()
    const headSeen = new Set<string>()
    const tailSeen = new Set<string>()
    for (const s of this.list) {
      for (const sn of names[s]!) {
        if (sn.regex !== null) {
          const [count] = regexCaptures(sn.regex)
          this.regexes.push({ re: sn.regex, server: s, captures: count > 0 })
          continue
        }
        const name = sn.name
        const kind = wildcardKind(name)
        if (kind === null) {
          throw new DyupsError('E_CONFIG', `invalid server name or wildcard "${name}" on ${this.key}`, sn.at)
        }
        const busy = (): void => {
          warnings.push({ message: `conflicting server name "${name}" on ${this.key}, ignored`, at: sn.at })
        }
        if (kind === 'exact') {
          if (exactSeen.has(name)) {
            busy()
            continue
          }
          exactSeen.add(name)
          this.exact.set(name, s)
        } else if (kind === 'head') {
          const dot = name.charCodeAt(0) === 0x2e
          const base = name.slice(dot ? 1 : 2)
          if (dot) {
            // ".name" also claims "name" among the exact names (ngx_hash_add_key, skip == 1).
            if (exactSeen.has(base)) {
              busy()
              continue
            }
            exactSeen.add(base)
          }
          if (headSeen.has(base)) {
            busy()
            continue
          }
          headSeen.add(base)
          const e = this.head.get(base) ?? { star: -1, dot: -1 }
          if (dot) e.dot = s
          else e.star = s
          this.head.set(base, e)
        } else {
          const base = name.slice(0, -2)
          if (tailSeen.has(base)) {
            busy()
            continue
          }
          tailSeen.add(base)
          this.tail.set(base, s)
        }
      }
    }
  }
}

/** A `server_name` value after nginx's checks: lower-cased name, or compiled regex. */
interface ServerName {
  name: string
  regex: RegExp | null
  at: Pos
}

/** All listen addresses and their servers, compiled. */
export class VirtualHosts {
  /** One entry per listen address, keyed as given. */
  readonly addresses: ReadonlyMap<string, AddressServers>
  /** nginx's `$server_name` of each server: its first name (`.x` → `x`, a regex keeps its `~`), or ''. */
  readonly serverNames: readonly string[]
  /** Names of named captures in `server_name` regexes: the caller declares them as variables. */
  readonly captureNames: readonly string[]
  /** nginx's warnings (`conflicting server name "x" on 0.0.0.0:80, ignored`, `… has suspicious symbols`). */
  readonly warnings: readonly Warning[]

  /** @internal use {@link buildVirtualHosts} */
  constructor(addresses: Map<string, AddressServers>, serverNames: string[], captureNames: string[], warnings: Warning[]) {
    this.addresses = addresses
    this.serverNames = serverNames
    this.captureNames = captureNames
    this.warnings = warnings
  }

  /** The servers of one listen address (look it up once per connection), or undefined for an unknown key. */
  address(listenKey: string): AddressServers | undefined {
    return this.addresses.get(listenKey)
  }

  /**
   * The server for a request on `listenKey` with normalized host `host` ('' when none).
   * @returns the server index, or -1 for an unknown listen key
   */
  select(listenKey: string, host: string, m?: VhostMatch): number {
    const a = this.addresses.get(listenKey)
    return a === undefined ? -1 : a.select(host, m)
  }

  /**
   * The listen key of a connection accepted on a wildcard socket: the explicit address `ip:port` when some server
   * listens on it, else the wildcard of its family (`0.0.0.0:port`, `[::]:port`), as nginx looks up the local
   * address of a connection. Per connection, not per request.
   */
  keyFor(localAddress: string, localPort: number): string | undefined {
    let addr = localAddress
    if (addr.startsWith('::ffff:') && addr.indexOf('.') > 0) addr = addr.slice(7)
    const v6 = addr.indexOf(':') >= 0
    const exact = v6 ? `[${addr}]:${localPort}` : `${addr}:${localPort}`
    if (this.addresses.has(exact)) return exact
    const wild = v6 ? `[::]:${localPort}` : `0.0.0.0:${localPort}`
    return this.addresses.has(wild) ? wild : undefined
  }
}

/**
 * Read one server's `server_name` directives with ngx_http_core_server_name's checks.
 * @throws DyupsError E_CONFIG `server name "x" is invalid`, `empty regex in server name "~"`, regex errors
 */
function readServerNames(block: readonly Directive[], hostname: string, warnings: Warning[]): ServerName[] {
  const out: ServerName[] = []
  for (const d of block) {
    if (d.name !== 'server_name') continue
    const at = { file: d.file, line: d.line }
    for (const value of d.args) {
      const ch = value.charCodeAt(0)
      if ((ch === 0x2a && (value.length < 3 || value.charCodeAt(1) !== 0x2e)) || (ch === 0x2e && value.length < 2)) {
        throw new DyupsError('E_CONFIG', `server name "${value}" is invalid`, at)
      }
      if (value.indexOf('/') >= 0) warnings.push({ message: `server name "${value}" has suspicious symbols`, at })
      const name = value.toLowerCase() === '$hostname' ? hostname : value
      if (ch !== 0x7e /* ~ */) {
        out.push({ name: asciiLower(name), regex: null, at })
        continue
      }
      if (value.length === 1) throw new DyupsError('E_CONFIG', `empty regex in server name "${value}"`, at)
      const pattern = value.slice(1)
      // nginx compiles server_name regexes caseless only when they contain an upper-case letter.
      const re = compileRegex(pattern, /[A-Z]/.test(pattern), at)
      out.push({ name: value, regex: re, at })
    }
  }
  return out
}

/**
 * Compile the servers of an `http` block into per-address lookups.
 * @param servers in configuration order; results refer to them by index
 * @throws DyupsError E_CONFIG `a duplicate default server for 0.0.0.0:8080`, `a duplicate listen 0.0.0.0:8080`,
 *   `invalid server name or wildcard "w*w" on 0.0.0.0:8080`, `server name "*" is invalid`,
 *   `empty regex in server name "~"`, regex compile errors
 */
export function buildVirtualHosts(servers: readonly ServerInput[], opts: VhostOptions = {}): VirtualHosts {
  const hostname = asciiLower(opts.hostname ?? osHostname())
  const warnings: Warning[] = []
  const names: ServerName[][] = []
  const serverNames: string[] = []
  const captureNames: string[] = []
  for (const s of servers) {
    const sn = readServerNames(s.directives, hostname, warnings)
    if (sn.length === 0) sn.push({ name: '', regex: null, at: { file: '', line: 0 } })
    names.push(sn)
    const first = sn[0]!
    serverNames.push(first.regex !== null ? first.name : first.name.charCodeAt(0) === 0x2e ? first.name.slice(1) : first.name)
    for (const n of sn) {
      if (n.regex === null) continue
      for (const c of regexCaptures(n.regex)[1]) if (!captureNames.includes(c)) captureNames.push(c)
    }
  }

  const addresses = new Map<string, AddressServers>()
  const defaults = new Set<string>()
  servers.forEach((s, i) => {
    for (const l of s.listens) {
      const at = { file: l.file, line: l.line }
      let a = addresses.get(l.key)
      if (a === undefined) {
        a = new AddressServers(l.key, i)
        addresses.set(l.key, a)
      } else {
        if (a.servers.includes(i)) throw new DyupsError('E_CONFIG', `a duplicate listen ${l.key}`, at)
        a.addServer(i)
      }
      if (l.defaultServer) {
        if (defaults.has(l.key)) throw new DyupsError('E_CONFIG', `a duplicate default server for ${l.key}`, at)
        defaults.add(l.key)
        a.setDefault(i)
      }
    }
  })
  for (const a of addresses.values()) a.compile(names, warnings)
  return new VirtualHosts(addresses, serverNames, captureNames, warnings)
}

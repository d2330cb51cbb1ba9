/**
 * Which listen addresses speak HTTP/2, and how (ngx_http_v2_module): `listen … http2` makes every connection of a
 * plain address HTTP/2 (prior knowledge, as nginx 1.22) and offers `h2` by ALPN on an `ssl` one; the server-level
 * `http2 on` (Tengine, nginx ≥ 1.25.1) offers `h2` by ALPN to the servers that have it (chosen by SNI), and on a
 * plain address whose default server has it tells the HTTP/2 preface from HTTP/1.x by the first bytes. The
 * connection-level settings (streams, preread window) are the address's default server's, as nginx takes them
 * before it knows the Host.
 */
import type { Directive } from '../../config/index.js'
import { OBSOLETE_HTTP2, parseSize } from '../../config/index.js'
import type { Pos } from '../../errors.js'
import type { VirtualHosts } from './vhosts.js'

/** Every connection of the address is HTTP/2 (a plain `listen … http2`). */
export const H2_ONLY = 1
/** Plain address: HTTP/2 when the first bytes are the connection preface, else HTTP/1.x. */
export const H2_SNIFF = 2
/** `ssl` address: HTTP/2 when ALPN chose `h2`. */
export const H2_ALPN = 3

/** What one HTTP/2 connection is set up with (the default server's directives). */
export interface H2Settings {
  /** http2_max_concurrent_streams */
  readonly maxConcurrentStreams: number
  /** http2_body_preread_size: the initial stream window a client may fill before its body is read. */
  readonly bodyPreread: number
  /** keepalive_timeout: an HTTP/2 connection without streams is closed after it (nginx ≥ 1.19.7). */
  readonly idleTimeout: number
  /** keepalive_requests: streams one connection serves before GOAWAY. */
  readonly maxRequests: number
  /** client_header_timeout: the preface and each header block must come within it. */
  readonly headerTimeout: number
  /** large_client_header_buffers: a request's header list (decoded) is bounded by number × size. */
  readonly maxHeaderList: number
}

export interface H2Address {
  readonly mode: number
  readonly settings: H2Settings
  /** ALPN offers `h2` to the server with this index (by SNI; the default server without it). */
  readonly offers: (server: number) => boolean
}

/** The HTTP/2 addresses of a configuration, by listen key. */
export type H2Plan = ReadonlyMap<string, H2Address>

/** One server's listens as compile.ts resolved them, in the order of its `listen` directives. */
export interface H2ServerInput {
  readonly directive: Directive
  readonly listenKeys: readonly string[]
}

/** The directive of `name` in force in a server: its own, else the http block's. */
function effective(http: readonly Directive[], server: readonly Directive[], name: string): Directive | undefined {
  return server.find((d) => d.name === name) ?? http.find((d) => d.name === name)
}

/**
 * @param sslKeys the listen keys some server listens on with `ssl`
 * @param settingsOf the connection settings of a server (by index)
 */
export function compileHttp2(
  http: readonly Directive[],
  servers: readonly H2ServerInput[],
  vhosts: VirtualHosts,
  sslKeys: ReadonlySet<string>,
  settingsOf: (server: number) => H2Settings,
): H2Plan {
  const plan = new Map<string, H2Address>()
  const flagged = new Set<string>()
  const on = servers.map((s) => effective(http, s.directive.block ?? [], 'http2')?.args[0] === 'on')
  servers.forEach((s) => {
    const listens = (s.directive.block ?? []).filter((d) => d.name === 'listen')
    listens.forEach((d, j) => {
      // nginx ORs a listen's parameters over every server on the address (ngx_http_add_addresses).
      if (d.args.slice(1).includes('http2')) flagged.add(s.listenKeys[j]!)
    })
  })
  const keys = new Set(servers.flatMap((s) => s.listenKeys))
  for (const key of keys) {
    const a = vhosts.address(key)
    if (a === undefined) continue
    const listen = flagged.has(key)
    const any = listen || a.servers.some((i) => on[i])
    if (!any) continue
    const settings = settingsOf(a.defaultServer)
    if (sslKeys.has(key)) {
      plan.set(key, { mode: H2_ALPN, settings, offers: listen ? () => true : (i) => on[i] === true })
    } else if (listen) {
      plan.set(key, { mode: H2_ONLY, settings, offers: () => true })
    } else if (on[a.defaultServer]) {
      plan.set(key, { mode: H2_SNIFF, settings, offers: () => true })
    }
  }
  return plan
}

/**
 * nginx's warnings for directives it no longer uses (`the "http2_idle_timeout" directive is obsolete, use the
 * "keepalive_timeout" directive instead`) and, as nginx ≥ 1.25.1 says of server push, `… is obsolete, ignored`.
 */
export function http2Warnings(blocks: readonly (readonly Directive[])[], warn: (message: string, at: Pos) => void): void {
  const instead = new Map(OBSOLETE_HTTP2)
  const seen: { d: Directive; message: string }[] = []
  const visit = (block: readonly Directive[]): void => {
    for (const d of block) {
      const use = instead.get(d.name)
      if (use !== undefined) seen.push({ d, message: `the "${d.name}" directive is obsolete, use the "${use}" directive instead` })
      else if ((d.name === 'http2_push' || d.name === 'http2_push_preload') && d.args[0] !== 'off') seen.push({ d, message: `the "${d.name}" directive is obsolete, ignored` })
      else if (d.name === 'http2_max_concurrent_pushes') seen.push({ d, message: `the "${d.name}" directive is obsolete, ignored` })
      if (d.block !== null && (d.name === 'server' || d.name === 'location' || d.name === 'if')) visit(d.block)
    }
  }
  for (const b of blocks) visit(b)
  // In file order, as nginx reports them while it reads.
  seen.sort((x, y) => (x.d.file === y.d.file ? x.d.line - y.d.line : 0))
  for (const s of seen) warn(s.message, { file: s.d.file, line: s.d.line })
}

/** http2_chunk_size of a level, or `parent`. */
export function chunkSizeLevel(parent: number, block: readonly Directive[]): number {
  const d = block.find((x) => x.name === 'http2_chunk_size')
  return d === undefined ? parent : (parseSize(d.args[0]!) ?? parent)
}

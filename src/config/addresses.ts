import { isIPv6 } from 'node:net'

/** An address as nginx's `ngx_parse_url` understands it. */
export interface ParsedAddress {
  readonly family: 'inet' | 'inet6' | 'unix'
  /** The host as written (`[::1]` keeps its brackets), or the socket path for unix. */
  readonly host: string
  /** null when the text named no port (the caller's default applies). */
  readonly port: number | null
  /** `*`, `0.0.0.0`, `[::]` or a bare port in `listen`. */
  readonly wildcard: boolean
  /** The host is a name to resolve, not a literal address. */
  readonly name: boolean
}

export interface ParseAddressOptions {
  /** Parsing a `listen` argument: a bare number is a port, `*` is the wildcard, a URI part is invalid. */
  readonly listen?: boolean
  /** Allow and drop a `/uri` or `?args` part (proxy_pass). */
  readonly uriPart?: boolean
}

/** `ngx_inet_addr`: four decimal octets, leading zeros allowed. */
export function isInetAddr(s: string): boolean {
  const parts = s.split('.')
  if (parts.length !== 4) return false
  for (const p of parts) {
    if (p.length === 0 || !/^[0-9]+$/.test(p) || Number(p) > 255) return false
  }
  return true
}

/** `ngx_inet6_addr` is stricter than node's isIPv6 in one way that matters here: no zone index. */
export const isInet6Addr = (s: string): boolean => !s.includes('%') && isIPv6(s)

const portOf = (s: string): number | null => {
  if (!/^[0-9]+$/.test(s)) return null
  const n = Number(s)
  return n >= 1 && n <= 65535 ? n : null
}

/**
 * `ngx_parse_url` for the address forms configurations use: `unix:/path`, `[v6]:port`, `host:port`, `host`, and with
 * `listen` a bare port or `*:port`. Host names are accepted unresolved, except ones made only of digits and dots
 * that are no IPv4 address (`999.1.1.1`), which nginx would fail to resolve.
 * @returns the address, or nginx's error text (`invalid port`, `invalid host`, `no host`, `host not found`,
 *   `invalid IPv6 address`, `no path in the unix domain socket`, `too long path in the unix domain socket`).
 */
export function parseAddress(url: string, opts: ParseAddressOptions = {}): ParsedAddress | string {
  const listen = opts.listen === true
  if (url.slice(0, 5).toLowerCase() === 'unix:') {
    let path = url.slice(5)
    if (opts.uriPart === true) {
      const colon = path.indexOf(':')
      if (colon !== -1) path = path.slice(0, colon)
    }
    if (path.length === 0) return 'no path in the unix domain socket'
    // sun_path is 108 bytes with the terminating NUL.
    if (path.length + 1 > 108) return 'too long path in the unix domain socket'
    return { family: 'unix', host: path, port: null, wildcard: false, name: false }
  }

  if (url.startsWith('[')) {
    const close = url.indexOf(']')
    if (close === -1) return 'invalid host'
    let last = url.length
    const uri = url.slice(close + 1).search(/[/?]/)
    if (uri !== -1) {
      if (listen || opts.uriPart !== true) return 'invalid host'
      last = close + 1 + uri
    }
    let port: number | null = null
    if (close + 1 < last) {
      if (url[close + 1] !== ':') return 'invalid host'
      port = portOf(url.slice(close + 2, last))
      if (port === null) return 'invalid port'
    }
    const host = url.slice(1, close)
    if (host.length === 0) return 'no host'
    if (!isInet6Addr(host)) return 'invalid IPv6 address'
    return { family: 'inet6', host: `[${host}]`, port, wildcard: /^[0:]+$/.test(host), name: false }
  }

  let last = url.length
  let colon = url.indexOf(':')
  const uri = url.search(/[/?]/)
  if (uri !== -1) {
    if (listen || opts.uriPart !== true) return 'invalid host'
    last = uri
    if (colon > uri) colon = -1
  }

  let port: number | null = null
  if (colon !== -1) {
    port = portOf(url.slice(colon + 1, last))
    if (port === null) return 'invalid port'
    last = colon
  } else if (uri === -1 && listen && /^[0-9]+$/.test(url)) {
    port = portOf(url)
    if (port === null) return 'invalid port'
    return { family: 'inet', host: '*', port, wildcard: true, name: false }
  }

  const host = url.slice(0, last)
  if (host.length === 0) return 'no host'
  if (listen && host === '*') return { family: 'inet', host, port, wildcard: true, name: false }
  if (isInetAddr(host)) return { family: 'inet', host, port, wildcard: /^0+\.0+\.0+\.0+$/.test(host), name: false }
  if (/^[0-9.]+$/.test(host)) return 'host not found'
  return { family: 'inet', host, port, wildcard: false, name: true }
}

/**
 * `ngx_ptocidr`: `addr` or `addr/bits`, IPv4 or IPv6.
 * @returns true when valid (nginx only warns about low address bits set past the prefix).
 */
export function isCidr(s: string): boolean {
  const slash = s.indexOf('/')
  const addr = slash === -1 ? s : s.slice(0, slash)
  const v6 = isInet6Addr(addr)
  if (!v6 && !isInetAddr(addr)) return false
  if (slash === -1) return true
  const bits = s.slice(slash + 1)
  if (!/^[0-9]+$/.test(bits)) return false
  return Number(bits) <= (v6 ? 128 : 32)
}

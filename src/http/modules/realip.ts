/**
 * `set_real_ip_from` / `real_ip_header` / `real_ip_recursive` (ngx_http_realip_module): a request that comes from
 * a trusted address takes its client address from a header (`X-Real-IP` by default, `X-Forwarded-For`, any other
 * header by name; `proxy_protocol` never applies since dyups' `listen` has no `proxy_protocol`).
 *
 * Applied where nginx applies it: once the server is chosen, with the server level's settings (nginx's post-read
 * phase, which sees the server's configuration), and again before the access checks with the location's (its
 * pre-access phase) when the first did not apply; once applied, never again for the request, internal redirects
 * included. The new address is the request's `$remote_addr` for everything after it: `allow`/`deny`, `ip_hash`,
 * `$binary_remote_addr`, `$proxy_add_x_forwarded_for`, the access log and the error log's `client:`. The
 * connection keeps its own address for the next request, as nginx restores it when the request ends.
 *
 * The address is read as ngx_http_get_forwarded_addr reads it: the last address of the value (of the last
 * X-Forwarded-For field), then with `real_ip_recursive on` the one before it while the one found is trusted too,
 * across the fields; `ADDR:PORT` and `[ADDR6]:PORT` give `$remote_port` their port, a bare address leaves it empty.
 * IPv6 addresses are written as nginx writes them (ngx_inet6_ntop).
 *
 * Per-request cost when configured: one scan of the header list for the field and one CIDR check; nothing when
 * the directives are absent (the configuration holds null).
 */
import type { Directive } from '../../config/index.js'
import { configError } from '../../config/index.js'
import { parseIPv4, parseIPv6 } from '../lib/ip.js'
import { AccessRules, ALLOWED, parseCidr } from './access.js'

type Warn = (message: string, at: { file: string; line: number }) => void

const XREALIP = 0
const XFWD = 1
const PROXY = 2
const HEADER = 3

/** The realip directives in force at one level (nginx merges each of the three on its own). */
export interface RealIpLevel {
  /** `set_real_ip_from` of the nearest level that has any; null: none. */
  from: AccessRules | null
  type: number
  /** The header's name, lower-case, `-` as `_` (for {@link HEADER}). */
  header: string
  recursive: boolean | null
}

export const NO_REALIP: RealIpLevel = { from: null, type: -1, header: '', recursive: null }

/** What a request whose address realip changes needs: its address fields and its client headers. */
export interface RealIpTarget {
  remoteAddr: string
  remotePort: number
  /** The connection's address before realip changed it; null while realip has not applied. */
  realipAddr: string | null
  realipPort: number
  readonly headers: readonly string[]
}

/** The compiled settings of one context. */
export class RealIp {
  constructor(
    private readonly from: AccessRules,
    private readonly type: number,
    private readonly header: string,
    private readonly recursive: boolean,
  ) {}

  /** nginx's ngx_http_realip_handler: changes the request's address when it applies. */
  apply(req: RealIpTarget): void {
    const h = req.headers
    const type = this.type
    if (type === PROXY) return
    if (type === XFWD) {
      const r = this.forwardedFor(h, req.remoteAddr)
      if (r !== null) set(req, r.addr, r.port)
      return
    }
    const name = type === XREALIP ? 'x_real_ip' : this.header
    for (let i = 0; i + 1 < h.length; i += 2) {
      if (!sameName(h[i]!, name)) continue
      const r = this.forwarded(req.remoteAddr, h[i + 1]!)
      if (r !== null) set(req, r.addr, r.port)
      return
    }
  }

  /**
   * ngx_http_get_forwarded_addr over every X-Forwarded-For field, the last first (1.22 keeps them in an array).
   * @param addr the address the request came from
   * @returns the address taken (port 0: none), or null when none is (nginx's NGX_DECLINED)
   */
  forwardedFor(h: readonly string[], addr: string): { addr: string; port: number } | null {
    let found = false
    let port = -1
    for (let i = h.length - 2; i >= 0; i -= 2) {
      if (!isXff(h[i]!)) continue
      const r = this.forwarded(addr, h[i + 1]!)
      if (r !== null) {
        addr = r.addr
        port = r.port
      }
      if (!this.recursive) return r
      if (r === null || r.done) {
        // Declined here after earlier fields found one (NGX_DONE), or this field stopped the walk.
        return r !== null || found ? { addr, port } : null
      }
      found = true
    }
    return found ? { addr, port } : null
  }

  /**
   * ngx_http_get_forwarded_addr_internal over one value, from `addr` (the address the value came from).
   * @returns null when nothing was taken (nginx's NGX_DECLINED); else the address, its port (0: none) and `done`:
   *   the walk stopped inside the value (nginx's NGX_DONE: an untrusted address or a value that does not parse)
   */
  private forwarded(addr: string, v: string): { addr: string; port: number; done: boolean } | null {
    let found: { addr: string; port: number; done: boolean } | null = null
    let end = v.length
    for (;;) {
      if (this.from.verdict(addr) !== ALLOWED) {
        if (found !== null) found.done = true
        return found
      }
      let p = end - 1
      while (p > 0 && (v.charCodeAt(p) === 0x20 || v.charCodeAt(p) === 0x2c)) {
        p--
        end--
      }
      while (p > 0) {
        const c = v.charCodeAt(p)
        if (c === 0x20 || c === 0x2c) {
          p++
          break
        }
        p--
      }
      if (p < 0) p = 0
      const a = parseAddrPort(v, p, end)
      if (a === null) {
        if (found !== null) found.done = true
        return found
      }
      found = { addr: a.addr, port: a.port, done: false }
      addr = a.addr
      end = p - 1
      if (!this.recursive || p <= 0) return found
    }
  }
}

/** The trusted addresses of `geo`'s `proxy` lines, read from X-Forwarded-For as realip reads it. */
export function forwardedReader(from: AccessRules, recursive: boolean): RealIp {
  return new RealIp(from, XFWD, '', recursive)
}

function set(req: RealIpTarget, addr: string, port: number): void {
  req.realipAddr = req.remoteAddr
  req.realipPort = req.remotePort
  req.remoteAddr = addr
  req.remotePort = port < 0 ? 0 : port
}

function isXff(name: string): boolean {
  return sameName(name, 'x_forwarded_for')
}

/** Caseless compare of a header name with a lower-case name whose `_` stands for `-` or `_`. */
function sameName(h: string, want: string): boolean {
  const n = want.length
  if (h.length !== n) return false
  for (let k = 0; k < n; k++) {
    let c = h.charCodeAt(k)
    if (c >= 0x41 && c <= 0x5a) c |= 0x20
    else if (c === 0x2d) c = 0x5f
    if (c !== want.charCodeAt(k)) return false
  }
  return true
}

const scratch6 = new Uint8Array(16)

/** ngx_parse_addr: an IPv4 or IPv6 address, written as nginx writes it. @returns null when it is neither */
function parseAddr(s: string, from: number, to: number): string | null {
  const v4 = parseIPv4(s, from, to)
  if (v4 >= 0) return `${v4 >>> 24}.${(v4 >>> 16) & 0xff}.${(v4 >>> 8) & 0xff}.${v4 & 0xff}`
  // nginx's ngx_inet_addr cannot tell 255.255.255.255 from an error, and ngx_parse_addr then reads it as IPv6.
  if (!parseIPv6(s, scratch6, from, to)) return null
  return inet6ntop(scratch6)
}

/** ngx_parse_addr_port: `ADDR`, `ADDR:PORT` (IPv4) or `[ADDR6]:PORT`. @returns null when invalid (port 0: none) */
export function parseAddrPort(s: string, from: number, to: number): { addr: string; port: number } | null {
  if (to <= from) return null
  const a = parseAddr(s, from, to)
  if (a !== null) return { addr: a, port: 0 }
  let p: number
  let aFrom = from, aTo: number
  if (s.charCodeAt(from) === 0x5b) {
    p = s.indexOf(']', from)
    if (p < 0 || p >= to - 1 || s.charCodeAt(p + 1) !== 0x3a) return null
    aFrom = from + 1
    aTo = p
    p++
  } else {
    p = s.indexOf(':', from)
    if (p < 0 || p >= to) return null
    aTo = p
  }
  let port = 0
  if (p + 1 >= to) return null
  for (let i = p + 1; i < to; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return null
    port = port * 10 + (c - 0x30)
    if (port > 65535) return null
  }
  if (port < 1) return null
  const addr = parseAddr(s, aFrom, aTo)
  return addr === null ? null : { addr, port }
}

/** ngx_inet6_ntop: the longest run of two or more zero groups (the first of equals) as `::`; mapped IPv4 dotted. */
export function inet6ntop(p: Uint8Array): string {
  let zero = -1, last = -1, max = 1, n = 0
  for (let i = 0; i < 16; i += 2) {
    if (p[i] || p[i + 1]) {
      if (max < n) {
        zero = last
        max = n
      }
      n = 0
      continue
    }
    if (n++ === 0) last = i
  }
  if (max < n) {
    zero = last
    max = n
  }
  let out = ''
  let end = 16
  if (zero === 0) {
    if ((max === 5 && p[10] === 0xff && p[11] === 0xff) || max === 6 || (max === 7 && p[14] !== 0 && p[15] !== 1)) end = 12
    out += ':'
  }
  for (let i = 0; i < end; i += 2) {
    if (i === zero) {
      out += ':'
      i += (max - 1) * 2
      continue
    }
    out += (p[i]! * 256 + p[i + 1]!).toString(16)
    if (i < 14) out += ':'
  }
  if (end === 12) out += `${p[12]}.${p[13]}.${p[14]}.${p[15]}`
  return out
}

/**
 * Applies one level's realip directives over its parent's.
 * @throws DyupsError E_CONFIG with nginx's words for a value that is no address or CIDR
 */
export function realIpLevel(parent: RealIpLevel, block: readonly Directive[], warn?: Warn): RealIpLevel {
  let own: Array<[string, Directive]> | null = null
  let out: RealIpLevel | null = null
  for (const d of block) {
    if (d.name === 'set_real_ip_from') (own ??= []).push([d.args[0]!, d])
    else if (d.name === 'real_ip_header') {
      out ??= { ...parent }
      const v = d.args[0]!
      // Compared case-sensitively, as nginx does: `x-real-ip` is another header name (with the same effect).
      if (v === 'X-Real-IP') out.type = XREALIP
      else if (v === 'X-Forwarded-For') out.type = XFWD
      else if (v === 'proxy_protocol') out.type = PROXY
      else {
        out.type = HEADER
        out.header = v.toLowerCase().replace(/-/g, '_')
      }
    } else if (d.name === 'real_ip_recursive') {
      out ??= { ...parent }
      out.recursive = d.args[0] === 'on'
    }
  }
  if (own === null) return out ?? parent
  out ??= { ...parent }
  const v4: Array<[number, number, boolean]> = []
  const v6: Array<[Uint8Array, Uint8Array, boolean]> = []
  let unix = -1
  for (const [value, d] of own) {
    if (value === 'unix:') {
      unix = 0
      continue
    }
    const c = parseCidr(value)
    if (c === null) {
      // nginx resolves a host name here; dyups reads addresses only.
      throw configError(d, `host name "${value}" in "set_real_ip_from" is not supported by dyups, use addresses`)
    }
    if (c.trimmed && warn) warn(`low address bits of ${value} are meaningless`, { file: d.file, line: d.line })
    if (c.family === 4) v4.push([c.addr4, c.mask4, false])
    else v6.push([c.addr6, c.mask6, false])
  }
  out.from = new AccessRules(v4, v6, unix)
  return out
}

/** The settings a location uses; null when no `set_real_ip_from` is in force (nothing to do per request). */
export function compileRealIp(l: RealIpLevel): RealIp | null {
  if (l.from === null) return null
  return new RealIp(l.from, l.type < 0 ? XREALIP : l.type, l.header, l.recursive === true)
}

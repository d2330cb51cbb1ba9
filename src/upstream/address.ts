/**
 * Server addresses as nginx's ngx_parse_url (src/core/ngx_inet.c) reads them for `server ADDR` in an upstream
 * block: `unix:/path`, `[IPv6]:port`, `IPv4:port`, `name:port`, with port 80 when none is given.
 * Canonical forms are ngx_sock_ntop's: `1.2.3.4:80`, `[::1]:80`, `unix:/path`.
 */

/** The result of parsing one `server` address; `name` still needs resolving. */
export type ParsedAddress =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'ip'; readonly host: string; readonly port: number; readonly addr: string }
  | { readonly kind: 'name'; readonly host: string; readonly port: number }
  /** `err` is nginx's u->err: the message is `${err} in upstream "${url}"`. */
  | { readonly kind: 'error'; readonly err: string }

// sizeof(sun_path) on Linux, the terminating NUL included.
const SUN_PATH = 108

/** ngx_parse_url with default_port 80, no URI part, not a listen address. */
export function parseAddress(url: string): ParsedAddress {
  if (url.length >= 5 && url.slice(0, 5).toLowerCase() === 'unix:') return parseUnix(url)
  if (url.charCodeAt(0) === 0x5b) return parseInet6(url)
  return parseInet(url)
}

function parseUnix(url: string): ParsedAddress {
  const path = url.slice(5)
  if (path.length === 0) return { kind: 'error', err: 'no path in the unix domain socket' }
  if (path.length + 1 > SUN_PATH) return { kind: 'error', err: 'too long path in the unix domain socket' }
  // A NUL would silently truncate the path in nginx; bytes that are not UTF-8 cannot name a file through Node.
  if (path.includes('\0') || !isUtf8(path)) return { kind: 'error', err: 'invalid host' }
  return { kind: 'unix', path }
}

function parseInet6(url: string): ParsedAddress {
  const close = url.indexOf(']', 1)
  if (close < 0) return { kind: 'error', err: 'invalid host' }
  let port = 80
  let p = close + 1
  if (url.indexOf('/', p) >= 0) return { kind: 'error', err: 'invalid host' }
  if (p < url.length) {
    if (url.charCodeAt(p) !== 0x3a) return { kind: 'error', err: 'invalid host' }
    p++
    port = ngxPort(url.slice(p))
    if (port < 0) return { kind: 'error', err: 'invalid port' }
  }
  const host = url.slice(1, close)
  if (host.length === 0) return { kind: 'error', err: 'no host' }
  const bytes = new Uint8Array(16)
  if (!inet6Addr(host, bytes)) return { kind: 'error', err: 'invalid IPv6 address' }
  const text = inet6Ntop(bytes)
  return { kind: 'ip', host: text, port, addr: `[${text}]:${port}` }
}

function parseInet(url: string): ParsedAddress {
  const colon = url.indexOf(':')
  let uri = url.indexOf('/')
  const args = url.indexOf('?')
  if (args >= 0 && (uri < 0 || args < uri)) uri = args
  if (uri >= 0) return { kind: 'error', err: 'invalid host' }
  let port = 80
  let end = url.length
  if (colon >= 0) {
    port = ngxPort(url.slice(colon + 1))
    if (port < 0) return { kind: 'error', err: 'invalid port' }
    end = colon
  }
  const host = url.slice(0, end)
  if (host.length === 0) return { kind: 'error', err: 'no host' }
  const v4 = inetAddr(host)
  if (v4 !== null) return { kind: 'ip', host: v4, port, addr: `${v4}:${port}` }
  return { kind: 'name', host, port }
}

/** ngx_atoi of a port, then nginx's 1..65535 check; -1 when invalid. */
function ngxPort(s: string): number {
  if (s.length === 0) return -1
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 0x30
    if (c < 0 || c > 9) return -1
    // Leading zeros are fine (ngx_atoi); anything past 65535 stays invalid however long it grows.
    n = Math.min(n * 10 + c, 65536)
  }
  return n >= 1 && n <= 65535 ? n : -1
}

/**
 * ngx_inet_addr: exactly three dots, each part decimal digits up to 255 (empty parts count as 0, as in nginx).
 * Returns the dotted form ngx_sock_ntop prints, or null.
 */
export function inetAddr(s: string): string | null {
  let octet = 0
  let dots = 0
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x30 && c <= 0x39) {
      octet = octet * 10 + (c - 0x30)
      if (octet > 255) return null
      continue
    }
    if (c === 0x2e) {
      out += `${octet}.`
      octet = 0
      dots++
      continue
    }
    return null
  }
  return dots === 3 ? out + octet : null
}

/** ngx_inet6_addr: parses `s` (no brackets) into 16 bytes; false when nginx would reject it. */
export function inet6Addr(s: string, out: Uint8Array): boolean {
  let len = s.length
  if (len === 0) return false
  let p = 0
  let a = 0
  let zero = -1
  let digit = -1
  let len4 = 0
  let nibbles = 0
  let word = 0
  let n = 8

  if (s.charCodeAt(0) === 0x3a) {
    p++
    len--
  }

  for (; len > 0; len--) {
    let c = s.charCodeAt(p++)
    if (c === 0x3a) {
      if (nibbles) {
        digit = p
        len4 = len
        out[a++] = (word >> 8) & 0xff
        out[a++] = word & 0xff
        if (--n) {
          nibbles = 0
          word = 0
          continue
        }
      } else if (zero < 0) {
        digit = p
        len4 = len
        zero = a
        continue
      }
      return false
    }

    if (c === 0x2e && nibbles) {
      if (n < 2 || digit < 0) return false
      const v4 = inetAddr(s.slice(digit, digit + len4 - 1))
      if (v4 === null) return false
      const parts = v4.split('.')
      out[a++] = Number(parts[0])
      out[a++] = Number(parts[1])
      word = Number(parts[2]) * 256 + Number(parts[3])
      n--
      break
    }

    if (++nibbles > 4) return false
    if (c >= 0x30 && c <= 0x39) {
      word = word * 16 + (c - 0x30)
      continue
    }
    c |= 0x20
    if (c >= 0x61 && c <= 0x66) {
      word = word * 16 + (c - 0x61) + 10
      continue
    }
    return false
  }

  if (nibbles === 0 && zero < 0) return false
  out[a++] = (word >> 8) & 0xff
  out[a++] = word & 0xff

  if (--n) {
    if (zero < 0) return false
    n *= 2
    for (let src = a - 1, dst = src + n; src >= zero; src--, dst--) out[dst] = out[src]!
    out.fill(0, zero, zero + n)
    return true
  }
  return zero < 0
}

/** ngx_inet6_ntop: RFC 5952-style text, with nginx's choice of when to print an embedded IPv4 address. */
export function inet6Ntop(p: Uint8Array): string {
  let zero = -1
  let last = -1
  let max = 1
  let n = 0
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

  let dst = ''
  n = 16
  if (zero === 0) {
    if ((max === 5 && p[10] === 0xff && p[11] === 0xff) || max === 6 || (max === 7 && p[14] !== 0 && p[15] !== 1)) {
      n = 12
    }
    dst += ':'
  }
  for (let i = 0; i < n; i += 2) {
    if (i === zero) {
      dst += ':'
      i += (max - 1) * 2
      continue
    }
    dst += (p[i]! * 256 + p[i + 1]!).toString(16)
    if (i < 14) dst += ':'
  }
  if (n === 12) dst += `${p[12]}.${p[13]}.${p[14]}.${p[15]}`
  return dst
}

/** Canonical `host` text of a resolved address (as dns.lookup returns it), or null if it is not an IP. */
export function canonicalIp(ip: string): { host: string; v6: boolean } | null {
  const v4 = inetAddr(ip)
  if (v4 !== null) return { host: v4, v6: false }
  const bytes = new Uint8Array(16)
  if (!inet6Addr(ip, bytes)) return null
  return { host: inet6Ntop(bytes), v6: true }
}

/**
 * Whether a host name can go to the resolver: printable ASCII only. nginx hands any bytes to getaddrinfo, which
 * finds nothing for them; refusing them here gives the same "host not found" without a lookup.
 */
export function isResolvableName(host: string): boolean {
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i)
    if (c <= 0x20 || c >= 0x7f) return false
  }
  return true
}

/** Whether a latin1 byte string is well-formed UTF-8. */
export function isUtf8(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    let need: number
    let min: number
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1
      min = 0x80
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2
      min = 0x800
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3
      min = 0x10000
    } else {
      return false
    }
    let cp = c & (0x3f >> need)
    for (let k = 0; k < need; k++) {
      const b = s.charCodeAt(++i)
      if (Number.isNaN(b) || (b & 0xc0) !== 0x80) return false
      cp = (cp << 6) | (b & 0x3f)
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false
  }
  return true
}

/**
 * The two translations between an HTTP/2 stream and the request path, which works on HTTP/1.x heads:
 *
 * - a request's header list becomes a RequestHead as nginx's ngx_http_v2_module builds its request: the request
 *   line `METHOD PATH HTTP/2.0`, `:authority` as a `host` header in its place (unless the client sent `host`), the
 *   headers in order with their (lowercase) names, every `cookie` field joined with `; ` into one header at the end;
 * - a response head as head-writer.ts writes it (status line, then the header lines in nginx's order, with every
 *   filter applied) becomes the HEADERS frame's list: `:status`, then the same lines with lowercase names, the
 *   connection-specific ones (Connection, Keep-Alive, Transfer-Encoding, Upgrade) left out, as nginx's HTTP/2 header
 *   filter does. Reading the head back costs a scan per HTTP/2 response; in exchange every header filter has one
 *   implementation for both protocols, and the HTTP/1.1 path pays nothing.
 */
import { RequestHead, normalizeHost } from '../../http1/index.js'

/** The request's head (null without :method or :path), and why it is refused (nginx's 400 reasons), or ''. */
export interface H2Head {
  head: RequestHead | null
  error: string
}

/**
 * @param raw the stream's header list as received: `[name, value, name, value, …]` (nghttp2 has checked names and
 *   values, pseudo-headers first, no connection-specific fields)
 * @param ended the HEADERS frame ended the stream: no body follows
 */
export function h2RequestHead(raw: readonly string[], ended: boolean): H2Head {
  let method = '', path = '', authority: string | null = null
  let i = 0
  for (; i < raw.length && raw[i]!.charCodeAt(0) === 0x3a; i += 2) {
    switch (raw[i]) {
      case ':method': method = raw[i + 1]!; break
      case ':path': path = raw[i + 1]!; break
      case ':authority': authority = raw[i + 1]!; break
    }
  }
  if (method === '') return { head: null, error: 'client sent no :method header' }
  if (path === '') return { head: null, error: 'client sent no :path header' }
  let hasHost = false
  for (let k = i; k < raw.length; k += 2) {
    if (raw[k] === 'host') {
      hasHost = true
      break
    }
  }
  let text = `${method} ${path} HTTP/2.0\r\n`
  const offsets: number[] = []
  let count = 0
  let cookie: string | null = null
  let hostValue: string | null = null
  let contentLength = -1
  const add = (name: string, value: string): void => {
    const s = text.length
    offsets.push(s, s + name.length, s + name.length + 2, s + name.length + 2 + value.length)
    text += `${name}: ${value}\r\n`
    count++
  }
  if (authority !== null && !hasHost) {
    hostValue = authority
    add('host', authority)
  }
  for (let k = i; k < raw.length; k += 2) {
    const name = raw[k]!
    const value = raw[k + 1]!
    if (name === 'cookie') {
      cookie = cookie === null ? value : `${cookie}; ${value}`
      continue
    }
    if (name === 'host') {
      if (hostValue !== null) return { head: null, error: 'client sent duplicate host header' }
      hostValue = value
    } else if (name === 'content-length') {
      if (contentLength >= 0 || !/^[0-9]{1,15}$/.test(value)) return { head: null, error: 'client sent invalid "Content-Length" header' }
      contentLength = Number(value)
    }
    add(name, value)
  }
  if (cookie !== null) add('cookie', cookie)
  text += '\r\n'
  let host: string | null = null
  let error = ''
  // nginx 1.22 makes :authority a `host` header: a client's own `host` beside it is a duplicate (400).
  if (authority !== null && hasHost) {
    const own = raw[raw.indexOf('host', i) + 1]
    error = `client sent duplicate host header: "host: ${own}", previous value: "host: ${authority}"`
  }
  else if (hostValue !== null) {
    host = normalizeHost(hostValue)
    if (host === null) error = 'client sent invalid host header'
  }
  const q = path.indexOf('?')
  const head = new RequestHead(
    text, offsets, count, method, path, q < 0 ? path : path.slice(0, q), q < 0 ? '' : path.slice(q + 1), 1, host,
    // A body without Content-Length (its DATA frames end it) is one of unknown length, as a chunked one is.
    contentLength, !ended && contentLength < 0, true, null, false, text.length,
  )
  return { head, error }
}

/** What h2Response found in a head besides its list. */
export interface H2ResponseHead {
  /** `[':status', code, name, value, …]`, ready for respond(). */
  readonly list: string[]
  /** The HTTP/1.1 head said `Transfer-Encoding: chunked`: the body handed over with it is chunk-framed. */
  readonly chunked: boolean
  /** Content-Length, or -1. */
  readonly length: number
}

/** Connection-specific header lines: HTTP/2 has none (RFC 9113 §8.2.2). */
function dropped(lower: string): boolean {
  switch (lower.length) {
    case 2: return lower === 'te'
    case 7: return lower === 'upgrade'
    case 10: return lower === 'connection' || lower === 'keep-alive'
    case 16: return lower === 'proxy-connection'
    case 17: return lower === 'transfer-encoding'
  }
  return false
}

/** The HEADERS list of a response head written for HTTP/1.1 (status line, header lines, blank line). */
export function h2Response(head: string): H2ResponseHead {
  const list: string[] = [':status', head.slice(9, 12)]
  let chunked = false
  let length = -1
  let p = head.indexOf('\r\n') + 2
  for (;;) {
    const e = head.indexOf('\r\n', p)
    if (e < 0 || e === p) break
    const c = head.indexOf(':', p)
    const name = head.slice(p, c).toLowerCase()
    let vs = c + 1
    while (head.charCodeAt(vs) === 0x20) vs++
    const value = head.slice(vs, e)
    p = e + 2
    if (dropped(name)) {
      if (name === 'transfer-encoding' && value.toLowerCase() === 'chunked') chunked = true
      continue
    }
    if (name === 'content-length') length = Number(value)
    list.push(name, value)
  }
  return { list, chunked, length }
}

/**
 * nginx variables: `$name` / `${name}` in directive arguments, compiled once into {@link Template}s whose parts are
 * constant text, captures (`$1`…`$9`) and resolved getters.
 *
 * Names are resolved as nginx does it (ngx_http_variables_init_vars): case-insensitively, exact names first (core
 * variables, `$upstream_*`, `$proxy_*`, `map` results, `set` variables, named regex captures), then the prefixes
 * `http_`, `sent_http_`, `cookie_`, `arg_`, `upstream_http_`, `upstream_cookie_` (and the trailer prefixes, never
 * found). As in nginx, a variable may be used before the `set` or `map` that defines it appears: names are checked
 * when {@link Variables.finish} runs, which reports `unknown "foo" variable`.
 *
 * A getter returns undefined for nginx's "not found" (a missing header, no query string…), which the access log
 * writes as `-`; templates write nothing for it.
 *
 * Per-request cost: a constant template returns its string; otherwise one pass over the parts, each getter reading
 * a field of the {@link VarSource}; `$http_*` scans the header array once; no Map lookups (`set` variables are array
 * slots resolved at build time). Formatted times are cached per second.
 */
import { connStats } from './conn-stats.js'
import { randomBytes } from 'node:crypto'
import { hostname as osHostname } from 'node:os'
import { DyupsError, type Pos } from '../../errors.js'
import type { Directive } from '../../config/index.js'
import { compileRegex, regexCaptures } from './regex.js'
import { asciiLower, wildcardKind } from './hostnames.js'
import { parseIPv4, parseIPv6 } from './ip.js'
import type { TLSSocket } from 'node:tls'
import { clientFingerprint, clientIssuer, clientSerial, clientSubject, clientVerifyResult } from './ssl-client.js'

/** What variables read: one request (and its connection). The request object implements it. */
export interface VarSource {
  /** `$request_method` */
  method: string
  /** `$request`: the request line without CRLF. */
  requestLine: string
  /** `$request_uri`: the target as sent (absolute-form: from the path on). */
  requestUri: string
  /** `$uri`, `$document_uri`: normalized, may be changed by rewrites. */
  uri: string
  /** `$args`, `$query_string`: '' when none. */
  args: string
  /** `$server_protocol`: `HTTP/1.1`; '' for HTTP/0.9. */
  protocol: string
  /** `$http2`: `h2` over TLS, `h2c` over plain TCP, '' for HTTP/1.x. */
  http2: string
  /** Normalized host from the request line or the Host header (see normalizeHost), '' when none. */
  host: string
  /** Request header fields as received, flat: [name, value, name, value, …], latin1. */
  headers: readonly string[]
  remoteAddr: string
  remotePort: number
  /** The connection's own address when realip changed `remoteAddr` (`$realip_remote_addr`), else null. */
  realipAddr: string | null
  realipPort: number
  /** limit_req's and limit_conn's outcome for `$limit_req_status`, `$limit_conn_status`; 0: none. */
  limitReqStatus: number
  limitConnStatus: number
  serverAddr: string
  serverPort: number
  /** `http` or `https`. */
  scheme: string
  /** The TLS connection of an `https` request (for `$ssl_client_*`), else null. */
  tls?: TLSSocket | null
  /** `$server_name`: the primary name of the server chosen. */
  serverName: string
  /** Response status; 0 until known. */
  status: number
  bodyBytesSent: number
  bytesSent: number
  requestLength: number
  /** Request start, ms since the epoch (may be fractional). */
  startMsec: number
  /** When set (> 0), "now" for `$request_time`, `$msec`, `$time_local`, `$time_iso8601`; else Date.now(). */
  endMsec: number
  /** nginx-formatted upstream values ('' = not found): `127.0.0.1:8088, 127.0.0.1:8089`, `502, 200`, `0.004`… */
  upstreamAddr: string
  upstreamStatus: string
  upstreamResponseTime: string
  upstreamConnectTime: string
  upstreamHeaderTime: string
  upstreamResponseLength: string
  upstreamBytesReceived: string
  upstreamBytesSent: string
  /** Upstream response header fields, flat like `headers`, or null. */
  upstreamHeaders: readonly string[] | null
  /** Response header fields sent to the client, flat, or null (for `$sent_http_*`). */
  responseHeaders: readonly string[] | null
  /** `$proxy_host`, `$proxy_port` of the proxy_pass in force ('' = not found). */
  proxyHost: string
  proxyPort: string
  /** Connection serial number and the number of requests made through it so far. */
  connection: number
  connectionRequests: number
  /** Groups of the last regex that matched with captures (location, server_name, map), else null. */
  captures: RegExpExecArray | null
  /** `set` variables, by slot (see {@link Variables.setter}); undefined = never set. */
  sets: Array<string | undefined>
  /** `$request_id`, generated on first use when ''. */
  requestId: string
  /** The request body when it was read into memory (`$request_body`); null: none, or in a temp file. */
  body: Buffer | null
  /** `$pid`; process.pid when absent. */
  pid?: number
}

/** The VarSource fields every source stores as they are (Request computes the others when they are read). */
export class VarSourceFields {
  method = 'GET'
  requestUri = '/'
  uri = '/'
  args = ''
  protocol = 'HTTP/1.1'
  http2 = ''
  host = ''
  remoteAddr = ''
  remotePort = 0
  realipAddr: string | null = null
  realipPort = 0
  limitReqStatus = 0
  limitConnStatus = 0
  serverAddr = ''
  serverPort = 0
  scheme = 'http'
  tls: TLSSocket | null = null
  serverName = ''
  status = 0
  bodyBytesSent = 0
  bytesSent = 0
  requestLength = 0
  startMsec = 0
  endMsec = 0
  upstreamHeaders: readonly string[] | null = null
  /** The response head as written to the client ('' until it is): one field store per response. */
  sentHead = ''
  #sentFields: string[] | null = null
  #sentFieldsOf = ''
  /** `$sent_http_*`: the fields of sentHead, flat, split only when such a variable is read. */
  get responseHeaders(): readonly string[] | null {
    if (this.sentHead === '') return null
    if (this.#sentFieldsOf !== this.sentHead) {
      this.#sentFields = headFields(this.sentHead)
      this.#sentFieldsOf = this.sentHead
    }
    return this.#sentFields
  }
  proxyHost = ''
  proxyPort = ''
  connection = 0
  connectionRequests = 0
  captures: RegExpExecArray | null = null
  sets: Array<string | undefined> = []
  requestId = ''
  body: Buffer | null = null
}

/** A VarSource with empty values, for tests and other sources than a client's request. */
export class BasicVarSource extends VarSourceFields implements VarSource {
  requestLine = ''
  headers: readonly string[] = []
  upstreamAddr = ''
  upstreamStatus = ''
  upstreamResponseTime = ''
  upstreamConnectTime = ''
  upstreamHeaderTime = ''
  upstreamResponseLength = ''
  upstreamBytesReceived = ''
  upstreamBytesSent = ''
}

/** Reads one variable; undefined is nginx's "not found". */
export type Getter = (src: VarSource) => string | undefined

/** Sets a `set` variable (or `$args`) for one request. */
export type Setter = (src: VarSource, value: string) => void

/** A variable name as used somewhere; its getter is filled in by {@link Variables.finish}. */
export class VarRef {
  get: Getter = unresolved

  constructor(
    /** Lower-cased name, without `$`. */
    readonly name: string,
    /** First use. */
    readonly at: Pos | undefined,
  ) {}
}

function unresolved(): string | undefined {
  throw new Error('variable used before Variables.finish()')
}

// ---------------------------------------------------------------------------------------------------------------
// Request fields

/**
 * The values of all header fields whose name matches `want` (lower-case, `_` for `-`), joined with `sep`, as
 * ngx_http_variable_unknown_header does: `X-Foo` and `x_foo` both match `x_foo`.
 */
/** The header fields of an HTTP/1.x response head (status line first, CRLF lines), flat as [name, value, …]. */
export function headFields(head: string): string[] {
  const out: string[] = []
  let at = head.indexOf('\r\n') + 2
  while (at > 1 && at < head.length) {
    const end = head.indexOf('\r\n', at)
    if (end <= at) break
    const colon = head.indexOf(':', at)
    if (colon > at && colon < end) out.push(head.slice(at, colon), head.slice(colon + 1, end).trim())
    at = end + 2
  }
  return out
}

export function headerValue(headers: readonly string[] | null, want: string, sep: string): string | undefined {
  if (headers === null) return undefined
  const n = want.length
  let out: string | undefined
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!
    if (name.length !== n) continue
    let k = 0
    for (; k < n; k++) {
      let c = name.charCodeAt(k)
      if (c >= 0x41 && c <= 0x5a) c |= 0x20
      else if (c === 0x2d) c = 0x5f
      if (c !== want.charCodeAt(k)) break
    }
    if (k !== n) continue
    out = out === undefined ? headers[i + 1]! : out + sep + headers[i + 1]!
  }
  return out
}

/** ngx_http_arg: `name=value` in the query string, the name matched caselessly, the value as sent. */
export function argValue(args: string, name: string): string | undefined {
  const len = name.length
  const n = args.length
  if (n === 0 || len === 0) return undefined
  // The name needs a '=' after it, so it must start before n - len.
  for (let p = 0; p < n - len; p++) {
    let k = 0
    for (; k < len; k++) {
      let c = args.charCodeAt(p + k)
      if (c >= 0x41 && c <= 0x5a) c |= 0x20
      let w = name.charCodeAt(k)
      if (w >= 0x41 && w <= 0x5a) w |= 0x20
      if (c !== w) break
    }
    if (k !== len) continue
    if ((p === 0 || args.charCodeAt(p - 1) === 0x26) && args.charCodeAt(p + len) === 0x3d) {
      const from = p + len + 1
      let to = args.indexOf('&', from)
      if (to < 0) to = n
      return args.slice(from, to)
    }
  }
  return undefined
}

function skipSpaces(s: string, i: number, end: number): number {
  while (i < end && s.charCodeAt(i) === 0x20) i++
  return i
}

function startsWithCaseless(s: string, at: number, name: string): boolean {
  if (at + name.length > s.length) return false
  for (let k = 0; k < name.length; k++) {
    let c = s.charCodeAt(at + k)
    if (c >= 0x41 && c <= 0x5a) c |= 0x20
    let w = name.charCodeAt(k)
    if (w >= 0x41 && w <= 0x5a) w |= 0x20
    if (c !== w) return false
  }
  return true
}

/** ngx_http_parse_multi_header_lines over the Cookie fields: `name=value` pairs split on `;` (and `,`). */
export function cookieValue(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (!isName(headers[i]!, 'cookie')) continue
    const v = headers[i + 1]!
    const end = v.length
    if (name.length > end) continue
    let start = 0
    while (start < end) {
      if (startsWithCaseless(v, start, name)) {
        let p = skipSpaces(v, start + name.length, end)
        if (p < end && v.charCodeAt(p) === 0x3d) {
          p = skipSpaces(v, p + 1, end)
          let last = p
          while (last < end && v.charCodeAt(last) !== 0x3b) last++
          return v.slice(p, last)
        }
      }
      while (start < end) {
        const ch = v.charCodeAt(start++)
        if (ch === 0x3b || ch === 0x2c) break
      }
      start = skipSpaces(v, start, end)
    }
  }
  return undefined
}

/** ngx_http_parse_set_cookie_lines: the value of cookie `name` in a Set-Cookie field of the upstream response. */
export function setCookieValue(headers: readonly string[] | null, name: string): string | undefined {
  if (headers === null) return undefined
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (!isName(headers[i]!, 'set-cookie')) continue
    const v = headers[i + 1]!
    const end = v.length
    if (name.length >= end || !startsWithCaseless(v, 0, name)) continue
    let p = skipSpaces(v, name.length, end)
    if (p === end || v.charCodeAt(p) !== 0x3d) continue
    p = skipSpaces(v, p + 1, end)
    let last = p
    while (last < end && v.charCodeAt(last) !== 0x3b) last++
    return v.slice(p, last)
  }
  return undefined
}

/** Case-insensitive compare of a header name with a lower-case name. */
function isName(h: string, lower: string): boolean {
  if (h.length !== lower.length) return false
  for (let k = 0; k < h.length; k++) {
    let c = h.charCodeAt(k)
    if (c >= 0x41 && c <= 0x5a) c |= 0x20
    if (c !== lower.charCodeAt(k)) return false
  }
  return true
}

function firstHeader(headers: readonly string[], lower: string): string | undefined {
  for (let i = 0; i + 1 < headers.length; i += 2) if (isName(headers[i]!, lower)) return headers[i + 1]
  return undefined
}

const B64 = new Int8Array(256).fill(-1)
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i

/** ngx_http_auth_basic_user: the user of `Authorization: Basic …`, decoded strictly as ngx_decode_base64 does. */
export function basicAuthUser(headers: readonly string[]): string | undefined {
  const h = firstHeader(headers, 'authorization')
  if (h === undefined || h.length < 6 || !startsWithCaseless(h, 0, 'basic ')) return undefined
  const from = skipSpaces(h, 6, h.length)
  let len = 0
  while (from + len < h.length) {
    const c = h.charCodeAt(from + len)
    if (c === 0x3d) break
    if (c > 0xff || B64[c] === -1) return undefined
    len++
  }
  if (len === 0 || len % 4 === 1) return undefined
  const auth = Buffer.from(h.slice(from, from + len), 'base64').toString('latin1')
  const colon = auth.indexOf(':')
  if (colon <= 0) return undefined
  return auth.slice(0, colon)
}

// ---------------------------------------------------------------------------------------------------------------
// Times, cached per second as nginx caches its log times.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const pad2 = (n: number): string => (n < 10 ? '0' + n : String(n))
let cachedSec = -1
let cachedLocal = ''
let cachedIso = ''

function refreshTimes(sec: number): void {
  const d = new Date(sec * 1000)
  const off = -d.getTimezoneOffset()
  const sign = off < 0 ? '-' : '+'
  const a = Math.abs(off)
  const hh = pad2(d.getHours())
  const mm = pad2(d.getMinutes())
  const ss = pad2(d.getSeconds())
  cachedLocal = `${pad2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${hh}:${mm}:${ss} ${sign}${pad2(Math.floor(a / 60))}${pad2(a % 60)}`
  cachedIso = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${hh}:${mm}:${ss}${sign}${pad2(Math.floor(a / 60))}:${pad2(a % 60)}`
  cachedSec = sec
}

const now = (src: VarSource): number => (src.endMsec > 0 ? src.endMsec : Date.now())

/** `$time_local` for a time in ms: `25/Nov/2026:14:44:33 +0000`. */
export function timeLocal(ms: number): string {
  const sec = Math.floor(ms / 1000)
  if (sec !== cachedSec) refreshTimes(sec)
  return cachedLocal
}

/** `$time_iso8601` for a time in ms: `2026-11-25T14:44:33+00:00`. */
export function timeIso8601(ms: number): string {
  const sec = Math.floor(ms / 1000)
  if (sec !== cachedSec) refreshTimes(sec)
  return cachedIso
}

/** nginx's `%T.%03M`: whole seconds, a dot, three digits of milliseconds. */
export function secondsDotMillis(ms: number): string {
  const t = Math.floor(ms)
  const r = t % 1000
  return `${Math.floor(t / 1000)}.${r < 10 ? '00' + r : r < 100 ? '0' + r : r}`
}

/** `$status`: three digits, `000` before a status is known. */
export function statusText(status: number): string {
  return status >= 100 ? String(status) : status >= 10 ? '0' + status : '00' + status
}

// ---------------------------------------------------------------------------------------------------------------
// The core variables (ngx_http_core_variables and the upstream and proxy modules' ones).

const nz = (s: string): string | undefined => (s.length > 0 ? s : undefined)
const PID = String(process.pid)

function binaryRemoteAddr(src: VarSource): string | undefined {
  const a = src.remoteAddr
  if (a.startsWith('unix:')) return a
  const v4 = parseIPv4(a)
  if (v4 >= 0) return String.fromCharCode(v4 >>> 24, (v4 >>> 16) & 0xff, (v4 >>> 8) & 0xff, v4 & 0xff)
  const b = new Uint8Array(16)
  let end = a.indexOf('%')
  if (end < 0) end = a.length
  if (!parseIPv6(a, b, 0, end)) return undefined
  return String.fromCharCode(...b)
}

function proxyAddXForwardedFor(src: VarSource): string | undefined {
  const xff = headerValue(src.headers, 'x_forwarded_for', ', ')
  return xff === undefined ? src.remoteAddr : xff + ', ' + src.remoteAddr
}

function requestId(src: VarSource): string {
  if (src.requestId === '') src.requestId = randomBytes(16).toString('hex')
  return src.requestId
}

/** The values of `$limit_req_status` and `$limit_conn_status` (modules/limit-req.ts, limit-conn.ts), nginx's words. */
const LIMIT_REQ_NAMES = ['PASSED', 'DELAYED', 'REJECTED', 'DELAYED_DRY_RUN', 'REJECTED_DRY_RUN']
const LIMIT_CONN_NAMES = ['PASSED', 'REJECTED', 'REJECTED_DRY_RUN']

const CORE: Readonly<Record<string, Getter>> = {
  http_host: (s) => headerValue(s.headers, 'host', ', '),
  http_user_agent: (s) => headerValue(s.headers, 'user_agent', ', '),
  http_referer: (s) => headerValue(s.headers, 'referer', ', '),
  http_via: (s) => headerValue(s.headers, 'via', ', '),
  http_x_forwarded_for: (s) => headerValue(s.headers, 'x_forwarded_for', ', '),
  http_cookie: (s) => headerValue(s.headers, 'cookie', '; '),
  content_length: (s) => firstHeader(s.headers, 'content-length'),
  content_type: (s) => headerValue(s.headers, 'content_type', ', '),
  host: (s) => (s.host.length > 0 ? s.host : s.serverName),
  binary_remote_addr: binaryRemoteAddr,
  remote_addr: (s) => s.remoteAddr,
  remote_port: (s) => (s.remotePort > 0 ? String(s.remotePort) : ''),
  realip_remote_addr: (s) => s.realipAddr ?? s.remoteAddr,
  limit_req_status: (s) => (s.limitReqStatus === 0 ? undefined : LIMIT_REQ_NAMES[s.limitReqStatus - 1]),
  limit_conn_status: (s) => (s.limitConnStatus === 0 ? undefined : LIMIT_CONN_NAMES[s.limitConnStatus - 1]),
  realip_remote_port: (s) => {
    const p = s.realipAddr !== null ? s.realipPort : s.remotePort
    return p > 0 ? String(p) : ''
  },
  server_addr: (s) => s.serverAddr,
  server_port: (s) => (s.serverPort > 0 ? String(s.serverPort) : ''),
  server_protocol: (s) => nz(s.protocol),
  http2: (s) => s.http2,
  scheme: (s) => s.scheme,
  https: (s) => (s.scheme === 'https' ? 'on' : ''),
  request_uri: (s) => s.requestUri,
  uri: (s) => s.uri,
  document_uri: (s) => s.uri,
  request: (s) => nz(s.requestLine),
  query_string: (s) => nz(s.args),
  args: (s) => nz(s.args),
  is_args: (s) => (s.args.length > 0 ? '?' : ''),
  server_name: (s) => s.serverName,
  request_method: (s) => nz(s.method),
  remote_user: (s) => basicAuthUser(s.headers),
  // Empty on a connection without TLS, as nginx's are not found there.
  ssl_client_verify: (s) => (s.tls ? clientVerifyResult(s.tls) : undefined),
  ssl_client_s_dn: (s) => (s.tls ? clientSubject(s.tls) : undefined),
  ssl_client_i_dn: (s) => (s.tls ? clientIssuer(s.tls) : undefined),
  ssl_client_serial: (s) => (s.tls ? clientSerial(s.tls) : undefined),
  ssl_client_fingerprint: (s) => (s.tls ? clientFingerprint(s.tls) : undefined),
  // The connection's TLS parameters, as OpenSSL names them (nginx's ngx_ssl_get_protocol, _cipher_name, …).
  ssl_protocol: (s) => (s.tls ? (s.tls.getProtocol() ?? undefined) : undefined),
  ssl_cipher: (s) => (s.tls ? s.tls.getCipher().name : undefined),
  ssl_server_name: (s) => (s.tls ? (typeof s.tls.servername === 'string' ? s.tls.servername : '') : undefined),
  ssl_session_reused: (s) => (s.tls ? (s.tls.isSessionReused() ? 'r' : '.') : undefined),
  // dyups accepts no TLS 1.3 early data, so none is ever in use.
  ssl_early_data: (s) => (s.tls ? '' : undefined),
  bytes_sent: (s) => String(s.bytesSent),
  body_bytes_sent: (s) => String(s.bodyBytesSent > 0 ? s.bodyBytesSent : 0),
  request_length: (s) => String(s.requestLength),
  request_time: (s) => secondsDotMillis(Math.max(now(s) - s.startMsec, 0)),
  request_id: requestId,
  // ngx_http_variable_request_body: not found without a body in memory.
  request_body: (s) => (s.body === null || s.body.length === 0 ? undefined : s.body.toString('latin1')),
  status: (s) => statusText(s.status),
  connection: (s) => String(s.connection),
  connection_requests: (s) => String(s.connectionRequests),
  pid: (s) => (s.pid === undefined ? PID : String(s.pid)),
  msec: (s) => secondsDotMillis(now(s)),
  time_iso8601: (s) => timeIso8601(now(s)),
  time_local: (s) => timeLocal(now(s)),
  upstream_addr: (s) => nz(s.upstreamAddr),
  upstream_status: (s) => nz(s.upstreamStatus),
  upstream_response_time: (s) => nz(s.upstreamResponseTime),
  upstream_connect_time: (s) => nz(s.upstreamConnectTime),
  upstream_header_time: (s) => nz(s.upstreamHeaderTime),
  upstream_response_length: (s) => nz(s.upstreamResponseLength),
  upstream_bytes_received: (s) => nz(s.upstreamBytesReceived),
  upstream_bytes_sent: (s) => nz(s.upstreamBytesSent),
  proxy_host: (s) => nz(s.proxyHost),
  proxy_port: (s) => nz(s.proxyPort),
  proxy_add_x_forwarded_for: proxyAddXForwardedFor,
  // stub_status's variables: this worker's connections (nginx's are its shared counters, so all workers'; see
  // docs/observability.md).
  connections_active: () => String(connStats.active),
  connections_reading: () => String(connStats.reading),
  connections_writing: () => String(connStats.writing),
  connections_waiting: () => String(connStats.waiting),
}

const notFound: Getter = () => undefined

/** Prefix variables, longest first. */
const PREFIXES: ReadonlyArray<[string, (rest: string) => Getter]> = [
  ['upstream_trailer_', () => notFound],
  ['upstream_cookie_', (rest) => (s) => setCookieValue(s.upstreamHeaders, rest)],
  ['upstream_http_', (rest) => (s) => headerValue(s.upstreamHeaders, rest, ', ')],
  ['sent_trailer_', () => notFound],
  ['sent_http_', (rest) => (s) => headerValue(s.responseHeaders, rest, ', ')],
  ['cookie_', (rest) => (s) => cookieValue(s.headers, rest)],
  ['http_', (rest) => (s) => headerValue(s.headers, rest, ', ')],
  ['arg_', (rest) => (s) => argValue(s.args, rest)],
]

// ---------------------------------------------------------------------------------------------------------------
// Templates

/** A compiled string with variables. */
export class Template {
  /** The text as written. */
  readonly text: string
  /** The value when the text has no variables, else null. */
  readonly constant: string | null
  /** Constant text, VarRefs and capture numbers, in order. */
  private readonly parts: ReadonlyArray<string | VarRef | number>
  /** The single variable when the text is exactly one `$var`, for a call without concatenation. */
  private readonly only: VarRef | null

  /** @internal use {@link Variables.compile} */
  constructor(text: string, parts: Array<string | VarRef | number>) {
    this.text = text
    this.parts = parts
    this.constant = parts.every((p) => typeof p === 'string') ? (parts as string[]).join('') : null
    this.only = parts.length === 1 && parts[0] instanceof VarRef ? parts[0] : null
  }

  /** The value for one request. Variables not found contribute nothing. */
  eval(src: VarSource): string {
    if (this.constant !== null) return this.constant
    if (this.only !== null) return this.only.get(src) ?? ''
    const p = this.parts
    let out = ''
    for (let i = 0; i < p.length; i++) {
      const x = p[i]!
      if (typeof x === 'string') {
        out += x
      } else if (typeof x === 'number') {
        const c = src.captures
        if (c !== null) {
          const v = c[x]
          if (v !== undefined) out += v
        }
      } else {
        const v = x.get(src)
        if (v !== undefined) out += v
      }
    }
    return out
  }
}

/** Splits `text` into constant text, `$1`…`$9` and variable names, as ngx_http_script_compile reads them. */
export function parseTemplate(text: string, at: Pos | undefined): Array<string | { name: string } | number> {
  const out: Array<string | { name: string } | number> = []
  let i = 0
  const n = text.length
  let lit = ''
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c !== 0x24) {
      const next = text.indexOf('$', i)
      const end = next < 0 ? n : next
      lit += text.slice(i, end)
      i = end
      continue
    }
    if (++i === n) throw new DyupsError('E_CONFIG', 'invalid variable name', at)
    const d = text.charCodeAt(i)
    if (d >= 0x31 && d <= 0x39) {
      if (lit) out.push(lit)
      lit = ''
      out.push(d - 0x30)
      i++
      continue
    }
    let bracket = false
    if (d === 0x7b) {
      bracket = true
      if (++i === n) throw new DyupsError('E_CONFIG', 'invalid variable name', at)
    }
    const start = i
    let end = i
    for (; i < n; i++) {
      const ch = text.charCodeAt(i)
      if (ch === 0x7d && bracket) {
        end = i
        i++
        bracket = false
        break
      }
      if ((ch >= 0x41 && ch <= 0x5a) || (ch >= 0x61 && ch <= 0x7a) || (ch >= 0x30 && ch <= 0x39) || ch === 0x5f) {
        end = i + 1
        continue
      }
      break
    }
    if (bracket) {
      throw new DyupsError('E_CONFIG', `the closing bracket in "${text.slice(start, end)}" variable is missing`, at)
    }
    if (end === start) throw new DyupsError('E_CONFIG', 'invalid variable name', at)
    if (lit) out.push(lit)
    lit = ''
    out.push({ name: text.slice(start, end) })
  }
  if (lit) out.push(lit)
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// map

interface MapHead {
  star: MapValue | null
  dot: MapValue | null
}

type MapValue = Template

class MapVar {
  source!: Template
  hostnames = false
  deflt: MapValue | null = null
  exact = new Map<string, MapValue>()
  head = new Map<string, MapHead>()
  tail = new Map<string, MapValue>()
  regexes: Array<{ re: RegExp; captures: boolean; value: MapValue }> = []

  find(src: VarSource): string {
    let val = this.source.eval(src)
    if (this.hostnames && val.length > 0 && val.charCodeAt(val.length - 1) === 0x2e) val = val.slice(0, -1)
    const v = this.lookup(val, src)
    return v === null ? '' : v.eval(src)
  }

  private lookup(val: string, src: VarSource): MapValue | null {
    const low = asciiLower(val)
    const e = this.exact.get(low)
    if (e !== undefined) return e
    const n = low.length
    if (n === 0) return this.deflt
    if (this.head.size > 0) {
      const self = this.head.get(low)
      if (self !== undefined && self.dot !== null) return self.dot
      for (let i = low.indexOf('.'); i >= 0 && i < n - 1; i = low.indexOf('.', i + 1)) {
        const h = this.head.get(low.slice(i + 1))
        if (h !== undefined) return h.star ?? h.dot
      }
    }
    if (this.tail.size > 0) {
      for (let i = low.lastIndexOf('.'); i > 0; i = low.lastIndexOf('.', i - 1)) {
        const t = this.tail.get(low.slice(0, i))
        if (t !== undefined) return t
      }
    }
    const rs = this.regexes
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!
      if (r.captures) {
        const m = r.re.exec(val)
        if (m === null) continue
        src.captures = m
        return r.value
      }
      if (r.re.test(val)) return r.value
    }
    return this.deflt
  }
}

// nginx stops a chain of variables that refer to each other at depth 100 ("cycle while evaluating variable") and
// fails the whole evaluation; `cycle` makes every map evaluation under the outermost one give up at once, so maps
// that refer to each other twice cost 100 steps, not 2^100.
let depth = 0
let cycle = false

// ---------------------------------------------------------------------------------------------------------------

interface Def {
  /** `set` slot, -1 when the variable is never `set`. */
  slot: number
  map: MapVar | null
  /** A module's variable (split_clients, geo): computed per read. */
  fn: Getter | null
  capture: boolean
}

export interface VariablesOptions {
  /** `$nginx_version`: dyups' own version. */
  readonly version: string
  /** `$hostname`. @default os.hostname(), lower-cased */
  readonly hostname?: string
}

/**
 * The variables of one configuration: declarations (`set`, `map`, named captures), compiled templates, and the
 * resolution of every name used.
 */
export class Variables {
  private readonly core: Record<string, Getter>
  private readonly defs = new Map<string, Def>()
  private readonly refs = new Map<string, VarRef>()
  private slotCount = 0
  private finished = false

  constructor(opts: VariablesOptions) {
    const host = asciiLower(opts.hostname ?? osHostname())
    this.core = { ...CORE, nginx_version: () => opts.version, hostname: () => host }
  }

  /** How many `set` slots a request's `sets` array needs. */
  get slots(): number {
    return this.slotCount
  }

  private def(name: string, at: Pos | undefined): Def {
    if (name !== 'args' && Object.prototype.hasOwnProperty.call(this.core, name)) {
      throw new DyupsError('E_CONFIG', `the duplicate "${name}" variable`, at)
    }
    let d = this.defs.get(name)
    if (d === undefined) {
      d = { slot: -1, map: null, fn: null, capture: false }
      this.defs.set(name, d)
    }
    return d
  }

  /**
   * Declare `set $name …`.
   * @param name with or without `$`
   * @returns the slot in a request's `sets` array, or -1 for `$args` (which sets `args` itself)
   * @throws DyupsError E_CONFIG `the duplicate "host" variable` for a variable nginx does not let `set` change
   */
  declareSet(name: string, at?: Pos): number {
    const n = asciiLower(name.startsWith('$') ? name.slice(1) : name)
    if (n.length === 0) throw new DyupsError('E_CONFIG', 'invalid variable name "$"', at)
    if (n === 'args') return -1
    const d = this.def(n, at)
    if (d.slot < 0) d.slot = this.slotCount++
    return d.slot
  }

  /**
   * Declare `set $name …` and get the function that performs it. `set $args` changes the query string.
   * @param name with or without `$`
   * @throws DyupsError E_CONFIG `the duplicate "host" variable` for a variable nginx does not let `set` change
   */
  setter(name: string, at?: Pos): Setter {
    const slot = this.declareSet(name, at)
    if (slot < 0) {
      return (src, value) => {
        src.args = value
      }
    }
    return (src, value) => {
      src.sets[slot] = value
    }
  }

  /**
   * Declare the named captures of a regex (location, server_name): `$name` reads the last match's group.
   * @throws DyupsError E_CONFIG `the duplicate "host" variable` when a capture is named like a core variable
   */
  declareCaptures(names: readonly string[], at?: Pos): void {
    for (const raw of names) {
      const n = asciiLower(raw)
      // `$args` may be named (it is changeable) but keeps reading the query string, as in nginx.
      if (n === 'args') continue
      this.def(n, at).capture = true
    }
  }

  /**
   * Add a `map SOURCE $name { … }` block: exact keys (caseless), `default`, `hostnames` wildcards, `~`/`~*` regexes
   * in order, `volatile` (no effect: map values are never cached); values may hold variables.
   * @throws DyupsError E_CONFIG with nginx's words: `invalid variable name "y"`, `the duplicate "host" variable`,
   *   `invalid number of the map parameters`, `duplicate default map parameter`, `conflicting parameter "a"`,
   *   `invalid hostname or wildcard "w*w"`, regex errors
   */
  addMap(d: Directive): void {
    const at = { file: d.file, line: d.line }
    if (d.args.length !== 2 || d.block === null) {
      throw new DyupsError('E_CONFIG', 'invalid number of arguments in "map" directive', at)
    }
    const m = new MapVar()
    m.source = this.compile(d.args[0]!, at)
    const dest = d.args[1]!
    if (!dest.startsWith('$')) throw new DyupsError('E_CONFIG', `invalid variable name "${dest}"`, at)
    const name = asciiLower(dest.slice(1))
    if (name.length === 0) throw new DyupsError('E_CONFIG', 'invalid variable name "$"', at)
    const def = this.def(name, at)

    const exactSeen = new Set<string>()
    const headSeen = new Set<string>()
    const tailSeen = new Set<string>()
    for (const e of d.block) {
      const eat = { file: e.file, line: e.line }
      if (e.args.length === 0 && (e.name === 'hostnames' || e.name === 'volatile')) {
        if (e.name === 'hostnames') m.hostnames = true
        continue
      }
      if (e.args.length !== 1) throw new DyupsError('E_CONFIG', 'invalid number of the map parameters', eat)
      if (e.name === 'include') continue // expanded by the configuration loader
      const value = this.compile(e.args[0]!, eat)
      let key = e.name
      if (key === 'default') {
        if (m.deflt !== null) throw new DyupsError('E_CONFIG', 'duplicate default map parameter', eat)
        m.deflt = value
        continue
      }
      if (key.startsWith('~')) {
        let pattern = key.slice(1)
        let caseless = false
        if (pattern.startsWith('*')) {
          pattern = pattern.slice(1)
          caseless = true
        }
        const re = compileRegex(pattern, caseless, eat)
        const [count, names] = regexCaptures(re)
        this.declareCaptures(names, eat)
        m.regexes.push({ re, captures: count > 0, value })
        continue
      }
      if (key.startsWith('\\')) key = key.slice(1)
      const kind = m.hostnames ? wildcardKind(key) : 'exact'
      if (kind === null) throw new DyupsError('E_CONFIG', `invalid hostname or wildcard "${key}"`, eat)
      const low = asciiLower(key)
      const busy = (): never => {
        throw new DyupsError('E_CONFIG', `conflicting parameter "${low}"`, eat)
      }
      if (kind === 'exact') {
        if (exactSeen.has(low)) busy()
        exactSeen.add(low)
        m.exact.set(low, value)
      } else if (kind === 'head') {
        const dot = low.charCodeAt(0) === 0x2e
        const base = low.slice(dot ? 1 : 2)
        if (dot) {
          if (exactSeen.has(base)) busy()
          exactSeen.add(base)
        }
        if (headSeen.has(base)) busy()
        headSeen.add(base)
        const h = m.head.get(base) ?? { star: null, dot: null }
        if (dot) h.dot = value
        else h.star = value
        m.head.set(base, h)
      } else {
        const base = low.slice(0, -2)
        if (tailSeen.has(base)) busy()
        tailSeen.add(base)
        m.tail.set(base, value)
      }
    }
    // A later map of the same variable replaces an earlier one, as in nginx.
    def.map = m
    def.fn = null
  }

  /**
   * Declare a variable a module computes (`split_clients`, `geo`); a later `map`, `geo` or `split_clients` of the
   * same name replaces it, as in nginx.
   * @param name without `$`
   * @throws DyupsError E_CONFIG `the duplicate "host" variable` for a core variable's name
   */
  addComputed(name: string, get: Getter, at?: Pos): void {
    const n = asciiLower(name)
    if (n.length === 0) throw new DyupsError('E_CONFIG', 'invalid variable name "$"', at)
    const def = this.def(n, at)
    def.fn = get
    def.map = null
  }

  /** Whether a compiled template or log format refers to a variable whose name starts with `prefix`. */
  usesPrefix(prefix: string): boolean {
    for (const r of this.refs.keys()) if (r.startsWith(prefix)) return true
    return false
  }

  /** Whether a compiled template or log format refers to the variable (name without `$`). */
  uses(name: string): boolean {
    return this.refs.has(asciiLower(name))
  }

  /**
   * A reference to a variable by name (for callers that need raw values, as the access log does).
   * @param name without `$`
   */
  ref(name: string, at?: Pos): VarRef {
    const n = asciiLower(name)
    let r = this.refs.get(n)
    if (r === undefined) {
      r = new VarRef(n, at)
      this.refs.set(n, r)
      if (this.finished) this.resolve(r)
    }
    return r
  }

  /**
   * Compile a directive argument.
   * @throws DyupsError E_CONFIG `invalid variable name`, `the closing bracket in "x" variable is missing`
   */
  compile(text: string, at?: Pos): Template {
    const parts: Array<string | VarRef | number> = []
    for (const p of parseTemplate(text, at)) parts.push(typeof p === 'object' ? this.ref(p.name, at) : p)
    return new Template(text, parts)
  }

  /**
   * Resolve every name used so far (later uses resolve at once).
   * @throws DyupsError E_CONFIG `unknown "foo" variable`, at its first use
   */
  finish(): void {
    for (const r of this.refs.values()) this.resolve(r)
    this.finished = true
  }

  private resolve(r: VarRef): void {
    const g = this.getter(r.name)
    if (g === null) throw new DyupsError('E_CONFIG', `unknown "${r.name}" variable`, r.at)
    r.get = g
  }

  private getter(name: string): Getter | null {
    const d = this.defs.get(name)
    if (d !== undefined) return defGetter(name, d)
    const core = Object.prototype.hasOwnProperty.call(this.core, name) ? this.core[name]! : undefined
    if (core !== undefined) return core
    for (const [prefix, make] of PREFIXES) {
      if (name.startsWith(prefix)) return make(name.slice(prefix.length))
    }
    return null
  }
}

function defGetter(name: string, d: Def): Getter {
  const slot = d.slot
  const m = d.map
  const fn = d.fn
  if (fn !== null) {
    if (slot < 0) return fn
    return (src) => {
      const v = src.sets[slot]
      return v !== undefined ? v : fn(src)
    }
  }
  if (m !== null) {
    const evalMap = (src: VarSource): string | undefined => {
      if (cycle) return undefined
      if (depth >= 100) {
        cycle = true
        return undefined
      }
      depth++
      let v: string | undefined
      try {
        v = m.find(src)
      } finally {
        depth--
      }
      if (cycle) {
        if (depth === 0) cycle = false
        return undefined
      }
      return v
    }
    if (slot < 0) return evalMap
    return (src) => {
      const v = src.sets[slot]
      return v !== undefined ? v : evalMap(src)
    }
  }
  if (d.capture) {
    return (src) => {
      if (slot >= 0) {
        const v = src.sets[slot]
        if (v !== undefined) return v
      }
      const c = src.captures
      return c === null || c.groups === undefined ? undefined : c.groups[name]
    }
  }
  // An unset `set` variable is empty, not "not found" (nginx logs "using uninitialized variable").
  return (src) => src.sets[slot] ?? ''
}

/**
 * What each check type sends and how it reads the answer, as Tengine's ngx_http_upstream_check_module does:
 * - tcp: the connection is accepted (nothing is sent or read);
 * - http: `check_http_send` goes out, the status line comes back, its class must be one of `check_http_expect_alive`;
 * - ssl_hello: a TLS ClientHello goes out; any TLS record answer (a ServerHello, or an alert from a server that
 *   dislikes our offer) proves a TLS server listens. Tengine sends an SSLv3-era hello that today's servers refuse,
 *   so we send a TLS 1.2 one that they answer;
 * - mysql: the server's greeting packet has sequence number 0;
 * - ajp: CPING gets CPONG;
 * - fastcgi: a request with `check_fastcgi_param`s gets a STDOUT record whose `Status:` (200 when absent) is alive.
 *
 * A parser is called with every byte received so far and answers UP, DOWN or AGAIN (wait for more).
 */
import { randomBytes } from 'node:crypto'
import type { CheckSpec, CheckStatusClass } from '../upstream/index.js'

export const AGAIN = 0
export const UP = 1
export const DOWN = 2
export type Verdict = typeof AGAIN | typeof UP | typeof DOWN

/** A parser's answer with the reason a DOWN was given (for the error log). */
export interface Answer {
  readonly verdict: Verdict
  readonly reason: string
}

const again: Answer = { verdict: AGAIN, reason: '' }
const up: Answer = { verdict: UP, reason: '' }
const down = (reason: string): Answer => ({ verdict: DOWN, reason })

/** Beyond this many bytes without an answer, the peer is not speaking the protocol. */
const MAX_ANSWER = 16 * 1024

const CLASSES: readonly CheckStatusClass[] = ['http_1xx', 'http_2xx', 'http_3xx', 'http_4xx', 'http_5xx']

/** The class of a status code (`http_2xx`), or null for codes outside 100..599 (never alive, as in Tengine). */
export function statusClass(code: number): CheckStatusClass | null {
  if (code >= 100 && code < 600) return CLASSES[Math.floor(code / 100) - 1]!
  // Tengine counts 1..99 as 1xx (`code > 0 && code < 200`).
  return code > 0 && code < 100 ? 'http_1xx' : null
}

/**
 * Tengine's status-line parser (ngx_http_upstream_check_parse_status_line): `HTTP/` major `.` minor, spaces, three
 * digits, then a space, `.` (IIS's `403.1`) or the line end. Returns the code, -1 for "need more bytes", -2 for
 * a malformed line.
 */
export function parseStatusLine(buf: string): number {
  const want = 'HTTP/'
  for (let i = 0; i < want.length && i < buf.length; i++) if (buf[i] !== want[i]) return -2
  const eol = buf.indexOf('\n')
  if (eol < 0) return buf.length > 4096 ? -2 : -1
  const line = buf.charCodeAt(eol - 1) === 13 ? buf.slice(0, eol - 1) : buf.slice(0, eol)
  const m = /^HTTP\/[1-9][0-9]*\.[0-9]+ +([0-9]{3})(?:[ .][^\r]*)?$/.exec(line)
  return m === null ? -2 : Number(m[1])
}

/** The http type: the status line's class must be expected. */
export function parseHttp(buf: string, alive: readonly CheckStatusClass[]): Answer {
  const code = parseStatusLine(buf)
  if (code === -1) return again
  if (code === -2) return down('http parse status line error')
  const cls = statusClass(code)
  return cls !== null && alive.includes(cls) ? up : down(`http status ${code}`)
}

const TLS_SUITES = [
  0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc009, 0xc013, 0xc00a, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
  0x00ff, // TLS_EMPTY_RENEGOTIATION_INFO_SCSV
]
const TLS_GROUPS = [0x001d, 0x0017, 0x0018] // x25519, secp256r1, secp384r1
const TLS_SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201]

const u16 = (n: number): number[] => [(n >>> 8) & 0xff, n & 0xff]
const list16 = (xs: readonly number[]): number[] => xs.flatMap(u16)

/** A TLS 1.2 ClientHello (fresh random each time) that OpenSSL, BoringSSL and Go servers answer with a ServerHello. */
export function clientHello(): Buffer {
  const ext = (type: number, body: number[]): number[] => [...u16(type), ...u16(body.length), ...body]
  const extensions = [
    ...ext(0x000a, [...u16(TLS_GROUPS.length * 2), ...list16(TLS_GROUPS)]),
    ...ext(0x000b, [1, 0]),
    ...ext(0x000d, [...u16(TLS_SIGALGS.length * 2), ...list16(TLS_SIGALGS)]),
  ]
  const hello = [
    0x03, 0x03,
    ...randomBytes(32),
    0, // no session id
    ...u16(TLS_SUITES.length * 2), ...list16(TLS_SUITES),
    1, 0, // compression: null
    ...u16(extensions.length), ...extensions,
  ]
  const handshake = [0x01, (hello.length >>> 16) & 0xff, ...u16(hello.length & 0xffff), ...hello]
  return Buffer.from([0x16, 0x03, 0x01, ...u16(handshake.length), ...handshake])
}

/** ssl_hello: a TLS record header (handshake or alert, version 3.x) proves a TLS server. */
export function parseSslHello(buf: string): Answer {
  if (buf.length < 5) return again
  const type = buf.charCodeAt(0)
  if ((type === 0x16 || type === 0x15) && buf.charCodeAt(1) === 3) return up
  return down('ssl_hello answer is not TLS')
}

/** mysql: a greeting packet (3 length bytes, sequence 0, protocol version). */
export function parseMysql(buf: string): Answer {
  if (buf.length < 5) return again
  return buf.charCodeAt(3) === 0 ? up : down('mysql greeting has a nonzero sequence number')
}

export const AJP_CPING = Buffer.from([0x12, 0x34, 0x00, 0x01, 0x0a])
const AJP_CPONG = '\x41\x42\x00\x01\x09'

export function parseAjp(buf: string): Answer {
  if (buf.length < AJP_CPONG.length) return again
  return buf.startsWith(AJP_CPONG) ? up : down('ajp answer is not CPONG')
}

/** FastCGI record types. */
const FCGI_BEGIN_REQUEST = 1
const FCGI_END_REQUEST = 3
const FCGI_PARAMS = 4
const FCGI_STDIN = 5
const FCGI_STDOUT = 6
const FCGI_STDERR = 7

function fcgiRecord(type: number, body: Buffer): Buffer {
  const pad = (8 - (body.length % 8)) % 8
  const h = Buffer.from([1, type, 0, 1, (body.length >>> 8) & 0xff, body.length & 0xff, pad, 0])
  return Buffer.concat([h, body, Buffer.alloc(pad)])
}

function fcgiLength(n: number): Buffer {
  return n < 128 ? Buffer.from([n]) : Buffer.from([((n >>> 24) & 0x7f) | 0x80, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
}

/** A FastCGI responder request (id 1, no keep-conn) carrying `params` and an empty body. */
export function fastcgiRequest(params: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = []
  for (const [k, v] of params) {
    const name = Buffer.from(k, 'latin1')
    const value = Buffer.from(v, 'latin1')
    parts.push(fcgiLength(name.length), fcgiLength(value.length), name, value)
  }
  const body = Buffer.concat(parts)
  const records = [fcgiRecord(FCGI_BEGIN_REQUEST, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0]))]
  // One record holds at most 65535 bytes.
  for (let i = 0; i < body.length; i += 65528) records.push(fcgiRecord(FCGI_PARAMS, body.subarray(i, i + 65528)))
  records.push(fcgiRecord(FCGI_PARAMS, Buffer.alloc(0)), fcgiRecord(FCGI_STDIN, Buffer.alloc(0)))
  return Buffer.concat(records)
}

/**
 * fastcgi: the first record must be STDOUT with data; its CGI header block's `Status:` (200 when absent) must be of
 * an expected class (any, when none is configured). STDERR, END_REQUEST first or a foreign record is DOWN.
 */
export function parseFastcgi(buf: string, alive: readonly CheckStatusClass[]): Answer {
  if (buf.length < 8) return again
  if (buf.charCodeAt(0) !== 1) return down('fastcgi: unsupported protocol version')
  const type = buf.charCodeAt(1)
  const len = (buf.charCodeAt(4) << 8) | buf.charCodeAt(5)
  if (type === FCGI_STDERR) return down('fastcgi check error')
  if (type === FCGI_END_REQUEST) return down('fastcgi: no output')
  if (type !== FCGI_STDOUT) return down(`fastcgi: unexpected record type ${type}`)
  if (len === 0) return down('fastcgi: prematurely closed stdout')
  if (buf.length < 8 + len) return again
  if (alive.length === 0) return up
  const data = buf.slice(8, 8 + len)
  const end = data.search(/\r?\n\r?\n/)
  const head = end < 0 ? data : data.slice(0, end)
  const m = /(?:^|\n)status:[ \t]*([0-9]{3})/i.exec(head)
  const code = m === null ? 200 : Number(m[1])
  const cls = statusClass(code)
  return cls !== null && alive.includes(cls) ? up : down(`fastcgi status ${code}`)
}

/** What a type sends once connected (null: nothing, as for tcp and mysql). */
export function requestOf(spec: CheckSpec): Buffer | null {
  switch (spec.type) {
    case 'http':
      return Buffer.from(spec.send, 'latin1')
    case 'ssl_hello':
      return clientHello()
    case 'ajp':
      return AJP_CPING
    case 'fastcgi':
      return fastcgiRequest(spec.fastcgiParams)
    default:
      return null
  }
}

/** Reads an answer of `spec.type` from the bytes received so far (latin1). */
export function parseAnswer(spec: CheckSpec, buf: string): Answer {
  if (buf.length > MAX_ANSWER) return down('answer too long')
  switch (spec.type) {
    case 'http':
      return parseHttp(buf, spec.expectAlive)
    case 'ssl_hello':
      return parseSslHello(buf)
    case 'mysql':
      return parseMysql(buf)
    case 'ajp':
      return parseAjp(buf)
    case 'fastcgi':
      return parseFastcgi(buf, spec.expectAlive)
    default:
      return up
  }
}

/** Types whose connection may serve several checks (`check_keepalive_requests`), as Tengine's need_keepalive. */
export function keepsAlive(spec: CheckSpec): boolean {
  return (spec.type === 'http' || spec.type === 'ajp') && spec.keepaliveRequests > 1
}

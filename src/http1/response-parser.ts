/**
 * Incremental response-head parser for backend responses, and the framing decision that follows from the head.
 *
 * Tolerant where nginx's upstream parser is (a backend is configured, not an arbitrary client, and nginx users rely
 * on this): bare LF line endings, no reason phrase, several spaces before the status code, header names with
 * non-token bytes, CTLs other than NUL in values. Strict on what decides where the message ends: Content-Length
 * twice or malformed, Transfer-Encoding twice or other than `chunked`, obs-fold, bare CR, a head larger than
 * `maxHeadBytes` (nginx's proxy_buffer_size) → 502.
 *
 * Content-Length together with Transfer-Encoding: chunked is framed as chunked and the connection is not reused
 * (RFC 9112 §6.3); `lengthAndChunked` tells the caller, which may choose to answer 502 instead, as nginx ≥ 1.23 does.
 *
 * Like the request parser, the outcome does not depend on how the bytes were split, and it stops exactly at the end
 * of the head. A 1xx interim head (100, 103) is returned like any other; reset() and parse the next one.
 */
import { COLON, CR, HT, LF, NAME_LENIENT, SP, bytes, eqLower, latin1, scanLenientValue } from './chars.js'
import {
  CONN_CLOSE, CONN_KEEP_ALIVE, CONN_UPGRADE, isChunked, parseConnection, parseContentLength,
} from './fields.js'
import { Gather } from './gather.js'
import { MessageHead, NEED_MORE, OFFSETS_PER_HEADER, PARSE_ERROR } from './head.js'
import { HttpParseError, type ParseErrorKind } from './http-error.js'

/** Size limits of a response head. */
export interface ResponseLimits {
  /** Largest head, status line included. @default 4096 (nginx proxy_buffer_size: one page) */
  maxHeadBytes: number
  /** Most header lines. @default 1000 */
  maxHeaders: number
}

export const DEFAULT_RESPONSE_LIMITS: Readonly<ResponseLimits> = Object.freeze({ maxHeadBytes: 4096, maxHeaders: 1000 })

/** How a response body is delimited (RFC 9112 §6.3). */
export const BODY_NONE = 0
export const BODY_LENGTH = 1
export const BODY_CHUNKED = 2
export const BODY_UNTIL_CLOSE = 3
export type BodyKind = typeof BODY_NONE | typeof BODY_LENGTH | typeof BODY_CHUNKED | typeof BODY_UNTIL_CLOSE

/**
 * Framing of a response to `method` (RFC 9112 §6.3): none for HEAD, 1xx, 204 and 304 whatever the headers say;
 * else chunked, else Content-Length (0 included), else until the backend closes.
 */
export function bodyKind(method: string, status: number, contentLength: number, chunked: boolean): BodyKind {
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) return BODY_NONE
  if (chunked) return BODY_CHUNKED
  if (contentLength >= 0) return BODY_LENGTH
  return BODY_UNTIL_CLOSE
}

/** A parsed response head. */
export class ResponseHead extends MessageHead {
  constructor(
    raw: string,
    offsets: number[],
    headerCount: number,
    readonly status: number,
    /** The reason phrase as sent ('' when absent); nginx relays a backend's status line as is. */
    readonly reason: string,
    /** 0 for HTTP/1.0, 1 for HTTP/1.1 and later 1.x. */
    readonly versionMinor: number,
    /** Content-Length, or -1 when absent or overridden by chunked. */
    readonly contentLength: number,
    readonly chunked: boolean,
    /** Connection has the `close` option. */
    readonly connectionClose: boolean,
    /**
     * The backend lets the connection be reused after this response: HTTP/1.1 unless `close`, HTTP/1.0 only with
     * `keep-alive`, never after Content-Length + chunked. Also check bodyKind() is not BODY_UNTIL_CLOSE.
     */
    readonly keepAlive: boolean,
    /** Upgrade's value when Connection has `upgrade` (a 101 answer), else null. */
    readonly upgrade: string | null,
    /** Both Content-Length and Transfer-Encoding: chunked were sent. */
    readonly lengthAndChunked: boolean,
    /** Bytes the head took on the wire. */
    readonly headBytes: number,
  ) {
    super(raw, offsets, headerCount)
  }

  /** Framing of this response to a request with `method`. */
  bodyKind(method: string): BodyKind {
    return bodyKind(method, this.status, this.contentLength, this.chunked)
  }

  /** The connection can go back to the pool once the body (as framed for `method`) has been read. */
  reusable(method: string): boolean {
    return this.keepAlive && this.status !== 101 && this.bodyKind(method) !== BODY_UNTIL_CLOSE
  }
}

const PHASE_LINE = 0
const PHASE_HEADERS = 1
const PHASE_DONE = 2
const PHASE_FAILED = 3

const N_CONTENT_LENGTH = bytes('content-length')
const N_TRANSFER_ENCODING = bytes('transfer-encoding')
const N_CONNECTION = bytes('connection')
const N_UPGRADE = bytes('upgrade')
const V_HTTP_SLASH = bytes('HTTP/')

const MESSAGES: Partial<Record<ParseErrorKind, string>> = {
  'invalid-status-line': 'upstream sent no valid HTTP/1.0 header',
  'bare-cr': 'upstream sent invalid header',
  'obs-fold': 'upstream sent invalid header',
  'invalid-header-name': 'upstream sent invalid header',
  'space-before-colon': 'upstream sent invalid header',
  'invalid-header-value': 'upstream sent invalid header',
  'head-too-large': 'upstream sent too big header',
  'too-many-headers': 'upstream sent too big header',
  'duplicate-content-length': 'upstream sent duplicate header line: "Content-Length"',
  'invalid-content-length': 'upstream sent invalid "Content-Length" header',
  'duplicate-transfer-encoding': 'upstream sent duplicate header line: "Transfer-Encoding"',
  'unknown-transfer-encoding': 'upstream sent unknown "Transfer-Encoding"',
}

/**
 * Incremental response-head parser; one per backend connection, reset() between responses.
 * Same protocol as RequestHeadParser.execute(): offset of the body / NEED_MORE / PARSE_ERROR (`error.status` 502).
 */
export class ResponseHeadParser {
  head: ResponseHead | null = null
  error: HttpParseError | null = null

  private readonly maxHeadBytes: number
  private readonly maxHeaders: number
  private readonly gather: Gather

  private phase = PHASE_LINE
  private lineStart = 0

  private status = 0
  private minor = 1
  private reasonStart = 0
  private reasonEnd = 0

  private offs: number[] = []
  private count = 0
  private contentLength = -1
  private chunked = false
  private conn = 0
  private upgradeIdx = -1

  /**
   * @param limits any of ResponseLimits; the rest default to DEFAULT_RESPONSE_LIMITS
   * @throws RangeError when a limit is not an integer in range
   */
  constructor(limits?: Partial<ResponseLimits>) {
    // One per backend connection: the defaults need no copy.
    const l: Readonly<ResponseLimits> = limits === undefined ? DEFAULT_RESPONSE_LIMITS : { ...DEFAULT_RESPONSE_LIMITS, ...limits }
    if (!Number.isInteger(l.maxHeadBytes) || l.maxHeadBytes < 16 || l.maxHeadBytes > 0x3fffffff) {
      throw new RangeError(`invalid head limit maxHeadBytes: ${String(l.maxHeadBytes)}`)
    }
    if (!Number.isInteger(l.maxHeaders) || l.maxHeaders < 0 || l.maxHeaders > 0x3fffffff) {
      throw new RangeError(`invalid head limit maxHeaders: ${String(l.maxHeaders)}`)
    }
    this.maxHeadBytes = l.maxHeadBytes
    this.maxHeaders = l.maxHeaders
    this.gather = new Gather(l.maxHeadBytes + 1)
  }

  /**
   * Feeds buf[start..]. Returns the offset in `buf` where the head ended (`head` is set), NEED_MORE, or
   * PARSE_ERROR (`error` is set; the backend answer is invalid: 502).
   * @throws Error when called after a complete head or an error without reset()
   */
  execute(buf: Buffer, start = 0): number {
    if (this.phase >= PHASE_DONE) throw new Error('ResponseHeadParser: reset() before the next head')
    const end = buf.length
    const g = this.gather
    if (g.len === 0) {
      const r = this.scan(buf, start, end)
      if (r === NEED_MORE && end > start) g.keep(buf, start, end)
      return r
    }
    const old = g.len
    g.append(buf, start, end)
    const acc = g.buf as Buffer
    const len = g.len
    const W = this.maxHeadBytes
    const lim = len < W ? len : W
    const lf = old < lim ? acc.indexOf(LF, old) : -1
    if (lf < 0 || lf >= lim) return this.beyond(0, this.lineStart, len)
    const r = this.scan(acc, 0, len)
    if (r >= 0) {
      g.clear()
      return start + (r - old)
    }
    return r
  }

  /** Forgets the current head and error; keeps the buffers. */
  reset(): void {
    this.head = null
    this.error = null
    this.gather.clear()
    this.phase = PHASE_LINE
    this.lineStart = 0
    this.count = 0
    if (this.offs.length !== 0) this.offs.length = 0
    this.contentLength = -1
    this.chunked = false
    this.conn = 0
    this.upgradeIdx = -1
  }

  private beyond(base: number, ls: number, end: number): number {
    if (base + this.maxHeadBytes < end) return this.fail('head-too-large')
    this.lineStart = ls - base
    return NEED_MORE
  }

  /** As in the request parser: a broken line is reported once its LF is here, so splits do not matter. */
  private fault(b: Buffer, base: number, ls: number, i: number, end: number, kind: ParseErrorKind): number {
    const W = base + this.maxHeadBytes
    const lim = end < W ? end : W
    const lf = b.indexOf(LF, i)
    if (lf >= 0 && lf < lim) return this.fail(kind)
    return this.beyond(base, ls, end)
  }

  private fail(kind: ParseErrorKind): number {
    this.error = new HttpParseError('E_UPSTREAM', 502, kind, MESSAGES[kind] ?? 'upstream sent invalid header', 'Bad Gateway')
    this.phase = PHASE_FAILED
    this.gather.clear()
    return PARSE_ERROR
  }

  private reject(kind: ParseErrorKind): false {
    this.fail(kind)
    return false
  }

  private scan(b: Buffer, base: number, end: number): number {
    let p = base + this.lineStart
    if (this.phase === PHASE_LINE) {
      p = this.statusLine(b, base, p, end)
      if (p < 0) return p
    }
    return this.headerLines(b, base, p, end)
  }

  /** `HTTP/1.x SP+ 3DIGIT [ (SP / ".") reason ] [CR] LF`, as nginx's ngx_http_parse_status_line takes it. */
  private statusLine(b: Buffer, base: number, p: number, end: number): number {
    const W = base + this.maxHeadBytes
    const lim = end < W ? end : W
    let i = p
    for (let k = 0; k < 5; k++, i++) {
      if (i >= lim) return this.beyond(base, p, end)
      if (b[i] !== V_HTTP_SLASH[k]) return this.fault(b, base, p, i, end, 'invalid-status-line')
    }
    if (i + 3 > lim) return this.beyond(base, p, end)
    if (b[i] !== 0x31 || b[i + 1] !== 0x2e) return this.fault(b, base, p, i, end, 'invalid-status-line')
    const minor = b[i + 2] - 0x30
    if (minor < 0 || minor > 9) return this.fault(b, base, p, i + 2, end, 'invalid-status-line')
    i += 3
    if (i >= lim) return this.beyond(base, p, end)
    if (b[i] !== SP) return this.fault(b, base, p, i, end, 'invalid-status-line')
    while (i < lim && b[i] === SP) i++
    if (i + 3 > lim) return this.beyond(base, p, end)
    const d0 = b[i] - 0x30, d1 = b[i + 1] - 0x30, d2 = b[i + 2] - 0x30
    if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return this.fault(b, base, p, i, end, 'invalid-status-line')
    const status = d0 * 100 + d1 * 10 + d2
    i += 3
    if (i >= lim) return this.beyond(base, p, end)
    let rs = i, re = i
    let c = b[i]
    if (c === SP || c === 0x2e) {
      if (c === SP) i++
      rs = i
      i = scanLenientValue(b, i, lim)
      if (i >= lim) return this.beyond(base, p, end)
      c = b[i]
      re = i
      while (re > rs && (b[re - 1] === SP || b[re - 1] === HT)) re--
    }
    if (c === CR) {
      if (i + 1 >= lim) return this.beyond(base, p, end)
      if (b[i + 1] !== LF) return this.fault(b, base, p, i + 1, end, 'bare-cr')
      i += 2
    } else if (c === LF) {
      i += 1
    } else {
      return this.fault(b, base, p, i, end, 'invalid-status-line')
    }
    this.status = status
    this.minor = minor === 0 ? 0 : 1
    this.reasonStart = rs - p
    this.reasonEnd = re - p
    this.phase = PHASE_HEADERS
    this.lineStart = i - base
    return i
  }

  private headerLines(b: Buffer, base: number, p: number, end: number): number {
    const nameT = NAME_LENIENT // a local: an imported binding costs a load and a hole check per byte
    const W = base + this.maxHeadBytes
    const lim = end < W ? end : W
    for (;;) {
      const ls = p
      if (p >= lim) return this.beyond(base, ls, end)
      let c = b[p]
      if (c === LF) return this.finish(b, base, p + 1)
      if (c === CR) {
        if (p + 1 >= lim) return this.beyond(base, ls, end)
        if (b[p + 1] !== LF) return this.fault(b, base, ls, p + 1, end, 'bare-cr')
        return this.finish(b, base, p + 2)
      }
      let i = p
      while (i < lim && nameT[b[i]] === 1) i++
      if (i >= lim) return this.beyond(base, ls, end)
      c = b[i]
      if (c !== COLON || i === ls) {
        const ws = c === SP || c === HT
        const kind = i === ls && ws ? 'obs-fold' : ws ? 'space-before-colon' : 'invalid-header-name'
        return this.fault(b, base, ls, i, end, kind)
      }
      const ne = i++
      while (i < lim && (b[i] === SP || b[i] === HT)) i++
      const vs = i
      i = scanLenientValue(b, i, lim)
      if (i >= lim) return this.beyond(base, ls, end)
      c = b[i]
      let ve = i
      if (c === LF) {
        p = i + 1
      } else if (c === CR) {
        if (i + 1 >= lim) return this.beyond(base, ls, end)
        if (b[i + 1] !== LF) return this.fault(b, base, ls, i + 1, end, 'bare-cr')
        p = i + 2
      } else {
        return this.fault(b, base, ls, i, end, 'invalid-header-value')
      }
      while (ve > vs && (b[ve - 1] === SP || b[ve - 1] === HT)) ve--
      const n = this.count
      if (n === this.maxHeaders) return this.fail('too-many-headers')
      this.offs.push(ls - base, ne - base, vs - base, ve - base)
      this.count = n + 1
      switch (ne - ls) {
        case 7:
          if (eqLower(b, ls, N_UPGRADE) && this.upgradeIdx < 0) this.upgradeIdx = n
          break
        case 10:
          if (eqLower(b, ls, N_CONNECTION)) this.conn |= parseConnection(b, vs, ve)
          break
        case 14:
          if (eqLower(b, ls, N_CONTENT_LENGTH) && !this.onContentLength(b, vs, ve)) return PARSE_ERROR
          break
        case 17:
          if (eqLower(b, ls, N_TRANSFER_ENCODING) && !this.onTransferEncoding(b, vs, ve)) return PARSE_ERROR
          break
      }
    }
  }

  private onContentLength(b: Buffer, vs: number, ve: number): boolean {
    if (this.contentLength >= 0) return this.reject('duplicate-content-length')
    const n = parseContentLength(b, vs, ve)
    if (n < 0) return this.reject('invalid-content-length')
    this.contentLength = n
    return true
  }

  private onTransferEncoding(b: Buffer, vs: number, ve: number): boolean {
    if (this.chunked) return this.reject('duplicate-transfer-encoding')
    if (!isChunked(b, vs, ve)) return this.reject('unknown-transfer-encoding')
    this.chunked = true
    return true
  }

  private finish(b: Buffer, base: number, headEnd: number): number {
    const raw = latin1(b, base, headEnd)
    const conn = this.conn
    const close = (conn & CONN_CLOSE) !== 0
    const both = this.chunked && this.contentLength >= 0
    const minor = this.minor
    const keepAlive = !close && !both && (minor === 1 || (conn & CONN_KEEP_ALIVE) !== 0)
    let upgrade: string | null = null
    if ((conn & CONN_UPGRADE) !== 0 && this.upgradeIdx >= 0) {
      const k = this.upgradeIdx * OFFSETS_PER_HEADER
      upgrade = raw.slice(this.offs[k + 2], this.offs[k + 3])
    }
    const n = this.count
    const offs = this.offs
    this.offs = [] // the head owns the offsets now
    this.head = new ResponseHead(
      raw,
      offs,
      n,
      this.status,
      raw.slice(this.reasonStart, this.reasonEnd),
      minor,
      this.chunked ? -1 : this.contentLength,
      this.chunked,
      close,
      keepAlive,
      upgrade,
      both,
      headEnd - base,
    )
    this.phase = PHASE_DONE
    return headEnd
  }
}

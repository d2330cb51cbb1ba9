/**
 * Incremental, strict HTTP/1.1 request-head parser (RFC 9112) with nginx's limits and nginx's answers.
 *
 * Guarantees:
 * - The result does not depend on how the bytes were split into chunks: every rule is applied to a whole line, and
 *   a line is judged only once its LF has arrived or a limit has been crossed. Fed byte by byte or all at once, the
 *   parser returns the same head or the same error.
 * - It stops exactly at the end of the head (the blank line), so pipelined requests and bodies stay with the caller.
 * - A head that arrives in one chunk is scanned in place; only a head split across chunks is copied (once per chunk,
 *   into a buffer kept per parser), and each line is scanned once.
 *
 * Rejects, closing the connection (status as nginx answers):
 * - request line longer than `maxLine` → 414; a header line longer than `maxHeaderLine`, a head larger than
 *   `maxHeadBytes` or more than `maxHeaders` header lines → 400 "Request Header Or Cookie Too Large";
 * - bare LF or bare CR anywhere (nginx accepts bare LF; we do not, it is a smuggling vector), obs-fold, whitespace
 *   before the colon, non-token bytes in the method or a header name, CTLs other than HTAB in a value → 400;
 * - HTTP/0.9 or a malformed version → 400; HTTP/2 and later → 505;
 * - a request-target that is not origin-form, absolute-form, or `*` with OPTIONS → 400; CONNECT and TRACE → 405;
 * - HTTP/1.1 without Host, a second Host, a Host nginx would refuse → 400;
 * - Content-Length twice (even equal), not all digits, or above 2^53-1 → 400;
 * - Transfer-Encoding twice, malformed, with chunked not last, or in HTTP/1.0 → 400; with a coding other than
 *   chunked → 501; together with Content-Length → 400.
 *
 * Empty lines (CRLF) before the request line are skipped, as RFC 9112 §2.2 allows.
 */
import { COLON, CR, HT, LF, QMARK, SCHEME, SLASH, SP, TOKEN, bytes, eqLower, latin1, scanFieldValue } from './chars.js'
import {
  CONN_CLOSE, CONN_KEEP_ALIVE, CONN_UPGRADE, HOST_LEN, HOST_UPPER, TE_CHUNKED, TE_INVALID, TE_NONE, TE_UNKNOWN,
  parseConnection, parseContentLength, parseTransferEncoding, validateHost,
} from './fields.js'
import { Gather } from './gather.js'
import { MessageHead, NEED_MORE, OFFSETS_PER_HEADER, PARSE_ERROR } from './head.js'
import { HttpParseError, type ParseErrorKind } from './http-error.js'

/** Size limits of a request head. Lengths count every byte of the line, its CRLF included. */
export interface HeadLimits {
  /** Longest request line; longer → 414. @default 8192 (nginx `large_client_header_buffers 4 8k`) */
  maxLine: number
  /** Longest header line; longer → 400 "Request Header Or Cookie Too Large". @default 8192 */
  maxHeaderLine: number
  /** Largest head, blank lines before the request line included. @default 32768 (4 × 8k) */
  maxHeadBytes: number
  /** Most header lines. @default 1000 */
  maxHeaders: number
}

export const DEFAULT_HEAD_LIMITS: Readonly<HeadLimits> = Object.freeze({
  maxLine: 8192,
  maxHeaderLine: 8192,
  maxHeadBytes: 32768,
  maxHeaders: 1000,
})

/** A parsed request head. Strings are latin1 (one char per byte). */
export class RequestHead extends MessageHead {
  constructor(
    raw: string,
    offsets: number[],
    headerCount: number,
    /** As sent (methods are case-sensitive); common methods are shared constant strings. */
    readonly method: string,
    /** The request-target exactly as sent. */
    readonly target: string,
    /** The target's path, not decoded: up to `?`; `/` for an absolute-form target without a path; `*` for `*`. */
    readonly path: string,
    /** After the first `?`, not decoded; '' when there is none. */
    readonly query: string,
    /** 0 for HTTP/1.0, 1 for HTTP/1.1 (and 1.2–1.9, which RFC 9110 says to treat as 1.1). */
    readonly versionMinor: number,
    /**
     * The host as nginx's `$host` has it: lowercased, port and a trailing dot removed, from the absolute-form
     * target if there is one, else from Host; null when neither exists (HTTP/1.0 only).
     */
    readonly host: string | null,
    /** Content-Length, or -1 when absent. */
    readonly contentLength: number,
    /** Transfer-Encoding: chunked. */
    readonly chunked: boolean,
    /** Whether the client lets the connection be reused: HTTP/1.1 unless `close`; HTTP/1.0 only with `keep-alive`. */
    readonly keepAlive: boolean,
    /** Upgrade's value, only for HTTP/1.1 with an `upgrade` option in Connection; else null. */
    readonly upgrade: string | null,
    /** `Expect: 100-continue` in an HTTP/1.1 request. */
    readonly expectContinue: boolean,
    /** Bytes the head took on the wire, blank lines before the request line included. */
    readonly headBytes: number,
  ) {
    super(raw, offsets, headerCount)
  }
}

const PHASE_LINE = 0
const PHASE_HEADERS = 1
const PHASE_DONE = 2
const PHASE_FAILED = 3



const FORM_ORIGIN = 0
const FORM_ABSOLUTE = 1
const FORM_ASTERISK = 2


const N_HOST = bytes('host')
const N_EXPECT = bytes('expect')
const N_UPGRADE = bytes('upgrade')
const N_CONNECTION = bytes('connection')
const N_CONTENT_LENGTH = bytes('content-length')
const N_TRANSFER_ENCODING = bytes('transfer-encoding')
const V_100_CONTINUE = bytes('100-continue')
const V_HTTP_SLASH = bytes('HTTP/')

const M_GET = bytes('GET'), M_PUT = bytes('PUT'), M_POST = bytes('POST'), M_HEAD = bytes('HEAD')
const M_PATCH = bytes('PATCH'), M_TRACE = bytes('TRACE'), M_DELETE = bytes('DELETE')
const M_OPTIONS = bytes('OPTIONS'), M_CONNECT = bytes('CONNECT')

interface KindInfo { code: 'E_BAD_REQUEST' | 'E_URI_TOO_LONG' | 'E_HEADER_TOO_LARGE'; status: number; message: string; title: string }

const TOO_LARGE_TITLE = 'Request Header Or Cookie Too Large'
const bad = (message: string): KindInfo => ({ code: 'E_BAD_REQUEST', status: 400, message, title: 'Bad Request' })
const tooLarge = (message: string): KindInfo => ({ code: 'E_HEADER_TOO_LARGE', status: 400, message, title: TOO_LARGE_TITLE })

/** Per rule: DyupsError code, status, nginx-style log message, error page title. */
const KINDS: Partial<Record<ParseErrorKind, KindInfo>> = {
  'invalid-method': bad('client sent invalid method'),
  'invalid-target': bad('client sent invalid request'),
  'invalid-version': bad('client sent invalid version'),
  'http09': bad('client sent HTTP/0.9 request'),
  'version-not-supported': { code: 'E_BAD_REQUEST', status: 505, message: 'client sent unsupported HTTP version', title: 'HTTP Version Not Supported' },
  'method-not-allowed': { code: 'E_BAD_REQUEST', status: 405, message: 'client sent CONNECT or TRACE method', title: 'Not Allowed' },
  'uri-too-long': { code: 'E_URI_TOO_LONG', status: 414, message: 'client sent too long URI', title: 'Request-URI Too Large' },
  'bare-lf': bad('client sent header line ending in bare LF'),
  'bare-cr': bad('client sent bare CR'),
  'obs-fold': bad('client sent folded header line'),
  'invalid-header-name': bad('client sent invalid header line'),
  'space-before-colon': bad('client sent whitespace before colon in header line'),
  'invalid-header-value': bad('client sent invalid characters in header value'),
  'header-too-large': tooLarge('client sent too long header line'),
  'head-too-large': tooLarge('client sent too large request'),
  'too-many-headers': tooLarge('client sent too many header lines'),
  'no-host': bad('client sent HTTP/1.1 request without "Host" header'),
  'duplicate-host': bad('client sent duplicate host header'),
  'invalid-host': bad('client sent invalid host header'),
  'duplicate-content-length': bad('client sent duplicate header line: "Content-Length"'),
  'invalid-content-length': bad('client sent invalid "Content-Length" header'),
  'duplicate-transfer-encoding': bad('client sent duplicate header line: "Transfer-Encoding"'),
  'invalid-transfer-encoding': bad('client sent invalid "Transfer-Encoding" header'),
  'unknown-transfer-encoding': { code: 'E_BAD_REQUEST', status: 501, message: 'client sent unknown "Transfer-Encoding"', title: 'Not Implemented' },
  'transfer-encoding-http10': bad('client sent HTTP/1.0 request with "Transfer-Encoding" header'),
  'length-and-chunked': bad('client sent "Content-Length" and "Transfer-Encoding" headers at the same time'),
}

function eqExact(b: Uint8Array, s: number, e: number, word: Uint8Array): boolean {
  if (e - s !== word.length) return false
  for (let k = 0; k < word.length; k++) if (b[s + k] !== word[k]) return false
  return true
}

/** The shared string for a common method, so most requests allocate none; null for others. */
function internMethod(b: Uint8Array, s: number, e: number): string | null {
  switch (e - s) {
    case 3: return eqExact(b, s, e, M_GET) ? 'GET' : eqExact(b, s, e, M_PUT) ? 'PUT' : null
    case 4: return eqExact(b, s, e, M_POST) ? 'POST' : eqExact(b, s, e, M_HEAD) ? 'HEAD' : null
    case 5: return eqExact(b, s, e, M_PATCH) ? 'PATCH' : eqExact(b, s, e, M_TRACE) ? 'TRACE' : null
    case 6: return eqExact(b, s, e, M_DELETE) ? 'DELETE' : null
    case 7: return eqExact(b, s, e, M_OPTIONS) ? 'OPTIONS' : eqExact(b, s, e, M_CONNECT) ? 'CONNECT' : null
    default: return null
  }
}

function checkLimits(l: HeadLimits): void {
  for (const k of ['maxLine', 'maxHeaderLine', 'maxHeadBytes', 'maxHeaders'] as const) {
    const v = l[k]
    if (!Number.isInteger(v) || v < (k === 'maxHeaders' ? 0 : 16) || v > 0x3fffffff) {
      throw new RangeError(`invalid head limit ${k}: ${String(v)}`)
    }
  }
}

/**
 * Incremental request-head parser; one per connection, reused for every request on it.
 *
 * @example
 * const p = new RequestHeadParser()
 * socket.on('data', (chunk) => {
 *   const r = p.execute(chunk, 0)
 *   if (r === NEED_MORE) return                 // wait for more bytes
 *   if (r === PARSE_ERROR) return fail(p.error!) // p.error.status: 400, 414, 501, 505…
 *   handle(p.head!, chunk, r)                    // the body (or the next request) starts at chunk[r]
 *   p.reset()
 * })
 */
export class RequestHeadParser {
  /** The head, once execute() returned an offset; stays valid after reset(). */
  head: RequestHead | null = null
  /** Why execute() returned PARSE_ERROR. */
  error: HttpParseError | null = null

  private readonly maxLine: number
  private readonly maxHeaderLine: number
  private readonly maxHeadBytes: number
  private readonly maxHeaders: number

  // A head split across chunks is gathered here; offsets are then relative to its first byte.
  private readonly gather: Gather

  private phase = PHASE_LINE
  /** Start of the next line to parse, relative to the head's first byte. */
  private lineStart = 0
  /** Request-line start relative to the head's first byte (after skipped blank lines). */
  private rl = 0

  // Request line, relative to rl.
  private methodName: string | null = null
  private methodEnd = 0
  private targetStart = 0
  private targetEnd = 0
  private queryAt = -1
  private minor = 1
  private form = FORM_ORIGIN
  private pathStart = -1
  private absHost = -1
  private absHostInfo = 0

  // Header lines: OFFSETS_PER_HEADER per line, relative to rl.
  private offs: number[] = []
  private count = 0
  private hostAt = -1
  private hostInfo = 0
  private contentLength = -1
  private te = TE_NONE
  private conn = 0
  private upgradeIdx = -1
  private expect = false

  /**
   * @param limits any of HeadLimits; the rest default to DEFAULT_HEAD_LIMITS (nginx's defaults)
   * @throws RangeError when a limit is not an integer in range
   */
  constructor(limits: Partial<HeadLimits> = {}) {
    const l: HeadLimits = { ...DEFAULT_HEAD_LIMITS, ...limits }
    checkLimits(l)
    this.maxLine = l.maxLine
    this.maxHeaderLine = l.maxHeaderLine
    this.maxHeadBytes = l.maxHeadBytes
    this.maxHeaders = l.maxHeaders
    this.gather = new Gather(l.maxHeadBytes + 1)
  }

  /**
   * Feeds buf[start..]. Returns the offset in `buf` where the head ended (the body or the next request starts
   * there; `head` is set), NEED_MORE (every byte from `start` was taken; call again with the next chunk), or
   * PARSE_ERROR (`error` is set; answer error.status and close).
   * @throws Error when called after a complete head or an error without reset()
   */
  execute(buf: Buffer, start = 0): number {
    if (this.phase >= PHASE_DONE) throw new Error('RequestHeadParser: reset() before the next head')
    const end = buf.length
    if (this.gather.len === 0) {
      const r = this.scan(buf, start, end)
      if (r === NEED_MORE && end > start) this.gather.keep(buf, start, end)
      return r
    }
    return this.resume(buf, start, end)
  }

  /** Forgets the current head (complete or not) and its error; keeps the buffers. */
  reset(): void {
    this.head = null
    this.error = null
    this.gather.clear()
    this.phase = PHASE_LINE
    this.lineStart = 0
    this.rl = 0
    this.methodName = null
    this.queryAt = -1
    this.minor = 1
    this.form = FORM_ORIGIN
    this.pathStart = -1
    this.absHost = -1
    this.count = 0
    if (this.offs.length !== 0) this.offs.length = 0
    this.hostAt = -1
    this.contentLength = -1
    this.te = TE_NONE
    this.conn = 0
    this.upgradeIdx = -1
    this.expect = false
  }

  /** True while part of a head has been received; an idle keepalive connection is between heads. */
  get inProgress(): boolean {
    return this.gather.len > 0 && this.phase < PHASE_DONE
  }

  // ---- chunk handling ----

  private resume(buf: Buffer, start: number, end: number): number {
    const g = this.gather
    const old = g.len
    g.append(buf, start, end)
    const acc = g.buf as Buffer
    const len = g.len
    // A line can only have completed at an LF among the new bytes; without one, only the limits can change.
    const ls = this.lineStart
    const reqLine = this.phase === PHASE_LINE
    const W = this.window(0, ls, reqLine ? this.maxLine : this.maxHeaderLine)
    const lim = len < W ? len : W
    const lf = old < lim ? acc.indexOf(LF, old) : -1
    if (lf < 0 || lf >= lim) return this.beyond(0, ls, W, len, reqLine)
    const r = this.scan(acc, 0, len)
    if (r >= 0) {
      g.clear()
      return start + (r - old)
    }
    return r
  }

  // ---- limits ----

  /** Index of the first byte of a line starting at `ls` that would cross a limit. */
  private window(base: number, ls: number, lineMax: number): number {
    const a = ls + lineMax, t = base + this.maxHeadBytes
    return a <= t ? a : t
  }

  /** The scan of the line at `ls` ran out of bytes before W, or reached W (a limit). */
  private beyond(base: number, ls: number, W: number, end: number, reqLine: boolean): number {
    if (W < end) {
      const lineMax = reqLine ? this.maxLine : this.maxHeaderLine
      if (ls + lineMax <= base + this.maxHeadBytes) return this.fail(reqLine ? 'uri-too-long' : 'header-too-large')
      return this.fail('head-too-large')
    }
    this.lineStart = ls - base
    return NEED_MORE
  }

  /**
   * A byte at i breaks the line at ls. Report it only once the line is whole (its LF is here), so the answer does
   * not depend on where the chunks were cut; a line that crosses a limit first reports the limit.
   */
  private fault(b: Buffer, base: number, ls: number, i: number, W: number, end: number, kind: ParseErrorKind, reqLine: boolean): number {
    const lim = end < W ? end : W
    const lf = b.indexOf(LF, i)
    if (lf >= 0 && lf < lim) return this.fail(kind)
    return this.beyond(base, ls, W, end, reqLine)
  }

  private reject(kind: ParseErrorKind): false {
    this.fail(kind)
    return false
  }

  private fail(kind: ParseErrorKind): number {
    const k = KINDS[kind] as KindInfo
    this.error = new HttpParseError(k.code, k.status, kind, k.message, k.title)
    this.phase = PHASE_FAILED
    this.gather.clear()
    return PARSE_ERROR
  }

  // ---- lines ----

  private scan(b: Buffer, base: number, end: number): number {
    let p = base + this.lineStart
    if (this.phase === PHASE_LINE) {
      p = this.requestLine(b, base, p, end)
      if (p < 0) return p
    }
    return this.headerLines(b, base, p, end)
  }

  /** Parses blank lines and the request line from p; returns the index after it, NEED_MORE or PARSE_ERROR. */
  private requestLine(b: Buffer, base: number, p: number, end: number): number {
    const maxLine = this.maxLine
    let W = 0, lim = 0
    for (;;) {
      W = this.window(base, p, maxLine)
      lim = end < W ? end : W
      if (p >= lim) return this.beyond(base, p, W, end, true)
      if (b[p] !== CR) break
      if (p + 1 >= lim) return this.beyond(base, p, W, end, true)
      if (b[p + 1] !== LF) return this.fault(b, base, p, p + 1, W, end, 'bare-cr', true)
      p += 2
    }
    const ls = p
    const tokenT = TOKEN
    let i = ls
    while (i < lim && tokenT[b[i]] === 1) i++
    if (i >= lim) return this.beyond(base, ls, W, end, true)
    if (b[i] !== SP || i === ls) return this.fault(b, base, ls, i, W, end, b[i] === LF ? 'bare-lf' : 'invalid-method', true)
    const methodEnd = i++
    const ts = i
    let q = -1
    while (i < lim) {
      const c = b[i]
      if ((c - 0x21 >>> 0) >= 0x5e && c < 0x80) break // SP, CTL, DEL end the target
      if (c === QMARK && q < 0) q = i
      i++
    }
    if (i >= lim) return this.beyond(base, ls, W, end, true)
    if (b[i] !== SP || i === ts) {
      const c = b[i]
      const kind = c === LF ? 'bare-lf' : c === CR && i > ts ? 'http09' : 'invalid-target'
      return this.fault(b, base, ls, i, W, end, kind, true)
    }
    const te = i++
    // "HTTP/1.1\r\n" or "HTTP/1.0\r\n" in one test; anything else takes the byte-by-byte path below.
    if (i + 10 <= lim && b[i] === 0x48 && b[i + 1] === 0x54 && b[i + 2] === 0x54 && b[i + 3] === 0x50 &&
        b[i + 4] === SLASH && b[i + 5] === 0x31 && b[i + 6] === 0x2e && (b[i + 7] === 0x31 || b[i + 7] === 0x30) &&
        b[i + 8] === CR && b[i + 9] === LF) {
      this.minor = b[i + 7] - 0x30
      i += 10
    } else {
      i = this.version(b, base, ls, i, W, end)
      if (i < 0) return i
    }
    // The line is whole and well-formed; now what it says.
    this.rl = ls - base
    this.methodEnd = methodEnd - ls
    this.targetStart = ts - ls
    this.targetEnd = te - ls
    this.queryAt = q < 0 ? -1 : q - ls
    const m = internMethod(b, ls, methodEnd)
    this.methodName = m
    if (m === 'CONNECT') return this.fail('method-not-allowed')
    const r = this.classifyTarget(b, ls, ts, te, m)
    if (r < 0) return r
    this.phase = PHASE_HEADERS
    this.lineStart = i - base
    return i
  }

  /**
   * The slow path for "HTTP/x.y\r\n" at i: sets `minor`, returns the index after the LF, NEED_MORE or PARSE_ERROR.
   * HTTP/1.2–1.9 count as 1.1 (RFC 9110 §2.5); HTTP/0.x is 0.9-era → 400; HTTP/2+ → 505, as nginx.
   */
  private version(b: Buffer, base: number, ls: number, i: number, W: number, end: number): number {
    const lim = end < W ? end : W
    const word = V_HTTP_SLASH
    for (let k = 0; k < 5; k++, i++) {
      if (i >= lim) return this.beyond(base, ls, W, end, true)
      if (b[i] !== word[k]) return this.fault(b, base, ls, i, W, end, b[i] === LF ? 'bare-lf' : 'invalid-version', true)
    }
    if (i >= lim) return this.beyond(base, ls, W, end, true)
    const major = b[i] - 0x30
    if (major < 0 || major > 9) return this.fault(b, base, ls, i, W, end, b[i] === LF ? 'bare-lf' : 'invalid-version', true)
    if (major >= 2) return this.fault(b, base, ls, i, W, end, 'version-not-supported', true)
    if (major === 0) return this.fault(b, base, ls, i, W, end, 'http09', true)
    i++
    if (i >= lim) return this.beyond(base, ls, W, end, true)
    if (b[i] !== 0x2e) return this.fault(b, base, ls, i, W, end, b[i] === LF ? 'bare-lf' : 'invalid-version', true)
    i++
    if (i >= lim) return this.beyond(base, ls, W, end, true)
    const minor = b[i] - 0x30
    if (minor < 0 || minor > 9) return this.fault(b, base, ls, i, W, end, b[i] === LF ? 'bare-lf' : 'invalid-version', true)
    i++
    if (i >= lim) return this.beyond(base, ls, W, end, true)
    if (b[i] !== CR) return this.fault(b, base, ls, i, W, end, b[i] === LF ? 'bare-lf' : 'invalid-version', true)
    i++
    if (i >= lim) return this.beyond(base, ls, W, end, true)
    if (b[i] !== LF) return this.fault(b, base, ls, i, W, end, 'bare-cr', true)
    this.minor = minor === 0 ? 0 : 1
    return i + 1
  }

  /** origin-form `/…`, absolute-form `scheme://authority[/…][?…]`, or `*` (OPTIONS only). */
  private classifyTarget(b: Buffer, ls: number, ts: number, te: number, method: string | null): number {
    const c = b[ts]
    if (c === SLASH) {
      this.form = FORM_ORIGIN
      return 0
    }
    if (c === 0x2a && te === ts + 1) {
      if (method !== 'OPTIONS') return this.fail('invalid-target')
      this.form = FORM_ASTERISK
      return 0
    }
    // absolute-form: nginx takes the host from here and ignores Host for $host.
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a))) return this.fail('invalid-target')
    let i = ts + 1
    while (i < te && SCHEME[b[i]] === 1) i++
    if (i + 3 > te || b[i] !== COLON || b[i + 1] !== SLASH || b[i + 2] !== SLASH) return this.fail('invalid-target')
    i += 3
    const hs = i
    while (i < te && b[i] !== SLASH && b[i] !== QMARK) {
      if (b[i] === 0x40) return this.fail('invalid-target') // userinfo: nginx refuses it too
      i++
    }
    const h = validateHost(b, hs, i)
    if (h < 0) return this.fail('invalid-host')
    this.form = FORM_ABSOLUTE
    this.absHost = hs - ls
    this.absHostInfo = h
    this.pathStart = i < te && b[i] === SLASH ? i - ls : -1
    return 0
  }

  /** Parses header lines from p up to the blank line; returns the index after it, NEED_MORE or PARSE_ERROR. */
  private headerLines(b: Buffer, base: number, p: number, end: number): number {
    // Tables as locals: an imported binding costs a load and a hole check per byte.
    const tokenT = TOKEN
    const org = base + this.rl
    const maxHeaderLine = this.maxHeaderLine
    const headMax = base + this.maxHeadBytes
    for (;;) {
      const ls = p
      const W = ls + maxHeaderLine <= headMax ? ls + maxHeaderLine : headMax
      const lim = end < W ? end : W
      if (p >= lim) return this.beyond(base, ls, W, end, false)
      let c = b[p]
      if (c === CR) {
        if (p + 1 >= lim) return this.beyond(base, ls, W, end, false)
        if (b[p + 1] !== LF) return this.fault(b, base, ls, p + 1, W, end, 'bare-cr', false)
        return this.finish(b, base, org, p + 2)
      }
      let i = p
      while (i < lim && tokenT[b[i]] === 1) i++
      if (i >= lim) return this.beyond(base, ls, W, end, false)
      c = b[i]
      if (c !== COLON || i === ls) {
        const ws = c === SP || c === HT
        const kind = c === LF ? 'bare-lf' : i === ls ? (ws ? 'obs-fold' : 'invalid-header-name') : ws ? 'space-before-colon' : 'invalid-header-name'
        return this.fault(b, base, ls, i, W, end, kind, false)
      }
      const ne = i++
      while (i < lim && (b[i] === SP || b[i] === HT)) i++
      const vs = i
      i = scanFieldValue(b, i, lim)
      if (i >= lim) return this.beyond(base, ls, W, end, false)
      if (b[i] !== CR) return this.fault(b, base, ls, i, W, end, b[i] === LF ? 'bare-lf' : 'invalid-header-value', false)
      if (i + 1 >= lim) return this.beyond(base, ls, W, end, false)
      if (b[i + 1] !== LF) return this.fault(b, base, ls, i + 1, W, end, 'bare-cr', false)
      let ve = i
      while (ve > vs && (b[ve - 1] === SP || b[ve - 1] === HT)) ve--
      p = i + 2
      // The line is whole and well-formed.
      const n = this.count
      if (n === this.maxHeaders) return this.fail('too-many-headers')
      this.offs.push(ls - org, ne - org, vs - org, ve - org)
      this.count = n + 1
      switch (ne - ls) {
        case 4:
          if (eqLower(b, ls, N_HOST) && !this.onHost(b, org, vs, ve)) return PARSE_ERROR
          break
        case 6:
          if (eqLower(b, ls, N_EXPECT) && ve - vs === 12 && eqLower(b, vs, V_100_CONTINUE)) this.expect = true
          break
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

  // ---- headers that matter for framing and routing ----

  private onHost(b: Buffer, org: number, vs: number, ve: number): boolean {
    if (this.hostAt >= 0) return this.reject('duplicate-host')
    const h = validateHost(b, vs, ve)
    if (h < 0) return this.reject('invalid-host')
    this.hostAt = vs - org
    this.hostInfo = h
    return true
  }

  /**
   * A second Content-Length is refused even when equal: RFC 9112 §6.3 would let equal values merge, but a proxy
   * that refuses leaves no room for another parser on the path to read them differently.
   */
  private onContentLength(b: Buffer, vs: number, ve: number): boolean {
    if (this.contentLength >= 0) return this.reject('duplicate-content-length')
    const n = parseContentLength(b, vs, ve)
    if (n < 0) return this.reject('invalid-content-length')
    this.contentLength = n
    return true
  }

  /** Codings we cannot decode are 501 as in nginx; a malformed list or chunked not last is 400 (RFC 9112 §6.3). */
  private onTransferEncoding(b: Buffer, vs: number, ve: number): boolean {
    if (this.te !== TE_NONE) return this.reject('duplicate-transfer-encoding')
    const te = parseTransferEncoding(b, vs, ve)
    if (te === TE_INVALID) return this.reject('invalid-transfer-encoding')
    this.te = te
    return true
  }

  /** The blank line arrived: checks that need the whole head, then builds it. */
  private finish(b: Buffer, base: number, org: number, headEnd: number): number {
    const minor = this.minor
    if (minor === 1 && this.hostAt < 0) return this.fail('no-host')
    if (this.te !== TE_NONE) {
      if (minor === 0) return this.fail('transfer-encoding-http10')
      if (this.contentLength >= 0) return this.fail('length-and-chunked')
      if (this.te === TE_UNKNOWN) return this.fail('unknown-transfer-encoding')
    }
    if (this.methodName === 'TRACE') return this.fail('method-not-allowed')

    const raw = latin1(b, org, headEnd)
    const ts = this.targetStart, te = this.targetEnd, q = this.queryAt
    const target = raw.slice(ts, te)
    let path: string
    let query = ''
    if (this.form === FORM_ORIGIN) {
      path = q < 0 ? target : raw.slice(ts, q)
      if (q >= 0) query = raw.slice(q + 1, te)
    } else if (this.form === FORM_ABSOLUTE) {
      path = this.pathStart < 0 ? '/' : raw.slice(this.pathStart, q < 0 ? te : q)
      if (q >= 0) query = raw.slice(q + 1, te)
    } else {
      path = '*'
    }
    let host: string | null = null
    const hostAt = this.form === FORM_ABSOLUTE ? this.absHost : this.hostAt
    if (hostAt >= 0) {
      const info = this.form === FORM_ABSOLUTE ? this.absHostInfo : this.hostInfo
      host = raw.slice(hostAt, hostAt + (info & HOST_LEN))
      if ((info & HOST_UPPER) !== 0) host = host.toLowerCase()
    }
    const conn = this.conn
    const keepAlive = (conn & CONN_CLOSE) === 0 && (minor === 1 || (conn & CONN_KEEP_ALIVE) !== 0)
    const n = this.count
    let upgrade: string | null = null
    if (minor === 1 && (conn & CONN_UPGRADE) !== 0 && this.upgradeIdx >= 0) {
      const k = this.upgradeIdx * OFFSETS_PER_HEADER
      upgrade = raw.slice(this.offs[k + 2], this.offs[k + 3])
    }
    const offs = this.offs
    this.offs = [] // the head owns the offsets now
    this.head = new RequestHead(
      raw,
      offs,
      n,
      this.methodName ?? raw.slice(0, this.methodEnd),
      target,
      path,
      query,
      minor,
      host,
      this.te === TE_CHUNKED ? -1 : this.contentLength,
      this.te === TE_CHUNKED,
      keepAlive,
      upgrade,
      minor === 1 && this.expect,
      headEnd - base,
    )
    this.phase = PHASE_DONE
    return headEnd
  }
}

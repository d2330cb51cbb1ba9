/**
 * Chunked transfer coding (RFC 9112 §7.1): an incremental scanner that tells a relay how many of the bytes it was
 * given belong to the chunked body, so the bytes can be forwarded unchanged (extensions and trailers included) and
 * the message end is known exactly; a decoder that also collects the data; and encoders for the writer.
 *
 * Two modes:
 * - strict (client bodies, the default): CRLF only, chunk extensions and trailer fields must follow the grammar, no
 *   obs-fold. Bare LF and odd extensions are how a front end and a back end are made to disagree on where a
 *   request ends, so they are refused → 400.
 * - upstream (`{ upstream: true }`): as tolerant as nginx's ngx_http_parse_chunked (bare LF, any bytes in
 *   extensions and trailers but NUL) → errors are 502.
 *
 * Both refuse: a chunk size that is not hex or exceeds 2^53-1, a chunk-size line longer than `maxLine`, trailers
 * larger than `maxTrailerBytes`, and data not followed by its CRLF.
 *
 * The state survives between calls at any byte, so the result does not depend on how the input was split. Data
 * bytes are skipped in O(1) per call, not looked at.
 */
import { CR, HEX, HT, LF, QDTEXT, SP, TOKEN } from './chars.js'
import { NEED_MORE, PARSE_ERROR } from './head.js'
import { HttpParseError, type ParseErrorKind } from './http-error.js'

export interface ChunkedOptions {
  /** Parse a backend's body: nginx-tolerant, errors are 502. @default false (a client's body: strict, 400) */
  upstream?: boolean
  /** Longest chunk-size line, extensions and CRLF included. @default 4096 */
  maxLine?: number
  /** Largest trailer section, its final CRLF included. @default 8192 */
  maxTrailerBytes?: number
}

// Size-line states first (they count toward maxLine), trailer states last (they count toward maxTrailerBytes).
const S_SIZE_START = 0
const S_SIZE = 1
const S_EXT_BWS = 2
const S_EXT_NAME_START = 3
const S_EXT_NAME = 4
const S_EXT_AFTER_NAME = 5
const S_EXT_VALUE_START = 6
const S_EXT_TOKEN = 7
const S_EXT_QUOTED = 8
const S_EXT_QUOTED_PAIR = 9
const S_EXT_AFTER_VALUE = 10
const S_EXT_LENIENT = 11
const S_SIZE_LF = 12
const S_DATA = 13
const S_DATA_CR = 14
const S_DATA_LF = 15
const S_TR_START = 16
const S_TR_NAME = 17
const S_TR_VALUE = 18
const S_TR_LINE = 19
const S_TR_LF = 20
const S_TR_END_LF = 21
const S_DONE = 22
const S_FAILED = 23

/** size * 16 + 15 must stay exact. */
const SIZE_MAX_BEFORE_SHIFT = Math.floor((Number.MAX_SAFE_INTEGER - 15) / 16)

export class ChunkedScanner {
  /** Why execute() returned PARSE_ERROR. */
  error: HttpParseError | null = null
  /** Data bytes seen so far (chunk payload only). */
  dataBytes = 0

  private readonly strict: boolean
  private readonly maxLine: number
  private readonly maxTrailerBytes: number
  private state = S_SIZE_START
  private size = 0
  private remaining = 0
  private lineBytes = 0
  private trailerBytes = 0

  /** @throws RangeError when a limit is not a positive integer */
  constructor(options: ChunkedOptions = {}) {
    this.strict = options.upstream !== true
    this.maxLine = options.maxLine ?? 4096
    this.maxTrailerBytes = options.maxTrailerBytes ?? 8192
    for (const [k, v] of [['maxLine', this.maxLine], ['maxTrailerBytes', this.maxTrailerBytes]] as const) {
      if (!Number.isInteger(v) || v < 3) throw new RangeError(`invalid chunked limit ${k}: ${String(v)}`)
    }
  }

  /** The size of the chunk being read (for a log line about it). */
  get chunkSize(): number {
    return this.size
  }

  /** The last chunk and the trailers have been read. */
  get done(): boolean {
    return this.state === S_DONE
  }

  /** Ready for a new body. */
  reset(): void {
    this.error = null
    this.dataBytes = 0
    this.state = S_SIZE_START
    this.size = 0
    this.remaining = 0
    this.lineBytes = 0
    this.trailerBytes = 0
  }

  /**
   * Feeds buf[start..]. Returns the offset in `buf` just past the body's last byte (bytes from there belong to the
   * next message), NEED_MORE (every byte given is body; feed more), or PARSE_ERROR (`error` is set).
   * After the end was found it returns `start`: nothing more belongs to this body.
   */
  execute(buf: Buffer, start = 0): number {
    let st = this.state
    if (st === S_DONE) return start
    if (st === S_FAILED) return PARSE_ERROR
    const end = buf.length
    const strict = this.strict
    let i = start
    while (i < end) {
      if (st === S_DATA) {
        const rem = this.remaining
        const avail = end - i
        if (avail < rem) {
          if (!this.data(buf, i, end)) return this.fail('body-too-large')
          this.remaining = rem - avail
          this.dataBytes += avail
          i = end
          break
        }
        if (!this.data(buf, i, i + rem)) return this.fail('body-too-large')
        this.dataBytes += rem
        this.remaining = 0
        i += rem
        st = S_DATA_CR
        continue
      }
      const c = buf[i++]
      if (st < S_DATA) {
        if (++this.lineBytes > this.maxLine) return this.fail('chunk-line-too-long')
      } else if (st >= S_TR_START) {
        if (++this.trailerBytes > this.maxTrailerBytes) return this.fail('trailers-too-large')
      }
      switch (st) {
        case S_SIZE_START: {
          const d = HEX[c]
          if (d < 0) return this.fail('invalid-chunk')
          this.size = d
          st = S_SIZE
          break
        }
        case S_SIZE: {
          const d = HEX[c]
          if (d >= 0) {
            if (this.size > SIZE_MAX_BEFORE_SHIFT) return this.fail('chunk-size-overflow')
            this.size = this.size * 16 + d
          } else if (c === CR) st = S_SIZE_LF
          else if (c === 0x3b) st = strict ? S_EXT_NAME_START : S_EXT_LENIENT
          else if (c === SP || c === HT) st = strict ? S_EXT_BWS : S_EXT_LENIENT
          else if (c === LF && !strict) st = this.sizeLineDone()
          else return this.fail('invalid-chunk')
          break
        }
        case S_EXT_BWS:
          if (c === 0x3b) st = S_EXT_NAME_START
          else if (c !== SP && c !== HT) return this.fail('invalid-chunk')
          break
        case S_EXT_NAME_START:
          if (TOKEN[c] === 1) st = S_EXT_NAME
          else if (c !== SP && c !== HT) return this.fail('invalid-chunk')
          break
        case S_EXT_NAME:
        case S_EXT_AFTER_NAME:
          if (TOKEN[c] === 1 && st === S_EXT_NAME) break
          if (c === SP || c === HT) st = S_EXT_AFTER_NAME
          else if (c === 0x3d) st = S_EXT_VALUE_START
          else if (c === 0x3b) st = S_EXT_NAME_START
          else if (c === CR) st = S_SIZE_LF
          else return this.fail('invalid-chunk')
          break
        case S_EXT_VALUE_START:
          if (c === 0x22) st = S_EXT_QUOTED
          else if (TOKEN[c] === 1) st = S_EXT_TOKEN
          else if (c !== SP && c !== HT) return this.fail('invalid-chunk')
          break
        case S_EXT_TOKEN:
        case S_EXT_AFTER_VALUE:
          if (TOKEN[c] === 1 && st === S_EXT_TOKEN) break
          if (c === SP || c === HT) st = S_EXT_AFTER_VALUE
          else if (c === 0x3b) st = S_EXT_NAME_START
          else if (c === CR) st = S_SIZE_LF
          else return this.fail('invalid-chunk')
          break
        case S_EXT_QUOTED:
          if (c === 0x22) st = S_EXT_AFTER_VALUE
          else if (c === 0x5c) st = S_EXT_QUOTED_PAIR
          else if (QDTEXT[c] === 0) return this.fail('invalid-chunk')
          break
        case S_EXT_QUOTED_PAIR:
          if (c !== HT && (c < SP || c === 0x7f)) return this.fail('invalid-chunk')
          st = S_EXT_QUOTED
          break
        case S_EXT_LENIENT:
          if (c === CR) st = S_SIZE_LF
          else if (c === LF) st = this.sizeLineDone()
          break
        case S_SIZE_LF:
          if (c !== LF) return this.fail('invalid-chunk')
          st = this.sizeLineDone()
          break
        case S_DATA_CR:
          if (c === CR) st = S_DATA_LF
          else if (c === LF && !strict) st = this.nextChunk()
          else return this.fail('invalid-chunk')
          break
        case S_DATA_LF:
          if (c !== LF) return this.fail('invalid-chunk')
          st = this.nextChunk()
          break
        case S_TR_START:
          if (c === CR) st = S_TR_END_LF
          else if (strict) {
            if (TOKEN[c] === 0) return this.fail('invalid-chunk')
            st = S_TR_NAME
          } else if (c === LF) {
            this.state = S_DONE
            return i
          } else if (c === 0) return this.fail('invalid-chunk')
          else st = S_TR_LINE
          break
        case S_TR_NAME:
          if (c === 0x3a) st = S_TR_VALUE
          else if (TOKEN[c] === 0) return this.fail('invalid-chunk')
          break
        case S_TR_VALUE:
          if (c === CR) st = S_TR_LF
          else if (c < SP ? c !== HT : c === 0x7f) return this.fail('invalid-chunk')
          break
        case S_TR_LINE:
          if (c === CR) st = S_TR_LF
          else if (c === LF) st = S_TR_START
          else if (c === 0) return this.fail('invalid-chunk')
          break
        case S_TR_LF:
          if (c !== LF) return this.fail('invalid-chunk')
          st = S_TR_START
          break
        case S_TR_END_LF:
          if (c !== LF) return this.fail('invalid-chunk')
          this.state = S_DONE
          return i
      }
    }
    this.state = st
    return NEED_MORE
  }

  /**
   * Called with each run of data bytes, buf[start, end), before they are counted in dataBytes. Returning false
   * stops the scan with 'body-too-large'. The scanner only looks past them.
   */
  protected data(_buf: Buffer, _start: number, _end: number): boolean {
    return true
  }

  private fail(kind: ParseErrorKind): number {
    this.state = S_FAILED
    if (kind === 'body-too-large') {
      this.error = new HttpParseError('E_BODY_TOO_LARGE', 413, kind, 'client intended to send too large chunked body', 'Request Entity Too Large')
    } else if (this.strict) {
      this.error = new HttpParseError('E_BAD_REQUEST', 400, kind, 'client sent invalid chunked body', 'Bad Request')
    } else {
      this.error = new HttpParseError('E_UPSTREAM', 502, kind, 'upstream sent invalid chunked response', 'Bad Gateway')
    }
    return PARSE_ERROR
  }

  private sizeLineDone(): number {
    if (this.size === 0) {
      this.trailerBytes = 0
      return S_TR_START
    }
    this.remaining = this.size
    return S_DATA
  }

  private nextChunk(): number {
    this.size = 0
    this.lineBytes = 0
    return S_SIZE_START
  }
}

export interface ChunkedDecoderOptions extends ChunkedOptions {
  /** Most data bytes accepted (client_max_body_size); more → 413. @default Infinity */
  maxBody?: number
  /** Copy data out of the input buffers; needed when the caller reuses them. @default false (keep views) */
  copy?: boolean
}

/**
 * A ChunkedScanner that also collects the data, for bodies that must be read whole (e.g. interface POST bodies).
 * `parts` holds views into the input buffers unless `copy` is set.
 */
export class ChunkedDecoder extends ChunkedScanner {
  readonly parts: Buffer[] = []
  /** Most data bytes accepted; may be changed between bodies (client_max_body_size differs by location). */
  maxBody: number
  private readonly copy: boolean

  /** @throws RangeError when a limit is invalid */
  constructor(options: ChunkedDecoderOptions = {}) {
    super(options)
    this.maxBody = options.maxBody ?? Infinity
    this.copy = options.copy === true
    if (!(this.maxBody >= 0)) throw new RangeError(`invalid chunked limit maxBody: ${String(options.maxBody)}`)
  }

  /** The data so far, as one Buffer. */
  body(): Buffer {
    return this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.dataBytes)
  }

  override reset(): void {
    super.reset()
    this.parts.length = 0
  }

  protected override data(buf: Buffer, start: number, end: number): boolean {
    if (this.dataBytes + (end - start) > this.maxBody) return false
    const view = buf.subarray(start, end)
    this.parts.push(this.copy ? Buffer.from(view) : view)
    return true
  }
}

const CRLF = Buffer.from('\r\n', 'latin1')

/** The last chunk with no trailers: `0\r\n\r\n`. */
export const LAST_CHUNK: Buffer = Buffer.from('0\r\n\r\n', 'latin1')

/** `<hex size>\r\n`, the line that precedes `size` bytes of chunk data (size > 0). */
export function chunkHeader(size: number): string {
  return size.toString(16) + '\r\n'
}

/**
 * One chunk as a single Buffer (header, data, CRLF): one write for small data. For large data write
 * chunkHeader(n), the data and CHUNK_TRAILER_CRLF corked instead, and skip the copy.
 * @throws RangeError for empty data (a zero-size chunk would end the body; use LAST_CHUNK)
 */
export function encodeChunk(data: Uint8Array): Buffer {
  if (data.length === 0) throw new RangeError('encodeChunk: empty data would end the body; use LAST_CHUNK')
  const head = chunkHeader(data.length)
  const out = Buffer.allocUnsafe(head.length + data.length + 2)
  out.write(head, 0, 'latin1')
  out.set(data, head.length)
  out[out.length - 2] = CR
  out[out.length - 1] = LF
  return out
}

/** The CRLF that follows each chunk's data. */
export const CHUNK_TRAILER_CRLF: Buffer = CRLF

/**
 * One reusable reader of request bodies, for every way nginx reads one (ngx_http_read_client_request_body and
 * ngx_http_discard_request_body): read whole into memory for a local handler, spooled (memory, then a temp file) for a
 * buffered proxied body, streamed to the backend as it comes, or read and dropped after an early answer. It frames
 * the body (Content-Length or chunked, bounded by client_max_body_size) and reports where it ended; what to do then
 * (dispatch, answer an error, go on to the next request) is the connection's.
 */
import { ChunkedDecoder, ChunkedScanner, NEED_MORE, PARSE_ERROR, type RequestHead } from '../../http1/index.js'
import { BodySpool, type TempPath } from '../../proxy/index.js'

/** Read whole into memory: `body` once it ends. */
export const READ_WHOLE = 0
/** Read and dropped. */
export const READ_DISCARD = 1
/** Spooled for the backend (proxy_request_buffering on). */
export const READ_SPOOL = 2
/** Streamed to the backend as it arrives (proxy_request_buffering off). */
export const READ_STREAM = 3

/** execute(): more bytes are needed. */
export const BODY_MORE = -1
/** execute(): a malformed chunked body (400). */
export const BODY_BAD = -2
/** execute(): a chunked body grew past client_max_body_size (413). */
export const BODY_TOO_LARGE = -3
/** execute(): the spool's temp file could not be written (500); `writeError` says why. */
export const BODY_WRITE_FAILED = -4

/** Where a streamed body goes: false when it is full (the reader sets `paused`; the client is read no more). */
export interface BodySink {
  feed(data: Buffer): boolean
}

export class BodyReader {
  mode = READ_WHOLE
  /** The whole body (READ_WHOLE), once execute() reported its end. */
  body: Buffer | null = null
  /** READ_SPOOL: the spooled body, until release(). */
  spool: BodySpool | null = null
  /** READ_STREAM: the sink said it is full. */
  paused = false
  /** READ_SPOOL: the body went to a temp file with the last execute() (nginx warns once). */
  spooledToFile = false
  writeError = ''
  private chunked = false
  private left = 0
  private parts: Buffer[] = []
  private decoder: ChunkedDecoder | null = null
  private scanner: ChunkedScanner | null = null
  private sink: BodySink | null = null

  /** Starts reading the body `head` announces. `maxBody`: client_max_body_size (Infinity: no limit). */
  start(mode: number, head: RequestHead, maxBody: number): void {
    this.mode = mode
    this.chunked = head.chunked
    this.left = head.chunked ? 0 : head.contentLength
    this.body = null
    this.paused = false
    this.spooledToFile = false
    this.parts = []
    this.decoder = null
    this.scanner = null
    if (!head.chunked) return
    if (mode === READ_DISCARD) this.scanner = new ChunkedScanner()
    // A local handler gets the body as one Buffer of its own; a proxied one as the slices that came in.
    else this.decoder = new ChunkedDecoder(mode === READ_WHOLE ? { copy: true, maxBody } : { maxBody })
  }

  /** READ_SPOOL: memory up to `bufferSize`, then a temp file under `temp`. */
  spoolTo(bufferSize: number, temp: TempPath): void {
    this.spool = new BodySpool(bufferSize, temp)
  }

  /** READ_STREAM: where the bytes go; the first ones may already have been read. */
  streamTo(sink: BodySink): void {
    this.sink = sink
  }

  /** The body is chunked and `rest` (what came with the head) does not hold its end: it can stream chunked. */
  static endsIn(rest: Buffer, maxBody: number): boolean {
    const r = new ChunkedDecoder({ maxBody }).execute(rest, 0)
    return r >= 0 || r === PARSE_ERROR
  }

  /** Bytes of a chunked body so far and of the chunk being read (nginx's "too large" message). */
  get sizes(): string {
    const d = this.decoder
    return d === null ? '' : `${d.dataBytes}+${d.chunkSize}`
  }

  /**
   * Consumes `chunk` from `from`. @returns the offset just past the body's end (what follows is the next request),
   * or BODY_MORE, BODY_BAD, BODY_TOO_LARGE, BODY_WRITE_FAILED
   */
  execute(chunk: Buffer, from: number): number {
    if (this.chunked) {
      const sc = this.mode === READ_DISCARD ? this.scanner! : this.decoder!
      const r = sc.execute(chunk, from)
      if (this.mode >= READ_SPOOL) {
        const parts = this.decoder!.parts
        for (let i = 0; i < parts.length; i++) if (!this.data(parts[i]!)) return BODY_WRITE_FAILED
        parts.length = 0
      }
      if (r === NEED_MORE) return BODY_MORE
      if (r === PARSE_ERROR) return sc.error!.status === 413 ? BODY_TOO_LARGE : BODY_BAD
      if (this.mode === READ_WHOLE) this.body = Buffer.from(this.decoder!.body())
      return r
    }
    const n = chunk.length - from
    if (n < this.left) {
      this.left -= n
      if (this.mode !== READ_DISCARD && !this.data(from === 0 ? chunk : chunk.subarray(from))) return BODY_WRITE_FAILED
      return BODY_MORE
    }
    const end = from + this.left
    this.left = 0
    if (this.mode !== READ_DISCARD && !this.data(chunk.subarray(from, end))) return BODY_WRITE_FAILED
    if (this.mode === READ_WHOLE) {
      this.body = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts)
      this.parts = []
    }
    return end
  }

  private data(data: Buffer): boolean {
    switch (this.mode) {
      case READ_WHOLE:
        // Chunked bodies are kept by the decoder; only length-framed ones come here.
        this.parts.push(data)
        return true
      case READ_SPOOL:
        try {
          if (this.spool!.write(data)) this.spooledToFile = true
        } catch (e) {
          this.writeError = (e as Error).message
          return false
        }
        return true
      default:
        if (!this.sink!.feed(data)) this.paused = true
        return true
    }
  }

  /** The spool's memory and temp file are freed, the sink forgotten: the request is over. */
  release(): void {
    this.spool?.close()
    this.spool = null
    this.sink = null
    this.decoder = null
    this.scanner = null
    this.parts = []
    this.body = null
    this.paused = false
  }
}

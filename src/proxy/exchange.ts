/**
 * One proxied request: pick a peer, send the request on a pooled or new connection, relay the response to the
 * client with backpressure, and move to the next peer on the failures `proxy_next_upstream` names — as nginx's
 * upstream module does, attempt by attempt (ngx_http_upstream_next).
 *
 * The request keeps the balancer it started with for every attempt, so a group replaced or deleted meanwhile does
 * not disturb it. One Exchange object per request; connections keep their listeners for life (see conn.ts).
 */
import type { Socket } from 'node:net'
import {
  FAIL_CLOSED, FAIL_CONNECT, FAIL_INTERRUPTED, FAIL_INVALID_HEADER, FAIL_OTHER, FAIL_REFUSED, FAIL_TIMEOUT, FAIL_TLS,
  type PeerSelection, type Peer,
} from '../balancer/index.js'
import {
  BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BODY_UNTIL_CLOSE, ChunkedDecoder, ChunkedScanner, NEED_MORE, PARSE_ERROR,
  latin1, type ResponseHead, type BodyKind,
} from '../http1/index.js'
import type { Keepalive } from '../upstream/index.js'
import type { ConnUser, UpstreamConn } from './conn.js'
import type { Pools } from './pool.js'
import type { UpstreamTls } from './tls.js'
import type { BodySpool } from './spool.js'
import { errnoText } from '../errno.js'

/** proxy_next_upstream conditions, as bits. */
export const NEXT_ERROR = 1
export const NEXT_TIMEOUT = 2
export const NEXT_INVALID_HEADER = 4
export const NEXT_500 = 8
export const NEXT_502 = 16
export const NEXT_503 = 32
export const NEXT_504 = 64
export const NEXT_403 = 128
export const NEXT_404 = 256
export const NEXT_429 = 512
export const NEXT_NON_IDEMPOTENT = 1024
export const NEXT_OFF = 0

const STATUS_BITS: Record<number, number> = { 500: NEXT_500, 502: NEXT_502, 503: NEXT_503, 504: NEXT_504, 403: NEXT_403, 404: NEXT_404, 429: NEXT_429 }

export interface ProxySettings {
  connectTimeout: number
  readTimeout: number
  sendTimeout: number
  /** Bits of NEXT_*; nginx's default is `error timeout`. */
  nextUpstream: number
  /** 0: no limit. */
  nextTries: number
  /** ms; 0: no limit. */
  nextTimeout: number
}

/** The client side of an exchange, implemented by the request path. */
/** Downstream.responseHead's answer: the body goes to the client as it comes. */
export const FRAME_AS_IS = 0
/** A body without a length is chunk-encoded here (an HTTP/1.1 client). */
export const FRAME_CHUNK = 1
/** A chunked body's framing is taken off (an HTTP/1.0 client reads it until the close, as nginx sends it). */
export const FRAME_DECHUNK = 2

/** Where a response goes: the client's socket, or an HTTP/2 stream's writer (the exchange writes nothing else). */
export interface ClientOut {
  write(data: Uint8Array | string, encoding?: BufferEncoding): boolean
  cork(): void
  uncork(): void
}

export interface Downstream {
  readonly socket: ClientOut
  readonly method: string
  /**
   * The backend's response head is in: write the client head. Returns how to frame the body toward the client:
   * FRAME_CHUNK to chunk-encode a body that has no length (an HTTP/1.1 client), FRAME_DECHUNK to take a chunked
   * body's framing off (an HTTP/1.0 client), FRAME_AS_IS to send it as it comes. `tail`: the whole body (latin1),
   * when it is small and came with the head: written with the head in one write if it goes out as it is.
   */
  responseHead(head: ResponseHead, kind: BodyKind, tail?: string | null): number
  /** Set by responseHead when the body is to go through a filter (gzip) instead of straight to the socket. */
  readonly bodyFilter: BodyFilter | null
  /** Set by responseHead when it wrote the `tail` it was given (the whole body) with the head. */
  readonly tailTaken: boolean
  /** Set by responseHead when limit_rate paces the body: each write is reported to paced(). */
  readonly pacing: boolean
  /** `n` body bytes went to the client: true when the backend must pause (clientDrained() resumes it). */
  paced(n: number): boolean
  /** Bytes limit_rate lets go out now. */
  room(): number
  /** proxy_intercept_errors: whether the backend's answer (status >= 300) is replaced by an error page. */
  intercepts(head: ResponseHead): boolean
  /** X-Accel-Redirect: the target of the backend's answer when it is to be followed (not ignored), else null. */
  accelRedirect(head: ResponseHead): string | null
  /** The backend's answer is dropped and the request follows `target` (its X-Accel-Redirect) from here. */
  followAccel(head: ResponseHead, target: string): void
  /** One attempt ended: for $upstream_addr, $upstream_status, $upstream_connect_time, $upstream_response_time. */
  attempt(addr: string, status: number, connectMs: number, responseMs: number, headerMs: number, received: number, sent: number, length: number): void
  /**
   * The exchange is over. `errorStatus` 502/504: nothing was sent, answer with that error page.
   * `broken`: the response was cut short after its head went out; the client connection must be closed.
   */
  finished(errorStatus: number, broken: boolean): void
  /**
   * The backend switched protocols (101 to an Upgrade request): from now on bytes flow both ways between the client
   * and `backend` until either side closes. `rest`: bytes the backend sent after its head.
   */
  tunnel(backend: Socket, rest: Buffer | null): void
  /**
   * Logs an upstream failure nginx logs at `error` (a TLS handshake or certificate check), adding the request's
   * context: `MESSAGE, client: …, server: …, request: "…", upstream: "UPSTREAM", host: "…"`.
   */
  upstreamError?(message: string, upstream: string): void
  /** A streamed body (proxy_request_buffering off): the backend takes more again, read on from the client. */
  bodyResume(): void
  /** The client takes the response slower than the backend sends it (send_timeout starts to matter). */
  clientFull(): void
  /** Something for the error log, in nginx's words (`upstream timed out … while sending request to upstream`). */
  note(level: 'error' | 'info', what: string): void
}

/** Takes the backend's body bytes as framed by the backend; false: pause the backend until clientDrained(). */
export interface BodyFilter {
  write(data: Buffer): boolean
}

/**
 * How the request body goes to the backend: none, a spooled body read whole beforehand (memory or temp file), or
 * streamed as it arrives (`feed`), as is or chunk-encoded.
 */
export const BODY_OUT_NONE = 0
export const BODY_OUT_SPOOL = 1
export const BODY_OUT_STREAM = 2
export const BODY_OUT_STREAM_CHUNKED = 3

/** Bytes read from a spooled body per write to the backend. */
const PUMP_CHUNK = 64 * 1024

const S_IDLE = 0
const S_CONNECTING = 1
const S_WAITING = 2 // request sent (or being sent), no response byte yet
const S_HEAD = 3 // response head arriving
const S_BODY = 4
const S_DONE = 5

/** nginx resends a request that reached a server only if its method is not one of these (or non_idempotent is set). */
const NON_IDEMPOTENT = new Set(['POST', 'LOCK', 'PATCH'])

const CHUNK_END = Buffer.from('0\r\n\r\n', 'latin1')
/** A body up to this size that came whole with the head leaves with it as one string, in one write. */
const SMALL_BODY = 4096
const CRLF = Buffer.from('\r\n', 'latin1')

export class Exchange implements ConnUser {
  private state = S_IDLE
  private peer: Peer | null = null
  private conn: UpstreamConn | null = null
  private scanner: ChunkedScanner | null = null
  /** Takes the chunk framing off a chunked body for a client that cannot read chunks (FRAME_DECHUNK). */
  private decoder: ChunkedDecoder | null = null
  private dechunk = false
  private kind: BodyKind = BODY_NONE
  private remaining = 0
  private chunkOut = false
  private filter: BodyFilter | null = null
  private started = 0
  private attemptStart = 0
  private connectMs = -1
  /** This attempt's bytes read from the server, written to it, and of its response body ($upstream_bytes_*, …_length). */
  private received = 0
  private sent = 0
  private length = 0
  /** ms from the attempt's start to its response head, when the response went on past the read that completed it. */
  private headerMs = -1
  private lastError = 502
  private tries = 0
  private sentAny = false
  private fresh = false
  private status = 0
  /** Spooled body: the next byte to send in this attempt. */
  private pos = 0
  /** This attempt still has body bytes to send (proxy_send_timeout applies, not proxy_read_timeout). */
  private bodyOut = false
  /** A request went out on some connection: a streamed body cannot be sent again (nginx's request_sent). */
  private requestSent = false
  /** Streamed body bytes that came before a connection could take them (the client is paused meanwhile). */
  private queue: Buffer[] | null = null
  private fedEnd = false
  /** The backend answered before the whole body was sent: its connection cannot be reused. */
  private cutBody = false
  /** The read buffer of a file body (see pump). */
  private pumpBuf: Buffer | null = null

  constructor(
    private readonly sel: PeerSelection,
    private readonly pools: Pools,
    private readonly keepalive: Keepalive,
    private readonly settings: ProxySettings,
    /** The request head for the backend (latin1). */
    private readonly head: string,
    private readonly body: BodySpool | null,
    private readonly down: Downstream,
    /** BODY_OUT_*; a spool is given for BODY_OUT_SPOOL. */
    private readonly bodyMode: number = body === null ? BODY_OUT_NONE : BODY_OUT_SPOOL,
    /** For an `https://` upstream: its TLS settings and the proxy_ssl_name value; null: plain. */
    private readonly tls: UpstreamTls | null = null,
    private readonly tlsName = '',
  ) {}

  start(): void {
    const now = Date.now()
    this.started = now
    this.next(now)
  }

  /** The client can take more: resume reading the backend. */
  clientDrained(): void {
    if (this.held !== null) {
      const h = this.held
      this.held = null
      this.paced(h, this.heldLast)
      if (this.held !== null || this.state !== S_BODY) return
    }
    this.conn?.socket.resume()
  }

  /** The client went away: stop, and do not keep a half-read connection. */
  abort(): void {
    if (this.state === S_DONE) return
    // A response cut short by the client still names the status the backend gave (nginx's $upstream_status).
    if (this.state === S_BODY && this.peer !== null) {
      const ms = Date.now() - this.attemptStart
      this.report(this.peer.server.addr, this.status, ms, this.headerAt(ms))
      this.peer.state.answered(this.status, ms)
    }
    this.state = S_DONE
    if (this.peer !== null) this.sel.done(this.peer, true)
    this.drop()
  }

  /** @param now Date.now(), when the caller has it */
  private next(now = Date.now()): void {
    const s = this.settings
    if (s.nextTries !== 0 && this.tries >= s.nextTries) return this.fail()
    if (s.nextTimeout !== 0 && this.tries > 0 && now - this.started >= s.nextTimeout) return this.fail()
    // Attempts used up: the last failure is the answer.
    if (this.tries > 0 && this.sel.tries === 0) return this.fail()
    const peer = this.sel.next()
    if (peer === null) {
      // nginx's "no live upstreams": an attempt of its own, named after the group, with status 502.
      this.logFailure(this.sel.name, 'no live upstreams while connecting to upstream')
      this.down.attempt(this.sel.name, 502, -1, 0, -1, 0, 0, 0)
      this.lastError = 502
      return this.fail()
    }
    this.tries++
    this.peer = peer
    this.connect(peer, now)
  }

  private connect(peer: Peer, now = Date.now()): void {
    const conn = this.pools.acquire(peer.server, this.tls, this.tlsName)
    this.conn = conn
    conn.user = this
    this.attemptStart = now
    // Each attempt reports its own connect time: '-' until this one connects; and its own bytes.
    this.connectMs = -1
    this.received = 0
    this.sent = 0
    this.length = 0
    this.headerMs = -1
    conn.parser.reset()
    this.fresh = !conn.connected
    if (conn.connected) {
      this.connectMs = 0
      this.send(conn)
    } else {
      this.state = S_CONNECTING
      conn.deadline.arm(this.settings.connectTimeout)
    }
  }

  onConnect(conn: UpstreamConn): void {
    if (conn !== this.conn) return
    this.connectMs = Date.now() - this.attemptStart
    this.send(conn)
  }

  private send(conn: UpstreamConn): void {
    this.state = S_WAITING
    conn.requests++
    this.requestSent = true
    this.peer!.state.bytesOut += this.head.length
    this.sent += this.head.length
    const s = conn.socket
    const mode = this.bodyMode
    if (mode === BODY_OUT_NONE) {
      conn.deadline.arm(this.settings.readTimeout)
      s.write(this.head, 'latin1')
      return
    }
    this.bodyOut = true
    this.cutBody = false
    conn.deadline.arm(this.settings.sendTimeout)
    s.cork()
    s.write(this.head, 'latin1')
    if (mode === BODY_OUT_SPOOL) {
      this.pos = 0
      this.pump(s)
      s.uncork()
      return
    }
    let ok = true
    const q = this.queue
    if (q !== null) {
      for (let i = 0; i < q.length; i++) ok = this.writeBody(s, q[i]!)
      q.length = 0
    }
    if (this.fedEnd) this.endBody(s)
    s.uncork()
    if (ok && !this.fedEnd) this.down.bodyResume()
  }

  /**
   * Writes the spooled body from `pos` until the socket is full (drain goes on) or the body is out. A file body is
   * read into one buffer, reused: a chunk at least the socket's high-water mark is either written whole at once
   * (write() true) or held until 'drain', when the socket has let go of it. (Node 22 raised the default mark to
   * 64 KiB: a buffer of only PUMP_CHUNK would then be a new allocation per read, 1 GiB of garbage for a 1 GiB body.)
   */
  private pump(s: Socket): void {
    const body = this.body!
    if (body.inFile && this.pumpBuf === null) this.pumpBuf = Buffer.allocUnsafeSlow(Math.max(PUMP_CHUNK, s.writableHighWaterMark))
    const chunk = this.pumpBuf === null ? PUMP_CHUNK : this.pumpBuf.length
    while (this.pos < body.size) {
      let b: Buffer
      try {
        b = body.read(this.pos, chunk, this.pumpBuf ?? undefined)
      } catch (e) {
        this.down.note('error', `read() from temp file failed (${(e as Error).message})`)
        return this.failure(NEXT_OFF, 500, FAIL_OTHER)
      }
      this.pos += b.length
      this.peer!.state.bytesOut += b.length
      this.sent += b.length
      if (!s.write(b)) return
    }
    this.bodyOut = false
    this.conn!.deadline.arm(this.settings.readTimeout)
  }

  private writeBody(s: Socket, data: Buffer): boolean {
    const st = this.peer!.state
    st.bytesOut += data.length
    this.sent += data.length
    if (this.bodyMode !== BODY_OUT_STREAM_CHUNKED) return s.write(data)
    // nginx re-chunks a streamed chunked body: one chunk per piece read, extensions and trailers dropped.
    s.cork()
    const size = data.length.toString(16) + '\r\n'
    st.bytesOut += size.length + 2
    this.sent += size.length + 2
    s.write(size, 'latin1')
    s.write(data)
    const ok = s.write(CRLF)
    s.uncork()
    return ok
  }

  private endBody(s: Socket): void {
    if (this.bodyMode === BODY_OUT_STREAM_CHUNKED) {
      s.write(CHUNK_END)
      this.peer!.state.bytesOut += CHUNK_END.length
      this.sent += CHUNK_END.length
    }
    this.bodyOut = false
    this.conn!.deadline.arm(this.settings.readTimeout)
  }

  /**
   * Streamed body bytes from the client. Returns false when the client should pause until bodyResume().
   * Bytes that come after the backend answered are dropped (the client connection is closed after the answer).
   */
  feed(data: Buffer): boolean {
    if (this.state === S_DONE || this.cutBody || (this.requestSent && !this.bodyOut)) return true
    if (this.state !== S_WAITING && this.state !== S_HEAD) {
      ;(this.queue ??= []).push(data)
      return false
    }
    // proxy_send_timeout: each write is progress.
    this.conn!.deadline.arm(this.settings.sendTimeout)
    return this.writeBody(this.conn!.socket, data)
  }

  /** The streamed body is complete. */
  feedEnd(): void {
    this.fedEnd = true
    if ((this.state === S_WAITING || this.state === S_HEAD) && this.bodyOut) this.endBody(this.conn!.socket)
  }

  onData(conn: UpstreamConn, chunk: Buffer): void {
    if (conn !== this.conn) return
    this.peer!.state.bytesIn += chunk.length
    this.received += chunk.length
    const before = this.state
    this.read(conn, chunk)
    // $upstream_header_time: a head completed by this read of a response that goes on is timed now; one whose whole
    // response came in the same read takes the response's time (no clock read for a small answer).
    if (before !== S_BODY && this.state === S_BODY && this.headerMs < 0) this.headerMs = Date.now() - this.attemptStart
    // proxy_read_timeout is a gap between two reads: each read starts it over. Armed once the read is handled, so a
    // response that ends in this read (its connection back in the pool, with keepalive_timeout) costs no clock read.
    if (this.conn === conn && !this.bodyOut && this.state !== S_DONE) conn.deadline.arm(this.settings.readTimeout)
  }

  private read(conn: UpstreamConn, chunk: Buffer): void {
    if (this.state === S_BODY) return this.relay(chunk, 0)
    if (this.state !== S_WAITING && this.state !== S_HEAD) return
    this.state = S_HEAD
    const parser = conn.parser
    const r = parser.execute(chunk, 0)
    if (r === NEED_MORE) return
    if (r === PARSE_ERROR) {
      this.logFailure(conn.server.addr, 'upstream sent invalid header while reading response header from upstream')
      return this.failure(NEXT_INVALID_HEADER, 502, FAIL_INVALID_HEADER)
    }
    const rh = parser.head!
    if (rh.status >= 100 && rh.status < 200 && rh.status !== 101) {
      // Interim responses (100 Continue, 103) are not relayed; the final one follows.
      parser.reset()
      return r < chunk.length ? this.read(conn, chunk.subarray(r)) : undefined
    }
    if (rh.status === 101 && rh.upgrade !== null) return this.switchProtocols(conn, rh, r < chunk.length ? Buffer.from(chunk.subarray(r)) : null)
    if (this.bodyOut) {
      // The backend answered before it had the whole body: stop sending it; the connection is spoilt for reuse.
      this.bodyOut = false
      this.cutBody = true
      conn.deadline.arm(this.settings.readTimeout)
    }
    const bit = STATUS_BITS[rh.status]
    if (bit !== undefined && (this.settings.nextUpstream & bit) !== 0 && this.mayRetry() && this.anotherTry()) {
      const ms = Date.now() - this.attemptStart
      this.report(this.peer!.server.addr, rh.status, ms, ms)
      this.peer!.state.answered(rh.status, ms)
      // 403 and 404 are not failures of the server, only reasons to try another (nginx's NGX_PEER_NEXT).
      this.sel.done(this.peer!, rh.status === 403 || rh.status === 404)
      this.drop()
      return this.next()
    }
    this.kind = rh.bodyKind(this.down.method)
    this.remaining = this.kind === BODY_LENGTH ? rh.contentLength : 0
    this.status = rh.status
    if (rh.status >= 300 && this.down.intercepts(rh)) return this.intercept()
    const accel = this.down.accelRedirect(rh)
    if (accel !== null) {
      // As nginx: the upstream is finalized before its body is read (the connection is not reused).
      this.release()
      return this.down.followAccel(rh, accel)
    }
    // A small body that came whole with the head leaves with it as one latin1 string: one write() through the
    // stream layer, no cork and writev.
    const out = this.down.socket
    const small = this.kind === BODY_LENGTH && this.remaining > 0 && this.remaining <= SMALL_BODY && chunk.length - r >= this.remaining
    // Otherwise head and the body bytes that came with it leave in one writev: a small response costs one syscall.
    if (!small) out.cork()
    const frame = this.down.responseHead(rh, this.kind, small ? latin1(chunk, r, r + this.remaining) : null)
    this.chunkOut = frame === FRAME_CHUNK
    this.dechunk = frame === FRAME_DECHUNK
    if (small) {
      if (this.down.tailTaken) {
        this.filter = null
        this.sentAny = true
        this.state = S_BODY
        this.length += this.remaining
        this.remaining = 0
        return this.complete(true)
      }
      // Not as it is (gzip): the head went alone, the body follows through the filter.
      out.cork()
    }
    this.filter = this.down.bodyFilter
    this.sentAny = true
    this.state = S_BODY
    if (this.kind === BODY_CHUNKED) {
      if (this.dechunk) {
        this.decoder ??= new ChunkedDecoder({ upstream: true })
        this.decoder.reset()
      } else {
        this.scanner ??= new ChunkedScanner({ upstream: true })
        this.scanner.reset()
      }
    }
    if (this.kind === BODY_NONE || (this.kind === BODY_LENGTH && this.remaining === 0)) this.complete(true)
    else if (r < chunk.length) this.relay(chunk, r)
    out.uncork()
  }

  private relay(chunk: Buffer, from: number): void {
    let data = from === 0 ? chunk : chunk.subarray(from)
    // Bytes read into the shared buffer are written on (and may wait in the socket): they need their own copy.
    if (this.conn!.shared) data = Buffer.from(data)
    let last = false
    switch (this.kind) {
      case BODY_LENGTH:
        if (data.length >= this.remaining) {
          if (data.length > this.remaining) data = data.subarray(0, this.remaining)
          last = true
        }
        this.remaining -= data.length
        break
      case BODY_CHUNKED: {
        const end = (this.dechunk ? this.decoder! : this.scanner!).execute(data, 0)
        if (end === PARSE_ERROR) return this.broken('upstream sent invalid chunked response while reading upstream')
        if (end !== NEED_MORE) {
          data = data.subarray(0, end)
          last = true
        }
        break
      }
    }
    this.length += data.length
    if (this.filter === null && !this.dechunk && this.down.pacing) return this.paced(data, last)
    const out = this.down.socket
    let ok: boolean
    if (this.filter !== null) ok = this.filter.write(data)
    else if (this.dechunk) {
      const parts = this.decoder!.parts
      ok = true
      for (let i = 0; i < parts.length; i++) ok = out.write(parts[i]!)
      parts.length = 0
    } else if (this.chunkOut) {
      out.cork()
      out.write(data.length.toString(16) + '\r\n', 'latin1')
      out.write(data)
      ok = out.write(CRLF)
      out.uncork()
    } else ok = out.write(data)
    if (last) return this.complete(true)
    // limit_rate on a body whose framing is taken off: paced after each write.
    if (this.dechunk && this.down.pacing && this.down.paced(data.length)) {
      this.conn!.socket.pause()
      if (ok) return
    }
    if (!ok) {
      this.conn!.socket.pause()
      this.down.clientFull()
    }
  }

  /** Body bytes limit_rate holds back until the pacer lets them go (clientDrained), and whether they end the body. */
  private held: Buffer | null = null
  private heldLast = false

  /**
   * limit_rate: as nginx's write filter, no more than the pacer's room goes out now; the rest is held and the backend
   * paused until the pacer's timer calls clientDrained().
   */
  private paced(data: Buffer, last: boolean): void {
    const room = this.down.room()
    if (data.length > room) {
      this.held = data.subarray(room)
      this.heldLast = last
      data = data.subarray(0, room)
      last = false
    }
    const out = this.down.socket
    let ok = true
    if (data.length > 0) {
      if (this.chunkOut) {
        out.cork()
        out.write(data.length.toString(16) + '\r\n', 'latin1')
        out.write(data)
        ok = out.write(CRLF)
        out.uncork()
      } else ok = out.write(data)
    }
    if (last) return this.complete(true)
    const wait = this.down.paced(data.length)
    if (wait || this.held !== null || !ok) this.conn!.socket.pause()
    if (!ok && !wait) this.down.clientFull()
  }

  /**
   * The answer is replaced by an error page: its body is not read, and the connection is closed rather than
   * reused, as nginx 1.22 does (the upstream is finalized before its body is read).
   */
  private intercept(): void {
    this.release()
    this.down.finished(this.status, false)
  }

  /** The answer's head is all that is taken: the attempt is over, its connection closed. */
  private release(): void {
    this.state = S_DONE
    const ms = Date.now() - this.attemptStart
    this.report(this.peer!.server.addr, this.status, ms, this.headerAt(ms))
    this.peer!.state.answered(this.status, ms)
    this.sel.done(this.peer!, true)
    this.drop()
  }

  /** WebSocket and other upgrades: the head goes to the client, then the connection leaves HTTP for good. */
  private switchProtocols(conn: UpstreamConn, rh: ResponseHead, rest: Buffer | null): void {
    this.state = S_DONE
    this.conn = null
    this.status = 101
    const ms = Date.now() - this.attemptStart
    this.report(this.peer!.server.addr, 101, ms, ms)
    this.peer!.state.answered(101, ms)
    this.sel.done(this.peer!, true)
    this.down.responseHead(rh, BODY_NONE)
    conn.user = null
    // The socket is the tunnel's now: it is never opened again for another request.
    conn.spares = null
    conn.socket.removeAllListeners('data')
    conn.deadline.cancel()
    this.down.tunnel(conn.socket, rest)
  }

  onEnd(conn: UpstreamConn): void {
    if (conn !== this.conn) return
    if (this.state === S_BODY && this.kind === BODY_UNTIL_CLOSE) return this.complete(false)
    this.onError(conn, null)
  }

  onError(conn: UpstreamConn, err: Error | null): void {
    if (conn !== this.conn || this.state === S_DONE) return
    if (this.state === S_BODY) return this.broken('upstream prematurely closed connection while reading upstream')
    // A kept-alive connection the backend closed meanwhile: try once more on a fresh one, not counted as a failure
    // (a streamed body that started going out cannot be sent again).
    if (!this.fresh && this.state === S_WAITING && this.peer !== null && this.bodyMode < BODY_OUT_STREAM) {
      this.drop()
      return this.connect(this.peer)
    }
    const addr = conn.server.addr
    let kind = FAIL_CLOSED
    if (conn.tlsError !== null) {
      this.logFailure(addr, `${conn.tlsError} while SSL handshaking to upstream`)
      kind = FAIL_TLS
    } else if (this.state === S_CONNECTING) {
      this.logFailure(addr, `connect() ${conn.server.unix ? `to ${addr} ` : ''}failed (${errnoText(err)}) while connecting to upstream`)
      kind = (err as NodeJS.ErrnoException | null)?.code === 'ECONNREFUSED' ? FAIL_REFUSED : FAIL_CONNECT
    } else if (err === null) this.logFailure(addr, 'upstream prematurely closed connection while reading response header from upstream')
    else this.logFailure(addr, `recv() failed (${errnoText(err)}) while reading response header from upstream`)
    this.failure(NEXT_ERROR, 502, kind)
  }

  onTimeout(conn: UpstreamConn): void {
    if (conn !== this.conn || this.state === S_DONE) return
    if (this.state === S_BODY) return this.broken('upstream timed out (110: Connection timed out) while reading upstream')
    const phase = this.state === S_CONNECTING ? 'connecting to upstream'
      : this.state === S_WAITING && this.bodyOut ? 'sending request to upstream' : 'reading response header from upstream'
    this.logFailure(conn.server.addr, `upstream timed out (110: Connection timed out) while ${phase}`)
    this.failure(NEXT_TIMEOUT, 504, FAIL_TIMEOUT)
  }

  onDrain(conn: UpstreamConn): void {
    if (conn !== this.conn || (this.state !== S_WAITING && this.state !== S_HEAD) || !this.bodyOut) return
    // proxy_send_timeout is a gap between two writes the backend took.
    conn.deadline.arm(this.settings.sendTimeout)
    if (this.bodyMode === BODY_OUT_SPOOL) this.pump(conn.socket)
    else if (!this.fedEnd) this.down.bodyResume()
  }

  /** The header time of an attempt that got a head, ending `ms` after its start. */
  private headerAt(ms: number): number {
    return this.headerMs >= 0 ? this.headerMs : ms
  }

  /** One attempt ended: the $upstream_* variables' entry for it (`headerMs` -1: no head came). */
  private report(addr: string, status: number, ms: number, headerMs: number): void {
    this.down.attempt(addr, status, this.connectMs, ms, headerMs, this.received, this.sent, this.length)
  }

  /** nginx's error line for a failed attempt: `WHAT, client: …, upstream: "http://ADDR/URI", host: …`. */
  private logFailure(addr: string, what: string): void {
    const line = this.head.slice(0, this.head.indexOf('\r\n'))
    const uri = line.slice(line.indexOf(' ') + 1, line.lastIndexOf(' '))
    this.down.upstreamError?.(what, `${this.tls !== null ? 'https' : 'http'}://${addr}${uri}`)
  }


  private mayRetry(): boolean {
    if (this.sentAny) return false
    // nginx: with request buffering off, a request that started going out is never sent to another server.
    if (this.bodyMode >= BODY_OUT_STREAM && this.requestSent) return false
    if (!NON_IDEMPOTENT.has(this.down.method)) return true
    return (this.settings.nextUpstream & NEXT_NON_IDEMPOTENT) !== 0 || this.state === S_CONNECTING
  }

  /**
   * Whether an answer named by proxy_next_upstream leads to another server (nginx's ngx_http_upstream_test_next):
   * only if this is not the last attempt and neither proxy_next_upstream_tries nor _timeout is reached; otherwise
   * the backend's own answer goes to the client.
   */
  private anotherTry(): boolean {
    const s = this.settings
    if (this.sel.tries <= 1) return false
    if (s.nextTries !== 0 && this.tries >= s.nextTries) return false
    return s.nextTimeout === 0 || Date.now() - this.started < s.nextTimeout
  }

  /** An attempt failed before anything reached the client; `kind`: FAIL_*, for the server's counters. */
  private failure(bit: number, status: number, kind: number): void {
    this.report(this.peer!.server.addr, status, Date.now() - this.attemptStart, -1)
    this.peer!.state.failed(kind)
    this.sel.done(this.peer!, false)
    this.lastError = status
    const retry = (this.settings.nextUpstream & bit) !== 0 && this.mayRetry()
    this.drop()
    this.peer = null
    if (retry) this.next()
    else this.fail()
  }

  private fail(): void {
    this.state = S_DONE
    this.down.finished(this.lastError, false)
  }

  /**
   * The response was cut short after its head went out. nginx ends such a request without blaming the server
   * (ngx_http_upstream_finalize_request frees the peer with state 0): it stays in rotation.
   */
  private broken(what: string): void {
    this.logFailure(this.peer!.server.addr, what)
    this.state = S_DONE
    const ms = Date.now() - this.attemptStart
    this.report(this.peer!.server.addr, this.status, ms, this.headerAt(ms))
    // The head reached the client: an answer of its class, and a failure of its own kind.
    this.peer!.state.answered(this.status, ms)
    this.peer!.state.failed(FAIL_INTERRUPTED)
    this.sel.done(this.peer!, true)
    this.drop()
    this.down.finished(0, true)
  }

  private complete(reusable: boolean): void {
    this.state = S_DONE
    const conn = this.conn!
    this.conn = null
    const now = Date.now()
    this.report(this.peer!.server.addr, this.status, now - this.attemptStart, this.headerAt(now - this.attemptStart))
    this.peer!.state.answered(this.status, now - this.attemptStart)
    this.sel.done(this.peer!, true)
    if (this.chunkOut) this.down.socket.write(CHUNK_END)
    if (reusable && !this.cutBody && !this.bodyOut && conn.parser.head!.reusable(this.down.method)) {
      conn.socket.resume()
      this.pools.release(conn, this.keepalive, this.sel.name, now)
    } else conn.destroy()
    this.down.finished(0, false)
  }

  private drop(): void {
    const c = this.conn
    this.conn = null
    if (c !== null) c.destroy()
  }
}

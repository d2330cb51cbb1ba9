/**
 * One HTTP/2 client connection: nghttp2 (node:http2) does the framing, HPACK and flow control; each stream becomes
 * an H2Stream that runs the request path. The connection applies nginx's connection-level settings
 * (http2_max_concurrent_streams, http2_body_preread_size as the initial stream window, keepalive_timeout as the idle
 * timeout, keepalive_requests as the streams served before GOAWAY, large_client_header_buffers as the header list
 * limit) and the protections against the known HTTP/2 attacks:
 *
 * - rapid reset (CVE-2023-44487): streams the client resets before their answer are counted; past a burst in one
 *   second the connection is closed with ENHANCE_YOUR_CALM (and nghttp2's own reset rate limit stands behind it);
 * - CONTINUATION floods: nghttp2 (≥ 1.61) refuses a header block of more than 8 CONTINUATION frames;
 * - HPACK bombs: the decoded header list is bounded (SETTINGS_MAX_HEADER_LIST_SIZE, pairs), the dynamic table by
 *   its default 4 KiB, so a small block cannot expand to more than the limit;
 * - SETTINGS and PING floods: counted per second, the connection closed past the limit; nghttp2 bounds the ACKs
 *   it queues for a client that does not read;
 * - zero-window stalls: a response waits in its stream's bounded buffer (the backend or file is paused), and
 *   send_timeout resets a stream whose client takes nothing; session memory is capped (maxSessionMemory).
 */
import { constants, performServerHandshake, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2'
import type { Socket } from 'node:net'
import type { Deadline, DeadlineOwner } from '../../deadlines.js'
import { log } from '../../log.js'
import type { H2Address } from '../conf/http2.js'
import { nextConnectionSerial, type ClientConn, type ConnectionOwner } from './connection.js'
import { h2RequestHead } from './h2-head.js'
import { H2Stream, type H2Host } from './h2-stream.js'

/** Header fields per request at most, beyond the byte limit (nginx has no count of its own; the h1 parser's). */
const MAX_HEADER_PAIRS = 1000
/** nghttp2's session memory cap, in MiB (frames queued, HPACK tables, stream state). */
const MAX_SESSION_MEMORY = 32
/** Streams reset by the client before their answer, per second, before the connection is closed. */
const RESET_BURST_MIN = 100
/** SETTINGS or PING frames per second before the connection is closed as a flood. */
const FLOOD_FRAMES = 100
/** After GOAWAY: the client gets this long to finish before the socket is closed (nginx's lingering_timeout). */
const CLOSE_GRACE = 5_000
/** After GOAWAY for a flood: long enough for the frame to leave, not for more abuse. */
const KILL_GRACE = 200

const ENHANCE_YOUR_CALM = constants.NGHTTP2_ENHANCE_YOUR_CALM

export class H2Session implements H2Host, ClientConn, DeadlineOwner {
  readonly id = nextConnectionSerial()
  readonly session: ServerHttp2Session
  readonly remoteAddr: string
  readonly remotePort: number
  readonly localAddr: string
  readonly localPort: number
  private open = 0
  private requests = 0
  private readonly deadline: Deadline
  /** GOAWAY sent (keepalive_requests reached, idle, stopping): no new streams; the socket closes after the last. */
  private closing = false
  private closed = false
  /** Per-second counters of resets, SETTINGS and PINGs, and when the second began. */
  private windowStart = 0
  private resets = 0
  private settingsFrames = 0
  private pings = 0
  private readonly resetBurst: number

  constructor(
    readonly worker: ConnectionOwner,
    readonly socket: Socket,
    readonly listenKey: string,
    readonly address: H2Address,
    readonly https: boolean,
  ) {
    this.remoteAddr = socket.remoteAddress?.replace(/^::ffff:/, '') ?? ''
    this.remotePort = socket.remotePort ?? 0
    this.localAddr = socket.localAddress?.replace(/^::ffff:/, '') ?? ''
    this.localPort = socket.localPort ?? 0
    const st = address.settings
    this.resetBurst = Math.max(RESET_BURST_MIN, 2 * st.maxConcurrentStreams)
    const session = performServerHandshake(socket, {
      settings: {
        maxConcurrentStreams: st.maxConcurrentStreams,
        initialWindowSize: st.bodyPreread,
        maxHeaderListSize: st.maxHeaderList,
        enablePush: false,
      },
      maxHeaderListPairs: MAX_HEADER_PAIRS,
      maxSessionMemory: MAX_SESSION_MEMORY,
      maxSessionInvalidFrames: 100,
      maxSessionRejectedStreams: 100,
      streamResetBurst: this.resetBurst,
      streamResetRate: 33,
    } as Parameters<typeof performServerHandshake>[1])
    this.session = session
    try {
      // nginx opens the connection's window wide: each stream's window (the preread size) bounds what is buffered.
      session.setLocalWindowSize(2_147_483_647)
    } catch {
      // The socket closed during the handshake.
    }
    session.on('stream', (stream: ServerHttp2Stream, _h: unknown, flags: number, raw: string[]) => this.onStream(stream, flags, raw))
    session.on('remoteSettings', () => this.flood('SETTINGS'))
    session.on('ping', () => this.flood('PING'))
    session.on('error', (e: NodeJS.ErrnoException) => {
      log('info', `HTTP/2 connection failed (${e.code ?? e.message}), client: ${this.remoteAddr}, server: ${this.localAddr}:${this.localPort}`)
    })
    session.on('close', () => this.onClose())
    // Errors on the socket end the session, which reports them.
    socket.on('error', () => {})
    this.deadline = worker.deadlines.create(this)
    // The preface and the first request come within client_header_timeout, as a first HTTP/1.x head must.
    this.deadline.arm(st.headerTimeout)
  }

  private onStream(stream: ServerHttp2Stream, flags: number, raw: string[]): void {
    if (this.closed) {
      // The reset is reported as an 'error' on the stream: nobody else listens to this one.
      stream.on('error', ignore)
      return void stream.close(constants.NGHTTP2_REFUSED_STREAM)
    }
    this.requests++
    this.open++
    this.deadline.disarm()
    const s = new H2Stream(this, stream)
    const ended = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0
    const h = h2RequestHead(raw, ended)
    if (h.error !== '') s.reject(h.head, h.error, ended, this.requests)
    else s.begin(h.head!, ended, this.requests, raw)
    // keepalive_requests: the streams one connection serves (nginx ≥ 1.19.7); those in flight finish.
    if (this.requests >= this.address.settings.maxRequests || this.worker.stopping) this.goaway()
  }

  streamDone(_s: H2Stream, reset: boolean): void {
    this.open--
    if (reset && this.count() && ++this.resets > this.resetBurst) {
      log('info', `client sent too many stream resets, client: ${this.remoteAddr}, server: ${this.localAddr}:${this.localPort}`)
      return this.kill()
    }
    if (this.open > 0 || this.closed) return
    if (this.closing) return this.finish()
    // keepalive_timeout: an HTTP/2 connection without streams is closed after it.
    this.deadline.arm(this.address.settings.idleTimeout)
  }

  /** Starts a new one-second window when the last has passed; true (always) so that it chains in a condition. */
  private count(): boolean {
    const now = Date.now()
    if (now - this.windowStart >= 1000) {
      this.windowStart = now
      this.resets = 0
      this.settingsFrames = 0
      this.pings = 0
    }
    return true
  }

  private flood(what: 'SETTINGS' | 'PING'): void {
    this.count()
    const n = what === 'SETTINGS' ? ++this.settingsFrames : ++this.pings
    if (n <= FLOOD_FRAMES) return
    log('info', `client sent too many ${what} frames, client: ${this.remoteAddr}, server: ${this.localAddr}:${this.localPort}`)
    this.kill()
  }

  /** A flood: GOAWAY ENHANCE_YOUR_CALM and the connection closed at once, streams and all. */
  private kill(): void {
    if (this.closed) return
    this.closed = true
    // GOAWAY goes out first; the connection is cut a moment later whatever the client does meanwhile (new streams
    // are refused, see onStream).
    try {
      this.session.goaway(ENHANCE_YOUR_CALM)
    } catch {
      // Destroyed meanwhile.
    }
    this.deadline.arm(KILL_GRACE)
  }

  /** GOAWAY: no new streams; the connection closes once the open ones are done. */
  private goaway(): void {
    if (this.closing) return
    this.closing = true
    if (this.open === 0) this.finish()
    else this.session.close()
  }

  private finish(): void {
    if (this.closed) return
    this.closed = true
    this.session.close()
    // A client that does not read its GOAWAY is not waited for long.
    this.deadline.arm(CLOSE_GRACE)
  }

  onDeadline(): void {
    if (this.closed) {
      this.session.destroy()
      this.socket.destroy()
      return
    }
    if (this.requests === 0) log('info', `client timed out (110: Connection timed out) while waiting for request, client: ${this.remoteAddr}, server: ${this.localAddr}:${this.localPort}`)
    this.closing = true
    this.finish()
  }

  /** Graceful stop: GOAWAY now; streams in flight finish. */
  closeIfIdle(): void {
    this.goaway()
  }

  private onClose(): void {
    this.closed = true
    this.deadline.cancel()
    this.socket.destroy()
    this.worker.forget(this)
  }
}

function ignore(): void {}

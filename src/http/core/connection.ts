/**
 * One client connection: reads request heads with the strict parser, reads bodies, runs the handler of the
 * location, writes the response, and loops for keep-alive and pipelined requests. It is also the `Downstream` of
 * the proxy exchange, so a proxied request costs no extra object for its client side.
 */
import { releaseLimitConn } from '../modules/limit-conn.js'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { Readable } from 'node:stream'
import type { Deadline, DeadlineOwner, DeadlineWheel } from '../../deadlines.js'
import {
  NEED_MORE, PARSE_ERROR, RequestHeadParser, type BodyKind, type RequestHead, type ResponseHead, BODY_CHUNKED, BODY_NONE,
  wireStatus,
} from '../../http1/index.js'
import {
  BODY_OUT_NONE, BODY_OUT_SPOOL, BODY_OUT_STREAM, BODY_OUT_STREAM_CHUNKED, BodySpool, CHUNKED_BODY, Exchange,
  FRAME_AS_IS, type Downstream,
} from '../../proxy/index.js'
import { formatError } from '../../errors.js'
import { log } from '../../log.js'
import { closesConnection } from '../conf/error-pages.js'
import { LocationMatch } from '../conf/locations.js'
import { contentTypeFor } from '../conf/mime.js'
import { PLAIN, PLAIN_ON_TLS, TLS } from '../conf/tls.js'
import type { HttpConfig, HttpRequest, LocConf, ProxyPass } from '../conf/types.js'
import { GZ_COMPRESS, GzipBody, gzipLocal, gzipProxied, gzipWhole } from '../filters/gzip.js'
import type { Services } from '../lib/context.js'
import { Request } from '../lib/request.js'
import { requestContext } from '../lib/log-context.js'
import { connStats, READING, WAITING, WRITING, type ConnStats } from '../lib/conn-stats.js'
import { parseTarget, Target } from '../lib/uri.js'
import { intercepts, sendErrorPage } from '../modules/error-page.js'
import { pinUpstream } from '../modules/proxy.js'
import { doReturn } from '../modules/return.js'
import { BODY_MORE, BODY_TOO_LARGE, BODY_WRITE_FAILED, BodyReader, READ_DISCARD, READ_SPOOL, READ_STREAM, READ_WHOLE } from './body-reader.js'
import { clientCertRefusal, redirectByAccel } from './request-host.js'
import { runHandler, type ContentResponder } from './content.js'
import { localHead, proxiedFraming, proxiedHead, rejectedHead, streamHead, type ProxiedFraming } from './head-writer.js'
import { internalRedirect, namedLocation, startPhases, type PhaseHost } from './phases.js'
import { parseSize } from '../../config/index.js'
import { Pacer } from './pacer.js'
import { readIntoShared } from './shared-read.js'

const HEAD = 0
const BODY = 1
const BUSY = 2
const CLOSED = 3
/** After a 101: bytes are relayed to the backend as they come. */
const TUNNEL = 4

/** Bytes of a pipelined next request kept while the current one is handled; more pauses the socket. */
const PIPELINE_BUFFER = 64 * 1024

/** nginx's lingering_timeout is 5 s. */
const LINGERING_TIMEOUT = 5_000


let serial = 0

/** A number for `$connection` from the same sequence as HTTP/1.x connections' (an HTTP/2 connection's). */
export function nextConnectionSerial(): number {
  return ++serial
}

/** What the worker keeps of each client connection, HTTP/1.x or HTTP/2. */
export interface ClientConn {
  readonly socket: Socket
  /** Graceful stop: close now if nothing is owed to the client (HTTP/2: GOAWAY, streams in flight finish). */
  closeIfIdle(): void
}

/** What a connection needs of the worker that accepted it. */
export interface ConnectionOwner extends Services {
  readonly conf: HttpConfig
  readonly stopping: boolean
  /** The worker's timer wheel: each connection's timeouts are one deadline on it. */
  readonly deadlines: DeadlineWheel
  logRequest(req: HttpRequest): void
  forget(c: ClientConn): void
}

export class Connection implements Downstream, PhaseHost, ContentResponder, DeadlineOwner, ClientConn {
  readonly socket: Socket
  private readonly parser = new RequestHeadParser()
  private readonly target = new Target()
  readonly match = new LocationMatch()
  /** See PhaseHost.delayed. */
  delayed = false
  private state = HEAD
  private req: HttpRequest | null = null
  private pending: Buffer | null = null
  private requests = 0
  private readonly id = ++serial
  private readonly listenKey: string
  /** Reads the bodies of this connection's requests, one at a time. */
  private readonly body = new BodyReader()
  private exchange: Exchange | null = null
  /** The compressor of a gzipped proxied body, while it runs. */
  private gz: GzipBody | null = null
  private gzEnding = false
  /** How the proxied body being relayed is framed (head-writer.ts), reused by each response. */
  private readonly framing: ProxiedFraming = { chunked: false, keepAlive: false }
  /** The backend socket of an upgraded connection. */
  private peer: Socket | null = null
  private bodyStart = -1
  /** The request announced a body that is not read yet. */
  private bodyPending = false
  /** The body is too large: it is dropped after the answer (which may be an error page's) instead of being read. */
  private bodyRefused = false
  /** Bytes that came after the head, kept while the location is chosen. */
  private rest: Buffer | null = null
  /** The file body being sent (sendStream), paused while the socket's buffer is full. */
  private file: Readable | null = null
  private filePath = ''
  private fileLength = 0
  /** Its listeners, made on the connection's first file and reused by the next ones. */
  private fileListeners: { data: (b: Buffer) => void; end: () => void; error: (e: NodeJS.ErrnoException) => void } | null = null
  /** How a proxied request's body is read (BODY_OUT_*); NONE for every other request. */
  private bodyMode = BODY_OUT_NONE
  /** Body bytes read with the head, kept while a streamed body waits for its exchange. */
  private bodyRest: Buffer | null = null
  /** A streamed body waits for the backend to drain. */
  private bodyPaused = false
  /** send_timeout runs for the response being relayed. */
  private sendArmed = false
  readonly remoteAddr: string
  private readonly remotePort: number
  private readonly localAddr: string
  private readonly localPort: number
  /** `https` on an ssl address; plain HTTP sent there is answered with nginx's 497 page. */
  private readonly https: boolean
  private readonly plainOnTls: boolean
  /** The client's timeouts, on the worker's wheel: one entry for the connection's life, re-armed per phase. */
  private readonly deadline: Deadline
  /** client_header_timeout of the address's default server (nginx takes it before it knows the Host). */
  private readonly headerTimeout: number
  /** client_header_timeout runs for the head being read: later bytes of the same head do not extend it. */
  private headArmed = true
  /** The client's buffered bytes when send_timeout was armed: less at expiry means it read some (progress). */
  private sendMark = 0
  /** Closing after the last answer: what the client still sends is read and dropped, lingering_timeout apart. */
  private lingering = false
  /** Reads arrive in the shared read buffer (shared-read.ts): bytes kept past onData must be copied. */
  private readonly shared: boolean
  /** Where stub_status counts this connection: WAITING, READING, WRITING (lib/conn-stats.ts); -1 once closed. */
  private stat = WAITING

  /**
   * @param mode PLAIN, TLS or PLAIN_ON_TLS (tls-server.ts)
   * @param listener the counters of the listening address that accepted it (lib/conn-stats.ts)
   */
  constructor(
    readonly worker: ConnectionOwner,
    socket: Socket,
    listenKey: string,
    mode: number,
    private readonly listener: ConnStats,
  ) {
    this.socket = socket
    this.https = mode === TLS
    this.plainOnTls = mode === PLAIN_ON_TLS
    this.remoteAddr = socket.remoteAddress?.replace(/^::ffff:/, '') ?? ''
    this.remotePort = socket.remotePort ?? 0
    this.localAddr = socket.localAddress?.replace(/^::ffff:/, '') ?? ''
    this.localPort = socket.localPort ?? 0
    this.listenKey = listenKey
    this.shared = mode === PLAIN && readIntoShared(socket, (b) => this.onData(b))
    if (!this.shared) socket.on('data', (b: Buffer) => this.onData(b))
    socket.on('error', () => this.onClose())
    socket.on('close', () => this.onClose())
    // The client can take more: let whichever source is paused on it (a proxied body, a tunnel) go on.
    socket.on('drain', () => {
      // send_timeout is a gap between two writes the client took: it starts over.
      if (this.sendArmed && this.state === BUSY) this.armSend()
      // A response limit_rate holds waits for its timer, not for the client.
      if (this.paceTimer !== null) return
      if (this.gz !== null) this.gz.resume()
      else this.exchange?.clientDrained()
      this.peer?.resume()
      this.file?.resume()
    })
    // client_header_timeout of the address's default server, as nginx takes it before it knows the Host.
    const si = worker.conf.vhosts.select(listenKey, '')
    this.headerTimeout = worker.conf.servers[si < 0 ? 0 : si]?.clientHeaderTimeout ?? 60_000
    this.deadline = worker.deadlines.create(this)
    this.deadline.arm(this.headerTimeout)
    connStats.active++
    listener.active++
  }

  /** The connection's stub_status state becomes `to`: two integer updates, and none when it is already there. */
  private enter(to: number): void {
    if (this.stat === to || this.stat < 0) return
    connStats.move(this.stat, to)
    this.listener.move(this.stat, to)
    this.stat = to
  }

  onDeadline(): void {
    if (this.state === BUSY && this.sendArmed && this.socket.writableLength < this.sendMark && !this.socket.destroyed) {
      // The client took some of what waits for it since send_timeout was armed: that is progress, time the next gap.
      return this.armSend()
    }
    this.onTimeout()
  }

  /** send_timeout from now, remembering how much the client still has to take. */
  private armSend(): void {
    this.sendMark = this.socket.writableLength
    this.deadline.arm(this.req?.loc?.sendTimeout ?? 60_000)
  }

  get gone(): boolean {
    return this.socket.destroyed
  }

  abort(): void {
    this.socket.destroy()
  }

  /**
   * A handler threw or its promise rejected: logged with the request's context, then the request answers 500 — or,
   * if its head is already out, its connection closes. Bound once per connection.
   */
  readonly failed = (e: unknown): void => {
    const req = this.req
    log('alert', `request handler failed: ${formatError(e).replace(/[\r\n]+/g, ' ')}${this.where()}`)
    if (req === null || this.socket.destroyed || this.state === CLOSED) return
    if (req.headerSent) {
      req.keepAlive = false
      this.state = CLOSED
      this.worker.logRequest(req)
      this.socket.destroy()
      return
    }
    this.finishLocal(500)
  }

  get method(): string {
    return this.req?.method ?? 'GET'
  }

  private onData(chunk: Buffer): void {
    // A read into the shared buffer: a head is parsed in place (the parser copies what it keeps, readHead what follows
    // the head); every other state keeps or forwards the bytes (a body's parts, the spool, the backend socket, the
    // tunnel's peer, `pending`), so they get their own copy — except a body spooled or discarded: the spool copies
    // only what it keeps in memory (a body in a temp file is written before this returns), so a large upload
    // allocates nothing per read. What lingering close reads is dropped.
    const borrowed = this.shared && this.state === BODY && (this.body.mode === READ_SPOOL || this.body.mode === READ_DISCARD)
    if (this.shared && !borrowed && this.state !== HEAD && this.state !== CLOSED) chunk = Buffer.from(chunk)
    switch (this.state) {
      case HEAD:
        return this.readHead(chunk, this.shared)
      case BODY:
        // client_body_timeout is a gap between two reads: each read starts it over.
        this.deadline.arm(this.req?.loc?.clientBodyTimeout ?? 60_000)
        return this.readBody(chunk, 0, borrowed)
      case TUNNEL:
        if (!this.peer!.write(chunk)) this.socket.pause()
        return
      case BUSY:
        this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk])
        if (this.pending.length > PIPELINE_BUFFER) this.socket.pause()
        return
      case CLOSED:
        // lingering_timeout is a gap between two reads of what is dropped.
        if (this.lingering) this.deadline.arm(LINGERING_TIMEOUT)
        return
    }
  }

  /** @param borrowed `chunk` is the shared read buffer: what follows the head is copied before it is kept. */
  private readHead(chunk: Buffer, borrowed: boolean): void {
    // nginx counts a request from the first byte of its head (ngx_http_alloc_request).
    if (this.stat === WAITING) this.enter(READING)
    const r = this.parser.execute(chunk, 0)
    if (r === NEED_MORE) {
      // The first bytes of a head after a keep-alive wait: client_header_timeout bounds the whole head from here.
      if (!this.headArmed) {
        this.headArmed = true
        this.deadline.arm(this.headerTimeout)
      }
      return
    }
    if (r === PARSE_ERROR) {
      const e = this.parser.error!
      log('info', `client sent invalid request: ${e.message} while reading client request headers, client: ${this.remoteAddr}`)
      // nginx's internal 494 shows its own page ("Request Header Or Cookie Too Large") under status 400.
      return this.rejectHead(e.title === 'Request Header Or Cookie Too Large' ? 494 : e.status)
    }
    const head = this.parser.head!
    this.parser.reset()
    this.begin(head, r < chunk.length ? (borrowed ? Buffer.from(chunk.subarray(r)) : chunk.subarray(r)) : null)
  }

  /** Answers a head that could not be parsed, then closes: the stream is out of sync. */
  private rejectHead(status: number): void {
    this.state = BUSY
    this.enter(WRITING)
    const pages = this.worker.conf.errorPages
    const body = pages.body(status, true)
    const shown = wireStatus(status)
    this.socket.end(rejectedHead(shown, body?.length ?? 0) + (body?.toString('latin1') ?? ''), 'latin1')
    this.state = CLOSED
  }

  private begin(head: RequestHead, rest: Buffer | null): void {
    this.requests++
    this.enter(WRITING)
    const conf = this.worker.conf
    const req: HttpRequest = new Request(head, conf.slots)
    this.req = req
    req.remoteAddr = this.remoteAddr
    req.remotePort = this.remotePort
    req.serverAddr = this.localAddr
    req.serverPort = this.localPort
    req.connection = this.id
    req.connectionRequests = this.requests
    if (this.https) {
      req.scheme = 'https'
      req.tls = this.socket as TLSSocket
    }
    this.state = BUSY
    // While a handler runs, the client owes us nothing: no client timeout (the backend has its own).
    this.deadline.disarm()
    // Until the body is read, an answer from here on must not leave its bytes to be parsed as the next request.
    this.bodyPending = head.contentLength > 0 || head.chunked
    this.bodyRefused = false
    if (this.bodyPending) this.rest = rest
    else this.pending = rest
    const si = conf.vhosts.select(this.listenKey, req.host)
    const server = conf.servers[si < 0 ? 0 : si]!
    req.server = server
    req.serverName = server.name
    if (!parseTarget(head.target, this.target)) {
      // The server's settings (server_tokens) shape the 400 page, as in nginx; $uri stays empty.
      req.loc = server.serverConf
      req.uri = ''
      return this.finishLocal(400)
    }
    req.uri = this.target.uri
    req.args = this.target.args
    req.requestUri = this.target.requestUri
    if (this.plainOnTls) {
      // nginx checks this once the head is read and the server chosen (ngx_http_process_request).
      req.loc = server.serverConf
      log('info', `client sent plain HTTP request to HTTPS port while reading client request headers${this.where()}`)
      return this.finishLocal(497)
    }
    // nginx checks the client certificate here too, once the server is chosen (ngx_http_process_request).
    const refused = clientCertRefusal(server, this.https ? (this.socket as TLSSocket) : null, this.where())
    if (refused !== 0) {
      req.loc = server.serverConf
      return this.finishLocal(refused)
    }
    // realip's post-read handler, with the server level's settings, as nginx runs it before the server's rewrites.
    const ri = server.serverConf.realip
    if (ri !== null) ri.apply(req)
    startPhases(this, req)
  }

  /** Access granted (phases.ts): the body as the location reads it, then try_files and the content handler. */
  content(lc: LocConf): void {
    const head = this.req!.head
    // No body, a body already read, or one refused (an error page after a 413): on to the handler.
    if (!this.bodyPending || this.bodyRefused) return this.dispatch()
    const rest = this.rest
    this.rest = null
    // A proxied body goes to the backend as nginx sends it (spooled or streamed); other handlers get it whole.
    if (lc.handler.kind === 'proxy') {
      pinUpstream(this.worker, this.req!, lc.handler.pass)
      return this.beginProxyBody(lc, lc.handler.pass, rest)
    }
    // The body: read it whole before the handler runs (nginx's request buffering), bounded by client_max_body_size.
    this.body.start(READ_WHOLE, head, lc.clientMaxBodySize)
    this.state = BODY
    this.deadline.arm(lc.clientBodyTimeout)
    if (head.expectContinue) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n')
    if (rest !== null) this.readBody(rest, 0)
  }

  /** A Content-Length over the location's client_max_body_size: the body will be dropped, not read. */
  refuseBody(): boolean {
    const req = this.req!
    if (!this.bodyPending || this.bodyRefused || req.head.contentLength <= req.loc!.clientMaxBodySize) return false
    log('error', `client intended to send too large body: ${req.head.contentLength} bytes${this.where()}`)
    this.bodyRefused = true
    return true
  }

  internalRedirect(uri: string, args: string): void {
    internalRedirect(this, this.req!, uri, args)
  }

  namedLocation(name: string): void {
    namedLocation(this, this.req!, name)
  }

  /** Body bytes, whichever way the body is read (body-reader.ts); its end goes on as the way of reading says. */
  /** @param borrowed `chunk` is the shared read buffer: what follows the body is copied before it is kept. */
  private readBody(chunk: Buffer, from: number, borrowed = false): void {
    const b = this.body
    const r = b.execute(chunk, from)
    if (b.mode === READ_STREAM) {
      if (b.paused && !this.bodyPaused) {
        // The backend is full: read no more (and time nothing) until it drains.
        this.bodyPaused = true
        this.socket.pause()
        this.deadline.disarm()
      }
    } else if (b.spooledToFile) {
      b.spooledToFile = false
      log('warn', `a client request body is buffered to a temporary file ${b.spool!.path}${this.where()}`)
    }
    if (r === BODY_MORE) return
    if (r < 0) return this.bodyFailed(r)
    if (r < chunk.length) this.pending = borrowed ? Buffer.from(chunk.subarray(r)) : chunk.subarray(r)
    switch (b.mode) {
      case READ_DISCARD:
        return this.discarded()
      case READ_WHOLE:
        this.req!.body = b.body
        b.body = null
        this.bodyPending = false
        this.state = BUSY
        return this.dispatch()
      case READ_SPOOL:
        this.state = BUSY
        this.bodyPending = false
        return this.dispatch()
    }
    // Streamed: the exchange has it all; what the client sends now waits (pipelining) while the answer goes out.
    this.state = BUSY
    this.bodyPending = false
    this.socket.pause()
    this.deadline.disarm()
    this.exchange?.feedEnd()
  }

  /** A body that cannot be read to its end. */
  private bodyFailed(r: number): void {
    switch (this.body.mode) {
      case READ_DISCARD:
        // A broken body after the answer: nothing more to say to this client.
        this.state = CLOSED
        return void this.socket.destroy()
      case READ_WHOLE:
        return this.finishLocal(r === BODY_TOO_LARGE ? 413 : 400)
    }
    if (r === BODY_WRITE_FAILED) {
      log('crit', `write() to a temporary file failed (${this.body.writeError})${this.where()}`)
      return this.finishLocal(500)
    }
    this.badBody(r === BODY_TOO_LARGE)
  }

  private dispatch(): void {
    this.deadline.disarm()
    // The socket keeps reading: what a client pipelines meanwhile waits in `pending`, which pauses it past
    // PIPELINE_BUFFER. Pausing here would cost a readStop and a resume (a nextTick and a read(0)) per request.
    runHandler(this.worker, this, this.req!)
  }

  // ---- proxied request bodies ----

  /**
   * proxy_request_buffering on (or a chunked body toward an HTTP/1.0 backend): the body is spooled (memory, then a
   * temp file) and the backend contacted once it is complete. Off: the backend is contacted at once and the body
   * streams to it with backpressure both ways — chunk-encoded when the client sent it chunked, unless it is
   * already complete in what came with the head (nginx then knows its length and sends a Content-Length).
   */
  private beginProxyBody(lc: LocConf, pass: ProxyPass, rest: Buffer | null): void {
    const head = this.req!.head
    this.state = BODY
    this.deadline.arm(lc.clientBodyTimeout)
    if (head.expectContinue) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n')
    let stream = !pass.requestBuffering && (!head.chunked || pass.version === '1.1')
    if (stream && head.chunked && rest !== null && BodyReader.endsIn(rest, lc.clientMaxBodySize)) stream = false
    if (!stream) {
      this.bodyMode = BODY_OUT_SPOOL
      this.body.start(READ_SPOOL, head, lc.clientMaxBodySize)
      this.body.spoolTo(lc.bodyBufferSize, lc.bodyTemp)
      if (rest !== null) this.readBody(rest, 0)
      return
    }
    this.bodyMode = head.chunked ? BODY_OUT_STREAM_CHUNKED : BODY_OUT_STREAM
    this.body.start(READ_STREAM, head, lc.clientMaxBodySize)
    // Nothing is read until the exchange exists to take it (startProxy).
    this.bodyRest = rest
    this.socket.pause()
    runHandler(this.worker, this, this.req!)
  }

  /** A chunked body that is malformed or grows past client_max_body_size. */
  private badBody(tooLarge: boolean): void {
    if (tooLarge) log('error', `client intended to send too large chunked body: ${this.body.sizes} bytes${this.where()}`)
    else log('info', `client sent invalid chunked body${this.where()}`)
    const ex = this.exchange
    if (ex !== null) {
      this.exchange = null
      ex.abort()
    }
    const req = this.req!
    if (req.headerSent) {
      req.keepAlive = false
      this.state = CLOSED
      this.worker.logRequest(req)
      this.releaseBody()
      this.socket.destroy()
      return
    }
    this.finishLocal(tooLarge ? 413 : 400)
  }

  /** How the body goes to the backend (BODY_OUT_*). */
  get bodyOutMode(): number {
    return this.bodyMode
  }

  /** The spooled body (BODY_OUT_SPOOL), else null. */
  get bodySpool(): BodySpool | null {
    return this.body.spool
  }

  /** The Content-Length the backend gets: -1 none, CHUNKED_BODY for a body streamed chunked. */
  get bodyOutLength(): number {
    switch (this.bodyMode) {
      case BODY_OUT_SPOOL:
        return this.body.spool!.size
      case BODY_OUT_STREAM:
        return this.req!.head.contentLength
      case BODY_OUT_STREAM_CHUNKED:
        return CHUNKED_BODY
    }
    // An empty body announced with `Content-Length: 0` (a bodiless POST) is announced to the backend too, as nginx does.
    return this.req!.head.contentLength === 0 ? 0 : -1
  }

  bodyResume(): void {
    this.bodyPaused = false
    this.body.paused = false
    if (this.state !== BODY) return
    this.deadline.arm(this.req!.loc!.clientBodyTimeout)
    this.socket.resume()
  }

  note(level: 'error' | 'info', what: string): void {
    log(level, what + this.where())
  }

  /** The spool's memory and temp file are freed when its request ends, however it ends. */
  private releaseBody(): void {
    if (this.bodyMode === BODY_OUT_NONE) return
    this.bodyMode = BODY_OUT_NONE
    // `$request_body` of a proxied request: the body, if it stayed in memory, outlives its spool until the log.
    if (this.worker.conf.keepsRequestBody && this.req !== null && this.body.spool !== null) this.req.body = this.body.spool.memoryBody()
    this.bodyPaused = false
    this.body.release()
    this.bodyRest = null
  }

  /** nginx's error-log context of a request. */
  where(): string {
    const req = this.req
    if (req === null) return `, client: ${this.remoteAddr}, server: ${this.localAddr}:${this.localPort}`
    return requestContext(req)
  }

  // ---- responses ----

  /** A `return` or a redirecting `rewrite` answers the request (RewriteAnswer). */
  answer(code: number, text: string | null): void {
    doReturn(this, this.req!, code, text)
  }

  /**
   * A relative redirect target as nginx's header filter writes it: with absolute_redirect on, the request's host
   * (server_name_in_redirect: the server's first name; no Host: the local address) and, with port_in_redirect on,
   * the port it came in on unless it is the scheme's default; with absolute_redirect off, as it is.
   */
  absolute(path: string): string {
    const req = this.req!
    const lc = req.loc
    if (lc !== null && !lc.absoluteRedirect) return path
    const host = lc?.serverNameInRedirect === true ? (req.server?.name ?? '') : req.host !== '' ? req.host : this.localAddr
    const port = lc?.portInRedirect === false || this.localPort === (this.https ? 443 : 80) ? '' : `:${this.localPort}`
    return `${this.https ? 'https' : 'http'}://${host}${port}${path}`
  }

  /** An error page (or an empty body for codes without one), nginx's special response. */
  finishLocal(status: number): void {
    const req = this.req!
    if (closesConnection(status)) req.keepAlive = false
    req.errStatus = 0
    // An error page may proxy: the rest of a refused body must wait as pipelined bytes, not be parsed as a body.
    if (this.state === BODY) this.state = BUSY
    if (req.loc !== null && sendErrorPage(this, req, status, req.loc.errorPages, req.loc.recursiveErrorPages)) return
    this.sendLocal(status, null, null)
  }

  /**
   * A response made here (return, echo, the dyups interface, error pages). `body` null: the standard page of
   * `status` (if it has one). Headers: extra `[name, value]` pairs, after the standard ones.
   */
  sendLocal(status: number, body: string | Buffer | null, headers: [string, string][] | null, contentType?: string): void {
    const req = this.req!
    const lc = req.loc
    if (req.errStatus > 0) status = req.errStatus
    const tokens = lc?.serverTokens ?? true
    let type = contentType
    if (body === null) {
      const page = this.worker.conf.errorPages.body(status, tokens)
      if (page !== null) {
        body = page
        type = 'text/html'
      }
    } else if (type === undefined && lc !== null) {
      type = req.carriedType ?? contentTypeFor(lc.types, req.uri, lc.defaultType)
    }
    const shown = wireStatus(status)
    const noBody = status === 204 || status === 304 || req.method === 'HEAD'
    let len = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body, 'latin1') : body.length
    const gz = lc !== null && lc.gzip !== null && body !== null ? gzipLocal(lc.gzip, req, status, type, len) : 0
    const client11 = req.versionMinor === 1
    if (gz & GZ_COMPRESS && !noBody) {
      body = gzipWhole(body!, lc!.gzip!.level, client11)
      len = body.length
    }
    // A client waiting for `100 Continue` may never send a body answered before it was read: close after the answer.
    // A compressed body has no length: chunked to HTTP/1.1, until the close to HTTP/1.0 (HEAD: neither).
    const keep = req.keepAlive && !(this.bodyPending && req.head.expectContinue) && this.keepAliveAllowed(lc) && (client11 || noBody || !(gz & GZ_COMPRESS))
    req.keepAlive = keep
    const h = localHead(req, lc, shown, type, len, gz, keep, headers, this)
    // nginx logs the code it sent: 400 for its own 494–497.
    req.status = shown
    const s = this.socket
    req.sentHead = h
    if (noBody || body === null || len === 0) s.write(h, 'latin1')
    else {
      s.cork()
      s.write(h, 'latin1')
      if (typeof body === 'string') s.write(body, 'latin1')
      else s.write(body)
      s.uncork()
    }
    req.bodyBytesSent = noBody ? 0 : len
    req.headerSent = true
    this.done()
  }

  /**
   * A response whose body is read from `body` (`length` bytes of a file), written with backpressure: the stream
   * pauses while the socket's buffer is full and resumes on 'drain'. `before`: header lines that go before
   * `Connection:` (Content-Type, Content-Length, Last-Modified), `after`: those after it (ETag, Accept-Ranges,
   * Content-Range), both CRLF-terminated. `body` null: the head alone (HEAD, 304, an empty file); a Buffer: a small
   * file read whole, written with the head in one go. `last`: lines after add_header's (Content-Encoding).
   */
  sendStream(status: number, before: string, after: string, body: Readable | Buffer | null, length: number, path = '', last = ''): void {
    const req = this.req!
    const lc = req.loc
    const keep = req.keepAlive && this.keepAliveAllowed(lc)
    req.keepAlive = keep
    const h = streamHead(req, lc, wireStatus(status), keep, before, after, last)
    req.status = status
    req.headerSent = true
    req.sentHead = h
    if (Buffer.isBuffer(body)) {
      const s = this.socket
      s.cork()
      s.write(h, 'latin1')
      s.write(body)
      s.uncork()
      req.bodyBytesSent = body.length
      this.filePath = path
      this.fileLength = length
      return this.fileEnded()
    }
    this.socket.write(h, 'latin1')
    if (body === null) {
      req.bodyBytesSent = 0
      return this.done()
    }
    this.file = body
    this.filePath = path
    this.fileLength = length
    req.bodyBytesSent = 0
    this.startPacing()
    // A client that stops reading is dropped after send_timeout without progress, as nginx does.
    this.sendArmed = true
    this.armSend()
    const l = (this.fileListeners ??= {
      data: (b) => this.fileData(b),
      end: () => this.fileEnd(),
      error: (e) => this.fileError(e),
    })
    body.on('data', l.data)
    body.on('end', l.end)
    body.on('error', l.error)
  }

  private fileData(chunk: Buffer): void {
    this.req!.bodyBytesSent += chunk.length
    if (!this.socket.write(chunk) || (this.pacer.active && this.paced(chunk.length))) this.file?.pause()
  }

  /** limit_rate: made per connection, reset per response; active only when the location sets a rate. */
  private readonly pacer = new Pacer()
  private paceTimer: NodeJS.Timeout | null = null
  /** Made once per connection: the pacing timer creates no closure per request. */
  private readonly paceResume = (): void => {
    this.paceTimer = null
    // nginx's limit counts whole seconds: the wait may end inside the same second, still over it; wait on.
    const ms = this.pacer.wrote(0)
    if (ms > 0) {
      this.paceTimer = setTimeout(this.paceResume, ms)
      return
    }
    if (this.socket.writableNeedDrain) return
    this.exchange?.clientDrained()
    this.file?.resume()
  }

  /**
   * A response begins: limit_rate (a size, variables allowed) and limit_rate_after of its location; for a proxied
   * one a backend's `X-Accel-Limit-Rate: BYTES` takes the place of limit_rate unless proxy_ignore_headers names it.
   */
  private startPacing(rh: ResponseHead | null = null): void {
    const req = this.req!
    const lc = req.loc
    if (lc === null) return this.pacer.stop()
    let rate = -1
    if (rh !== null) {
      const x = rh.get('x-accel-limit-rate')
      // ngx_atoi: digits only.
      if (x !== null && /^\d+$/.test(x) && !this.proxyPass().ignore.has('x-accel-limit-rate')) rate = Number(x)
    }
    if (rate < 0) rate = lc.limitRate === null ? 0 : (parseSize(lc.limitRate.eval(req)) ?? 0)
    if (rate === 0) return this.pacer.stop()
    this.pacer.start(rate, lc.limitRateAfter, req.startMsec)
  }

  get pacing(): boolean {
    return this.pacer.active
  }

  room(): number {
    return this.pacer.room()
  }

  /** `n` body bytes went to the client under limit_rate: true when the sender must wait (the timer resumes it). */
  paced(n: number): boolean {
    const ms = this.pacer.wrote(n)
    if (ms === 0) return false
    if (this.paceTimer === null) this.paceTimer = setTimeout(this.paceResume, ms)
    return true
  }

  private stopPacing(): void {
    this.pacer.stop()
    if (this.paceTimer !== null) clearTimeout(this.paceTimer)
    this.paceTimer = null
  }

  private fileEnd(): void {
    if (this.file === null) return
    this.file = null
    this.fileEnded()
  }

  private fileEnded(): void {
    const req = this.req!
    if (req.bodyBytesSent < this.fileLength) {
      // The file shrank after its Content-Length went out: the client must see the body cut, not a next answer.
      log('alert', `pread() read only ${req.bodyBytesSent} of ${this.fileLength} from "${this.filePath}"`)
      req.keepAlive = false
      this.state = CLOSED
      this.worker.logRequest(req)
      this.socket.destroy()
      return
    }
    this.sendArmed = false
    this.deadline.disarm()
    this.done()
  }

  private fileError(e: NodeJS.ErrnoException): void {
    if (this.file === null) return
    this.file = null
    log('crit', `read() "${this.filePath}" failed (${e.code ?? e.message})`)
    const req = this.req!
    req.keepAlive = false
    this.state = CLOSED
    this.worker.logRequest(req)
    this.socket.destroy()
  }

  private keepAliveAllowed(lc: LocConf | null): boolean {
    // A body not read to its end leaves the stream out of sync: answer, then close.
    if (this.worker.stopping || this.state === BODY) return false
    const max = lc?.keepaliveRequests ?? 1000
    const timeout = lc?.keepaliveTimeout ?? 75_000
    return timeout > 0 && this.requests < max
  }

  // ---- proxy ----

  startProxy(ex: Exchange): void {
    this.exchange = ex
    ex.start()
    if (this.bodyMode >= BODY_OUT_STREAM && this.state === BODY) {
      this.body.streamTo(ex)
      const rest = this.bodyRest
      this.bodyRest = null
      if (rest !== null) this.readBody(rest, 0)
      // Still paused only if the exchange asked for it; it resumes the client when it can take more.
      if (this.state === BODY && this.exchange !== null && !this.bodyPaused) this.socket.resume()
    }
  }

  clientFull(): void {
    // send_timeout is armed only once the client falls behind: a response it keeps up with costs no timer.
    if (this.sendArmed || this.req === null) return
    this.sendArmed = true
    this.armSend()
  }

  /** responseHead wrote the body it was given with the head. */
  tailTaken = false

  /** gRPC needs HTTP/2: an HTTP/1.x request to grpc_pass is answered 502 (grpc.ts). */
  readonly grpc = null

  responseHead(rh: ResponseHead, kind: BodyKind, tail: string | null = null): number {
    const req = this.req!
    const lc = req.loc!
    const status = req.errStatus > 0 ? req.errStatus : rh.status
    const gz = lc.gzip !== null ? gzipProxied(lc.gzip, req, rh, status) : 0
    const framing = this.framing
    const frame = proxiedFraming(req, kind, gz, req.keepAlive && this.keepAliveAllowed(lc), framing)
    if (gz & GZ_COMPRESS && !(kind === BODY_NONE && req.method === 'HEAD')) {
      // The compressor frames the body itself; an HTTP/1.0 client reads it until the close.
      this.gz = new GzipBody(lc.gzip!.level, this.socket, req.versionMinor === 1, kind === BODY_CHUNKED, () => this.exchange?.clientDrained())
    }
    req.keepAlive = framing.keepAlive
    req.status = status
    if (this.gz === null) this.startPacing(rh)
    else this.pacer.stop()
    const head = proxiedHead(req, lc, this.proxyPass(), rh, status, gz, framing, this)
    req.sentHead = head
    this.tailTaken = tail !== null && this.gz === null && frame === FRAME_AS_IS
    if (this.tailTaken) {
      // The whole (small) body came with the backend's head: both leave in one write.
      this.socket.write(head + tail!, 'latin1')
      req.headerSent = true
      // $body_bytes_sent is known: no socket.bytesWritten (it walks the socket's write buffer, twice a request).
      req.bodyBytesSent = tail!.length
      this.bodyStart = -1
      return frame
    }
    this.socket.write(head, 'latin1')
    req.headerSent = true
    // $body_bytes_sent: what the socket takes after the head, read once at the end instead of counted per chunk.
    this.bodyStart = this.socket.bytesWritten
    return frame
  }

  tunnel(backend: Socket, rest: Buffer | null): void {
    this.exchange = null
    this.state = TUNNEL
    this.peer = backend
    this.worker.logRequest(this.req!)
    const client = this.socket
    if (rest !== null) client.write(rest)
    if (this.pending !== null) backend.write(this.pending)
    this.pending = null
    backend.on('data', (b: Buffer) => {
      if (!client.write(b)) backend.pause()
    })
    backend.on('drain', () => client.resume())
    backend.on('end', () => client.end())
    backend.on('close', () => client.destroy())
    backend.on('error', () => client.destroy())
    this.deadline.cancel()
    client.resume()
  }

  upstreamError(message: string, upstream: string): void {
    log('error', message + requestContext(this.req!, upstream))
  }

  /** proxy_redirect on a proxied answer's Location. */
  rewriteLocation(value: string): string | null {
    return this.proxyPass().redirect!.rewrite(this.req!, value, 0)
  }

  /** proxy_cookie_domain/proxy_cookie_path on a proxied answer's Set-Cookie; made once per connection (no closure per request). */
  readonly rewriteCookie = (value: string): string | null => this.proxyPass().cookies!.rewrite(this.req!, value)

  /** proxy_redirect on a proxied answer's Refresh. */
  rewriteRefresh(value: string): string | null {
    return this.proxyPass().redirect!.rewriteRefresh(this.req!, value)
  }

  private proxyPass(): ProxyPass {
    return (this.req!.loc!.handler as { kind: 'proxy'; pass: ProxyPass }).pass
  }

  intercepts(rh: ResponseHead): boolean {
    this.keepUpstreamHeaders(rh)
    const lc = this.req!.loc!
    return lc.interceptErrors && intercepts(this.req!, rh, lc.errorPages)
  }

  /** `$upstream_http_*`/`$upstream_cookie_*`: the answer's fields, flattened only when a variable asks (once). */
  private keepUpstreamHeaders(rh: ResponseHead): void {
    if (this.worker.conf.keepsUpstreamHeaders) this.req!.upstreamHeaders = rh.headers
  }

  /** Called for every final answer not intercepted, before its head goes out. */
  accelRedirect(rh: ResponseHead): string | null {
    this.keepUpstreamHeaders(rh)
    if (this.proxyPass().ignore.has('x-accel-redirect')) return null
    const v = rh.get('x-accel-redirect')
    return v === null || v === '' ? null : v
  }

  /** nginx's X-Accel-Redirect (request-host.ts), once the exchange is dropped. */
  followAccel(rh: ResponseHead, target: string): void {
    this.exchange = null
    this.sendArmed = false
    this.releaseBody()
    redirectByAccel(this, this.req!, rh, target, this.proxyPass().cookies !== null ? this.rewriteCookie : null)
  }

  attempt(addr: string, status: number, connectMs: number, responseMs: number, headerMs: number, received: number, sent: number, length: number): void {
    this.req!.upstreamAttempt(addr, status, connectMs, responseMs, headerMs, received, sent, length)
  }

  get bodyFilter(): GzipBody | null {
    return this.gz
  }

  finished(errorStatus: number, broken: boolean): void {
    this.exchange = null
    if (this.gz !== null) {
      if (!broken && !this.gzEnding) {
        // The request ends once the compressor has handed its last bytes to the client.
        this.gzEnding = true
        return this.gz.end(() => this.finished(errorStatus, false))
      }
      if (broken) this.gz.destroy()
      this.gz = null
      this.gzEnding = false
    }
    this.sendArmed = false
    this.releaseBody()
    if (this.bodyStart >= 0) {
      this.req!.bodyBytesSent = this.socket.bytesWritten - this.bodyStart
      this.bodyStart = -1
    }
    if (broken) {
      this.req!.keepAlive = false
      this.state = CLOSED
      this.worker.logRequest(this.req!)
      this.socket.destroy()
      return
    }
    if (errorStatus > 0) return this.finishLocal(errorStatus)
    this.done()
  }

  // ---- end of a request ----

  private done(): void {
    const req = this.req!
    this.stopPacing()
    this.releaseBody()
    this.worker.logRequest(req)
    if (!req.keepAlive) {
      // nginx's lingering close: keep reading (and dropping) what the client still sends for a while, so a client
      // that writes its whole body before reading still gets the answer instead of a reset.
      this.state = CLOSED
      this.lingering = true
      this.deadline.arm(LINGERING_TIMEOUT)
      this.socket.resume()
      this.socket.end()
      return
    }
    if (this.bodyPending) return this.discardBody()
    this.nextRequest()
  }

  private nextRequest(): void {
    const req = this.req!
    this.req = null
    this.state = HEAD
    this.enter(WAITING)
    this.headArmed = false
    this.deadline.arm(req.loc?.keepaliveTimeout ?? 75_000)
    if (this.socket.isPaused()) this.socket.resume()
    const p = this.pending
    this.pending = null
    if (p !== null) this.readHead(p, false)
  }

  /**
   * The answer went out before the body was read (`return`, a redirect, 403): read the body and drop it, then go on
   * with the next request, as nginx's ngx_http_discard_request_body does.
   */
  private discardBody(): void {
    const req = this.req!
    this.state = BODY
    this.deadline.arm(req.loc?.clientBodyTimeout ?? 60_000)
    this.body.start(READ_DISCARD, req.head, Infinity)
    const rest = this.rest
    this.rest = null
    this.socket.resume()
    if (rest !== null) this.readBody(rest, 0)
  }

  /** The rest of a body answered early is read and dropped: on to the next request. */
  private discarded(): void {
    this.bodyPending = false
    this.nextRequest()
  }

  private onTimeout(): void {
    const req = this.req
    switch (this.state) {
      case HEAD:
        // client_header_timeout (slowloris) or an idle keep-alive connection: nginx closes without an answer.
        if (this.parser.inProgress) log('info', `client timed out (110: Connection timed out) while reading client request headers${this.where()}`)
        else if (this.requests === 0) log('info', `client timed out (110: Connection timed out) while waiting for request${this.where()}`)
        break
      case BODY:
        // client_body_timeout: nginx closes without an answer and logs the request as 408.
        if (req !== null && !req.headerSent) req.status = 408
        break
      case BUSY:
        if (this.exchange !== null && req !== null) {
          // send_timeout: only a client that does not take what is waiting for it has timed out; else the backend
          // is slow, which proxy_read_timeout covers.
          if (this.socket.writableLength === 0) {
            this.armSend()
            return
          }
          log('info', `client timed out (110: Connection timed out) while sending to client${this.where()}`)
        }
        break
    }
    if (this.state === BODY && this.exchange === null && req !== null) {
      this.state = CLOSED
      this.worker.logRequest(req)
      this.releaseBody()
      this.socket.destroy()
      return
    }
    // Closing runs onClose, which aborts an exchange and logs its request.
    if (this.exchange === null) this.state = CLOSED
    this.socket.destroy()
  }

  private onClose(): void {
    this.deadline.cancel()
    if (this.stat >= 0) {
      // 'error' and 'close' both come here: the connection leaves the counters once.
      this.enter(WAITING)
      this.stat = -1
      connStats.active--
      this.listener.active--
    }
    this.stopPacing()
    if (this.state === CLOSED && this.exchange === null) {
      this.worker.forget(this)
      return
    }
    const reading = this.state === BODY && this.req !== null
    this.state = CLOSED
    if (this.file !== null) {
      // The client left during a file body: the file closes, the request is logged with what was sent.
      this.file.destroy()
      this.file = null
      if (this.req !== null) this.worker.logRequest(this.req)
    }
    this.releaseBody()
    if (reading && this.req!.status !== 408) {
      // nginx ends a request whose client left in the middle of its body with 400.
      log('info', `client prematurely closed connection${this.exchange !== null ? ' while sending request to upstream' : ''}${this.where()}`)
      this.req!.status = 400
    }
    if (reading && this.exchange === null) this.worker.logRequest(this.req!)
    if (this.exchange !== null) {
      // 499: the client left first; the backend is not to blame (408 when its body timed out).
      if (this.req !== null && !this.req.headerSent && !reading) this.req.status = 499
      this.exchange.abort()
      this.exchange = null
      if (this.req !== null) this.worker.logRequest(this.req)
    }
    if (this.gzEnding && this.req !== null) {
      // The client left while the compressor was finishing: the request is over all the same.
      this.gzEnding = false
      this.worker.logRequest(this.req)
    }
    if (this.delayed && this.req !== null) {
      // nginx's ngx_http_test_reading during a limit_req delay: the client left, the request ends with 499.
      this.delayed = false
      log('info', `client prematurely closed connection${this.where()}`)
      this.req.status = 499
      this.worker.logRequest(this.req)
    }
    // A request that ends with its client and is not logged still stops counting in limit_conn zones.
    if (this.req !== null && this.req.limitConnHeld !== null) releaseLimitConn(this.req)
    this.socket.destroy()
    this.peer?.destroy()
    this.gz?.destroy()
    this.worker.forget(this)
  }

  /** Graceful stop: close now if idle between requests. */
  closeIfIdle(): void {
    // Idle between requests, or lingering after its last answer: nothing is owed to this client any more.
    if ((this.state === HEAD && !this.parser.inProgress) || (this.state === CLOSED && this.exchange === null)) {
      // Closed outright, as nginx does: a client idling on keep-alive would hold a half-closed socket open.
      this.state = CLOSED
      this.socket.destroy()
    }
  }
}


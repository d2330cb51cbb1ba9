/**
 * One HTTP/2 stream as a request of the request path: it enters the same phases as an HTTP/1.x request (server
 * rewrites, location, rewrites, access, body, try_files, content) and is the same responder and `Downstream` the
 * modules and the proxy exchange talk to, so every location feature works the same over HTTP/2. What differs is
 * framing only: heads are HEADERS frames (h2-head.ts), bodies DATA frames of at most http2_chunk_size, request
 * bodies come in DATA frames whose flow-control window is what the stream has read (a slow consumer stalls its
 * own stream, never the connection), and the end of a request is the end of the stream, not of the connection.
 */
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { Readable } from 'node:stream'
import type { Deadline, DeadlineOwner } from '../../deadlines.js'
import { formatError } from '../../errors.js'
import { BODY_CHUNKED, BODY_NONE, ChunkedDecoder, NEED_MORE, PARSE_ERROR, RequestHead, httpDate, wireStatus, type BodyKind, type ResponseHead } from '../../http1/index.js'
import { log } from '../../log.js'
import {
  BODY_OUT_NONE, BODY_OUT_SPOOL, BODY_OUT_STREAM, BODY_OUT_STREAM_CHUNKED, BodySpool, CHUNKED_BODY, FRAME_AS_IS, FRAME_DECHUNK,
  type ClientOut, type Downstream, type Exchange,
} from '../../proxy/index.js'
import { LocationMatch } from '../conf/locations.js'
import { contentTypeFor } from '../conf/mime.js'
import type { HttpRequest, LocConf, ProxyPass } from '../conf/types.js'
import { GZ_COMPRESS, GzipBody, gzipLocal, gzipProxied, gzipWhole } from '../filters/gzip.js'
import { requestContext } from '../lib/log-context.js'
import type { GrpcOutcome, GrpcSide } from '../lib/context.js'
import { VERSION } from '../../version.js'
import { Request } from '../lib/request.js'
import { parseTarget, Target } from '../lib/uri.js'
import { intercepts, sendErrorPage } from '../modules/error-page.js'
import { pinUpstream } from '../modules/proxy.js'
import { doReturn } from '../modules/return.js'
import type { ConnectionOwner } from './connection.js'
import { clientCertRefusal, redirectByAccel } from './request-host.js'
import { runHandler, type ContentResponder } from './content.js'
import { h2Response, type H2ResponseHead } from './h2-head.js'
import { localHead, proxiedHead, streamHead, type ProxiedFraming } from './head-writer.js'
import { internalRedirect, namedLocation, startPhases, type PhaseHost } from './phases.js'

/** What a stream needs of its connection. */
export interface H2Host {
  readonly worker: ConnectionOwner
  readonly id: number
  readonly remoteAddr: string
  readonly remotePort: number
  readonly localAddr: string
  readonly localPort: number
  readonly https: boolean
  /** The connection's socket: a TLSSocket when `https` (client certificates, `$ssl_client_*`). */
  readonly socket: Socket
  readonly listenKey: string
  /** A stream is over (answered, reset, or failed): the connection counts it. `reset`: the client reset it first. */
  streamDone(s: H2Stream, reset: boolean): void
}

/** Request body states. */
const BODY_NO = 0
/** Announced, not read yet (the location decides how). */
const BODY_WAITING = 1
const BODY_READING = 2
/** Refused or answered early: what comes is dropped. */
const BODY_DROPPING = 3

/** The response: not begun, head out, over. */
const OUT_NONE = 0
const OUT_HEAD = 1
const OUT_DONE = 2

/** nginx's framing object for proxiedHead: HTTP/2 has neither chunks nor keep-alive of its own. */
const FRAMING: ProxiedFraming = { chunked: false, keepAlive: true }

const NO_ERROR = constants.NGHTTP2_NO_ERROR
const INTERNAL_ERROR = constants.NGHTTP2_INTERNAL_ERROR

export class H2Stream implements PhaseHost, ContentResponder, Downstream, ClientOut, DeadlineOwner, GrpcSide {
  readonly match = new LocationMatch()
  /** See PhaseHost.delayed. */
  delayed = false
  private readonly target = new Target()
  req: HttpRequest | null = null
  private body = BODY_NO
  /** READ_WHOLE: the parts so far. */
  private parts: Buffer[] | null = null
  private bodySize = 0
  private spool: BodySpool | null = null
  private bodyMode = BODY_OUT_NONE
  private exchange: Exchange | null = null
  private gz: GzipBody | null = null
  private gzEnding = false
  private out = OUT_NONE
  /** The body handed over with a chunked HTTP/1.1 head (a gzipped file) is decoded before it goes out. */
  private dechunk: ChunkedDecoder | null = null
  private file: Readable | null = null
  private fileLength = 0
  private filePath = ''
  private logged = false
  private readonly deadline: Deadline
  /** send_timeout runs while the stream's buffer is full. */
  private sendArmed = false
  private chunkSize = 8192
  readonly remoteAddr: string
  /** The stream's header list as received (pseudo-headers first). */
  private raw: readonly string[] = []
  /** A gRPC backend's stream while it is relayed (paused while the client's window is full). */
  private upstream: ClientHttp2Stream | null = null

  constructor(
    readonly host: H2Host,
    readonly stream: ServerHttp2Stream,
  ) {
    this.remoteAddr = host.remoteAddr
    this.deadline = host.worker.deadlines.create(this)
    stream.on('close', () => this.onClose())
    stream.on('error', () => {})
    stream.on('drain', () => this.onDrain())
  }

  /** The stream's header list is in: the request starts its phases. */
  begin(head: RequestHead, ended: boolean, requests: number, raw: readonly string[] = []): void {
    this.raw = raw
    const worker = this.host.worker
    const conf = worker.conf
    const req: HttpRequest = new Request(head, conf.slots)
    this.req = req
    req.protocol = 'HTTP/2.0'
    req.http2 = this.host.https ? 'h2' : 'h2c'
    req.keepAlive = true
    req.remoteAddr = this.host.remoteAddr
    req.remotePort = this.host.remotePort
    req.serverAddr = this.host.localAddr
    req.serverPort = this.host.localPort
    req.connection = this.host.id
    req.connectionRequests = requests
    if (this.host.https) {
      req.scheme = 'https'
      req.tls = this.host.socket as TLSSocket
    }
    this.body = ended ? BODY_NO : BODY_WAITING
    const si = conf.vhosts.select(this.host.listenKey, req.host)
    const server = conf.servers[si < 0 ? 0 : si]!
    req.server = server
    req.serverName = server.name
    if (!parseTarget(head.target, this.target)) {
      req.loc = server.serverConf
      req.uri = ''
      return this.finishLocal(400)
    }
    req.uri = this.target.uri
    req.args = this.target.args
    req.requestUri = this.target.requestUri
    // ssl_verify_client, as on HTTP/1.x (Connection).
    const refused = clientCertRefusal(server, this.host.https ? (this.host.socket as TLSSocket) : null, this.where())
    if (refused !== 0) {
      req.loc = server.serverConf
      return this.finishLocal(refused)
    }
    // realip's post-read handler with the server level's settings, as on HTTP/1.x (Connection).
    const ri = server.serverConf.realip
    if (ri !== null) ri.apply(req)
    startPhases(this, req)
  }

  /** A header list nginx refuses (h2-head.ts): 400, logged as nginx does. */
  reject(head: RequestHead | null, why: string, ended: boolean, requests: number): void {
    const authority = head?.get('host')
    log('info', `${why} while reading client request headers, client: ${this.host.remoteAddr}, server: ${authority == null ? `${this.host.localAddr}:${this.host.localPort}` : `, host: "${authority}"`}`)
    const worker = this.host.worker
    const conf = worker.conf
    const si = conf.vhosts.select(this.host.listenKey, '')
    const server = conf.servers[si < 0 ? 0 : si]!
    const req: HttpRequest = new Request(head ?? EMPTY_HEAD, conf.slots)
    this.req = req
    req.protocol = 'HTTP/2.0'
    req.http2 = this.host.https ? 'h2' : 'h2c'
    req.remoteAddr = this.host.remoteAddr
    req.remotePort = this.host.remotePort
    req.serverAddr = this.host.localAddr
    req.serverPort = this.host.localPort
    req.connection = this.host.id
    req.connectionRequests = requests
    if (this.host.https) {
      req.scheme = 'https'
      req.tls = this.host.socket as TLSSocket
    }
    req.server = server
    req.serverName = server.name
    req.loc = server.serverConf
    // nginx has parsed the path but not made the request line: `$uri` is set, `$request` is not.
    req.requestLine = ''
    if (head !== null && parseTarget(head.target, this.target)) {
      req.uri = this.target.uri
      req.args = this.target.args
    } else req.uri = ''
    this.body = ended ? BODY_NO : BODY_DROPPING
    if (!ended) this.drop()
    this.finishLocal(400)
  }

  // ---- PhaseHost / Responder ----

  get gone(): boolean {
    return this.stream.destroyed || this.out === OUT_DONE
  }

  get method(): string {
    return this.req?.method ?? 'GET'
  }

  /** HTTP/2 writes go to the stream (ClientOut, for the exchange and the compressor). */
  get socket(): ClientOut {
    return this
  }

  readonly failed = (e: unknown): void => {
    const req = this.req
    log('alert', `request handler failed: ${formatError(e).replace(/[\r\n]+/g, ' ')}${this.where()}`)
    if (req === null || this.out === OUT_DONE || this.stream.destroyed) return
    if (req.headerSent) return this.reset(INTERNAL_ERROR)
    this.finishLocal(500)
  }

  refuseBody(): boolean {
    const req = this.req!
    if (this.body !== BODY_WAITING || req.head.contentLength <= req.loc!.clientMaxBodySize) return false
    log('error', `client intended to send too large body: ${req.head.contentLength} bytes${this.where()}`)
    this.body = BODY_DROPPING
    return true
  }

  internalRedirect(uri: string, args: string): void {
    internalRedirect(this, this.req!, uri, args)
  }

  namedLocation(name: string): void {
    namedLocation(this, this.req!, name)
  }

  answer(code: number, text: string | null): void {
    doReturn(this, this.req!, code, text)
  }

  absolute(path: string): string {
    const req = this.req!
    const h = this.host
    const host = req.host !== '' ? req.host : (req.server?.name ?? h.localAddr)
    if (h.https) return `https://${host}${h.localPort === 443 ? '' : `:${h.localPort}`}${path}`
    return `http://${host}${h.localPort === 80 ? '' : `:${h.localPort}`}${path}`
  }

  where(): string {
    const req = this.req
    if (req === null) return `, client: ${this.host.remoteAddr}, server: ${this.host.localAddr}:${this.host.localPort}`
    return requestContext(req)
  }

  note(level: 'error' | 'info', what: string): void {
    log(level, what + this.where())
  }

  /** `return 444`, a body that cannot be completed: the stream is reset (nginx's RST_STREAM INTERNAL_ERROR). */
  abort(): void {
    this.reset(INTERNAL_ERROR)
  }

  // ---- the request body ----

  content(lc: LocConf): void {
    if (this.body !== BODY_WAITING) {
      if (this.body === BODY_DROPPING) this.drop()
      return this.dispatch()
    }
    const req = this.req!
    if (lc.handler.kind === 'proxy') {
      pinUpstream(this.host.worker, req, lc.handler.pass)
      return this.beginProxyBody(lc, lc.handler.pass)
    }
    // gRPC streams its body to the backend as it comes (relay).
    if (lc.handler.kind === 'grpc') return this.dispatch()
    // Read whole for the handler (nginx's request buffering), bounded by client_max_body_size.
    this.body = BODY_READING
    this.parts = []
    this.deadline.arm(lc.clientBodyTimeout)
    const s = this.stream
    s.on('data', (b: Buffer) => {
      if (this.body !== BODY_READING) return
      this.deadline.arm(lc.clientBodyTimeout)
      this.bodySize += b.length
      if (this.bodySize > lc.clientMaxBodySize) return this.tooLarge()
      this.parts!.push(b)
    })
    s.on('end', () => {
      if (this.body !== BODY_READING) return
      this.body = BODY_NO
      this.deadline.disarm()
      req.body = this.parts!.length === 1 ? this.parts![0]! : Buffer.concat(this.parts!)
      this.parts = null
      this.dispatch()
    })
  }

  private tooLarge(): void {
    log('error', `client intended to send too large body: ${this.bodySize} bytes${this.where()}`)
    this.body = BODY_DROPPING
    this.parts = null
    this.deadline.disarm()
    const ex = this.exchange
    if (ex !== null) {
      this.exchange = null
      ex.abort()
    }
    this.releaseBody()
    if (this.req!.headerSent) return this.reset(INTERNAL_ERROR)
    this.finishLocal(413)
  }

  /**
   * proxy_request_buffering on (or a body of unknown length toward an HTTP/1.0 backend): spooled, memory then temp
   * file, and the backend contacted once it is complete. Off: the backend is contacted at once and the body streams
   * to it as DATA frames come, with a Content-Length when the client sent one, else chunked.
   */
  private beginProxyBody(lc: LocConf, pass: ProxyPass): void {
    const req = this.req!
    const known = req.head.contentLength >= 0
    this.body = BODY_READING
    this.deadline.arm(lc.clientBodyTimeout)
    const s = this.stream
    if (pass.requestBuffering || (!known && pass.version !== '1.1')) {
      this.bodyMode = BODY_OUT_SPOOL
      this.spool = new BodySpool(lc.bodyBufferSize, lc.bodyTemp)
      let warned = false
      s.on('data', (b: Buffer) => {
        if (this.body !== BODY_READING) return
        this.deadline.arm(lc.clientBodyTimeout)
        this.bodySize += b.length
        if (this.bodySize > lc.clientMaxBodySize) return this.tooLarge()
        try {
          if (this.spool!.write(b) && !warned) {
            warned = true
            log('warn', `a client request body is buffered to a temporary file ${this.spool!.path}${this.where()}`)
          }
        } catch (e) {
          log('crit', `write() to a temporary file failed (${(e as Error).message})${this.where()}`)
          this.body = BODY_DROPPING
          this.releaseBody()
          this.finishLocal(500)
        }
      })
      s.on('end', () => {
        if (this.body !== BODY_READING) return
        this.body = BODY_NO
        this.deadline.disarm()
        this.dispatch()
      })
      return
    }
    this.bodyMode = known ? BODY_OUT_STREAM : BODY_OUT_STREAM_CHUNKED
    // Nothing is read until the exchange exists to take it (startProxy).
    this.dispatch()
  }

  private dispatch(): void {
    runHandler(this.host.worker, this, this.req!)
  }

  /** Whatever the client still sends on a stream answered early is read and dropped (its window reopens). */
  private drop(): void {
    const s = this.stream
    s.removeAllListeners('data')
    s.on('data', noop)
    s.resume()
  }

  get bodyOutMode(): number {
    return this.bodyMode
  }

  get bodySpool(): BodySpool | null {
    return this.spool
  }

  get bodyOutLength(): number {
    switch (this.bodyMode) {
      case BODY_OUT_SPOOL:
        return this.spool!.size
      case BODY_OUT_STREAM:
        return this.req!.head.contentLength
      case BODY_OUT_STREAM_CHUNKED:
        return CHUNKED_BODY
    }
    return -1
  }

  startProxy(ex: Exchange): void {
    this.exchange = ex
    ex.start()
    if (this.bodyMode < BODY_OUT_STREAM || this.body !== BODY_READING) return
    const lc = this.req!.loc!
    const s = this.stream
    s.on('data', (b: Buffer) => {
      if (this.body !== BODY_READING || this.exchange === null) return
      this.deadline.arm(lc.clientBodyTimeout)
      this.bodySize += b.length
      if (this.bodySize > lc.clientMaxBodySize) return this.tooLarge()
      // The backend is full: this stream's window stays closed until it drains (bodyResume).
      if (!this.exchange.feed(b)) {
        s.pause()
        this.deadline.disarm()
      }
    })
    s.on('end', () => {
      if (this.body !== BODY_READING) return
      this.body = BODY_NO
      this.deadline.disarm()
      this.exchange?.feedEnd()
    })
  }

  bodyResume(): void {
    if (this.body !== BODY_READING) return
    this.deadline.arm(this.req!.loc!.clientBodyTimeout)
    this.stream.resume()
  }

  private releaseBody(): void {
    this.spool?.close()
    this.spool = null
    this.parts = null
    this.bodyMode = BODY_OUT_NONE
  }

  // ---- writing: ClientOut ----

  write(data: Uint8Array | string, encoding?: BufferEncoding): boolean {
    const b = typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : data
    if (this.dechunk !== null) return this.writeDechunked(b as Buffer)
    return this.writeData(b)
  }

  /** DATA frames of at most http2_chunk_size, as nginx slices a response body. */
  private writeData(b: Uint8Array): boolean {
    const s = this.stream
    if (s.destroyed) return true
    this.req!.bodyBytesSent += b.length
    const max = this.chunkSize
    let ok = true
    if (b.length <= max) ok = s.write(b)
    else for (let p = 0; p < b.length; p += max) ok = s.write(b.subarray(p, Math.min(p + max, b.length)))
    if (!ok) this.full()
    return ok
  }

  private writeDechunked(b: Buffer): boolean {
    const d = this.dechunk!
    const r = d.execute(b, 0)
    let ok = true
    for (let i = 0; i < d.parts.length; i++) ok = this.writeData(d.parts[i]!)
    d.parts.length = 0
    if (r === PARSE_ERROR) this.reset(INTERNAL_ERROR)
    else if (r !== NEED_MORE) this.dechunk = null
    return ok
  }

  cork(): void {
    this.stream.cork()
  }

  uncork(): void {
    this.stream.uncork()
  }

  destroy(): void {
    this.reset(INTERNAL_ERROR)
  }

  /** The stream's buffer is full (the client's window is closed or it reads slowly): send_timeout starts. */
  private full(): void {
    if (this.sendArmed || this.req === null) return
    this.sendArmed = true
    this.deadline.arm(this.req.loc?.sendTimeout ?? 60_000)
  }

  private onDrain(): void {
    if (this.sendArmed) {
      // send_timeout is a gap between two writes the client took: it starts over.
      this.deadline.arm(this.req?.loc?.sendTimeout ?? 60_000)
    }
    if (this.gz !== null) this.gz.resume()
    else this.exchange?.clientDrained()
    this.file?.resume()
    this.upstream?.resume()
  }

  onDeadline(): void {
    const req = this.req
    if (this.body === BODY_READING && !this.sendArmed) {
      // client_body_timeout: nginx answers 408 (logged; the client may not read it).
      if (req !== null && !req.headerSent) req.status = 408
      log('info', `client timed out (110: Connection timed out) while reading client request body${this.where()}`)
    } else log('info', `client timed out (110: Connection timed out) while sending to client${this.where()}`)
    this.reset(INTERNAL_ERROR)
  }

  // ---- responses ----

  /** The HEADERS frame: the head as head-writer.ts made it, translated. */
  private respond(head: string, endStream: boolean): H2ResponseHead | null {
    const h = h2Response(head)
    const req = this.req!
    req.headerSent = true
    this.chunkSize = req.loc?.h2ChunkSize ?? 8192
    this.out = OUT_HEAD
    try {
      this.stream.respond(h.list as unknown as Record<string, string>, { endStream, waitForTrailers: false, sendDate: false } as never)
    } catch (e) {
      log('alert', `HTTP/2 response head not sent: ${formatError(e)}${this.where()}`)
      this.reset(INTERNAL_ERROR)
      return null
    }
    return h
  }

  finishLocal(status: number): void {
    const req = this.req!
    req.errStatus = 0
    if (req.loc !== null && sendErrorPage(this, req, status, req.loc.errorPages, req.loc.recursiveErrorPages)) return
    this.sendLocal(status, null, null)
  }

  sendLocal(status: number, body: string | Buffer | null, headers: [string, string][] | null, contentType?: string): void {
    const req = this.req!
    if (this.out !== OUT_NONE || this.stream.destroyed) return
    const lc = req.loc
    if (req.errStatus > 0) status = req.errStatus
    const tokens = lc?.serverTokens ?? true
    let type = contentType
    if (body === null) {
      const page = this.host.worker.conf.errorPages.body(status, tokens)
      if (page !== null) {
        body = page
        type = 'text/html'
      }
    } else if (type === undefined && lc !== null) {
      type = contentTypeFor(lc.types, req.uri, lc.defaultType)
    }
    const shown = wireStatus(status)
    const noBody = status === 204 || status === 304 || req.method === 'HEAD'
    let len = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body, 'latin1') : body.length
    const gz = lc !== null && lc.gzip !== null && body !== null ? gzipLocal(lc.gzip, req, status, type, len) : 0
    if (gz & GZ_COMPRESS && !noBody) {
      body = gzipWhole(body!, lc!.gzip!.level, false)
      len = body.length
    }
    const h = localHead(req, lc, shown, type, len, gz, true, headers, this)
    req.sentHead = h
    req.status = shown
    const empty = noBody || body === null || len === 0
    if (this.respond(h, empty) === null) return
    if (!empty) this.writeData(typeof body === 'string' ? Buffer.from(body, 'latin1') : body!)
    this.end()
  }

  sendStream(status: number, before: string, after: string, body: Readable | Buffer | null, length: number, path = '', last = ''): void {
    const req = this.req!
    if (this.out !== OUT_NONE || this.stream.destroyed) {
      if (body !== null && !Buffer.isBuffer(body)) body.destroy()
      return
    }
    const lc = req.loc
    const head = streamHead(req, lc, wireStatus(status), true, before, after, last)
    req.sentHead = head
    req.status = status
    const h = this.respond(head, body === null)
    if (h === null) {
      if (body !== null && !Buffer.isBuffer(body)) body.destroy()
      return
    }
    if (h.chunked) this.dechunk = new ChunkedDecoder({ upstream: true })
    this.filePath = path
    this.fileLength = length
    if (body === null) return this.end()
    if (Buffer.isBuffer(body)) {
      this.write(body)
      return this.fileEnded()
    }
    this.file = body
    body.on('data', (b: Buffer) => {
      if (!this.write(b)) body.pause()
    })
    body.on('end', () => {
      if (this.file === null) return
      this.file = null
      this.fileEnded()
    })
    body.on('error', (e: NodeJS.ErrnoException) => {
      if (this.file === null) return
      this.file = null
      log('crit', `read() "${this.filePath}" failed (${e.code ?? e.message})`)
      this.reset(INTERNAL_ERROR)
    })
  }

  private fileEnded(): void {
    const req = this.req!
    // A gzipped file's length is the file's, not what went out.
    if (this.dechunk === null && req.bodyBytesSent < this.fileLength && !this.stream.destroyed && this.filePath !== '' && req.method !== 'HEAD') {
      log('alert', `pread() read only ${req.bodyBytesSent} of ${this.fileLength} from "${this.filePath}"`)
      return this.reset(INTERNAL_ERROR)
    }
    this.end()
  }

  // ---- Downstream (proxy) ----

  tailTaken = false

  responseHead(rh: ResponseHead, kind: BodyKind, tail: string | null = null): number {
    const req = this.req!
    const lc = req.loc!
    const status = req.errStatus > 0 ? req.errStatus : rh.status
    const gz = lc.gzip !== null ? gzipProxied(lc.gzip, req, rh, status) : 0
    const compress = (gz & GZ_COMPRESS) !== 0 && !(kind === BODY_NONE && req.method === 'HEAD')
    if (compress) this.gz = new GzipBody(lc.gzip!.level, this, false, kind === BODY_CHUNKED, () => this.exchange?.clientDrained())
    req.status = status
    const head = proxiedHead(req, lc, this.proxyPass(), rh, status, gz, FRAMING, this)
    req.sentHead = head
    const noBody = !compress && (kind === BODY_NONE || req.method === 'HEAD')
    this.tailTaken = false
    if (this.respond(head, noBody) === null) return FRAME_AS_IS
    if (noBody) this.out = OUT_DONE
    else if (tail !== null && !compress) {
      this.writeData(Buffer.from(tail, 'latin1'))
      this.tailTaken = true
    }
    return kind === BODY_CHUNKED && !compress ? FRAME_DECHUNK : FRAME_AS_IS
  }

  get bodyFilter(): GzipBody | null {
    return this.gz
  }

  intercepts(rh: ResponseHead): boolean {
    const lc = this.req!.loc!
    return lc.interceptErrors && intercepts(this.req!, rh, lc.errorPages)
  }

  /** limit_rate does not pace HTTP/2 streams: each stream's flow-control window paces it (docs/http2.md). */
  readonly pacing = false
  paced(_n: number): boolean {
    return false
  }
  room(): number {
    return Infinity
  }

  /** proxy_cookie_* on a proxied answer's Set-Cookie (as Connection's). */
  readonly rewriteCookie = (value: string): string | null => this.proxyPass().cookies!.rewrite(this.req!, value)

  /** As Connection's: $upstream_http_* kept when a variable asks, and the X-Accel-Redirect to follow, if any. */
  accelRedirect(rh: ResponseHead): string | null {
    if (this.host.worker.conf.keepsUpstreamHeaders) this.req!.upstreamHeaders = rh.headers
    if (this.proxyPass().ignore.has('x-accel-redirect')) return null
    const v = rh.get('x-accel-redirect')
    return v === null || v === '' ? null : v
  }

  /** nginx's X-Accel-Redirect (request-host.ts), once the exchange is dropped. */
  followAccel(rh: ResponseHead, target: string): void {
    this.exchange = null
    this.releaseBody()
    redirectByAccel(this, this.req!, rh, target, this.proxyPass().cookies !== null ? this.rewriteCookie : null)
  }

  attempt(addr: string, status: number, connectMs: number, responseMs: number, headerMs: number, received: number, sent: number, length: number): void {
    this.req!.upstreamAttempt(addr, status, connectMs, responseMs, headerMs, received, sent, length)
  }

  upstreamError(message: string, upstream: string): void {
    log('error', message + requestContext(this.req!, upstream))
  }

  rewriteLocation(value: string): string | null {
    return this.proxyPass().redirect!.rewrite(this.req!, value, 0)
  }

  rewriteRefresh(value: string): string | null {
    return this.proxyPass().redirect!.rewriteRefresh(this.req!, value)
  }

  private proxyPass(): ProxyPass {
    return (this.req!.loc!.handler as { kind: 'proxy'; pass: ProxyPass }).pass
  }

  clientFull(): void {
    this.full()
  }

  /** HTTP/2 carries no Upgrade: a backend's 101 cannot reach the client. */
  tunnel(backend: Socket): void {
    backend.destroy()
    this.exchange = null
    this.reset(INTERNAL_ERROR)
  }

  finished(errorStatus: number, broken: boolean): void {
    this.exchange = null
    if (this.gz !== null) {
      if (!broken && !this.gzEnding) {
        this.gzEnding = true
        return this.gz.end(() => this.finished(errorStatus, false))
      }
      if (broken) this.gz.destroy()
      this.gz = null
      this.gzEnding = false
    }
    this.releaseBody()
    if (broken) return this.reset(INTERNAL_ERROR)
    if (errorStatus > 0) {
      if (this.body === BODY_READING) this.body = BODY_DROPPING
      return this.finishLocal(errorStatus)
    }
    this.end()
  }

  // ---- gRPC (grpc_pass) ----

  get grpc(): GrpcSide {
    return this
  }

  get fields(): readonly string[] {
    const raw = this.raw
    let i = 0
    while (i < raw.length && raw[i]!.charCodeAt(0) === 0x3a) i += 2
    return raw.slice(i)
  }

  relay(up: ClientHttp2Stream, hide: ReadonlySet<string>, readTimeout: number, intercept: boolean, done: (o: GrpcOutcome) => void): boolean {
    if (this.gone) return false
    const s = this.stream
    const req = this.req!
    this.upstream = up
    let status = 0
    let reported = false
    const report = (ok: boolean): void => {
      if (reported) return
      reported = true
      this.upstream = null
      done({ status, ok })
    }
    up.on('error', noop)
    // grpc_read_timeout: a gap between two reads from the backend (the response head included).
    up.setTimeout(readTimeout, () => {
      log('error', `upstream timed out (110: Connection timed out) while reading upstream${this.where()}`)
      up.close(constants.NGHTTP2_CANCEL)
    })
    // The request body, DATA frame by DATA frame, with the backend's flow control reaching the client's window.
    if (this.body === BODY_WAITING) {
      this.body = BODY_READING
      s.on('data', (b: Buffer) => {
        if (!up.write(b)) s.pause()
      })
      up.on('drain', () => s.resume())
      s.on('end', () => {
        this.body = BODY_NO
        up.end()
      })
    } else up.end()
    let trailers: readonly string[] | null = null
    up.on('response', (h: IncomingHttpHeaders, flags: number, raw: string[]) => {
      status = Number(h[':status'])
      const pages = req.loc?.errorPages ?? null
      if (intercept && status >= 300 && pages !== null && pages.find(status) !== null) {
        // grpc_intercept_errors: the location's error_page answers instead; the backend's stream is dropped.
        report(true)
        up.close(constants.NGHTTP2_CANCEL)
        if (this.body === BODY_READING) this.body = BODY_DROPPING
        return this.finishLocal(status)
      }
      req.status = status
      const tokens = req.loc?.serverTokens !== false ? `dyups/${VERSION}` : 'dyups'
      const list: string[] = [':status', String(status), 'server', tokens, 'date', httpDate(req.answerTime())]
      for (let i = 0; i < raw.length; i += 2) {
        const n = raw[i]!
        if (n.charCodeAt(0) === 0x3a || n === 'date' || n === 'server' || hide.has(n)) continue
        list.push(n, raw[i + 1]!)
      }
      const ended = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0
      req.headerSent = true
      this.out = ended ? OUT_DONE : OUT_HEAD
      try {
        s.respond(list as unknown as Record<string, string>, { endStream: ended, waitForTrailers: !ended } as never)
      } catch (e) {
        log('alert', `HTTP/2 response head not sent: ${(e as Error).message}${this.where()}`)
        this.reset(INTERNAL_ERROR)
        return report(false)
      }
      if (ended) {
        // A trailers-only answer (a gRPC error): the head carried grpc-status.
        this.logOnce()
        report(true)
      }
    })
    up.on('data', (b: Buffer) => {
      if (!this.writeData(b)) up.pause()
    })
    up.on('trailers', (_h: IncomingHttpHeaders, _f: number, raw: string[]) => {
      trailers = raw
    })
    s.on('wantTrailers', () => {
      const t: Record<string, string> = {}
      const raw = trailers ?? []
      for (let i = 0; i < raw.length; i += 2) if (!hide.has(raw[i]!)) t[raw[i]!] = raw[i + 1]!
      try {
        s.sendTrailers(t)
      } catch {
        // The stream went meanwhile.
      }
    })
    up.on('end', () => {
      if (this.out !== OUT_HEAD) return
      this.out = OUT_DONE
      if (!s.destroyed) s.end()
      this.logOnce()
      report(true)
    })
    up.on('close', () => {
      if (reported) return
      if (this.out === OUT_NONE && !s.destroyed) {
        // No answer at all: nginx's 502.
        report(false)
        if (this.body === BODY_READING) this.body = BODY_DROPPING
        return this.finishLocal(502)
      }
      report(false)
      this.reset(INTERNAL_ERROR)
    })
    return true
  }

  // ---- the end of a stream ----

  /** The response is complete: END_STREAM, the request logged. */
  private end(): void {
    if (this.out !== OUT_DONE) {
      this.out = OUT_DONE
      if (!this.stream.destroyed) this.stream.end()
    }
    if (this.body !== BODY_NO) {
      // The answer went out before the body was read: nginx resets the rest with NO_ERROR (RFC 9113 §8.1).
      this.body = BODY_DROPPING
      this.releaseBody()
      if (!this.stream.destroyed) this.stream.close(NO_ERROR)
    }
    if (this.stream.destroyed || this.stream.writableFinished) {
      this.sendArmed = false
      this.deadline.disarm()
    } else {
      // What is left waits for the client's window: send_timeout still bounds it (a client that keeps its window
      // shut would otherwise hold the stream, and its connection, for good).
      this.sendArmed = true
      this.deadline.arm(this.req?.loc?.sendTimeout ?? 60_000)
    }
    this.logOnce()
  }

  private reset(code: number): void {
    this.out = OUT_DONE
    const ex = this.exchange
    if (ex !== null) {
      this.exchange = null
      ex.abort()
    }
    this.file?.destroy()
    this.file = null
    this.gz?.destroy()
    this.gz = null
    this.releaseBody()
    this.deadline.disarm()
    if (!this.stream.destroyed) this.stream.close(code)
    this.logOnce()
  }

  private logOnce(): void {
    if (this.logged || this.req === null) return
    this.logged = true
    this.host.worker.logRequest(this.req)
  }

  /** The stream is gone: reset by the client, or closed after its answer. */
  private onClose(): void {
    this.deadline.cancel()
    const clientReset = this.out !== OUT_DONE
    if (clientReset) {
      const req = this.req
      // 499: the client left first (a body being read that timed out is 408, set before).
      if (req !== null && !req.headerSent && req.status === 0) req.status = 499
      if (this.delayed) {
        // As on HTTP/1.x: a stream reset during a limit_req delay ends its request with 499 and nginx's line.
        this.delayed = false
        log('info', `client prematurely closed connection${this.where()}`)
        if (req !== null) req.status = 499
      }
      this.out = OUT_DONE
      const ex = this.exchange
      if (ex !== null) {
        this.exchange = null
        ex.abort()
      }
      this.file?.destroy()
      this.file = null
      this.gz?.destroy()
      this.gz = null
      this.releaseBody()
      this.upstream?.close(constants.NGHTTP2_CANCEL)
      this.upstream = null
      this.logOnce()
    }
    this.host.streamDone(this, clientReset)
  }
}

function noop(): void {}

/** The head of a request refused before it had one of its own (its 400 is logged with an empty request line). */
const EMPTY_HEAD = new RequestHead('\r\n', [], 0, '', '', '', '', 1, null, -1, false, true, null, false, 0)

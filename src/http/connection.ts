/**
 * One client connection: reads request heads with the strict parser, reads bodies, runs the handler of the
 * location, writes the response, and loops for keep-alive and pipelined requests. It is also the `Downstream` of
 * the proxy exchange, so a proxied request costs no extra object for its client side.
 */
import type { Socket } from 'node:net'
import {
  ChunkedDecoder, NEED_MORE, PARSE_ERROR, RequestHeadParser, httpDate, type BodyKind, type RequestHead,
  type ResponseHead, BODY_UNTIL_CLOSE, BODY_CHUNKED, statusLine, wireStatus,
} from '../http1/index.js'
import {
  BODY_OUT_NONE, BODY_OUT_SPOOL, BODY_OUT_STREAM, BODY_OUT_STREAM_CHUNKED, BodySpool, CHUNKED_BODY, Exchange, buildClientHead,
  type Downstream,
} from '../proxy/index.js'
import type { ProxyPass } from './conf.js'
import { log } from '../log.js'
import { VERSION } from '../version.js'
import type { LocConf } from './conf.js'
import { closesConnection } from './error-pages.js'
import { LocationMatch } from './locations.js'
import { Request } from './request.js'
import { parseTarget, Target } from './uri.js'
import type { HttpWorker } from './worker.js'
import { runHandler } from './handlers.js'
import { contentTypeFor } from './mime.js'

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

const SERVER_ON = `dyups/${VERSION}`
const SERVER_OFF = 'dyups'

let serial = 0

export class Connection implements Downstream {
  readonly socket: Socket
  private readonly parser = new RequestHeadParser()
  private readonly target = new Target()
  private readonly match = new LocationMatch()
  private state = HEAD
  private req: Request | null = null
  private pending: Buffer | null = null
  private requests = 0
  private readonly id = ++serial
  private readonly listenKey: string
  private decoder: ChunkedDecoder | null = null
  private bodyParts: Buffer[] = []
  private bodyLeft = 0
  private exchange: Exchange | null = null
  /** The backend socket of an upgraded connection. */
  private peer: Socket | null = null
  private bodyStart = -1
  /** How a proxied request's body is read (BODY_OUT_*); NONE for every other request. */
  private bodyMode = BODY_OUT_NONE
  /** The body read whole for the backend (proxy_request_buffering on). */
  private spool: BodySpool | null = null
  /** Body bytes read with the head, kept while a streamed body waits for its exchange. */
  private bodyRest: Buffer | null = null
  /** A streamed body waits for the backend to drain. */
  private bodyPaused = false
  /** send_timeout runs for the response being relayed. */
  private sendArmed = false
  private readonly remoteAddr: string
  private readonly remotePort: number
  private readonly localAddr: string
  private readonly localPort: number

  constructor(
    readonly worker: HttpWorker,
    socket: Socket,
    listenKey: string,
  ) {
    this.socket = socket
    this.remoteAddr = socket.remoteAddress?.replace(/^::ffff:/, '') ?? ''
    this.remotePort = socket.remotePort ?? 0
    this.localAddr = socket.localAddress?.replace(/^::ffff:/, '') ?? ''
    this.localPort = socket.localPort ?? 0
    this.listenKey = listenKey
    socket.on('data', (b: Buffer) => this.onData(b))
    socket.on('error', () => this.onClose())
    socket.on('close', () => this.onClose())
    // The client can take more: let whichever source is paused on it (a proxied body, a tunnel) go on.
    socket.on('drain', () => {
      this.exchange?.clientDrained()
      this.peer?.resume()
    })
    socket.on('timeout', () => this.onTimeout())
    // client_header_timeout of the address's default server, as nginx takes it before it knows the Host.
    const si = worker.conf.vhosts.select(listenKey, '')
    socket.setTimeout(worker.conf.servers[si < 0 ? 0 : si]?.clientHeaderTimeout ?? 60_000)
  }

  get method(): string {
    return this.req?.method ?? 'GET'
  }

  private onData(chunk: Buffer): void {
    switch (this.state) {
      case HEAD:
        return this.readHead(chunk)
      case BODY:
        return this.bodyMode === BODY_OUT_NONE ? this.readBody(chunk, 0) : this.readProxyBody(chunk, 0)
      case TUNNEL:
        if (!this.peer!.write(chunk)) this.socket.pause()
        return
      case BUSY:
        this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk])
        if (this.pending.length > PIPELINE_BUFFER) this.socket.pause()
        return
    }
  }

  private readHead(chunk: Buffer): void {
    const r = this.parser.execute(chunk, 0)
    if (r === NEED_MORE) return
    if (r === PARSE_ERROR) {
      const e = this.parser.error!
      log('info', `client sent invalid request: ${e.message} while reading client request headers, client: ${this.remoteAddr}`)
      // nginx's internal 494 shows its own page ("Request Header Or Cookie Too Large") under status 400.
      return this.rejectHead(e.title === 'Request Header Or Cookie Too Large' ? 494 : e.status)
    }
    const head = this.parser.head!
    this.parser.reset()
    this.begin(head, r < chunk.length ? chunk.subarray(r) : null)
  }

  /** Answers a head that could not be parsed, then closes: the stream is out of sync. */
  private rejectHead(status: number): void {
    this.state = BUSY
    const pages = this.worker.conf.errorPages
    const body = pages.body(status, true)
    const shown = wireStatus(status)
    this.socket.end(
      `${statusLine(shown)}Server: ${SERVER_ON}\r\nDate: ${httpDate()}\r\nContent-Type: text/html\r\n` +
        `Content-Length: ${body?.length ?? 0}\r\nConnection: close\r\n\r\n` + (body?.toString('latin1') ?? ''),
      'latin1',
    )
    this.state = CLOSED
  }

  private begin(head: RequestHead, rest: Buffer | null): void {
    this.requests++
    const conf = this.worker.conf
    const req = new Request(head, conf.slots)
    this.req = req
    req.remoteAddr = this.remoteAddr
    req.remotePort = this.remotePort
    req.serverAddr = this.localAddr
    req.serverPort = this.localPort
    req.connection = this.id
    req.connectionRequests = this.requests
    this.state = BUSY
    // While a handler runs, the client owes us nothing: no client timeout (the backend has its own).
    this.socket.setTimeout(0)
    if (!parseTarget(head.target, this.target)) return this.finishLocal(400)
    req.uri = this.target.uri
    req.args = this.target.args
    req.requestUri = this.target.requestUri
    const si = conf.vhosts.select(this.listenKey, req.host)
    const server = conf.servers[si < 0 ? 0 : si]!
    req.server = server
    req.serverName = server.name
    const loc = server.locations.match(req.uri, this.match)
    const lc = loc === null ? server.serverConf : server.locConfs[loc.id]!
    req.loc = lc
    if (this.match.redirect) {
      return this.sendLocal(301, null, [['Location', this.absolute(loc!.name + (req.args === '' ? '' : `?${req.args}`))]])
    }
    req.captures = this.match.captures
    if (lc.access !== null && !lc.access.allows(this.remoteAddr)) return this.finishLocal(403)
    for (const op of lc.sets) op.set(req, op.value.eval(req))

    if (head.contentLength > lc.clientMaxBodySize) {
      log('error', `client intended to send too large body: ${head.contentLength} bytes${this.where()}`)
      return this.finishLocal(413)
    }
    if (lc.handler.kind === 'proxy' && (head.chunked || head.contentLength > 0)) return this.beginProxyBody(lc, lc.handler.pass, rest)
    // Other handlers get the body whole in memory, bounded by client_max_body_size.
    if (head.chunked) {
      this.decoder = new ChunkedDecoder({ copy: true, maxBody: lc.clientMaxBodySize })
      this.state = BODY
      this.socket.setTimeout(lc.clientBodyTimeout)
      if (head.expectContinue) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n')
      if (rest !== null) this.readBody(rest, 0)
      return
    }
    if (head.contentLength > 0) {
      this.bodyLeft = head.contentLength
      this.bodyParts = []
      this.state = BODY
      this.socket.setTimeout(lc.clientBodyTimeout)
      if (head.expectContinue) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n')
      if (rest !== null) this.readBody(rest, 0)
      return
    }
    if (rest !== null) this.pending = rest
    this.dispatch()
  }

  private readBody(chunk: Buffer, from: number): void {
    const req = this.req!
    if (this.decoder !== null && req.head.chunked) {
      const r = this.decoder.execute(chunk, from)
      if (r === NEED_MORE) return
      if (r === PARSE_ERROR) {
        const e = this.decoder.error!
        return this.finishLocal(e.status === 413 ? 413 : 400)
      }
      req.body = Buffer.from(this.decoder.body())
      this.state = BUSY
      if (r < chunk.length) this.pending = chunk.subarray(r)
      return this.dispatch()
    }
    const n = chunk.length - from
    if (n < this.bodyLeft) {
      this.bodyParts.push(from === 0 ? chunk : chunk.subarray(from))
      this.bodyLeft -= n
      return
    }
    this.bodyParts.push(chunk.subarray(from, from + this.bodyLeft))
    const end = from + this.bodyLeft
    this.bodyLeft = 0
    req.body = this.bodyParts.length === 1 ? this.bodyParts[0]! : Buffer.concat(this.bodyParts)
    this.bodyParts = []
    this.state = BUSY
    if (end < chunk.length) this.pending = chunk.subarray(end)
    this.dispatch()
  }


  private dispatch(): void {
    this.socket.setTimeout(0)
    this.socket.pause()
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
    this.socket.setTimeout(lc.clientBodyTimeout)
    // A decoder left by an earlier chunked request on this connection must not read this body.
    this.decoder = head.chunked ? new ChunkedDecoder({ maxBody: lc.clientMaxBodySize }) : null
    if (!head.chunked) this.bodyLeft = head.contentLength
    if (head.expectContinue) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n')
    let stream = !pass.requestBuffering && (!head.chunked || pass.version === '1.1')
    if (stream && head.chunked && rest !== null) {
      const probe = new ChunkedDecoder({ maxBody: lc.clientMaxBodySize })
      const r = probe.execute(rest, 0)
      if (r >= 0 || r === PARSE_ERROR) stream = false
    }
    if (!stream) {
      this.bodyMode = BODY_OUT_SPOOL
      this.spool = new BodySpool(lc.bodyBufferSize, lc.bodyTemp)
      if (rest !== null) this.readProxyBody(rest, 0)
      return
    }
    this.bodyMode = head.chunked ? BODY_OUT_STREAM_CHUNKED : BODY_OUT_STREAM
    // Nothing is read until the exchange exists to take it (startProxy).
    this.bodyRest = rest
    this.socket.pause()
    runHandler(this.worker, this, this.req!)
  }

  private readProxyBody(chunk: Buffer, from: number): void {
    let end: number
    const dec = this.decoder
    if (dec !== null) {
      const r = dec.execute(chunk, from)
      const parts = dec.parts
      for (let i = 0; i < parts.length; i++) if (!this.bodyData(parts[i]!)) return
      parts.length = 0
      if (r === NEED_MORE) return
      if (r === PARSE_ERROR) return this.badBody(dec.error!.status === 413)
      end = r
    } else {
      const n = chunk.length - from
      if (n < this.bodyLeft) {
        this.bodyLeft -= n
        this.bodyData(from === 0 ? chunk : chunk.subarray(from))
        return
      }
      end = from + this.bodyLeft
      this.bodyLeft = 0
      if (!this.bodyData(chunk.subarray(from, end))) return
    }
    this.state = BUSY
    if (end < chunk.length) this.pending = chunk.subarray(end)
    if (this.bodyMode === BODY_OUT_SPOOL) return this.dispatch()
    // Streamed: the exchange has it all; what the client sends now waits (pipelining) while the answer goes out.
    this.socket.pause()
    this.socket.setTimeout(0)
    this.exchange?.feedEnd()
  }

  /** One run of body bytes: to the spool, or on to the backend. false: the request ended here. */
  private bodyData(data: Buffer): boolean {
    if (this.bodyMode === BODY_OUT_SPOOL) {
      const spool = this.spool!
      try {
        if (spool.write(data)) log('warn', `a client request body is buffered to a temporary file ${spool.path}${this.where()}`)
      } catch (e) {
        log('crit', `write() to a temporary file failed (${(e as Error).message})${this.where()}`)
        this.finishLocal(500)
        return false
      }
      return true
    }
    if (!this.exchange!.feed(data)) {
      // The backend is full: read no more (and time nothing) until it drains.
      this.bodyPaused = true
      this.socket.pause()
      this.socket.setTimeout(0)
    }
    return true
  }

  /** A chunked body that is malformed or grows past client_max_body_size. */
  private badBody(tooLarge: boolean): void {
    const dec = this.decoder!
    if (tooLarge) log('error', `client intended to send too large chunked body: ${dec.dataBytes}+${dec.chunkSize} bytes${this.where()}`)
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
    return this.spool
  }

  /** The Content-Length the backend gets: -1 none, CHUNKED_BODY for a body streamed chunked. */
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

  bodyResume(): void {
    this.bodyPaused = false
    if (this.state !== BODY) return
    this.socket.setTimeout(this.req!.loc!.clientBodyTimeout)
    this.socket.resume()
  }

  note(level: 'error' | 'info', what: string): void {
    log(level, what + this.where())
  }

  /** The spool's memory and temp file are freed when its request ends, however it ends. */
  private releaseBody(): void {
    if (this.bodyMode === BODY_OUT_NONE) return
    this.bodyMode = BODY_OUT_NONE
    this.bodyPaused = false
    this.spool?.close()
    this.spool = null
    this.bodyRest = null
    this.decoder = null
  }

  /** nginx's error-log context of a request. */
  private where(): string {
    const req = this.req
    if (req === null) return `, client: ${this.remoteAddr}, server: ${this.localAddr}:${this.localPort}`
    return `, client: ${this.remoteAddr}, server: ${req.serverName}, request: "${req.requestLine}", host: "${req.host}"`
  }

  // ---- responses ----

  /**
   * A redirect target made absolute as nginx does (absolute_redirect on, server_name_in_redirect off,
   * port_in_redirect on): the request's host, and the port it came in on unless it is the scheme's default.
   */
  absolute(path: string): string {
    const req = this.req!
    const host = req.host !== '' ? req.host : (req.server?.name ?? this.localAddr)
    return `http://${host}${this.localPort === 80 ? '' : `:${this.localPort}`}${path}`
  }

  /** An error page (or an empty body for codes without one), nginx's special response. */
  finishLocal(status: number): void {
    const req = this.req!
    if (closesConnection(status)) req.keepAlive = false
    this.sendLocal(status, null, null)
  }

  /**
   * A response made here (return, echo, the dyups interface, error pages). `body` null: the standard page of
   * `status` (if it has one). Headers: extra `[name, value]` pairs, after the standard ones.
   */
  sendLocal(status: number, body: string | Buffer | null, headers: [string, string][] | null, contentType?: string): void {
    const req = this.req!
    const lc = req.loc
    const tokens = lc?.serverTokens ?? true
    let type = contentType
    if (body === null) {
      const page = this.worker.conf.errorPages.body(status, tokens)
      if (page !== null) {
        body = page
        type = 'text/html'
      }
    } else if (type === undefined && lc !== null) {
      type = contentTypeFor(lc.types, req.uri, lc.defaultType)
    }
    const shown = wireStatus(status)
    const noBody = status === 204 || status === 304 || req.method === 'HEAD'
    const len = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body, 'latin1') : body.length
    const keep = req.keepAlive && this.keepAliveAllowed(lc)
    req.keepAlive = keep
    let h = `${statusLine(shown)}Server: ${tokens ? SERVER_ON : SERVER_OFF}\r\nDate: ${httpDate()}\r\n`
    if (type !== undefined && !(status === 204 || status === 304)) h += `Content-Type: ${type}\r\n`
    if (status !== 204 && status !== 304) h += `Content-Length: ${len}\r\n`
    if (headers !== null) for (const [n, v] of headers) if (n === 'Location') h += `Location: ${v}\r\n`
    h += keep ? 'Connection: keep-alive\r\n' : 'Connection: close\r\n'
    if (headers !== null) for (const [n, v] of headers) if (n !== 'Location') h += `${n}: ${v}\r\n`
    if (lc !== null) h += this.addHeaders(lc, status)
    h += '\r\n'
    req.status = status
    const s = this.socket
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

  private keepAliveAllowed(lc: LocConf | null): boolean {
    // A body not read to its end leaves the stream out of sync: answer, then close.
    if (this.worker.stopping || this.state === BODY) return false
    const max = lc?.keepaliveRequests ?? 1000
    const timeout = lc?.keepaliveTimeout ?? 75_000
    return timeout > 0 && this.requests < max
  }

  private addHeaders(lc: LocConf, status: number): string {
    if (lc.addHeaders.length === 0) return ''
    // nginx adds these only to 200, 201, 204, 206, 301, 302, 303, 304, 307, 308 unless `always`.
    const ok = status === 200 || status === 201 || status === 204 || status === 206 || (status >= 301 && status <= 304) || status === 307 || status === 308
    let h = ''
    for (const a of lc.addHeaders) {
      if (!ok && !a.always) continue
      const v = a.value.eval(this.req!)
      if (v !== '') h += `${a.name}: ${v}\r\n`
    }
    return h
  }

  // ---- proxy ----

  startProxy(ex: Exchange): void {
    this.exchange = ex
    ex.start()
    if (this.bodyMode >= BODY_OUT_STREAM && this.state === BODY) {
      const rest = this.bodyRest
      this.bodyRest = null
      if (rest !== null) this.readProxyBody(rest, 0)
      // Still paused only if the exchange asked for it; it resumes the client when it can take more.
      if (this.state === BODY && this.exchange !== null && !this.bodyPaused) this.socket.resume()
    }
  }

  clientFull(): void {
    // send_timeout is armed only once the client falls behind: a response it keeps up with costs no timer.
    if (this.sendArmed || this.req === null) return
    this.sendArmed = true
    this.socket.setTimeout(this.req.loc!.sendTimeout)
  }

  responseHead(rh: ResponseHead, kind: BodyKind): boolean {
    const req = this.req!
    const lc = req.loc!
    const client11 = req.versionMinor === 1
    let keep = req.keepAlive && this.keepAliveAllowed(lc)
    // A body delimited by the backend's close reaches an HTTP/1.1 client chunked; an HTTP/1.0 client gets it
    // until we close.
    let chunk = false
    let passChunked = false
    if (kind === BODY_UNTIL_CLOSE) {
      if (client11) chunk = true
      else keep = false
    } else if (kind === BODY_CHUNKED) {
      if (client11) passChunked = true
      else keep = false
    }
    req.keepAlive = keep
    req.status = rh.status
    const pass = (req.loc!.handler as { kind: 'proxy'; pass: import('./conf.js').ProxyPass }).pass
    const head = buildClientHead(rh, {
      server: lc.serverTokens ? SERVER_ON : SERVER_OFF,
      date: httpDate(),
      chunked: chunk || passChunked,
      keepAlive: keep,
      hide: pass.hide,
      extra: this.addHeaders(lc, rh.status),
      upgrade: rh.status === 101 ? rh.upgrade : null,
    })
    this.socket.write(head, 'latin1')
    req.headerSent = true
    // $body_bytes_sent: what the socket takes after the head, read once at the end instead of counted per chunk.
    this.bodyStart = this.socket.bytesWritten
    return chunk
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
    client.setTimeout(0)
    client.resume()
  }

  attempt(addr: string, status: number, connectMs: number, responseMs: number): void {
    this.req!.upstreamAttempt(addr, status, connectMs, responseMs)
  }

  finished(errorStatus: number, broken: boolean): void {
    this.exchange = null
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
    this.releaseBody()
    this.worker.logRequest(req)
    if (!req.keepAlive) {
      // nginx's lingering close: keep reading (and dropping) what the client still sends for a while, so a client
      // that writes its whole body before reading still gets the answer instead of a reset.
      this.state = CLOSED
      this.socket.setTimeout(LINGERING_TIMEOUT)
      this.socket.resume()
      this.socket.end()
      return
    }
    this.req = null
    this.state = HEAD
    this.socket.setTimeout(req.loc?.keepaliveTimeout ?? 75_000)
    this.socket.resume()
    const p = this.pending
    this.pending = null
    if (p !== null) this.readHead(p)
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
            this.socket.setTimeout(req.loc!.sendTimeout)
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
    if (this.state === CLOSED && this.exchange === null) {
      this.worker.forget(this)
      return
    }
    const reading = this.state === BODY && this.req !== null
    this.state = CLOSED
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
    this.socket.destroy()
    this.peer?.destroy()
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

/**
 * One client connection: reads request heads with the strict parser, reads bodies, runs the handler of the
 * location, writes the response, and loops for keep-alive and pipelined requests. It is also the `Downstream` of
 * the proxy exchange, so a proxied request costs no extra object for its client side.
 */
import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import {
  ChunkedDecoder, NEED_MORE, PARSE_ERROR, RequestHeadParser, httpDate, type BodyKind, type RequestHead,
  type ResponseHead, BODY_UNTIL_CLOSE, BODY_CHUNKED, statusLine, wireStatus,
} from '../http1/index.js'
import { Exchange, buildClientHead, type Downstream } from '../proxy/index.js'
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
  /** The file body being sent (sendStream), paused while the socket's buffer is full. */
  private file: Readable | null = null
  private filePath = ''
  private fileLength = 0
  /** Its listeners, made on the connection's first file and reused by the next ones. */
  private fileListeners: { data: (b: Buffer) => void; end: () => void; error: (e: NodeJS.ErrnoException) => void } | null = null
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
      this.file?.resume()
    })
    socket.on('timeout', () => this.onTimeout())
    socket.setTimeout(60_000)
  }

  get method(): string {
    return this.req?.method ?? 'GET'
  }

  private onData(chunk: Buffer): void {
    switch (this.state) {
      case HEAD:
        return this.readHead(chunk)
      case BODY:
        return this.readBody(chunk, 0)
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
    const loc = server.locations.match(req.uri, this.match)
    const lc = loc === null ? server.serverConf : server.locConfs[loc.id]!
    req.loc = lc
    // `internal`: only internal redirects (try_files, index) reach it.
    if (lc.internal) return this.finishLocal(404)
    if (this.match.redirect) {
      return this.sendLocal(301, null, [['Location', this.absolute(loc!.name + (req.args === '' ? '' : `?${req.args}`))]])
    }
    req.captures = this.match.captures
    if (lc.access !== null && !lc.access.allows(this.remoteAddr)) return this.finishLocal(403)
    for (const op of lc.sets) op.set(req, op.value.eval(req))

    // The body: read it whole before the handler runs (nginx's request buffering), bounded by client_max_body_size.
    if (head.contentLength > lc.clientMaxBodySize) return this.finishLocal(413)
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

  /**
   * A response whose body is read from `body` (`length` bytes of a file), written with backpressure: the stream
   * pauses while the socket's buffer is full and resumes on 'drain'. `before`: header lines that go before
   * `Connection:` (Content-Type, Content-Length, Last-Modified), `after`: those after it (ETag, Accept-Ranges,
   * Content-Range), both CRLF-terminated. `body` null: the head alone (HEAD, 304, an empty file); a Buffer: a small
   * file read whole, written with the head in one go.
   */
  sendStream(status: number, before: string, after: string, body: Readable | Buffer | null, length: number, path = ''): void {
    const req = this.req!
    const lc = req.loc
    const keep = req.keepAlive && this.keepAliveAllowed(lc)
    req.keepAlive = keep
    let h = `${statusLine(wireStatus(status))}Server: ${lc?.serverTokens !== false ? SERVER_ON : SERVER_OFF}\r\nDate: ${httpDate()}\r\n`
    h += before + (keep ? 'Connection: keep-alive\r\n' : 'Connection: close\r\n') + after
    if (lc !== null) h += this.addHeaders(lc, status)
    h += '\r\n'
    req.status = status
    req.headerSent = true
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
    // A client that stops reading is dropped after send_timeout without progress, as nginx does.
    this.socket.setTimeout(lc?.sendTimeout ?? 60_000)
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
    if (!this.socket.write(chunk)) this.file?.pause()
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
    this.socket.setTimeout(0)
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
    if (this.worker.stopping) return false
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
    // Idle keep-alive, a stalled head or body: nginx closes without an answer (logging 408 for a started request).
    this.state = CLOSED
    this.socket.destroy()
  }

  private onClose(): void {
    if (this.state === CLOSED && this.exchange === null) {
      this.worker.forget(this)
      return
    }
    this.state = CLOSED
    if (this.file !== null) {
      // The client left during a file body: the file closes, the request is logged with what was sent.
      this.file.destroy()
      this.file = null
      if (this.req !== null) this.worker.logRequest(this.req)
    }
    if (this.exchange !== null) {
      // 499: the client left first; the backend is not to blame.
      if (this.req !== null && !this.req.headerSent) this.req.status = 499
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

/**
 * One client connection: reads request heads with the strict parser, reads bodies, runs the handler of the
 * location, writes the response, and loops for keep-alive and pipelined requests. It is also the `Downstream` of
 * the proxy exchange, so a proxied request costs no extra object for its client side.
 */
import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import {
  ChunkedDecoder, ChunkedScanner, NEED_MORE, PARSE_ERROR, RequestHeadParser, httpDate, type BodyKind, type RequestHead,
  type ResponseHead, BODY_UNTIL_CLOSE, BODY_CHUNKED, BODY_NONE, statusLine, wireStatus,
} from '../http1/index.js'
import {
  BODY_OUT_NONE, BODY_OUT_SPOOL, BODY_OUT_STREAM, BODY_OUT_STREAM_CHUNKED, BodySpool, CHUNKED_BODY, Exchange, buildClientHead,
  type Downstream,
} from '../proxy/index.js'
import { log } from '../log.js'
import { VERSION } from '../version.js'
import type { LocConf, ProxyPass } from './conf.js'
import { closesConnection } from './error-pages.js'
import { intercepts, sendErrorPage } from './error-page.js'
import { charsetSuffix } from './charset.js'
import { parseHttpTime } from './conditional.js'
import { expiresLines, expiresValues } from './expires.js'
import { GZ_COMPRESS, GZ_VARY, GzipBody, gzipLocal, gzipProxied, gzipWhole } from './gzip.js'
import { LocationMatch } from './locations.js'
import { Request } from './request.js'
import { parseTarget, Target } from './uri.js'
import type { HttpWorker } from './worker.js'
import { doReturn, runHandler } from './handlers.js'
import { ANSWERED, GO_ON, runRewrites, type RewriteAnswer } from './rewrite.js'
import { contentTypeFor } from './mime.js'
import { PLAIN_ON_TLS, TLS } from './tls-server.js'

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

export class Connection implements Downstream, RewriteAnswer {
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
  /** The compressor of a gzipped proxied body, while it runs. */
  private gz: GzipBody | null = null
  private gzEnding = false
  /** The backend socket of an upgraded connection. */
  private peer: Socket | null = null
  private bodyStart = -1
  /** The request announced a body that is not read yet. */
  private bodyPending = false
  /** The body is too large: it is dropped after the answer (which may be an error page's) instead of being read. */
  private bodyRefused = false
  /** Reading a body only to drop it: the request was answered before it was read. */
  private discarding = false
  /** Finds the end of a chunked body being dropped, keeping none of it. */
  private skipper: ChunkedScanner | null = null
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
  /** `https` on an ssl address; plain HTTP sent there is answered with nginx's 497 page. */
  private readonly https: boolean
  private readonly plainOnTls: boolean

  /** @param mode PLAIN, TLS or PLAIN_ON_TLS (tls-server.ts) */
  constructor(
    readonly worker: HttpWorker,
    socket: Socket,
    listenKey: string,
    mode = 0,
  ) {
    this.socket = socket
    this.https = mode === TLS
    this.plainOnTls = mode === PLAIN_ON_TLS
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
      if (this.gz !== null) this.gz.resume()
      else this.exchange?.clientDrained()
      this.peer?.resume()
      this.file?.resume()
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
    if (this.https) req.scheme = 'https'
    this.state = BUSY
    // While a handler runs, the client owes us nothing: no client timeout (the backend has its own).
    this.socket.setTimeout(0)
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
    req.loc = server.serverConf
    if (server.rewrites.length > 0 && runRewrites(server.rewrites, req, this) === ANSWERED) return
    this.route()
  }

  /**
   * nginx's find-config and rewrite phases: the location for `$uri` (or `named`), then its rewrite directives, again
   * while they change the URI (ten changes at most); then the access check, the body and the content handler.
   */
  private route(named: LocConf | null = null): void {
    const req = this.req!
    const server = req.server!
    for (;;) {
      if (named !== null) {
        req.loc = named
        named = null
        if (this.refuseBody()) return this.finishLocal(413)
      } else {
        const loc = server.locations.match(req.uri, this.match)
        req.loc = loc === null ? server.serverConf : server.locConfs[loc.id]!
        req.captures = this.match.captures
        // nginx's find-config checks, in its order: `internal` locations (reached only by rewrites and internal
        // redirects), Content-Length over client_max_body_size, then the redirect that adds a slash.
        if (req.loc.internal && !req.rewritten) return this.finishLocal(404)
        if (this.refuseBody()) return this.finishLocal(413)
        if (this.match.redirect) {
          return this.sendLocal(301, null, [['Location', loc!.name + (req.args === '' ? '' : `?${req.args}`)]])
        }
      }
      req.uriChanged = false
      const r = req.loc.rewrites.length === 0 ? GO_ON : runRewrites(req.loc.rewrites, req, this)
      if (r === ANSWERED) return
      if (r === GO_ON) break
      if (--req.uriChanges === 0) {
        log('error', `rewrite or internal redirection cycle while processing "${req.uri}"${this.where()}`)
        return this.finishLocal(500)
      }
    }
    const lc = req.loc
    const head = req.head
    if (lc.access !== null && !lc.access.allows(this.remoteAddr)) {
      log('error', `access forbidden by rule${this.where()}`)
      return this.finishLocal(403)
    }
    // No body, a body already read, or one refused (an error page after a 413): on to the handler.
    if (!this.bodyPending || this.bodyRefused) return this.dispatch()
    const rest = this.rest
    this.rest = null

    // A proxied body goes to the backend as nginx sends it (spooled or streamed); other handlers get it whole.
    if (lc.handler.kind === 'proxy') return this.beginProxyBody(lc, lc.handler.pass, rest)
    // The body: read it whole before the handler runs (nginx's request buffering), bounded by client_max_body_size.
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
    this.dispatch()
  }

  /** A Content-Length over the location's client_max_body_size: the body will be dropped, not read. */
  private refuseBody(): boolean {
    const req = this.req!
    if (!this.bodyPending || this.bodyRefused || req.head.contentLength <= req.loc!.clientMaxBodySize) return false
    log('error', `client intended to send too large body: ${req.head.contentLength} bytes${this.where()}`)
    this.bodyRefused = true
    return true
  }

  /**
   * nginx's internal redirect (error_page, try_files, index): `$uri` and `$args` change and the request starts over
   * at the server's rewrite directives; ten redirects at most.
   */
  internalRedirect(uri: string, args: string): void {
    const req = this.req!
    // try_files and index look at the disk first: the client may have gone meanwhile.
    if (this.socket.destroyed) return
    if (--req.uriChanges === 0) {
      log('error', `rewrite or internal redirection cycle while internally redirecting to "${uri}"${this.where()}`)
      return this.finishLocal(500)
    }
    req.uri = uri
    req.args = args
    req.rewritten = true
    req.addUriToAlias = false
    const server = req.server!
    req.loc = server.serverConf
    if (server.rewrites.length > 0 && runRewrites(server.rewrites, req, this) === ANSWERED) return
    this.route()
  }

  /** nginx's named location (`@name`): its rewrite directives and handler, the URI unchanged. */
  namedLocation(name: string): void {
    const req = this.req!
    if (this.socket.destroyed) return
    if (--req.uriChanges === 0) {
      log('error', `rewrite or internal redirection cycle while redirect to named location "${name}"${this.where()}`)
      return this.finishLocal(500)
    }
    const server = req.server!
    const loc = server.locations.findNamed(name)
    if (loc === undefined) {
      log('error', `could not find named location "${name}"${this.where()}`)
      return this.finishLocal(500)
    }
    this.route(server.locConfs[loc.id]!)
  }

  private readBody(chunk: Buffer, from: number): void {
    const req = this.req!
    const scanner = this.discarding ? this.skipper : this.decoder
    if (scanner !== null && req.head.chunked) {
      const r = scanner.execute(chunk, from)
      if (r === NEED_MORE) return
      if (r === PARSE_ERROR) {
        if (this.discarding) {
          // A broken body after the answer: nothing more to say to this client.
          this.state = CLOSED
          return void this.socket.destroy()
        }
        const e = scanner.error!
        return this.finishLocal(e.status === 413 ? 413 : 400)
      }
      if (r < chunk.length) this.pending = chunk.subarray(r)
      if (this.discarding) return this.discarded()
      req.body = Buffer.from(this.decoder!.body())
      this.bodyPending = false
      this.state = BUSY
      return this.dispatch()
    }
    const n = chunk.length - from
    if (n < this.bodyLeft) {
      if (!this.discarding) this.bodyParts.push(from === 0 ? chunk : chunk.subarray(from))
      this.bodyLeft -= n
      return
    }
    const end = from + this.bodyLeft
    this.bodyLeft = 0
    if (this.discarding) {
      if (end < chunk.length) this.pending = chunk.subarray(end)
      return this.discarded()
    }
    this.bodyParts.push(chunk.subarray(from, end))
    req.body = this.bodyParts.length === 1 ? this.bodyParts[0]! : Buffer.concat(this.bodyParts)
    this.bodyParts = []
    this.bodyPending = false
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
    this.bodyPending = false
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

  /** A `return` or a redirecting `rewrite` answers the request (RewriteAnswer). */
  answer(code: number, text: string | null): void {
    doReturn(this, this.req!, code, text)
  }

  /**
   * A redirect target made absolute as nginx does (absolute_redirect on, server_name_in_redirect off,
   * port_in_redirect on): the request's host, and the port it came in on unless it is the scheme's default.
   */
  absolute(path: string): string {
    const req = this.req!
    const host = req.host !== '' ? req.host : (req.server?.name ?? this.localAddr)
    if (this.https) return `https://${host}${this.localPort === 443 ? '' : `:${this.localPort}`}${path}`
    return `http://${host}${this.localPort === 80 ? '' : `:${this.localPort}`}${path}`
  }

  /** An error page (or an empty body for codes without one), nginx's special response. */
  finishLocal(status: number): void {
    const req = this.req!
    if (closesConnection(status)) req.keepAlive = false
    req.errStatus = 0
    // An error page may proxy: the rest of a refused body must wait as pipelined bytes, not be parsed as a body.
    if (this.state === BODY) this.state = BUSY
    if (req.loc !== null && req.loc.errorPages !== null && sendErrorPage(this, req, status)) return
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
      type = contentTypeFor(lc.types, req.uri, lc.defaultType)
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
    let h = `${statusLine(shown)}Server: ${tokens ? SERVER_ON : SERVER_OFF}\r\nDate: ${httpDate(req.answerTime())}\r\n`
    if (type !== undefined && !(status === 204 || status === 304)) h += `Content-Type: ${type}${charsetSuffix(lc?.charset ?? null, type)}\r\n`
    if (status !== 204 && status !== 304 && !(gz & GZ_COMPRESS)) h += `Content-Length: ${len}\r\n`
    // nginx's header filter makes a relative Location absolute and sends it here; others keep their list place.
    if (req.location !== null && req.location.startsWith('/')) h += `Location: ${this.absolute(req.location)}\r\n`
    if (headers !== null) for (const [n, v] of headers) if (n === 'Location' && v.startsWith('/')) h += `Location: ${this.absolute(v)}\r\n`
    if (gz & GZ_COMPRESS && client11 && !noBody) h += 'Transfer-Encoding: chunked\r\n'
    h += keep ? 'Connection: keep-alive\r\n' : 'Connection: close\r\n'
    if (gz & GZ_VARY) h += 'Vary: Accept-Encoding\r\n'
    if (req.wwwAuthenticate !== null) h += `WWW-Authenticate: ${req.wwwAuthenticate}\r\n`
    if (req.location !== null && !req.location.startsWith('/')) h += `Location: ${req.location}\r\n`
    if (headers !== null) for (const [n, v] of headers) if (n !== 'Location' || !v.startsWith('/')) h += `${n}: ${v}\r\n`
    if (lc !== null && lc.expires !== null) h += expiresLines(lc.expires, status, -1, req.answerTime())
    if (lc !== null) h += this.addHeaders(lc, status)
    if (gz & GZ_COMPRESS) h += 'Content-Encoding: gzip\r\n'
    h += '\r\n'
    // nginx logs the code it sent: 400 for its own 494–497.
    req.status = shown
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
   * file read whole, written with the head in one go. `last`: lines after add_header's (Content-Encoding).
   */
  sendStream(status: number, before: string, after: string, body: Readable | Buffer | null, length: number, path = '', last = ''): void {
    const req = this.req!
    const lc = req.loc
    const keep = req.keepAlive && this.keepAliveAllowed(lc)
    req.keepAlive = keep
    let h = `${statusLine(wireStatus(status))}Server: ${lc?.serverTokens !== false ? SERVER_ON : SERVER_OFF}\r\nDate: ${httpDate(req.answerTime())}\r\n`
    h += before + (keep ? 'Connection: keep-alive\r\n' : 'Connection: close\r\n') + after
    if (lc !== null) h += this.addHeaders(lc, status)
    h += last + '\r\n'
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
    const status = req.errStatus > 0 ? req.errStatus : rh.status
    const gz = lc.gzip !== null ? gzipProxied(lc.gzip, req, rh, status) : 0
    const headOnly = kind === BODY_NONE && req.method === 'HEAD'
    if (gz & GZ_COMPRESS && !headOnly) {
      // The compressor frames the body itself; an HTTP/1.0 client reads it until the close.
      chunk = false
      passChunked = false
      if (!client11) keep = false
      this.gz = new GzipBody(lc.gzip!.level, this.socket, client11, kind === BODY_CHUNKED, () => this.exchange?.clientDrained())
    }
    req.keepAlive = keep
    req.status = status
    const pass = (req.loc!.handler as { kind: 'proxy'; pass: import('./conf.js').ProxyPass }).pass
    const head = buildClientHead(rh, {
      server: lc.serverTokens ? SERVER_ON : SERVER_OFF,
      date: httpDate(req.answerTime()),
      chunked: chunk || passChunked || (this.gz !== null && client11),
      keepAlive: keep,
      hide: pass.hide,
      extra: this.addHeaders(lc, status),
      upgrade: rh.status === 101 ? rh.upgrade : null,
      status: req.errStatus,
      redirect: pass.redirect !== null ? this : null,
      gzip: (gz & GZ_COMPRESS) !== 0,
      vary: (gz & GZ_VARY) !== 0,
      charset: charsetSuffix(lc.charset, rh.get('content-type') ?? undefined),
      expires: lc.expires !== null ? expiresValues(lc.expires, status, lastModifiedOf(rh), req.answerTime()) : null,
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

  upstreamError(message: string, upstream: string): void {
    const req = this.req
    log('error', `${message}, client: ${this.remoteAddr}, server: ${req?.serverName ?? ''}, request: "${req?.requestLine ?? ''}", upstream: "${upstream}", host: "${req?.host ?? ''}"`)
  }

  /** proxy_redirect on a proxied answer's Location. */
  rewriteLocation(value: string): string | null {
    return this.proxyPass().redirect!.rewrite(this.req!, value, 0)
  }

  /** proxy_redirect on a proxied answer's Refresh. */
  rewriteRefresh(value: string): string | null {
    return this.proxyPass().redirect!.rewriteRefresh(this.req!, value)
  }

  private proxyPass(): ProxyPass {
    return (this.req!.loc!.handler as { kind: 'proxy'; pass: ProxyPass }).pass
  }

  intercepts(rh: ResponseHead): boolean {
    return intercepts(this.req!, rh)
  }

  attempt(addr: string, status: number, connectMs: number, responseMs: number): void {
    this.req!.upstreamAttempt(addr, status, connectMs, responseMs)
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
    if (this.bodyPending) return this.discardBody()
    this.nextRequest()
  }

  private nextRequest(): void {
    const req = this.req!
    this.req = null
    this.state = HEAD
    this.socket.setTimeout(req.loc?.keepaliveTimeout ?? 75_000)
    this.socket.resume()
    const p = this.pending
    this.pending = null
    if (p !== null) this.readHead(p)
  }

  /**
   * The answer went out before the body was read (`return`, a redirect, 403): read the body and drop it, then go on
   * with the next request, as nginx's ngx_http_discard_request_body does.
   */
  private discardBody(): void {
    const req = this.req!
    const head = req.head
    this.discarding = true
    this.state = BODY
    this.socket.setTimeout(req.loc?.clientBodyTimeout ?? 60_000)
    if (head.chunked) this.skipper = new ChunkedScanner()
    else this.bodyLeft = head.contentLength
    const rest = this.rest
    this.rest = null
    this.socket.resume()
    if (rest !== null) this.readBody(rest, 0)
  }

  /** The rest of a body answered early is read and dropped: on to the next request. */
  private discarded(): void {
    this.discarding = false
    this.bodyPending = false
    this.skipper = null
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

/** A backend's Last-Modified in seconds, or -1 (for `expires modified`). */
function lastModifiedOf(rh: ResponseHead): number {
  const v = rh.get('last-modified')
  if (v === null) return -1
  const t = parseHttpTime(v)
  return t >= 0 ? t : -1
}

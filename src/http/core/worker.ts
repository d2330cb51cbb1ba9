/**
 * The request path of one worker: its listening sockets, its connections, the routing table and the connection
 * pools. Built from a compiled configuration; stopped gracefully (listeners closed, idle connections closed,
 * requests in flight finished) or at once.
 */
import { releaseLimitConn } from '../modules/limit-conn.js'
import { createServer, type Server, type Socket } from 'node:net'
import { existsSync, unlinkSync } from 'node:fs'
import type { TLSSocket } from 'node:tls'
import type { Balancer } from '../../balancer/index.js'
import { DyupsError } from '../../errors.js'
import { log } from '../../log.js'
import { H2Pool, Pools } from '../../proxy/index.js'
import { DeadlineWheel } from '../../deadlines.js'
import type { HttpConfig, Listener } from '../conf/types.js'
import { Connection, type ClientConn } from './connection.js'
import { H2Session } from './h2-session.js'
import { H2_ALPN, H2_ONLY, type H2Address } from '../conf/http2.js'
import { prepareJs } from '../modules/script/index.js'
import { NameResolver } from '../lib/names.js'
import type { HttpRequest } from '../conf/types.js'
import type { Services, WorkerDeps } from '../lib/context.js'
import type { Template, Variables } from '../lib/variables.js'
import { PLAIN, PLAIN_SNIFFED, TLS, sniff } from '../conf/tls.js'
import { connStats, statsOfListener, type ConnStats } from '../lib/conn-stats.js'

export class HttpWorker implements Services {
  /** Every connection's timeouts, client and backend, on one timer. */
  readonly deadlines = new DeadlineWheel()
  readonly pools = new Pools(this.deadlines)
  /** HTTP/2 connections to gRPC backends (grpc_pass). */
  readonly h2pool = new H2Pool()
  /** Implicit upstreams of literal addresses in proxy_pass. */
  readonly literals = new Map<string, Balancer>()
  /** DNS for proxy_pass hosts that are no group, when a `resolver` is configured. */
  readonly names: NameResolver | null
  readonly vars: Variables
  stopping = false
  private readonly servers: Server[] = []
  private readonly conns = new Set<ClientConn>()
  /** Connections to ssl addresses whose first byte has not come yet: no Connection yet, closed on stop. */
  private readonly sniffing = new Set<Socket>()
  private readonly templates = new Map<string, Template>()
  private drained: (() => void) | null = null

  constructor(
    readonly conf: HttpConfig,
    readonly deps: WorkerDeps,
  ) {
    this.vars = conf.vars
    const r = conf.resolver
    this.names = r === null ? null : new NameResolver(r.servers, r.timeoutMs, r.validMs, deps.table.states)
    // A drained server's idle keepalive connections close at once, busy ones when their request ends.
    this.pools.drained = deps.table.drained
    deps.table.onDrain = (addrs) => this.pools.closeIdleTo(addrs)
  }

  /**
   * Opens every listener of the configuration: on the bound socket that `handles` holds for its key (a worker's,
   * passed by the primary that keeps it open, see process/listeners.ts), or else bound here.
   * @throws DyupsError with nginx's bind() message
   */
  async listen(handles?: ReadonlyMap<string, object>): Promise<void> {
    // As nginx creates its temp paths at start-up; a path that cannot be made fails the first body that needs it.
    for (const t of this.conf.tempPaths) {
      try {
        t.create()
      } catch {
        // Reported when a body is spooled there.
      }
    }
    // The engine thread boots and evaluates the modules while the listeners open; without js_import it is never
    // loaded. A request that comes before it is ready waits for it.
    if (this.conf.jsModules.length > 0) prepareJs(this.conf.jsModules)
    for (const l of this.conf.listeners) this.servers.push(await this.open(l, handles?.get(l.key)))
  }

  private open(l: Listener, handle: object | undefined): Promise<Server> {
    const server = createServer({ noDelay: true }, (s: Socket) => this.accept(s, l))
    return new Promise((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        const errno = e.code === 'EADDRINUSE' ? '98: Address already in use' : e.code === 'EACCES' ? '13: Permission denied' : `${e.errno ?? ''}: ${e.message}`
        reject(new DyupsError('E_CONFIG', `bind() to ${l.key} failed (${errno})`))
      })
      if (handle !== undefined) {
        // The socket is bound already: listen() puts it in the LISTEN state (a no-op but the backlog if it is) and
        // this process accepts from it alongside every other holder.
        server.listen(handle, l.backlog, () => resolve(server))
      } else if (l.path !== null) {
        if (existsSync(l.path)) unlinkSync(l.path)
        server.listen({ path: l.path, backlog: l.backlog }, () => resolve(server))
      } else {
        server.listen({ host: l.host!, port: l.port, ipv6Only: l.ipv6only, backlog: l.backlog }, () => resolve(server))
      }
    })
  }

  private accept(s: Socket, l: Listener): void {
    if (this.stopping) {
      s.destroy()
      return
    }
    const ls = statsOfListener(l.key)
    connStats.accepted++
    ls.accepted++
    if (this.conns.size + this.sniffing.size >= this.conf.workerConnections) {
      // nginx's words when its connection array is full; the client is closed at once rather than queued.
      log('alert', `${this.conf.workerConnections} worker_connections are not enough`)
      s.destroy()
      return
    }
    connStats.handled++
    ls.handled++
    let key = l.key
    if (l.wildcard) key = this.conf.vhosts.keyFor(s.localAddress?.replace(/^::ffff:/, '') ?? '', s.localPort ?? 0) ?? l.key
    const tls = this.conf.tls.get(key)
    const h2 = this.conf.h2.size === 0 ? undefined : this.conf.h2.get(key)
    if (tls === undefined && h2 === undefined) {
      this.conns.add(new Connection(this, s, key, PLAIN, ls))
      return
    }
    if (tls === undefined && h2!.mode === H2_ONLY) {
      this.h2Session(s, key, h2!, false, ls)
      return
    }
    this.sniffing.add(s)
    // Waiting for its first byte (and its handshake) counts as an active connection, as in nginx.
    connStats.active++
    ls.active++
    s.once('close', () => {
      if (!this.sniffing.delete(s)) return
      connStats.active--
      ls.active--
    })
    // A client that never sends a byte is bounded by client_header_timeout, as a silent plain one.
    const silent = (): void => void s.destroy()
    s.on('timeout', silent)
    s.setTimeout(this.conf.servers[this.conf.vhosts.address(key)?.defaultServer ?? 0]?.clientHeaderTimeout ?? 60_000)
    const ready = (socket: Socket, mode: number): void => {
      if (this.sniffing.delete(s)) {
        connStats.active--
        ls.active--
      }
      s.setTimeout(0)
      s.removeListener('timeout', silent)
      if (this.stopping) socket.destroy()
      else this.conns.add(new Connection(this, socket, key, mode, ls))
    }
    if (tls === undefined) return sniffPreface(s, (isH2) => {
      if (!isH2) return ready(s, PLAIN_SNIFFED)
      if (this.sniffing.delete(s)) {
        connStats.active--
        ls.active--
      }
      s.setTimeout(0)
      s.removeListener('timeout', silent)
      if (this.stopping) s.destroy()
      else this.h2Session(s, key, h2!, false, ls)
    })
    if (h2 === undefined || h2.mode !== H2_ALPN) return sniff(s, tls, ready)
    sniff(s, tls, (socket, mode) => {
      if (mode !== TLS) return ready(socket, mode)
      // ALPN decides, once the handshake is done; client_header_timeout still bounds it.
      this.sniffing.add(socket)
      socket.once('close', () => this.sniffing.delete(socket))
      socket.once('secure', () => {
        this.sniffing.delete(socket)
        if ((socket as TLSSocket).alpnProtocol !== 'h2') return ready(socket, mode)
        if (this.sniffing.delete(s)) {
          connStats.active--
          ls.active--
        }
        s.setTimeout(0)
        s.removeListener('timeout', silent)
        // Node clears this only for sockets of its own tls.Server (before 'secureConnection'); an HTTP/2 session
        // made on a socket that still says so waits for a 'secureConnect' that a server socket never emits.
        ;(socket as { secureConnecting?: boolean }).secureConnecting = false
        if (this.stopping) socket.destroy()
        else this.h2Session(socket, key, h2, true, ls)
      })
    })
  }

  /** An HTTP/2 connection: counted as active (waiting) for stub_status while it is open, as nginx counts it. */
  private h2Session(s: Socket, key: string, h2: H2Address, tls: boolean, ls: ConnStats): void {
    connStats.active++
    ls.active++
    s.once('close', () => {
      connStats.active--
      ls.active--
    })
    this.conns.add(new H2Session(this, s, key, h2, tls))
  }

  forget(c: ClientConn): void {
    this.conns.delete(c)
    if (this.drained !== null && this.conns.size === 0) this.drained()
  }

  /** A compiled template for a string that reaches us at run time (a `hash` key of a posted group). */
  template(text: string): Template {
    let t = this.templates.get(text)
    if (t === undefined) {
      t = this.conf.vars.compile(text)
      if (this.templates.size < 10_000) this.templates.set(text, t)
    }
    return t
  }

  logRequest(req: HttpRequest): void {
    const logs = req.loc?.accessLogs ?? this.conf.accessLogs
    if (logs !== null) {
      req.endMsec = Date.now()
      for (const l of logs) l.write(req)
    }
    // The request is over: limit_conn stops counting it, after its log line, as nginx frees it with the request.
    if (req.limitConnHeld !== null) releaseLimitConn(req)
  }

  reopenLogs(): void {
    this.conf.logFiles.reopen()
  }

  /**
   * Graceful stop: stop accepting, close idle connections, wait for requests in flight — `ms` at most
   * (worker_shutdown_timeout), after which the caller exits and their connections close with it.
   */
  async close(ms: number): Promise<void> {
    this.stopping = true
    this.conf.logFiles.flush()
    // server.close() reports only once every connection is gone, so it is not awaited: connections are ours to end.
    for (const s of this.servers) s.close()
    this.pools.closeIdle()
    this.h2pool.closeAll()
    // Idle is between requests (nginx's keep-alive idle). A connection that has not sent a byte yet was accepted
    // just before the stop and is owed an answer: its request is served, then it closes (keep-alive is off now).
    for (const c of this.conns) if (c.socket.bytesRead > 0) c.closeIfIdle()
    for (const s of this.sniffing) s.destroy()
    if (this.conns.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms)
        this.drained = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
    this.conf.logFiles.flush()
  }
}

/** The client connection preface of HTTP/2 (RFC 9113 §3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')

/**
 * A plain address where HTTP/2 is on but not the only protocol: the first bytes tell the preface from an HTTP/1.x
 * request line (nginx ≥ 1.25.1 does the same); they are put back for whichever reads the connection.
 */
function sniffPreface(s: Socket, ready: (isH2: boolean) => void): void {
  const drop = (): void => void s.destroy()
  s.on('error', drop)
  s.once('close', drop)
  s.once('data', (first: Buffer) => {
    s.removeListener('error', drop)
    s.removeListener('close', drop)
    s.pause()
    s.unshift(first)
    const n = Math.min(first.length, PREFACE.length)
    const h2 = first.subarray(0, n).equals(PREFACE.subarray(0, n))
    ready(h2)
    // Paused above, a stream stays paused when a 'data' listener comes: the Connection reads from here on (nghttp2
    // takes what was put back itself).
    if (!h2 && !s.destroyed) s.resume()
  })
}

/**
 * One connection to a backend server, alive across requests when kept alive. Its socket listeners are installed
 * once, for the connection's life; each request attaches itself as the `user` for the time of its exchange, so
 * reusing a connection allocates nothing.
 */
import { connect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { ResponseHeadParser } from '../http1/index.js'
import type { Server } from '../upstream/index.js'
import { sslErrorText, type UpstreamTls } from './tls.js'
import type { Deadline, DeadlineOwner, DeadlineWheel } from '../deadlines.js'

/** How a connection to an `https://` upstream is made: its settings, the name, the session to resume. */
export interface TlsDial {
  tls: UpstreamTls
  name: string
  session: Buffer | undefined
  /** Where new sessions go (proxy_ssl_session_reuse), by pool key; null: not kept. */
  sessions: Map<string, Buffer> | null
}

/** What a connection reports to the exchange using it. */
export interface ConnUser {
  onConnect(conn: UpstreamConn): void
  onData(conn: UpstreamConn, chunk: Buffer): void
  onEnd(conn: UpstreamConn): void
  onError(conn: UpstreamConn, err: Error | null): void
  onTimeout(conn: UpstreamConn): void
  onDrain(conn: UpstreamConn): void
}

/**
 * Plain backend sockets (TCP and unix) read into this one buffer, shared by every connection of the worker process,
 * through net's `onread` option: a read costs no Buffer allocation and skips the Readable machinery (push, addChunk,
 * 'data'). The next read overwrites it, so what is read must be used or copied before onData returns: the response
 * parser copies a head that comes in pieces, the exchange copies body bytes it hands on and what follows a 101, and
 * a tunnel gets a copy of each read. TLS sockets read as usual (their own Buffer per read).
 */
const READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024)

export class UpstreamConn implements DeadlineOwner {
  readonly socket: Socket
  /** Its timeouts (connect, send, read, keepalive while idle) on the worker's wheel. */
  readonly deadline: Deadline
  user: ConnUser | null = null
  /** Requests sent on this connection, for keepalive_requests. */
  requests = 0
  connected = false
  closed = false
  /** ms: when it was opened, for keepalive_time. */
  born = Date.now()
  /** Set while it sits idle: its server's pool, and the cache of the group that keeps it (pool.ts). */
  pool: { remove(c: UpstreamConn): void } | null = null
  cache: { readonly idle: UpstreamConn[] } | null = null
  /**
   * Why the TLS handshake or the peer check failed, in nginx's words (`SSL_do_handshake() failed (…)`,
   * `upstream SSL certificate verify error: (…)`); null otherwise. Read by the exchange to log the failure.
   */
  tlsError: string | null = null
  /** Reads arrive in the shared READ_BUFFER: bytes kept past onData must be copied. */
  readonly shared: boolean
  /** Parses each response head on this connection (reset by the exchange that sends a request). */
  readonly parser = new ResponseHeadParser()
  /**
   * Where a plain connection goes once its socket has closed, to be opened again by Pools.acquire (spares), or
   * null: never reused (TLS, a tunnel after a 101).
   */
  spares: UpstreamConn[] | null = null
  server: Server
  key: string

  /**
   * @param key the pool it returns to: the server's address, or the TLS pool key (UpstreamTls.poolKey)
   * @param dial for an `https://` upstream: connected (onConnect) only once the handshake and checks passed
   */
  constructor(server: Server, wheel: DeadlineWheel, key: string = server.addr, dial: TlsDial | null = null) {
    this.server = server
    this.key = key
    this.deadline = wheel.create(this)
    const where = server.unix ? { path: server.host } : { host: server.host, port: server.port }
    this.shared = dial === null
    if (dial === null) {
      const s = connect({
        ...where,
        noDelay: true,
        onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => {
          this.onRead((buf as Buffer).subarray(0, n))
          return true
        } },
      })
      this.socket = s
      s.on('connect', () => {
        this.connected = true
        this.user?.onConnect(this)
      })
    } else {
      const s = tlsConnect({ ...where, ...dial.tls.connectOptions(dial.name, dial.session) })
      this.socket = s
      let tcp = false
      s.on('connect', () => {
        tcp = true
        s.setNoDelay(true)
      })
      s.on('secureConnect', () => {
        const why = dial.tls.checkPeer(s, dial.name)
        if (why !== null) {
          this.tlsError = why
          s.destroy(new Error(why))
          return
        }
        this.connected = true
        this.user?.onConnect(this)
      })
      // The handshake failed after the TCP connect: nginx's SSL_do_handshake() error (a refused connect is not one).
      s.on('error', (e) => {
        if (!this.connected && tcp && this.tlsError === null) this.tlsError = handshakeError(e)
      })
      if (dial.sessions !== null) {
        const sessions = dial.sessions
        s.on('session', (session: Buffer) => {
          if (sessions.size >= MAX_SESSIONS && !sessions.has(key)) sessions.clear()
          sessions.set(key, session)
        })
      }
    }
    const s = this.socket
    if (!this.shared) s.on('data', (b: Buffer) => this.onRead(b))
    s.on('end', () => {
      if (this.user !== null) this.user.onEnd(this)
      else this.destroy()
    })
    s.on('error', (e) => {
      this.closed = true
      if (this.user !== null) this.user.onError(this, e)
      else this.destroy()
    })
    s.on('close', () => {
      this.closed = true
      this.deadline.cancel()
      if (this.pool !== null) this.pool.remove(this)
      this.user?.onError(this, null)
      // Nobody holds it any more: its socket, listeners and parser can serve the next new connection.
      const spares = this.spares
      // (Only a socket left in its plain state: not paused, nothing corked or waiting to be written.)
      if (spares !== null && this.user === null && spares.length < MAX_SPARES && !s.isPaused() && s.writableLength === 0 && s.writableCorked === 0) {
        spares.push(this)
      }
    })
    s.on('drain', () => this.user?.onDrain(this))
  }

  /**
   * Opens a closed plain connection again, to `server`: the socket reconnects (net.Socket supports connect() after
   * 'close'), keeping its listeners and read buffer, so a new backend connection costs no objects or closures.
   */
  reopen(server: Server): void {
    this.server = server
    this.key = server.addr
    this.user = null
    this.requests = 0
    this.connected = false
    this.closed = false
    this.born = Date.now()
    this.socket.connect(server.unix ? { path: server.host } : { host: server.host, port: server.port })
  }

  private onRead(b: Buffer): void {
    if (this.user !== null) this.user.onData(this, b)
    // A tunnel (after a 101) listens for 'data', which onread does not emit: hand it a copy.
    else if (this.shared && this.socket.listenerCount('data') > 0) this.socket.emit('data', Buffer.from(b))
    else this.destroy() // a backend talking on an idle connection is out of sync: drop it
  }

  onDeadline(): void {
    if (this.user !== null) this.user.onTimeout(this)
    else this.destroy() // keepalive_timeout of an idle connection
  }

  destroy(): void {
    this.deadline.cancel()
    this.closed = true
    this.user = null
    this.socket.destroy()
  }
}

/** Closed plain connections kept for reuse per worker (see UpstreamConn.spares). */
const MAX_SPARES = 256

/** Saved TLS sessions per worker; more distinct pools than this (names from requests) start the map over. */
const MAX_SESSIONS = 4096

function handshakeError(e: Error): string {
  const text = sslErrorText(e)
  if (text === e.message) return `peer closed connection in SSL handshake (${(e as NodeJS.ErrnoException).code ?? e.message})`
  return `SSL_do_handshake() failed (${text})`
}

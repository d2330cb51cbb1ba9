/**
 * One connection to a backend server, alive across requests when kept alive. Its socket listeners are installed
 * once, for the connection's life; each request attaches itself as the `user` for the time of its exchange, so
 * reusing a connection allocates nothing.
 */
import { connect, type Socket } from 'node:net'
import type { Server } from '../upstream/index.js'

/** What a connection reports to the exchange using it. */
export interface ConnUser {
  onConnect(conn: UpstreamConn): void
  onData(conn: UpstreamConn, chunk: Buffer): void
  onEnd(conn: UpstreamConn): void
  onError(conn: UpstreamConn, err: Error | null): void
  onTimeout(conn: UpstreamConn): void
  onDrain(conn: UpstreamConn): void
}

export class UpstreamConn {
  readonly socket: Socket
  user: ConnUser | null = null
  /** Requests sent on this connection, for keepalive_requests. */
  requests = 0
  connected = false
  closed = false
  /** ms: when it was opened, for keepalive_time. */
  readonly born = Date.now()
  /** Set while it sits idle: its server's pool, and the cache of the group that keeps it (pool.ts). */
  pool: { remove(c: UpstreamConn): void } | null = null
  cache: { readonly idle: UpstreamConn[] } | null = null

  constructor(readonly server: Server) {
    const s = server.unix ? connect({ path: server.host }) : connect({ host: server.host, port: server.port, noDelay: true })
    this.socket = s
    s.on('connect', () => {
      this.connected = true
      this.user?.onConnect(this)
    })
    s.on('data', (b: Buffer) => {
      if (this.user !== null) this.user.onData(this, b)
      else this.destroy() // a backend talking on an idle connection is out of sync: drop it
    })
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
      if (this.pool !== null) this.pool.remove(this)
      this.user?.onError(this, null)
    })
    s.on('timeout', () => {
      if (this.user !== null) this.user.onTimeout(this)
      else this.destroy() // keepalive_timeout of an idle connection
    })
    s.on('drain', () => this.user?.onDrain(this))
  }

  destroy(): void {
    this.closed = true
    this.user = null
    this.socket.destroy()
  }
}

/**
 * Idle keepalive connections. As in nginx, `keepalive N` bounds the idle connections of one group (in each
 * worker): when a group already keeps N, its least recently used one is closed. The connections themselves are
 * found by server address, so a group replaced through the interface (same name) that still lists a server reuses
 * its warm connections and keeps its bound. The most recently used connection to a server is reused first, and
 * idle ones close after `keepalive_timeout`. Connections to `https://` upstreams are pooled apart, by server, TLS
 * settings and name (UpstreamTls.poolKey), and their TLS sessions are kept per pool for resumption.
 */
import type { Keepalive, Server } from '../upstream/index.js'
import { UpstreamConn } from './conn.js'
import type { UpstreamTls } from './tls.js'
import { DeadlineWheel } from '../deadlines.js'

/** The idle connections of one group, least recently used first (nginx's per-upstream cache queue). */
class GroupCache {
  readonly idle: UpstreamConn[] = []
}

/** The idle connections of one pool key (a server address, or address and TLS settings), most recently used last. */
class ServerPool {
  readonly idle: UpstreamConn[] = []

  /** Takes `c` out of this pool and out of its group's cache. */
  remove(c: UpstreamConn): void {
    // Searched from the end: acquire takes the most recently used, last in both lists.
    const i = this.idle.lastIndexOf(c)
    if (i >= 0) this.idle.splice(i, 1)
    c.pool = null
    const cache = c.cache
    if (cache !== null) {
      const j = cache.idle.lastIndexOf(c)
      if (j >= 0) cache.idle.splice(j, 1)
      c.cache = null
    }
  }
}

export class Pools {
  private readonly byAddr = new Map<string, ServerPool>()
  private readonly byGroup = new Map<string, GroupCache>()
  /** The last TLS session of each TLS pool (proxy_ssl_session_reuse). */
  private readonly sessions = new Map<string, Buffer>()
  /**
   * Plain connections whose socket closed, to be opened again instead of made anew: with more requests in flight
   * than `keepalive` keeps, connections are closed and opened all the time, and a new net.Socket with its listeners
   * costs Node several times the connect itself.
   */
  private readonly spares: UpstreamConn[] = []

  /**
   * Addresses some group drains (NGINX Plus's `drain`): a connection to one is closed when its request ends
   * instead of kept, so nothing stays open to a server being taken out. Kept by the routing table.
   */
  drained: ReadonlySet<string> = new Set()

  /** @param deadlines the worker's wheel, for the connections' timeouts */
  constructor(readonly deadlines: DeadlineWheel = new DeadlineWheel()) {}

  /**
   * A connected idle connection to `server`, or a new one (not yet connected: wait for onConnect).
   * @param tls for an `https://` upstream: its settings; `name` is then proxy_ssl_name's value
   */
  acquire(server: Server, tls: UpstreamTls | null = null, name = ''): UpstreamConn {
    const key = tls === null ? server.addr : tls.poolKey(server.addr, name)
    const p = this.byAddr.get(key)
    if (p !== undefined) {
      while (p.idle.length > 0) {
        const c = p.idle[p.idle.length - 1]!
        p.remove(c)
        if (c.closed) continue
        c.deadline.disarm()
        return c
      }
    }
    if (tls === null) {
      const spare = this.spares.pop()
      if (spare !== undefined) {
        spare.reopen(server)
        return spare
      }
      const c = new UpstreamConn(server, this.deadlines)
      c.spares = this.spares
      return c
    }
    const sessions = tls.sessionReuse ? this.sessions : null
    return new UpstreamConn(server, this.deadlines, key, { tls, name, session: sessions?.get(key), sessions })
  }

  /**
   * Keeps `c` for reuse if the keepalive settings of `group` allow it, closing that group's least recently used
   * idle connection when it already keeps `keepalive` of them; closes `c` otherwise.
   */
  /** @param now Date.now(), when the caller has it */
  release(c: UpstreamConn, ka: Keepalive, group: string, now = Date.now()): void {
    c.user = null
    if (c.closed || ka.connections === 0 || c.requests >= ka.requests || now - c.born > ka.time) return c.destroy()
    if (this.drained.size !== 0 && this.drained.has(c.server.addr)) return c.destroy()
    let cache = this.byGroup.get(group)
    if (cache === undefined) this.byGroup.set(group, (cache = new GroupCache()))
    while (cache.idle.length >= ka.connections) {
      const old = cache.idle.shift()!
      old.cache = null
      old.pool?.remove(old)
      old.destroy()
    }
    let p = this.byAddr.get(c.key)
    if (p === undefined) this.byAddr.set(c.key, (p = new ServerPool()))
    c.pool = p
    c.cache = cache
    c.deadline.arm(ka.timeout)
    p.idle.push(c)
    cache.idle.push(c)
  }

  /** Closes the idle connections to the servers at `addrs` (a server drained), whatever their pool key. */
  closeIdleTo(addrs: ReadonlySet<string>): void {
    for (const p of this.byAddr.values()) {
      for (const c of p.idle.slice()) {
        if (!addrs.has(c.server.addr)) continue
        p.remove(c)
        c.destroy()
      }
    }
  }

  /** Closes every idle connection (graceful stop). */
  closeIdle(): void {
    for (const p of this.byAddr.values()) {
      for (const c of p.idle.slice()) {
        p.remove(c)
        c.destroy()
      }
    }
    this.byAddr.clear()
    this.byGroup.clear()
  }
}

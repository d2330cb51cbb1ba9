/**
 * Idle keepalive connections, kept per backend server address so they outlive group replacements: a group replaced
 * through the interface that still lists a server reuses its warm connections. A server no longer in any group has
 * its idle connections closed by `retain()`.
 *
 * Each server keeps at most `keepalive N` idle connections (nginx counts N per worker for the whole upstream block;
 * per server is the closest shape once pools outlive groups). The most recently used connection is reused first,
 * and idle ones close after `keepalive_timeout`.
 */
import type { Keepalive, Server } from '../upstream/index.js'
import { UpstreamConn } from './conn.js'

class ServerPool {
  readonly idle: UpstreamConn[] = []
  remove(c: UpstreamConn): void {
    const i = this.idle.indexOf(c)
    if (i >= 0) this.idle.splice(i, 1)
    c.pool = null
  }
}

export class Pools {
  private readonly byAddr = new Map<string, ServerPool>()

  /** A connected idle connection to `server`, or a new one (not yet connected: wait for onConnect). */
  acquire(server: Server): UpstreamConn {
    const p = this.byAddr.get(server.addr)
    if (p !== undefined) {
      while (p.idle.length > 0) {
        const c = p.idle.pop()!
        c.pool = null
        if (c.closed) continue
        c.socket.setTimeout(0)
        return c
      }
    }
    return new UpstreamConn(server)
  }

  /** Keeps `c` for reuse if the group's keepalive allows it; closes it otherwise. */
  release(c: UpstreamConn, ka: Keepalive): void {
    c.user = null
    if (c.closed || ka.connections === 0 || c.requests >= ka.requests) return c.destroy()
    let p = this.byAddr.get(c.server.addr)
    if (p === undefined) this.byAddr.set(c.server.addr, (p = new ServerPool()))
    if (p.idle.length >= ka.connections) p.idle.shift()!.destroy()
    c.pool = p
    c.socket.setTimeout(ka.timeout)
    p.idle.push(c)
  }

  /** Closes idle connections to servers that are not in `live` (addresses of every server of every group). */
  retain(live: ReadonlySet<string>): void {
    for (const [addr, p] of this.byAddr) {
      if (live.has(addr)) continue
      for (const c of p.idle.splice(0)) c.destroy()
      this.byAddr.delete(addr)
    }
  }

  /** Closes every idle connection (graceful stop). */
  closeIdle(): void {
    for (const p of this.byAddr.values()) for (const c of p.idle.splice(0)) c.destroy()
    this.byAddr.clear()
  }
}

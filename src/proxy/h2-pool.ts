/**
 * HTTP/2 connections to gRPC backends, one per server address, shared by every request to it (streams multiplex)
 * and kept while they live: a connection that closes, fails, receives GOAWAY or stays idle for 60 s is forgotten,
 * the next request opens another.
 */
import { connect, type ClientHttp2Session, type SecureClientSessionOptions } from 'node:http2'
import type { UpstreamTls } from './tls.js'

/** nginx's default upstream keepalive_timeout. */
const IDLE_TIMEOUT = 60_000

export class H2Pool {
  private readonly byAddr = new Map<string, ClientHttp2Session>()

  /**
   * The connection to `addr` (`host:port`), opened now if there is none; over TLS with `tls` (grpcs://), `name`
   * being the name sent (SNI) and checked — connections differ by both.
   */
  get(addr: string, tls: UpstreamTls | null = null, name = ''): ClientHttp2Session {
    const key = tls === null ? addr : tls.poolKey(addr, name)
    const have = this.byAddr.get(key)
    if (have !== undefined && !have.closed && !have.destroyed) return have
    const host = addr.startsWith('[') ? addr.slice(0, addr.indexOf(']') + 1) : addr.slice(0, addr.lastIndexOf(':'))
    const port = addr.slice(addr.lastIndexOf(':') + 1)
    let s: ClientHttp2Session
    if (tls === null) s = connect(`http://${host}:${port}`)
    else {
      const o: SecureClientSessionOptions = { ...tls.connectOptions(name, undefined), ALPNProtocols: ['h2'] }
      s = connect(`https://${host}:${port}`, o)
    }
    const forget = (): void => {
      if (this.byAddr.get(key) === s) this.byAddr.delete(key)
    }
    s.on('error', forget)
    s.on('close', forget)
    s.on('goaway', forget)
    // An idle connection is closed after nginx's upstream keepalive_timeout (60 s); the next call opens another.
    s.setTimeout(IDLE_TIMEOUT, () => s.close())
    this.byAddr.set(key, s)
    return s
  }

  /** Graceful stop: the connections close once their streams are done. */
  closeAll(): void {
    for (const s of this.byAddr.values()) s.close()
    this.byAddr.clear()
  }
}

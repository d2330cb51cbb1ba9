/**
 * HTTP/2 connections to gRPC backends, one per server address, shared by every request to it (streams multiplex)
 * and kept while they live: a connection that closes, fails or receives GOAWAY is forgotten, the next request opens
 * another.
 */
import { connect, type ClientHttp2Session } from 'node:http2'

export class H2Pool {
  private readonly byAddr = new Map<string, ClientHttp2Session>()

  /** The connection to `addr` (`host:port`), opened now if there is none. */
  get(addr: string): ClientHttp2Session {
    const have = this.byAddr.get(addr)
    if (have !== undefined && !have.closed && !have.destroyed) return have
    const host = addr.startsWith('[') ? addr.slice(0, addr.indexOf(']') + 1) : addr.slice(0, addr.lastIndexOf(':'))
    const s = connect(`http://${host}:${addr.slice(addr.lastIndexOf(':') + 1)}`)
    const forget = (): void => {
      if (this.byAddr.get(addr) === s) this.byAddr.delete(addr)
    }
    s.on('error', forget)
    s.on('close', forget)
    s.on('goaway', forget)
    this.byAddr.set(addr, s)
    return s
  }

  /** Graceful stop: the connections close once their streams are done. */
  closeAll(): void {
    for (const s of this.byAddr.values()) s.close()
    this.byAddr.clear()
  }
}

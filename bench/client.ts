/**
 * A minimal HTTP/1.1 client on one keepalive socket, one request at a time. node:http costs tens of
 * microseconds per request, which would cap the update-rate and paced-traffic measurements; this does not.
 * It understands Content-Length, chunked and until-close bodies: all the proxies and backends here send.
 */
import { connect } from 'node:net'
import type { Socket } from 'node:net'

export interface Reply {
  status: number
  /** lower-cased names; a repeated header keeps its last value */
  headers: Record<string, string>
  body: Buffer
}

interface Pending {
  resolve: (r: Reply) => void
  reject: (e: Error) => void
  noBody: boolean
}

const CRLFCRLF = Buffer.from('\r\n\r\n')
const EMPTY = Buffer.alloc(0)

export class HttpConn {
  /** false once the peer closed or an error happened; open a new connection then */
  open = true
  private buf: Buffer = EMPTY
  private pending: Pending | null = null
  private head: { status: number, headers: Record<string, string> } | null = null
  /** body bytes still expected (Content-Length), -1 chunked, -2 until close */
  private want = 0
  private chunks: Buffer[] = []

  private constructor(private readonly sock: Socket) {
    sock.setNoDelay(true)
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d])
      this.parse()
    })
    sock.on('error', (e) => this.fail(e))
    sock.on('close', () => {
      if (this.pending && this.head && this.want === -2) {
        this.finish()
      } else {
        this.fail(new Error('connection closed'))
      }
    })
  }

  /** The client-side port, which names the connection in /proc/net/tcp. */
  get localPort(): number {
    return this.sock.localPort ?? 0
  }

  /**
   * Connects to 127.0.0.1:port.
   * @throws Error when the connection is refused.
   */
  static open(port: number, host = '127.0.0.1'): Promise<HttpConn> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host)
      s.once('connect', () => {
        s.removeListener('error', reject)
        resolve(new HttpConn(s))
      })
      s.once('error', reject)
    })
  }

  /**
   * Sends one request and resolves with the whole response.
   * @throws Error when the connection fails or closes before the response is complete.
   */
  request(method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<Reply> {
    if (this.pending) return Promise.reject(new Error('request already in flight'))
    if (!this.open) return Promise.reject(new Error('connection closed'))
    let head = `${method} ${path} HTTP/1.1\r\n`
    if (!('Host' in headers)) head += 'Host: bench\r\n'
    for (const k in headers) head += `${k}: ${headers[k]}\r\n`
    if (body !== undefined) head += `Content-Length: ${Buffer.byteLength(body, 'latin1')}\r\n`
    head += '\r\n'
    return new Promise<Reply>((resolve, reject) => {
      this.pending = { resolve, reject, noBody: method === 'HEAD' }
      if (body === undefined) {
        this.sock.write(head, 'latin1')
      } else if (typeof body === 'string') {
        this.sock.write(head + body, 'latin1')
      } else {
        this.sock.write(head, 'latin1')
        this.sock.write(body)
      }
    })
  }

  close(): void {
    this.open = false
    this.sock.destroy()
  }

  private fail(e: Error): void {
    this.open = false
    const p = this.pending
    this.pending = null
    this.head = null
    if (p) p.reject(e)
    this.sock.destroy()
  }

  private finish(): void {
    const p = this.pending!
    const h = this.head!
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
    this.pending = null
    this.head = null
    this.chunks = []
    if (h.headers['connection']?.toLowerCase() === 'close') this.open = false
    p.resolve({ status: h.status, headers: h.headers, body })
  }

  private parse(): void {
    while (this.pending && this.buf.length > 0) {
      if (this.head === null) {
        const end = this.buf.indexOf(CRLFCRLF)
        if (end < 0) return
        const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n')
        this.buf = this.buf.subarray(end + 4)
        const status = Number(lines[0]!.slice(9, 12))
        const headers: Record<string, string> = {}
        for (let i = 1; i < lines.length; i++) {
          const c = lines[i]!.indexOf(':')
          if (c > 0) headers[lines[i]!.slice(0, c).trim().toLowerCase()] = lines[i]!.slice(c + 1).trim()
        }
        if (status >= 100 && status < 200) continue
        this.head = { status, headers }
        if (this.pending.noBody || status === 204 || status === 304) {
          this.want = 0
        } else if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
          this.want = -1
        } else if (headers['content-length'] !== undefined) {
          this.want = Number(headers['content-length'])
        } else {
          this.want = -2
        }
        if (this.want === 0) {
          this.finish()
          continue
        }
      }
      if (this.want > 0) {
        const n = Math.min(this.want, this.buf.length)
        this.chunks.push(this.buf.subarray(0, n))
        this.buf = this.buf.subarray(n)
        this.want -= n
        if (this.want === 0) this.finish()
      } else if (this.want === -2) {
        this.chunks.push(this.buf)
        this.buf = EMPTY
      } else if (!this.chunk()) {
        return
      }
    }
  }

  /** Consumes one chunk of a chunked body; false when more bytes are needed. */
  private chunk(): boolean {
    const eol = this.buf.indexOf('\r\n')
    if (eol < 0) return false
    const size = parseInt(this.buf.subarray(0, eol).toString('latin1'), 16)
    if (size === 0) {
      // Last chunk; no trailers are sent by the servers used here.
      if (this.buf.length < eol + 4) return false
      this.buf = this.buf.subarray(eol + 4)
      this.finish()
      return true
    }
    if (this.buf.length < eol + 2 + size + 2) return false
    this.chunks.push(this.buf.subarray(eol + 2, eol + 2 + size))
    this.buf = this.buf.subarray(eol + 2 + size + 2)
    return true
  }
}

/**
 * One connection at a time to a port, opened again before a request when the server has closed the previous one
 * (a `Connection: close` answer, e.g. after nginx-style `keepalive_requests`), as any keepalive client does.
 * A connection lost while a request is in flight still rejects that request.
 */
export class Client {
  private conn: HttpConn | null = null

  constructor(readonly port: number) {}

  /**
   * Sends one request on the current connection, or on a new one when it was closed.
   * @throws Error when connecting fails or the connection fails during the request.
   */
  async request(method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<Reply> {
    if (this.conn === null || !this.conn.open) this.conn = await HttpConn.open(this.port)
    return this.conn.request(method, path, headers, body)
  }

  close(): void {
    this.conn?.close()
    this.conn = null
  }
}

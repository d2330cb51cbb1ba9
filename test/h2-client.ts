/**
 * HTTP/2 clients for the tests: node:http2 sessions (h2c prior knowledge or TLS with ALPN) that report each
 * response's status, header list in order and body; `curl --http2`; and a raw frame writer for the attack tests,
 * which must send what no well-behaved client sends (resets in bulk, endless CONTINUATION, HPACK bombs, floods).
 */
import { spawn } from 'node:child_process'
import { connect as h2connect, type ClientHttp2Session, type IncomingHttpHeaders, type SecureClientSessionOptions } from 'node:http2'
import { connect, type Socket } from 'node:net'

export interface H2Response {
  status: number
  /** The HEADERS frame's fields as decoded, in order, `:status` first. */
  headers: [string, string][]
  body: Buffer
  /** The RST_STREAM code when the server reset the stream, else 0. */
  rstCode: number
}

/** A session to `127.0.0.1:port`: h2c with prior knowledge, or TLS (`ca` given) with ALPN `h2`, SNI `a.test`. */
export function h2session(port: number, o: { ca?: string; settings?: SecureClientSessionOptions['settings'] } = {}): Promise<ClientHttp2Session> {
  return new Promise((res, rej) => {
    const url = o.ca !== undefined ? `https://127.0.0.1:${port}` : `http://127.0.0.1:${port}`
    const opts: SecureClientSessionOptions = o.ca !== undefined ? { ca: o.ca, servername: 'a.test' } : {}
    if (o.settings !== undefined) opts.settings = o.settings
    const s = h2connect(url, opts)
    s.once('connect', () => {
      // A reset after the test's last request is no failure of the test.
      s.on('error', () => {})
      res(s)
    })
    s.once('error', rej)
  })
}

/** One request on `s`; `headers` may hold `:method`, `:path`, `:authority` and any fields (arrays repeat a field). */
export function h2request(s: ClientHttp2Session, headers: Record<string, string | string[]>, body?: Buffer | string, ms = 20_000): Promise<H2Response> {
  return new Promise((res, rej) => {
    const st = s.request(headers as IncomingHttpHeaders, { endStream: body === undefined })
    const chunks: Buffer[] = []
    let status = 0
    let list: [string, string][] = []
    const timer = setTimeout(() => {
      st.close()
      rej(new Error(`no end of stream within ${ms} ms for ${String(headers[':path'])}`))
    }, ms)
    st.on('response', (h: IncomingHttpHeaders, _flags: number, raw: string[]) => {
      status = Number(h[':status'])
      list = []
      for (let i = 0; i < raw.length; i += 2) list.push([raw[i]!, raw[i + 1]!])
    })
    st.on('data', (b: Buffer) => chunks.push(b))
    st.on('error', () => {})
    st.on('close', () => {
      clearTimeout(timer)
      res({ status, headers: list, body: Buffer.concat(chunks), rstCode: st.rstCode ?? 0 })
    })
    if (body !== undefined) st.end(body)
  })
}

/** A session's requests, then the session closed. */
export async function h2requests(port: number, o: { ca?: string }, reqs: { headers: Record<string, string | string[]>; body?: Buffer | string }[]): Promise<H2Response[]> {
  const s = await h2session(port, o)
  try {
    return await Promise.all(reqs.map((r) => h2request(s, r.headers, r.body)))
  } finally {
    s.close()
  }
}

/** curl's stdout, stderr and exit status (bounded: 20 s). */
export function curl(args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((res, rej) => {
    let child
    try {
      child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (e) {
      return rej(e)
    }
    const out: Buffer[] = []
    let err = ''
    child.on('error', (e) => rej(new Error(`curl cannot run (${e.message}): the HTTP/2 tests need it (apt-get install curl)`)))
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => (err += b.toString('latin1')))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      res({ code, stdout: Buffer.concat(out), stderr: err })
    })
  })
}

// ---------------------------------------------------------------------------------------------------------------
// Raw frames.

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')
export const DATA = 0, HEADERS = 1, RST_STREAM = 3, SETTINGS = 4, PING = 6, GOAWAY = 7, WINDOW_UPDATE = 8, CONTINUATION = 9
export const END_STREAM = 1, END_HEADERS = 4

export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9)
  h.writeUIntBE(payload.length, 0, 3)
  h[3] = type
  h[4] = flags
  h.writeUInt32BE(stream & 0x7fffffff, 5)
  return Buffer.concat([h, payload])
}

/** An HPACK integer with an `n`-bit prefix, `first` holding the pattern bits above it. */
export function hpackInt(value: number, n: number, first: number): Buffer {
  const max = (1 << n) - 1
  if (value < max) return Buffer.from([first | value])
  const out = [first | max]
  value -= max
  while (value >= 128) {
    out.push((value % 128) | 128)
    value = Math.floor(value / 128)
  }
  out.push(value)
  return Buffer.from(out)
}

const str = (s: string): Buffer => Buffer.concat([hpackInt(Buffer.byteLength(s, 'latin1'), 7, 0), Buffer.from(s, 'latin1')])

/** A literal field without indexing (new name): what a block is made of here. */
export function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00]), str(name), str(value)])
}

/** A literal field with incremental indexing (new name): it enters the dynamic table at index 62. */
export function indexedLiteral(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x40]), str(name), str(value)])
}

/** A GET's header block. */
export function getBlock(path: string, authority = 'a.test'): Buffer {
  return Buffer.concat([literal(':method', 'GET'), literal(':scheme', 'http'), literal(':path', path), literal(':authority', authority)])
}

/**
 * A raw HTTP/2 connection: the preface and an empty SETTINGS are sent first; every byte received is kept, and
 * `frames()` decodes what came so far.
 */
export class RawH2 {
  readonly socket: Socket
  private readonly got: Buffer[] = []
  closed = false
  readonly done: Promise<void>

  private constructor(socket: Socket) {
    this.socket = socket
    socket.on('data', (b: Buffer) => this.got.push(b))
    socket.on('error', () => {})
    this.done = new Promise((r) => socket.on('close', () => {
      this.closed = true
      r()
    }))
  }

  static open(port: number, settings: Buffer = Buffer.alloc(0)): Promise<RawH2> {
    return new Promise((res, rej) => {
      const s = connect(port, '127.0.0.1')
      s.once('connect', () => {
        const r = new RawH2(s)
        r.send(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, settings)]))
        res(r)
      })
      s.once('error', rej)
    })
  }

  /** false when the socket's buffer is full (the server does not read) or it is closed. */
  send(b: Buffer): boolean {
    if (this.socket.destroyed) return false
    return this.socket.write(b)
  }

  frames(): { type: number; flags: number; stream: number; payload: Buffer }[] {
    const all = Buffer.concat(this.got)
    const out: { type: number; flags: number; stream: number; payload: Buffer }[] = []
    let p = 0
    while (p + 9 <= all.length) {
      const len = all.readUIntBE(p, 3)
      if (p + 9 + len > all.length) break
      out.push({ type: all[p + 3]!, flags: all[p + 4]!, stream: all.readUInt32BE(p + 5) & 0x7fffffff, payload: all.subarray(p + 9, p + 9 + len) })
      p += 9 + len
    }
    return out
  }

  /** The GOAWAY's error code, or -1 while none came. */
  goaway(): number {
    const g = this.frames().find((f) => f.type === GOAWAY)
    return g === undefined ? -1 : g.payload.readUInt32BE(4)
  }

  close(): void {
    this.socket.destroy()
  }
}

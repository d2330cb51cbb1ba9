/** Helpers for the health tests: real backends on 127.0.0.1 whose answers the test changes, and check specs. */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { TestContext } from 'node:test'
import type { CheckSpec } from '../upstream/index.js'
import { freePorts } from '../../test/ports.js'

export interface FakeBackend {
  readonly port: number
  /** Connections accepted so far. */
  connections: number
  /** Requests (heads) read so far. */
  requests: number
  /** What each request gets: an HTTP status, or 'hang' (read, never answer). */
  answer: number | 'hang'
  /** Sends `Connection: close` and closes after each answer unless false. */
  close: boolean
  readonly server: Server
}

/** An HTTP backend answering every request with `answer` (no body unless keep-alive: then `Content-Length: 2`). */
export async function fakeBackend(t: TestContext, answer: number | 'hang' = 200): Promise<FakeBackend> {
  const sockets = new Set<Socket>()
  const b = { connections: 0, requests: 0, answer, close: true } as FakeBackend
  const server = createServer((s) => {
    b.connections++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    let buf = ''
    s.on('data', (chunk) => {
      buf += chunk.toString('latin1')
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        buf = buf.slice(end + 4)
        b.requests++
        if (b.answer === 'hang') continue
        if (b.close) {
          s.end(`HTTP/1.1 ${b.answer} X\r\nConnection: close\r\n\r\n`)
        } else {
          s.write(`HTTP/1.1 ${b.answer} X\r\nContent-Length: 2\r\n\r\nok`)
        }
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy()
    server.close(() => r())
  }))
  Object.assign(b, { port: (server.address() as AddressInfo).port, server })
  return b
}

/** A raw TCP server that runs `onConn` for each connection. */
export async function rawServer(t: TestContext, onConn: (s: Socket) => void): Promise<{ port: number; server: Server; connections: () => number }> {
  const sockets = new Set<Socket>()
  let n = 0
  const server = createServer((s) => {
    n++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    onConn(s)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy()
    server.close(() => r())
  }))
  return { port: (server.address() as AddressInfo).port, server, connections: () => n }
}

/** A port nothing listens on, reserved for this test process (test/ports.ts): nobody else listens there meanwhile. */
export async function deadPort(): Promise<number> {
  return (await freePorts(1))[0]!
}

/** A check spec with short timings and Tengine's other defaults. */
export function spec(o: Partial<CheckSpec> = {}): CheckSpec {
  const type = o.type ?? 'http'
  return {
    type,
    interval: 50,
    timeout: 300,
    rise: 2,
    fall: 2,
    defaultDown: false,
    unique: false,
    port: 0,
    send: type === 'http' ? 'GET / HTTP/1.0\r\n\r\n' : '',
    expectAlive: type === 'http' ? ['http_2xx', 'http_3xx'] : [],
    keepaliveRequests: 1,
    fastcgiParams: [],
    ...o,
  }
}

/** Polls `cond` every 10 ms until true or `ms` passed; returns whether it became true. */
export async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) return false
    await new Promise((r) => setTimeout(r, 10))
  }
  return true
}

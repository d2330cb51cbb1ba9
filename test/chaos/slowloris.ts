/**
 * Slowloris: many connections that trickle a request head one byte at a time and never finish it — complete header
 * lines, one after another, so a server that restarts its timer on every byte or every line would keep them forever.
 * `client_header_timeout` bounds the whole head from its first byte, so the server must close every one of them
 * (nginx closes without an answer; a 408 would do too), and keep answering other clients meanwhile.
 */
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { childPids, freePorts, request, startDyups, tempPrefix, waitFor, writeConf } from '../helpers.js'
import { startNginx } from '../nginx.js'
import { quantile } from './load.js'
import type { Kind } from './processes.js'
import { asTest, type Scope } from './scope.js'

const conf = (kind: Kind, port: number, timeout: string, workers: number): string => `${kind === 'dyups' ? 'daemon off;' : 'pid logs/nginx.pid;'}
worker_processes ${workers};
error_log logs/error.log info;
events { worker_connections 1024; }
http {
    access_log off;
    client_header_timeout ${timeout};
    server {
        listen 127.0.0.1:${port};
        location / { return 200 "up"; }
    }
}
`

/** The bytes a slow client sends, one per tick, forever: a request line, then header line after header line. */
const HEAD = 'GET / HTTP/1.1\r\nHost: t\r\n'
const LINE = 'X-Slow: a\r\n'
const byteAt = (i: number): string => (i < HEAD.length ? HEAD[i]! : LINE[(i - HEAD.length) % LINE.length]!)

interface Slow {
  /** When its first byte was written, ms since the experiment began. */
  first: number
  /** When the server ended the connection (its FIN or a reset), ms since the experiment began; null while open. */
  closed: number | null
  /** The first bytes the server sent, if any (a 408 page). */
  got: string
  sent: number
}

export interface SlowlorisReport {
  kind: Kind
  connections: number
  /** Connections the server closed; all of them. */
  closed: number
  /** How many got an answer (a 408) before the close, and how many were closed silently. */
  answered408: number
  silent: number
  /** ms from a connection's first byte to its close. */
  closeMs: { min: number; p50: number; max: number }
  /** Requests from an ordinary client during the attack: all answered. */
  served: number
}

/**
 * `connections` slow clients against dyups (or nginx) with `client_header_timeout timeout`, one byte each every
 * `tickMs`, until the server closes them (bounded by `boundMs`). Meanwhile an ordinary client sends requests on new
 * connections; all must be answered. Asserts only that every slow connection ends, with a 408 or silently.
 */
export async function slowloris(s: Scope, o: { kind: Kind; connections: number; tickMs: number; timeout: string; workers: number; boundMs: number }): Promise<SlowlorisReport> {
  const t = asTest(s)
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(o.kind, port, o.timeout, o.workers))
  const pid = o.kind === 'dyups' ? (await startDyups(t, prefix, [port])).pid : (await startNginx(t, prefix, [port])).pid
  assert.ok(await waitFor(() => childPids(pid).length === o.workers, 30_000))

  const t0 = performance.now()
  const now = (): number => performance.now() - t0
  const slows: Slow[] = []
  const sockets: Socket[] = []
  s.after(() => sockets.forEach((x) => x.destroy()))
  for (let i = 0; i < o.connections; i++) {
    const c: Slow = { first: 0, closed: null, got: '', sent: 0 }
    slows.push(c)
    const sock = connect(port, '127.0.0.1')
    sockets.push(sock)
    sock.setNoDelay(true)
    sock.on('data', (b: Buffer) => {
      if (c.got.length < 200) c.got += b.toString('latin1')
    })
    sock.on('error', () => {})
    sock.on('end', () => (c.closed ??= now()))
    sock.on('close', () => (c.closed ??= now()))
    await new Promise<void>((r) => sock.once('connect', () => r()).once('error', () => r()))
  }
  // One byte per open connection per tick; a write on a connection the server closed is simply dropped.
  const ticker = setInterval(() => {
    for (let i = 0; i < slows.length; i++) {
      const c = slows[i]!
      if (c.closed !== null || sockets[i]!.destroyed) continue
      if (c.sent === 0) c.first = now()
      sockets[i]!.write(byteAt(c.sent++))
    }
  }, o.tickMs)
  s.after(() => clearInterval(ticker))

  let served = 0
  const failures: string[] = []
  const ended = await waitFor(async () => {
    // An ordinary client is served while the slow ones wait for their timeout.
    const r = await request(port, { path: '/' }).catch((e: Error) => ({ status: 0, body: e.message }))
    if (r.status === 200 && r.body === 'up') served++
    else failures.push(`${r.status} ${r.body.slice(0, 100)}`)
    return slows.every((c) => c.closed !== null)
  }, o.boundMs, 50)
  clearInterval(ticker)
  const open = slows.filter((c) => c.closed === null)
  assert.ok(ended, `every slow connection was closed within ${o.boundMs} ms: ${open.length} of ${slows.length} still open ` +
    `(bytes sent by the first: ${open[0]?.sent})`)
  assert.deepEqual(failures, [], 'the ordinary client was served throughout')
  const bad = slows.filter((c) => c.got !== '' && !/^HTTP\/1\.1 408 /.test(c.got))
  assert.deepEqual(bad.map((c) => c.got.slice(0, 80)), [], 'a slow connection gets a 408 or nothing')
  const times = slows.map((c) => c.closed! - c.first)
  const r = (x: number): number => Math.round(x)
  const report: SlowlorisReport = {
    kind: o.kind, connections: slows.length, closed: slows.length - open.length,
    answered408: slows.filter((c) => c.got !== '').length, silent: slows.filter((c) => c.got === '').length,
    closeMs: { min: r(quantile(times, 0)), p50: r(quantile(times, 0.5)), max: r(quantile(times, 1)) }, served,
  }
  s.diagnostic(`${o.kind}: ${report.connections} slow connections, client_header_timeout ${o.timeout}: all closed ` +
    `(${report.answered408} with 408, ${report.silent} silently), ${report.closeMs.min}/${report.closeMs.p50}/${report.closeMs.max} ms ` +
    `min/median/max after their first byte; ${served} ordinary requests served meanwhile`)
  return report
}

/**
 * Hostile clients and backends around bodies, side by side with the real nginx: a client that leaves in the middle
 * of its upload or of its download, a backend that stops reading the body (proxy_send_timeout), a client that stops
 * reading the answer (send_timeout). Same statuses and error-log lines as nginx; in dyups no socket, descriptor or
 * temp file is left behind.
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import test from 'node:test'
import {
  MiB, download, fds, logLines, open, sendGenerated, newFds, sinkBackend, sourceBackend, startSide,
  type Side,
} from './bodies.js'
import { requireNginx } from './nginx.js'
import { waitFor } from './helpers.js'

const HTTP = `    client_max_body_size 0;
    client_body_buffer_size 16k;
    proxy_send_timeout 500ms;
    send_timeout 500ms;
`
const LOCATIONS = `        location /on { proxy_pass http://u; }
        location /off { proxy_request_buffering off; proxy_http_version 1.1; proxy_pass http://u; }
        location /nb { proxy_buffering off; proxy_pass http://u; }
`

/** Error-log lines about these cases, without time, pid, connection number and addresses that differ. */
function errorLines(side: Side, re: RegExp): string[] {
  return side.errorLog().split('\n').filter((l) => re.test(l))
    .map((l) => l.replace(/^\S+ \S+ (\[\w+\]) \d+#\d+: (\*\d+ )?/, '$1 ').replace(/, (server|host|upstream): "?[^,]*/g, '').replace(/buffered to a temporary file \S+/, 'buffered to a temporary file'))
}

/** Leaves nothing behind: the worker's descriptors are back to `before` and client_body_temp is empty. */
async function clean(side: Side, before: readonly string[]): Promise<void> {
  if (side.kind !== 'dyups') return
  assert.deepEqual(await newFds(side.worker, before), [], 'the dyups worker holds no new descriptor')
  assert.deepEqual(readdirSync(join(side.prefix, 'client_body_temp')), [], 'no temp file left')
}

test('a client that leaves in the middle of its upload', async (t) => {
  requireNginx()
  const out: Record<string, { log: string[]; errors: string[]; backend: number }> = {}
  for (const kind of ['nginx', 'dyups'] as const) {
    const sink = await sinkBackend(t)
    const side = await startSide(t, kind, sink.port, HTTP, LOCATIONS)
    const before = fds(side.worker)
    for (const path of ['/on', '/off']) {
      const s = await open(side.port)
      s.on('error', () => {})
      s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${8 * MiB}\r\n\r\n`)
      // 2 MiB, then gone: past client_body_buffer_size (a temp file with buffering on). The client leaves once the
      // server has taken the body in: written to a temp file (buffering on), or passed on to the backend (off).
      const from = sink.bytes
      await sendGenerated(s, 2 * MiB)
      if (path === '/on') assert.ok(await waitFor(() => /buffered to a temporary file/.test(side.errorLog())), 'the body went to a temp file')
      else assert.ok(await waitFor(() => sink.bytes - from >= 2 * MiB), `the backend got ${sink.bytes - from} bytes of the body`)
      s.destroy()
      await logLines(side, path === '/on' ? 1 : 2)
    }
    await waitFor(() => sink.open.size === 0, 15_000)
    await clean(side, before)
    out[kind] = { log: side.log(), errors: errorLines(side, /prematurely|temporary/), backend: sink.open.size }
  }
  assert.deepEqual(out.dyups, out.nginx)
  assert.deepEqual(out.nginx!.log, ['400 POST /on 0 -', '400 POST /off 0 -'])
  assert.equal(out.nginx!.errors.length, 3)
})

test('a client that leaves in the middle of its download', async (t) => {
  requireNginx()
  const out: Record<string, { status: string; backendClosed: number }> = {}
  for (const kind of ['nginx', 'dyups'] as const) {
    const src = await sourceBackend(t, 64 * MiB)
    const side = await startSide(t, kind, src.port, HTTP, LOCATIONS)
    const before = fds(side.worker)
    const s = await open(side.port)
    s.write('GET /on HTTP/1.1\r\nHost: x\r\n\r\n')
    let stop: () => void = () => {}
    const half = new Promise<void>((r) => (stop = r))
    void download(s, (n) => void (n > MiB && stop())).catch(() => {})
    await half
    s.destroy()
    await waitFor(() => src.closed === 1, 15_000)
    const line = (await logLines(side, 1))[0]!.split(' ')
    await clean(side, before)
    out[kind] = { status: `${line[0]} ${line[1]} ${line[2]} ${line[4]}`, backendClosed: src.closed }
  }
  assert.deepEqual(out.dyups, out.nginx)
  assert.deepEqual(out.nginx, { status: '200 GET /on 200', backendClosed: 1 })
})

test('a backend that stops reading the body: proxy_send_timeout, 504', async (t) => {
  requireNginx()
  const out: Record<string, { replies: string[]; log: string[]; errors: string[] }> = {}
  for (const kind of ['nginx', 'dyups'] as const) {
    const sink = await sinkBackend(t, { stall: true })
    const side = await startSide(t, kind, sink.port, HTTP, LOCATIONS)
    const before = fds(side.worker)
    const replies: string[] = []
    for (const path of ['/on', '/off']) {
      const s = await open(side.port)
      s.on('error', () => {})
      const reply = new Promise<string>((r) => s.once('data', (b: Buffer) => r(b.toString('latin1'))))
      s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${32 * MiB}\r\nConnection: close\r\n\r\n`)
      // Sent until the answer comes; with buffering off the client is held back too. Then the client goes.
      void sendGenerated(s, 32 * MiB).catch(() => {})
      const r = await reply
      s.destroy()
      replies.push(r.split('\r\n')[0]!)
    }
    // The stalled backend reads nothing, so it never sees the close: the worker's descriptors tell instead.
    await clean(side, before)
    out[kind] = { replies, log: (await logLines(side, 2)).map((l) => l.split(' ').filter((_, i) => i !== 3).join(' ')), errors: errorLines(side, /timed out/) }
  }
  assert.deepEqual(out.dyups, out.nginx)
  assert.deepEqual(out.nginx!.replies, ['HTTP/1.1 504 Gateway Time-out', 'HTTP/1.1 504 Gateway Time-out'])
  assert.deepEqual(out.nginx!.errors.map((l) => l.split(',')[0]), Array(2).fill('[error] upstream timed out (110: Connection timed out) while sending request to upstream'))
})

test('a client that stops reading the answer: send_timeout closes', async (t) => {
  requireNginx()
  const out: Record<string, { closed: boolean; short: boolean; errors: string[] }> = {}
  for (const kind of ['nginx', 'dyups'] as const) {
    const src = await sourceBackend(t, 64 * MiB)
    const side = await startSide(t, kind, src.port, HTTP, LOCATIONS)
    const before = fds(side.worker)
    const s = await open(side.port)
    // proxy_buffering off: nginx, like dyups, stops reading the backend while the client is full. (With it on,
    // nginx keeps reading the backend into a temp file and re-arms send_timeout on every read.)
    s.write('GET /nb HTTP/1.1\r\nHost: x\r\n\r\n')
    s.pause()
    // Not read until send_timeout has passed (the server says so in its log), then read to the end.
    assert.ok(await waitFor(() => errorLines(side, /timed out/).length > 0, 10_000), 'send_timeout did not fire')
    const got = download(s)
    s.resume()
    await got
    await waitFor(() => src.closed === 1, 15_000)
    await clean(side, before)
    out[kind] = { closed: true, short: (await got).bytes < 64 * MiB, errors: errorLines(side, /timed out/) }
  }
  assert.deepEqual(out.dyups, out.nginx)
  assert.equal(out.nginx!.short, true)
  assert.deepEqual(out.nginx!.errors, ['[info] client timed out (110: Connection timed out) while sending to client, client: 127.0.0.1, request: "GET /nb HTTP/1.1"'])
})

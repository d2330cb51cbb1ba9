/**
 * Request bodies side by side with the real nginx: what the backend receives for chunked bodies with
 * proxy_request_buffering on and off (a Content-Length once the body is whole, chunked while it streams to an
 * HTTP/1.1 backend), 413 for bodies past client_max_body_size (also chunked ones crossing it midway), and
 * client_body_timeout / client_header_timeout: the same statuses, access-log lines and error-log lines.
 */
import assert from 'node:assert/strict'
import test from 'node:test'
import { logLines, open, readAll, sinkBackend, sleep, startSide, type Side, type Sink } from './bodies.js'
import { waitFor } from './helpers.js'
import { requireNginx } from './nginx.js'

const HTTP = `    client_body_timeout 500ms;
    client_header_timeout 500ms;
    client_max_body_size 1k;
`
const LOCATIONS = `        location /on { proxy_pass http://u; }
        location /off { proxy_request_buffering off; proxy_http_version 1.1; proxy_pass http://u; }
        location /off10 { proxy_request_buffering off; proxy_pass http://u; }
`

interface Case {
  name: string
  /** Written one after the other, 150 ms apart. */
  parts: string[]
  /**
   * nginx keeps reading (discarding) a declared body after its early 413 and sends no FIN; dyups half-closes at
   * once (and lingers). Both answer the same; when the connection closes is not compared.
   */
  closeDiffers?: boolean
}

const chunkedHead = (path: string): string => `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`
const big = 'b'.repeat(700)

const CASES: Case[] = [
  ...['/on', '/off', '/off10'].map((p) => ({ name: `chunked in two parts to ${p}`, parts: [chunkedHead(p) + '5\r\nhello\r\n', '3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n'] })),
  { name: 'chunked whole in one write to /off', parts: [chunkedHead('/off') + '5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n'] },
  { name: 'Content-Length in two parts to /off', parts: ['POST /off HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhell', 'oabc'] },
  { name: 'Content-Length past the limit', parts: ['POST /on HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\nConnection: close\r\n\r\nxx'], closeDiffers: true },
  ...['/on', '/off'].map((p) => ({ name: `chunked crossing the limit at ${p}`, parts: [chunkedHead(p) + `2bc\r\n${big}\r\n`, `2bc\r\n${big}\r\n0\r\n\r\n`] })),
  ...['/on', '/off'].map((p) => ({ name: `body slower than client_body_timeout at ${p}`, parts: ['POST ' + p + ' HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabc'] })),
]

interface Seen {
  name: string
  reply: string
  closed: boolean
  backend: string
}

async function runCases(side: Side, sink: Sink): Promise<{ seen: Seen[]; log: string[] }> {
  const seen: Seen[] = []
  let server = ''
  for (const c of CASES) {
    const before = sink.received.length
    const s = await open(side.port)
    // Shorter than the 5 s of lingering close after an early answer: both are still open then.
    const reply = readAll(s, 3_000)
    for (let i = 0; i < c.parts.length; i++) {
      if (i > 0) await sleep(150)
      if (!s.destroyed) s.write(c.parts[i]!)
    }
    const r = await reply
    s.destroy()
    server ||= /\r\nServer: ([^\r]*)/.exec(r.text)?.[1] ?? ''
    const got = sink.received.slice(before).map((x) => `${x.head}${x.bytes} ${x.crc}`).join('|')
    // The status line and body; Date and Server differ between the two.
    const body = r.text.slice(r.text.indexOf('\r\n\r\n') + 4)
    seen.push({ name: c.name, reply: r.text === '' ? '' : `${r.text.split('\r\n')[0]} ${body.includes('<title>') ? body.split('<title>')[1]!.split('<')[0] : body}`, closed: c.closeDiffers === true || r.closed, backend: got })
  }
  // Error pages end in the server's own name and version: their sizes are compared without it.
  const log = (await logLines(side, CASES.length)).map((l) => {
    const f = l.split(' ')
    if (Number(f[0]) >= 400 && Number(f[3]) > 0) f[3] = `${Number(f[3]) - server.length}+server`
    return f.join(' ')
  })
  return { seen, log }
}

/** The parts of the error log both write the same way, without time, pid and connection number. */
function errorLines(side: Side): string[] {
  return side.errorLog().split('\n')
    .filter((l) => /too large|timed out|prematurely/.test(l))
    .map((l) => l.replace(/^\S+ \S+ (\[\w+\]) \d+#\d+: (\*\d+ )?/, '$1 ').replace(/, upstream: "[^"]*"/, '').replace(/ while sending request to upstream/, ''))
}

test('request bodies, limits and body timeouts as the real nginx', async (t) => {
  requireNginx()
  const out: Record<string, { seen: Seen[]; log: string[]; errors: string[] }> = {}
  for (const kind of ['nginx', 'dyups'] as const) {
    const sink = await sinkBackend(t)
    const side = await startSide(t, kind, sink.port, HTTP, LOCATIONS)
    const r = await runCases(side, sink)
    out[kind] = { ...r, errors: errorLines(side) }
  }
  const n = out.nginx!, d = out.dyups!
  for (let i = 0; i < CASES.length; i++) assert.deepEqual(d.seen[i], n.seen[i], CASES[i]!.name)
  assert.deepEqual(d.log, n.log, 'access logs')
  assert.deepEqual(d.errors, n.errors, 'error logs')
  // What the cases are about, so that both being wrong the same way still fails.
  assert.match(n.seen[0]!.backend, /\r\nContent-Length: 8\r\n\r\n8 /)
  assert.match(n.seen[1]!.backend, /^POST \/off HTTP\/1\.1\r\n.*\r\nTransfer-Encoding: chunked\r\n\r\n8 /s)
  assert.match(n.seen[3]!.backend, /\r\nContent-Length: 8\r\n\r\n8 /)
  assert.deepEqual(n.errors.map((l) => l.split(',')[0]), [
    '[error] client intended to send too large body: 1025 bytes',
    '[error] client intended to send too large chunked body: 700+700 bytes',
    '[error] client intended to send too large chunked body: 700+700 bytes',
  ])
  assert.deepEqual(n.log.slice(5), ['413 POST /on 171+server -', '413 POST /on 171+server -', '413 POST /off 171+server -', '408 POST /on 0 -', '408 POST /off 0 -'])
})

test('a head slower than client_header_timeout is closed without an answer, as nginx does', async (t) => {
  requireNginx()
  const out: Record<string, { reply: string; closed: boolean; idle: { text: string; closed: boolean }; errors: string[] }> = {}
  for (const kind of ['nginx', 'dyups'] as const) {
    const sink = await sinkBackend(t)
    const side = await startSide(t, kind, sink.port, HTTP, LOCATIONS)
    const s = await open(side.port)
    const reply = readAll(s, 5_000)
    s.write('GET /on HTTP/1.1\r\nHost: x\r\n')
    const idle = readAll(await open(side.port), 5_000)
    const [r, i] = await Promise.all([reply, idle])
    const timedOut = (): string[] => side.errorLog().split('\n').filter((l) => l.includes('timed out'))
      .map((l) => l.replace(/^\S+ \S+ (\[\w+\]) \d+#\d+: (\*\d+ )?/, '$1 ').replace(/, (server|request|host): [^,]*/g, ''))
    // Both connections timed out (each closed when its timer fired): wait (bounded) for both of their lines.
    await waitFor(() => timedOut().length >= 2, 10_000)
    out[kind] = { reply: r.text, closed: r.closed, idle: i, errors: timedOut().sort() }
  }
  assert.deepEqual(out.dyups, out.nginx)
  assert.deepEqual(out.nginx!.errors, [
    '[info] client timed out (110: Connection timed out) while reading client request headers, client: 127.0.0.1',
    '[info] client timed out (110: Connection timed out) while waiting for request, client: 127.0.0.1',
  ])
})

test('a trickle of head bytes does not extend client_header_timeout, as in nginx', async (t) => {
  requireNginx()
  const out: Record<string, { text: string; closed: boolean; inTime: boolean }> = {}
  for (const kind of ['nginx', 'dyups'] as const) {
    const sink = await sinkBackend(t)
    const side = await startSide(t, kind, sink.port, HTTP, LOCATIONS)
    const s = await open(side.port)
    const t0 = Date.now()
    let closedAt = 0
    s.once('close', () => { closedAt = Date.now() })
    const reply = readAll(s, 5_000)
    s.write('GET /on HTTP/1.1\r\nHost: x\r\n')
    // A header line every 100 ms for 2 s: each gap is well under the 500 ms timeout, the whole head is not.
    for (let i = 0; i < 20 && !s.destroyed && closedAt === 0; i++) {
      await sleep(100)
      if (!s.destroyed) s.write(`X-${i}: y\r\n`)
    }
    const r = await reply
    // 500 ms, a wheel resolution late at most, and slack for a busy machine; idle-timeout behaviour would be 2 s+.
    out[kind] = { text: r.text, closed: r.closed, inTime: closedAt > 0 && closedAt - t0 < 1_500 }
  }
  assert.deepEqual(out.dyups, out.nginx)
  assert.deepEqual(out.nginx, { text: '', closed: true, inTime: true })
})

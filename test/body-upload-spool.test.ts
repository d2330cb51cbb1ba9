/**
 * proxy_request_buffering on (nginx's default): a body larger than client_body_buffer_size goes to a temp file
 * before the backend is contacted, then to the backend from the file with backpressure; memory stays bounded for
 * 1 GiB, the file is gone when the request ends, and a retry sends it again from the start.
 */
import assert from 'node:assert/strict'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import test from 'node:test'
import { GiB, MiB, RssSampler, fds, newFds, generatedCrc, logLines, open, readAll, sendGenerated, sinkBackend, startSide } from './bodies.js'
import { rssKb } from './helpers.js'

// The body goes from the socket's read buffer to the file and from the file to the backend through one buffer that
// is reused: a worker idles at ~22 MB and stays near that; 64 MB leaves room for the collector's timing.
const RSS_LIMIT_KB = 64 * 1024

test('a 1 GiB upload goes through a temp file with the worker under 64 MB of its own memory', async (t) => {
  const sink = await sinkBackend(t)
  const d = await startSide(t, 'dyups', sink.port, '    client_max_body_size 0;\n', '        location / { proxy_pass http://u; }\n')
  const temp = join(d.prefix, 'client_body_temp')
  const before = fds(d.worker)
  const idleKb = rssKb(d.worker)
  const rss = new RssSampler([d.worker])
  const s = await open(d.port)
  const reply = readAll(s, 120_000)
  s.write(`POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: ${GiB}\r\nConnection: close\r\n\r\n`)
  let spooled: string[] = []
  const crc = await sendGenerated(s, GiB, (n) => {
    // Halfway: the body is in a temp file the worker holds open, already unlinked.
    if (n === GiB / 2) spooled = fds(d.worker).filter((f) => f.startsWith(temp + '/') && f.endsWith(' (deleted)'))
  })
  const r = await reply
  const maxKb = rss.stop()
  console.log(`worker RssAnon ${(idleKb / 1024).toFixed(1)} MB idle, max during a 1 GiB spooled upload: ${(maxKb / 1024).toFixed(1)} MB`)
  assert.match(r.text, /^HTTP\/1\.1 200 OK\r\n/)
  assert.equal(r.text.slice(r.text.indexOf('\r\n\r\n') + 4), `${GiB} ${crc}`, 'the backend got every byte, in order')
  assert.equal(sink.received.length, 1)
  assert.match(sink.received[0]!.head, new RegExp(`\\r\\nContent-Length: ${GiB}\\r\\n`))
  assert.equal(spooled.length, 1, 'one unlinked temp file under client_body_temp while the body is read')
  assert.ok(maxKb < RSS_LIMIT_KB, `worker RSS ${maxKb} kB under ${RSS_LIMIT_KB} kB`)
  assert.match(d.errorLog(), new RegExp(`\\[warn\\] .*a client request body is buffered to a temporary file ${temp}/\\d{10}, client: 127\\.0\\.0\\.1, server: , request: "POST /up HTTP/1\\.1", host: "x"`))
  assert.deepEqual(await logLines(d, 1), [`200 POST /up ${`${GiB} ${crc}`.length} 200`])
  assert.deepEqual(readdirSync(temp), [], 'nothing left in client_body_temp')
  assert.deepEqual(await newFds(d.worker, before), [], 'the temp file and both sockets are closed')
})

test('bodies up to client_body_buffer_size stay in memory; larger ones are resent from the file on a retry', async (t) => {
  // The first server reads the head and closes: an error before any answer, so an idempotent PUT goes to the next.
  const closed: Socket[] = []
  const rude = createServer((s) => {
    closed.push(s)
    s.on('error', () => {})
    s.once('data', () => s.destroy())
  })
  await new Promise<void>((r) => rude.listen(0, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => rude.close(() => r())))
  const sink = await sinkBackend(t)
  const rudePort = (rude.address() as AddressInfo).port
  const d = await startSide(t, 'dyups', sink.port,
    `    client_body_buffer_size 64k;\n    client_max_body_size 8m;\n    upstream u2 { server 127.0.0.1:${rudePort} max_fails=0 weight=100; server 127.0.0.1:${sink.port}; }\n`,
    '        location / { proxy_pass http://u2; }\n')
  const temp = join(d.prefix, 'client_body_temp')
  const cases = [
    { method: 'PUT', size: 64 * 1024, file: false },
    { method: 'PUT', size: 3 * MiB + 17, file: true },
  ]
  for (const c of cases) {
    const s = await open(d.port)
    const reply = readAll(s)
    s.write(`${c.method} /r HTTP/1.1\r\nHost: x\r\nContent-Length: ${c.size}\r\nConnection: close\r\n\r\n`)
    const crc = await sendGenerated(s, c.size)
    assert.equal(crc, generatedCrc(c.size))
    const r = await reply
    assert.equal(r.text.slice(r.text.indexOf('\r\n\r\n') + 4), `${c.size} ${crc}`, `${c.size} bytes reach the second server whole`)
  }
  assert.equal(closed.length, 2, 'each request tried the first server first')
  assert.deepEqual((await logLines(d, 2)).map((l) => l.split(' ').slice(0, 3).join(' ') + ' ' + l.split(' ').slice(4).join(' ')), ['200 PUT /r 502, 200', '200 PUT /r 502, 200'])
  const warns = d.errorLog().split('\n').filter((l) => l.includes('buffered to a temporary file'))
  assert.equal(warns.length, 1, 'only the body larger than client_body_buffer_size went to a file')
  assert.deepEqual(readdirSync(temp), [])
})

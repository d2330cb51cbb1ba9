/**
 * proxy_request_buffering off: the body streams to the backend as it arrives, the client paused while the backend
 * is full, so 1 GiB passes with the worker's memory bounded and no temp file.
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import test from 'node:test'
import { GiB, RssSampler, rssKb, fds, logLines, open, readAll, sendGenerated, settleFds, sinkBackend, startSide } from './bodies.js'

const RSS_LIMIT_KB = 150 * 1024

test('a 1 GiB upload streams to the backend with the worker under 150 MB', async (t) => {
  const sink = await sinkBackend(t)
  const d = await startSide(t, 'dyups', sink.port, '    client_max_body_size 0;\n',
    '        location / { proxy_request_buffering off; proxy_http_version 1.1; proxy_pass http://u; }\n')
  const before = fds(d.worker).length
  const idleKb = rssKb(d.worker)
  const rss = new RssSampler([d.worker])
  const s = await open(d.port)
  const reply = readAll(s, 120_000)
  s.write(`POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: ${GiB}\r\nConnection: close\r\n\r\n`)
  let early = -1
  const crc = await sendGenerated(s, GiB, (n) => {
    // Streaming: the backend has most of the body while the client is still sending it.
    if (n === GiB / 2) early = sink.open.size
  })
  const r = await reply
  const maxKb = rss.stop()
  console.log(`worker VmRSS ${(idleKb / 1024).toFixed(1)} MB idle, max during a 1 GiB streamed upload: ${(maxKb / 1024).toFixed(1)} MB`)
  assert.match(r.text, /^HTTP\/1\.1 200 OK\r\n/)
  assert.equal(r.text.slice(r.text.indexOf('\r\n\r\n') + 4), `${GiB} ${crc}`, 'the backend got every byte, in order')
  assert.equal(early, 1, 'the backend was connected while the body was still coming')
  assert.match(sink.received[0]!.head, new RegExp(`^POST /up HTTP/1\\.1\\r\\nHost: u\\r\\nConnection: close\\r\\nContent-Length: ${GiB}\\r\\n`))
  assert.ok(maxKb < RSS_LIMIT_KB, `worker RSS ${maxKb} kB under ${RSS_LIMIT_KB} kB`)
  assert.doesNotMatch(d.errorLog(), /temporary file/)
  assert.deepEqual(await logLines(d, 1), [`200 POST /up ${`${GiB} ${crc}`.length} 200`])
  assert.deepEqual(readdirSync(join(d.prefix, 'client_body_temp')), [])
  assert.equal(await settleFds(d.worker, before), before, 'both sockets are closed')
})

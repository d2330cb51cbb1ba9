/**
 * proxy_request_buffering off: the body streams to the backend as it arrives, the client paused while the backend
 * is full, so 1 GiB passes with the worker's memory bounded and no temp file.
 */
import assert from 'node:assert/strict'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import test from 'node:test'
import { GiB, RssSampler, crcOf, fds, newFds, logLines, open, readAll, sendGenerated, sinkBackend, startSide } from './bodies.js'
import { freePorts, rssKb, waitFor } from './helpers.js'

const RSS_LIMIT_KB = 128 * 1024

test('a 1 GiB upload streams to the backend with the worker under 128 MB of its own memory', async (t) => {
  const sink = await sinkBackend(t)
  const d = await startSide(t, 'dyups', sink.port, '    client_max_body_size 0;\n',
    '        location / { proxy_request_buffering off; proxy_http_version 1.1; proxy_pass http://u; }\n')
  const before = fds(d.worker)
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
  console.log(`worker RssAnon ${(idleKb / 1024).toFixed(1)} MB idle, max during a 1 GiB streamed upload: ${(maxKb / 1024).toFixed(1)} MB`)
  assert.match(r.text, /^HTTP\/1\.1 200 OK\r\n/)
  assert.equal(r.text.slice(r.text.indexOf('\r\n\r\n') + 4), `${GiB} ${crc}`, 'the backend got every byte, in order')
  assert.equal(early, 1, 'the backend was connected while the body was still coming')
  assert.match(sink.received[0]!.head, new RegExp(`^POST /up HTTP/1\\.1\\r\\nHost: u\\r\\nConnection: close\\r\\nContent-Length: ${GiB}\\r\\n`))
  assert.ok(maxKb < RSS_LIMIT_KB, `worker RSS ${maxKb} kB under ${RSS_LIMIT_KB} kB`)
  assert.doesNotMatch(d.errorLog(), /temporary file/)
  assert.deepEqual(await logLines(d, 1), [`200 POST /up ${`${GiB} ${crc}`.length} 200`])
  assert.deepEqual(readdirSync(join(d.prefix, 'client_body_temp')), [])
  assert.deepEqual(await newFds(d.worker, before), [], 'both sockets are closed')
})

test('a streamed body goes to the next server when the first cannot be reached, and not after it went out', async (t) => {
  const sink = await sinkBackend(t)
  const stall = await sinkBackend(t, { mute: true })
  const [dead] = (await freePorts(1)) as [number]
  const d = await startSide(t, 'dyups', sink.port, `    proxy_send_timeout 300ms;
    proxy_read_timeout 300ms;
    upstream refused { server 127.0.0.1:${dead} weight=100; server 127.0.0.1:${sink.port}; }
    upstream sent { server 127.0.0.1:${stall.port} weight=100; server 127.0.0.1:${sink.port}; }
`, `        location /refused { proxy_request_buffering off; proxy_http_version 1.1; proxy_pass http://refused; }
        location /sent { proxy_request_buffering off; proxy_http_version 1.1; proxy_next_upstream error timeout non_idempotent; proxy_pass http://sent; }
`)
  assert.ok(statSync(join(d.prefix, 'client_body_temp')).isDirectory(), 'client_body_temp is created at start')
  const replies: string[] = []
  for (const path of ['/refused', '/sent']) {
    // The rest of the body comes once its first part has gone out to a server: to the second (the first refused),
    // or to the first, which reads it and never answers.
    const to = path === '/refused' ? sink : stall
    const from = to.bytes
    const s = await open(d.port)
    const reply = readAll(s)
    s.write(`PUT ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\n`)
    assert.ok(await waitFor(() => to.bytes > from && /\r\n4\r\nabcd\r\n$/.test(to.tail)), `the first part of ${path} did not go out`)
    s.write('3\r\nefg\r\n0\r\n\r\n')
    const r = await reply
    replies.push(`${r.text.split('\r\n')[0]} ${r.text.slice(r.text.indexOf('\r\n\r\n') + 4, r.text.indexOf('\r\n\r\n') + 4 + 20).split('<')[0]}`)
  }
  assert.deepEqual(replies, [`HTTP/1.1 200 OK 7 ${crcOf(Buffer.from('abcdefg'))}`, 'HTTP/1.1 504 Gateway Time-out '])
  assert.equal(sink.received.length, 1)
  assert.match(sink.received[0]!.head, /^PUT \/refused HTTP\/1\.1\r\nHost: refused\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n/)
  const log = (await logLines(d, 2)).map((l) => l.split(' ').filter((_, i) => i !== 3).join(' '))
  assert.deepEqual(log, ['200 PUT /refused 502, 200', '504 PUT /sent 504'])
})

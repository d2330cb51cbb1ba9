/**
 * Downloads: the response is relayed with backpressure (the backend is not read while the client is full), so a
 * 1 GiB body to a client that keeps stopping leaves the worker's memory bounded. The proxy_buffering directives
 * are accepted; dyups relays instead of buffering to disk.
 */
import assert from 'node:assert/strict'
import test from 'node:test'
import { GiB, MiB, RssSampler, download, fds, newFds, logLines, open, sleep, sourceBackend, startSide } from './bodies.js'
import { rssKb } from './helpers.js'

const RSS_LIMIT_KB = 128 * 1024

const BUFFERING = `    proxy_buffer_size 4k;
    proxy_buffers 8 4k;
    proxy_busy_buffers_size 8k;
    proxy_max_temp_file_size 1024m;
`

test('a 1 GiB download to a reader that keeps stopping leaves the worker under 128 MB of its own memory', async (t) => {
  const src = await sourceBackend(t, GiB)
  const d = await startSide(t, 'dyups', src.port, BUFFERING + '    proxy_buffering on;\n', '        location / { proxy_pass http://u; }\n')
  const before = fds(d.worker)
  const idleKb = rssKb(d.worker)
  const rss = new RssSampler([d.worker])
  const s = await open(d.port)
  s.write('GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  let next = 128 * MiB
  let ahead = 0
  const got = await download(s, (n) => {
    if (n < next) return
    next += 128 * MiB
    // The client stops for a while: the backend is held back, not read into the worker's memory.
    return sleep(300).then(() => void (ahead = Math.max(ahead, src.written - n)))
  })
  const maxKb = rss.stop()
  console.log(`worker RssAnon ${(idleKb / 1024).toFixed(1)} MB idle, max during a 1 GiB download with stops: ${(maxKb / 1024).toFixed(1)} MB; backend ahead of the client by at most ${(ahead / MiB).toFixed(1)} MiB`)
  assert.equal(got.status, 200)
  assert.equal(got.bytes, GiB)
  assert.deepEqual(src.crcs, [got.crc], 'the client got every byte the backend sent, in order')
  assert.ok(maxKb < RSS_LIMIT_KB, `worker RSS ${maxKb} kB under ${RSS_LIMIT_KB} kB`)
  assert.ok(ahead < 64 * MiB, `the backend is held back while the client stops (ahead by ${ahead} bytes)`)
  assert.deepEqual(await logLines(d, 1), [`200 GET /big ${GiB} 200`])
  assert.deepEqual(await newFds(d.worker, before), [], 'both sockets are closed')
})

test('proxy_buffering off relays the same way', async (t) => {
  const size = 64 * MiB + 5
  const src = await sourceBackend(t, size)
  const d = await startSide(t, 'dyups', src.port, BUFFERING, '        location / { proxy_buffering off; proxy_pass http://u; }\n')
  const s = await open(d.port)
  s.write('GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  const got = await download(s)
  assert.deepEqual([got.status, got.bytes, [got.crc]], [200, size, src.crcs])
})

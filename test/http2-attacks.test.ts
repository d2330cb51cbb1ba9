/**
 * The HTTP/2 attacks servers were patched for, each sent raw at dyups: rapid reset (CVE-2023-44487), a CONTINUATION
 * flood (2024), an HPACK bomb, SETTINGS and PING floods, and streams whose window stays at zero. Each time the
 * attacking connection is closed or its streams reset, the worker process stays the same one, its memory stays
 * bounded, and an HTTP/1.1 client on the side is served throughout.
 */
import assert from 'node:assert/strict'
import { writeFileSync, mkdirSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import test, { type TestContext } from 'node:test'
import { alive, childPids, freePorts, readText, request, rssKb, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'
import {
  CONTINUATION, END_HEADERS, END_STREAM, HEADERS, PING, RST_STREAM, RawH2, SETTINGS, frame, getBlock, indexedLiteral, literal,
} from './h2-client.js'

const ENHANCE_YOUR_CALM = 11

interface Target {
  h2: number
  h1: number
  worker: number
  /** Backend connections open now (the backend of /p/ never answers). */
  backendOpen(): number
  errorLog(): string
}

async function start(t: TestContext): Promise<Target> {
  const sockets = new Set<Socket>()
  const hang = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
  })
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()))
  t.after(() => {
    for (const s of sockets) s.destroy()
    hang.close()
  })
  const [h2, h1] = (await freePorts(2)) as [number, number]
  const prefix = tempPrefix(t)
  mkdirSync(join(prefix, 'html'), { recursive: true })
  writeFileSync(join(prefix, 'html/big.bin'), Buffer.alloc(8 * 1024 * 1024, 0x61))
  writeConf(prefix, 'conf/nginx.conf', `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    access_log off;
    send_timeout 1s;
    keepalive_timeout 2s;
    upstream hang { server 127.0.0.1:${(hang.address() as { port: number }).port}; }
    server {
        listen 127.0.0.1:${h2} http2;
        listen 127.0.0.1:${h1};
        root html;
        location = /r { return 200 "ok\\n"; }
        location /p/ { proxy_pass http://hang; }
    }
}
`)
  const d = await startDyups(t, prefix, [h2, h1], ['-g', 'daemon off;'])
  let worker = 0
  assert.ok(await waitFor(() => (worker = childPids(d.pid)[0] ?? 0) > 0))
  // The worker's memory once it has served a little of everything.
  await served(h1)
  const warm = await RawH2.open(h2)
  warm.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, getBlock('/r')))
  assert.ok(await waitFor(() => warm.frames().some((f) => f.stream === 1 && f.type === 0 && (f.flags & END_STREAM) !== 0)))
  warm.close()
  return { h2, h1, worker, backendOpen: () => sockets.size, errorLog: () => readText(join(prefix, 'logs/error.log')) }
}

async function served(h1: number): Promise<void> {
  const r = await request(h1, { path: '/r' })
  assert.equal(r.status, 200)
  assert.equal(r.body, 'ok\n')
}

/**
 * Runs `attack` while an HTTP/1.1 client keeps asking on the side; then the worker must be the same process, its
 * anonymous memory grown by less than `maxGrowthKb`, and HTTP/1.1 still served.
 */
async function survives(tg: Target, attack: () => Promise<void>, maxGrowthKb = 96 * 1024): Promise<void> {
  const before = rssKb(tg.worker)
  let peak = before
  let stop = false
  const side = (async () => {
    let n = 0
    while (!stop) {
      await served(tg.h1)
      peak = Math.max(peak, rssKb(tg.worker))
      n++
    }
    return n
  })()
  try {
    await attack()
  } finally {
    stop = true
  }
  assert.ok((await side) > 0, 'the HTTP/1.1 client was served during the attack')
  peak = Math.max(peak, rssKb(tg.worker))
  assert.ok(alive(tg.worker), 'the worker is alive')
  assert.ok(peak - before < maxGrowthKb, `the worker grew by ${peak - before} kB`)
  await served(tg.h1)
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

/** Sends frames in batches, yielding so that the server's answers are read, until `n` or the connection closes. */
async function flood(c: RawH2, n: number, make: (i: number) => Buffer): Promise<number> {
  let i = 0
  while (i < n && !c.closed) {
    const batch: Buffer[] = []
    for (let k = 0; k < 200 && i < n; k++, i++) batch.push(make(i))
    if (!c.send(Buffer.concat(batch))) await new Promise((r) => c.socket.once('drain', r).once('close', r))
    await new Promise((r) => setImmediate(r))
  }
  return i
}

test('HTTP/2 attacks: each is bounded, the worker stays up, HTTP/1.1 is served meanwhile', async (t) => {
  const tg = await start(t)

  await t.test('rapid reset (CVE-2023-44487): streams opened and cancelled in bulk close the connection', async () => {
    await survives(tg, async () => {
      const c = await RawH2.open(tg.h2)
      const sent = await flood(c, 50_000, (i) => Buffer.concat([
        frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1, getBlock(`/p/${i}`)),
        frame(RST_STREAM, 0, 2 * i + 1, u32(8)),
      ]))
      assert.ok(await waitFor(() => c.closed, 10_000), `the connection is closed (${sent} resets sent)`)
      // A GOAWAY, when the client got to read it before the close (a flood's socket may be reset with it).
      assert.ok([-1, ENHANCE_YOUR_CALM, 2].includes(c.goaway()), `GOAWAY ${c.goaway()}`)
      assert.ok(await waitFor(() => /client sent too many stream resets|HTTP\/2 connection failed/.test(tg.errorLog())), tg.errorLog())
    })
    // Every backend connection the cancelled requests opened is closed with them.
    assert.ok(await waitFor(() => tg.backendOpen() === 0, 10_000), `${tg.backendOpen()} backend connections left`)
  })

  await t.test('CONTINUATION flood: a header block that never ends is refused', async () => {
    await survives(tg, async () => {
      const c = await RawH2.open(tg.h2)
      c.send(frame(HEADERS, 0, 1, getBlock('/r')))
      const sent = await flood(c, 100_000, (i) => frame(CONTINUATION, 0, 1, literal(`x-h${i % 100}`, 'v'.repeat(100))))
      assert.ok(await waitFor(() => c.closed, 10_000), 'the connection is closed')
      assert.ok(sent < 100_000, `closed after ${sent} CONTINUATION frames`)
    })
  })

  await t.test('HPACK bomb: a small block that decodes past the header list limit is refused', async () => {
    await survives(tg, async () => {
      const c = await RawH2.open(tg.h2)
      // 4000 bytes into the dynamic table, then the one-byte reference to it 8000 times: 32 MB decoded.
      c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, Buffer.concat([getBlock('/r'), indexedLiteral('x-bomb', 'A'.repeat(4000))])))
      c.send(frame(HEADERS, END_HEADERS | END_STREAM, 3, Buffer.concat([getBlock('/r'), Buffer.alloc(8000, 0xbe)])))
      assert.ok(await waitFor(() => c.closed || c.frames().some((f) => f.stream === 3 && f.type === RST_STREAM), 10_000))
      assert.ok(!c.frames().some((f) => f.stream === 3 && f.type === HEADERS), 'no answer to the bomb')
      c.close()
    })
  })

  await t.test('SETTINGS flood: the connection is closed, the ACKs stop', async () => {
    await survives(tg, async () => {
      const c = await RawH2.open(tg.h2)
      const sent = await flood(c, 100_000, () => frame(SETTINGS, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100])))
      assert.ok(await waitFor(() => c.closed, 10_000), 'the connection is closed')
      // The answers stop long before the flood does.
      const acks = c.frames().filter((f) => f.type === SETTINGS && (f.flags & 1) !== 0).length
      assert.ok(acks < sent / 10, `${acks} ACKs to ${sent} SETTINGS frames`)
      assert.ok([-1, ENHANCE_YOUR_CALM].includes(c.goaway()), `GOAWAY ${c.goaway()}`)
      assert.ok(await waitFor(() => tg.errorLog().includes('client sent too many SETTINGS frames')), tg.errorLog())
    })
  })

  await t.test('PING flood: the connection is closed, the ACKs stop', async () => {
    await survives(tg, async () => {
      const c = await RawH2.open(tg.h2)
      const sent = await flood(c, 100_000, (i) => frame(PING, 0, 0, Buffer.alloc(8, i & 0xff)))
      assert.ok(await waitFor(() => c.closed, 10_000), 'the connection is closed')
      // The answers stop long before the flood does.
      const acks = c.frames().filter((f) => f.type === PING && (f.flags & 1) !== 0).length
      assert.ok(acks < sent / 10, `${acks} ACKs to ${sent} PING frames`)
      assert.ok([-1, ENHANCE_YOUR_CALM].includes(c.goaway()), `GOAWAY ${c.goaway()}`)
      assert.ok(await waitFor(() => tg.errorLog().includes('client sent too many PING frames')), tg.errorLog())
    })
  })

  await t.test('zero window: streams the client never lets data through are reset after send_timeout', async () => {
    await survives(tg, async () => {
      // SETTINGS_INITIAL_WINDOW_SIZE 0: no DATA can flow on any stream; 50 streams each ask for 8 MB.
      const c = await RawH2.open(tg.h2, Buffer.from([0, 4, 0, 0, 0, 0]))
      // Half of them ask for a few bytes only: answered at once, they wait for the window all the same.
      const ids = Array.from({ length: 50 }, (_, i) => 2 * i + 1)
      for (const id of ids) c.send(frame(HEADERS, END_HEADERS | END_STREAM, id, getBlock(id % 4 === 1 ? '/big.bin' : '/r')))
      assert.ok(await waitFor(() => ids.every((id) => c.frames().some((f) => f.stream === id && f.type === RST_STREAM)), 15_000), 'every stalled stream is reset')
      // With no stream left, keepalive_timeout closes the connection.
      assert.ok(await waitFor(() => c.closed, 15_000), 'the idle connection is closed')
    })
  })
})

import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { parseCommands, type UpstreamGroup } from '../upstream/index.js'
import { Prober } from './prober.js'
import { deadPort, fakeBackend, until } from './testing.js'
import type { HealthChange } from './types.js'

const group = (name: string, body: string): Promise<UpstreamGroup> =>
  parseCommands(name, body, async () => {
    throw new Error('no DNS here')
  })

function prober(t: TestContext): { p: Prober; changes: HealthChange[]; logs: string[] } {
  const changes: HealthChange[] = []
  const logs: string[] = []
  const p = new Prober({ onChange: (c) => changes.push(...c), log: (level, m) => logs.push(`[${level}] ${m}`) })
  t.after(() => p.close())
  return { p, changes, logs }
}

test('fall bad checks take a server down, rise good ones bring it back (Tengine counters)', async (t) => {
  const b = await fakeBackend(t, 200)
  const addr = `127.0.0.1:${b.port}`
  const { p, changes, logs } = prober(t)
  p.load([await group('g', `check interval=30 rise=3 fall=2 timeout=500 default_down=false type=http; server ${addr};`)])
  assert.deepEqual(changes, [])
  assert.ok(await until(() => (p.status()[0]?.rise ?? 0) >= 2))
  assert.equal(p.status()[0]!.down, false)

  b.answer = 500
  assert.ok(await until(() => changes.length === 1))
  assert.deepEqual(changes, [[addr, true]])
  const row = p.status()[0]!
  assert.deepEqual([row.down, row.rise, row.fall >= 2], [true, 0, true])
  assert.ok(logs.includes(`[error] disable check peer: ${addr} `))
  assert.ok(logs.some((l) => l.startsWith(`[info] check http failed with peer: ${addr}: http status 500`)))

  b.answer = 200
  assert.ok(await until(() => changes.length === 2))
  assert.deepEqual(changes[1], [addr, false])
  assert.ok(p.status()[0]!.rise >= 3)
  assert.ok(logs.includes(`[error] enable check peer: ${addr} `))
  assert.deepEqual(p.downAddresses(), [])
})

test('default_down=true: down at once (reported before load returns), up after rise good checks', async (t) => {
  const b = await fakeBackend(t, 200)
  const addr = `127.0.0.1:${b.port}`
  const { p, changes } = prober(t)
  p.load([await group('g', `check interval=30 rise=2 fall=1 type=http; server ${addr};`)])
  assert.deepEqual(changes, [[addr, true]])
  assert.deepEqual(p.downAddresses(), [addr])
  assert.ok(await until(() => changes.length === 2))
  assert.deepEqual(changes[1], [addr, false])
  assert.ok(b.requests >= 2)
})

test('a group replaced with the same server and check line keeps its counters; a changed line keeps its state', async (t) => {
  const live = await fakeBackend(t, 200)
  const dead = await deadPort()
  const a = `127.0.0.1:${live.port}`, d = `127.0.0.1:${dead}`
  const { p, changes } = prober(t)
  const line = 'check interval=30 rise=1 fall=1 timeout=300 default_down=true type=tcp;'
  p.load([await group('g', `${line} server ${a}; server ${d};`)])
  assert.deepEqual(changes, [[a, true], [d, true]])
  assert.ok(await until(() => p.status()[0]!.rise >= 3))
  assert.deepEqual(changes.slice(2), [[a, false]])

  const before = p.status()[0]!.rise
  p.apply([{ op: 'put', group: await group('G', `${line} server ${d}; server ${a}; server 127.0.0.1:1 down;`) }])
  const rows = p.status()
  assert.deepEqual(rows.map((r) => [r.upstream, r.name, r.down]), [['G', d, true], ['G', a, false]])
  assert.ok(rows[1]!.rise >= before)
  assert.equal(p.size, 2) // the `down` server is not checked
  assert.equal(changes.length, 3)

  // Another interval: new targets, counters from zero, but the known state carries over instead of default_down.
  p.apply([{ op: 'put', group: await group('g', line.replace('interval=30', 'interval=40') + ` server ${a}; server ${d};`) }])
  assert.deepEqual(p.status().map((r) => [r.name, r.down, r.rise]), [[a, false, 0], [d, true, 0]])
  assert.equal(changes.length, 3)
  assert.equal(p.size, 2)
})

test('a deleted group stops probing at once; its down servers are reported up again', async (t) => {
  const b = await fakeBackend(t, 500)
  const addr = `127.0.0.1:${b.port}`
  const { p, changes } = prober(t)
  p.load([await group('g', `check interval=20 fall=1 default_down=false type=http; server ${addr};`)])
  assert.ok(await until(() => changes.length === 1))
  p.apply([{ op: 'delete', name: 'G' }])
  assert.deepEqual(changes, [[addr, true], [addr, false]])
  assert.equal(p.size, 0)
  assert.deepEqual(p.status(), [])
  // A probe already sent may still be read; none follows. A witness prober on its own backend, with the same
  // interval, has probed three more times when any timer of the deleted group would have fired.
  const n = b.requests
  await witnessIntervals(t, 20)
  assert.ok(b.requests <= n + 1, `${b.requests - n} probes after the delete`)
  const settled = b.requests
  await witnessIntervals(t, 20)
  assert.equal(b.requests, settled)
})

/** Waits (bounded) until a prober of its own, probing its own backend every `interval` ms, has probed three times. */
async function witnessIntervals(t: TestContext, interval: number): Promise<void> {
  const w = await fakeBackend(t, 200)
  const { p } = prober(t)
  p.load([await group('witness', `check interval=${interval} default_down=false type=http; server 127.0.0.1:${w.port};`)])
  assert.ok(await until(() => w.requests >= 3), `the witness probed ${w.requests} times`)
  p.close()
}

test('groups sharing a server and a check line share one probe', async (t) => {
  const b = await fakeBackend(t, 200)
  const addr = `127.0.0.1:${b.port}`
  const { p } = prober(t)
  const line = `check interval=40 default_down=false type=http; server ${addr};`
  p.load([await group('a', line), await group('b', line), await group('c', line + ` server ${addr};`)])
  assert.equal(p.size, 1)
  assert.deepEqual(p.status().map((r) => [r.index, r.upstream]), [[0, 'a'], [1, 'b'], [2, 'c'], [3, 'c']])
  const t0 = Date.now()
  assert.ok(await until(() => b.requests >= 8), `${b.requests} probes`)
  // One probe per interval (plus the first, jittered): not one per group or per server line.
  assert.ok(b.requests <= Math.ceil((Date.now() - t0) / 40) + 1, `${b.requests} probes in ${Date.now() - t0} ms`)
  // Deleting two of them keeps the probe; deleting the last stops it.
  p.apply([{ op: 'delete', name: 'a' }, { op: 'delete', name: 'c' }])
  assert.equal(p.size, 1)
  p.apply([{ op: 'put', group: await group('b', `server ${addr};`) }])
  assert.equal(p.size, 0)
})

test('an address is down while any check of it says so', async (t) => {
  const b = await fakeBackend(t, 500)
  const addr = `127.0.0.1:${b.port}`
  const { p, changes } = prober(t)
  p.load([
    await group('tcp', `check interval=20 fall=1 default_down=false type=tcp; server ${addr};`),
    await group('http', `check interval=20 fall=1 default_down=false type=http; server ${addr};`),
  ])
  assert.ok(await until(() => changes.length === 1))
  assert.deepEqual(changes, [[addr, true]])
  assert.deepEqual(p.status().map((r) => [r.upstream, r.down]), [['tcp', false], ['http', true]])
  p.apply([{ op: 'delete', name: 'http' }])
  assert.deepEqual(changes, [[addr, true], [addr, false]])
})

test('a delete and a put of the same group in one batch keep the target', async (t) => {
  const b = await fakeBackend(t, 200)
  const addr = `127.0.0.1:${b.port}`
  const { p } = prober(t)
  const body = `check interval=20 rise=1 default_down=true type=http; server ${addr};`
  p.load([await group('g', body)])
  assert.ok(await until(() => p.status()[0]!.rise >= 2))
  p.apply([{ op: 'delete', name: 'g' }, { op: 'put', group: await group('g', body) }])
  assert.ok(p.status()[0]!.rise >= 2)
  assert.equal(p.status()[0]!.down, false)
})

test('check port= probes another port, shown in the status', async (t) => {
  const b = await fakeBackend(t, 200)
  const { p, changes, logs } = prober(t)
  p.load([await group('g', `check interval=20 rise=1 port=${b.port} type=http; server 127.0.0.1:1;`)])
  assert.ok(await until(() => changes.length === 2))
  assert.deepEqual(changes, [['127.0.0.1:1', true], ['127.0.0.1:1', false]])
  assert.equal(p.status()[0]!.port, b.port)
  assert.ok(logs.includes(`[error] enable check peer: 127.0.0.1:${b.port} `))
})

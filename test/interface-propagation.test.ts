/**
 * Propagation (docs/api.md#when-a-change-takes-effect): a `200 success` is sent only after every live worker routes by the change, so the very
 * next request on any connection to any worker sees it. Checked with 2 and 4 workers over 20 changes each: after
 * every 200, at once and without retrying, on a kept-alive connection pinned to each worker (found through
 * `$pid`) and on 16 fresh connections; interface reads on every worker are current too.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { ans, answer, backend, childPids, Conn, idelete, ipost, sleep, startInterface, type Response } from './helpers.js'

const OK = ans(200, 'success')

type Op = ['post', string, number] | ['delete', string]

/** 20 changes over three names (one static), with replacements, deletes and re-creations; 'G' is 'g' in capitals. */
const OPS: Op[] = [
  ['post', 'g', 0], ['post', 'h', 1], ['post', 'g', 2], ['delete', 'g'], ['post', 'st', 3],
  ['post', 'g', 1], ['delete', 'st'], ['post', 'st', 0], ['post', 'h', 2], ['delete', 'h'],
  ['post', 'G', 3], ['post', 'h', 0], ['delete', 'g'], ['post', 'g', 0], ['post', 'st', 1],
  ['post', 'h', 3], ['delete', 'st'], ['post', 'g', 2], ['post', 'st', 2], ['post', 'h', 1],
]
const HOSTS = ['g', 'h', 'st']

/** Keeps one open connection per worker on `port`, identified by `GET /pid`. */
class Pinned {
  readonly conns = new Map<number, Conn>()
  constructor(private readonly port: number, private readonly workers: number) {}

  /**
   * Opens connections (8 at a time) until every worker holds one, bounded by 30 s: each worker accepts from the shared
   * socket, and on a busy machine a worker that is still starting, or is scheduled late, wins none for a while.
   */
  async fill(): Promise<void> {
    for (const [pid, c] of this.conns) if (c.closed) this.conns.delete(pid)
    const deadline = Date.now() + 30_000
    for (let round = 0; this.conns.size < this.workers && Date.now() < deadline; round++) {
      if (round > 0) await sleep(10)
      const batch = await Promise.all(Array.from({ length: 8 }, () => Conn.open(this.port)))
      const pids = await Promise.all(batch.map((c) => c.req({ path: '/pid' })))
      for (let i = 0; i < batch.length; i++) {
        const pid = Number(pids[i]!.body)
        assert.equal(pids[i]!.status, 200)
        assert.ok(pid > 0, pids[i]!.body)
        if (!this.conns.has(pid)) this.conns.set(pid, batch[i]!)
        else batch[i]!.close()
      }
    }
    assert.equal(this.conns.size, this.workers, `reached workers ${[...this.conns.keys()].join(', ')} only`)
  }

  closeAll(): void {
    for (const c of this.conns.values()) c.close()
  }
}

const seen = (r: Response): string => (r.status === 200 ? r.body : `status ${r.status}`)

async function propagation(t: TestContext, workers: number): Promise<void> {
  const bs = await Promise.all(['b0', 'b1', 'b2', 'b3'].map((n) => backend(t, `${n}`)))
  const port = (i: number): number => bs[i]!.port
  const s = await startInterface(t, {
    workers,
    http: `    upstream st { server 127.0.0.1:${port(0)}; }\n`,
    ifaceServer: '        location = /pid { return 200 $pid; }\n',
  })
  const proxyPins = new Pinned(s.proxy, workers)
  const ifacePins = new Pinned(s.iface, workers)
  t.after(() => {
    proxyPins.closeAll()
    ifacePins.closeAll()
  })
  await proxyPins.fill()
  await ifacePins.fill()
  const all = childPids(s.d.pid)
  for (const pid of proxyPins.conns.keys()) assert.ok(all.includes(pid), `pid ${pid} is a worker of ${s.d.pid}: ${all.join(', ')}`)

  // Expected: host → backend index, or -1 for no group.
  const want = new Map<string, number>([['g', -1], ['h', -1], ['st', 0]])
  const expectBody = (h: string): string => (want.get(h)! >= 0 ? `b${want.get(h)}` : 'status 502')
  const expectServers = (h: string): ReturnType<typeof ans> => (want.get(h)! >= 0 ? ans(200, `server 127.0.0.1:${port(want.get(h)!)}\n`) : ans(404))
  const freshPids = new Set<number>()

  for (let step = 0; step < OPS.length; step++) {
    // Connections a 502 may have closed are replaced before the change, never after it.
    await proxyPins.fill()
    await ifacePins.fill()
    const op = OPS[step]!
    const name = op[1]
    const r = op[0] === 'post' ? await ipost(s.iface, `/upstream/${name}`, `server 127.0.0.1:${port(op[2])};`) : await idelete(s.iface, `/upstream/${name}`)
    assert.deepEqual(answer(r), OK, `step ${step}: ${op.join(' ')}`)
    want.set(name.toLowerCase(), op[0] === 'post' ? op[2] : -1)
    const label = `after step ${step} (${op.join(' ')})`

    // The very next requests, at once: 16 fresh connections, each asking its worker's pid and every host.
    const fresh = Array.from({ length: 16 }, async () => {
      const c = await Conn.open(s.proxy)
      try {
        const pid = Number((await c.req({ path: '/pid' })).body)
        const got: string[] = []
        for (const h of HOSTS) got.push(seen(await c.req({ host: h, headers: { Connection: h === HOSTS[HOSTS.length - 1] ? 'close' : 'keep-alive' } })))
        return { pid, got }
      } finally {
        c.close()
      }
    })
    const pinned = [...proxyPins.conns].map(async ([pid, c]) => {
      const got: string[] = []
      // 502s last: a 502 may close the connection.
      for (const h of [...HOSTS].sort((x, y) => Number(want.get(x)! < 0) - Number(want.get(y)! < 0))) {
        got.push(`${h}=${seen(await c.req({ host: h }))}`)
      }
      return { pid, got: got.sort() }
    })
    const reads = [...ifacePins.conns].map(async ([pid, c]) => {
      // One request at a time on a connection.
      const got: (readonly [string, ReturnType<typeof answer>])[] = []
      for (const h of HOSTS) got.push([h, answer(await c.req({ path: `/upstream/${h}` }))])
      return { pid, got }
    })
    const [f, p, rd] = await Promise.all([Promise.all(fresh), Promise.all(pinned), Promise.all(reads)])
    const expected = HOSTS.map(expectBody)
    for (const x of f) {
      freshPids.add(x.pid)
      assert.deepEqual(x.got, expected, `${label}, fresh connection to worker ${x.pid}`)
    }
    for (const x of p) assert.deepEqual(x.got, HOSTS.map((h) => `${h}=${expectBody(h)}`).sort(), `${label}, worker ${x.pid}`)
    for (const x of rd) {
      for (const [h, a] of x.got) assert.deepEqual(a, expectServers(h), `${label}, GET /upstream/${h} on worker ${x.pid}`)
    }
  }
  for (const pid of freshPids) assert.ok(proxyPins.conns.has(pid) || all.includes(pid), `fresh connection reached ${pid}, not a worker`)
}

test('propagation with 2 workers: every worker routes by each change before its 200', async (t) => {
  await propagation(t, 2)
})

test('propagation with 4 workers: every worker routes by each change before its 200', async (t) => {
  await propagation(t, 4)
})

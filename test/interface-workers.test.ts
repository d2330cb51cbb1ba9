/**
 * Changes outlive the workers that took them (docs/api.md#when-a-change-takes-effect: a 200 means applied everywhere,
 * and nothing is lost across reloads): a worker killed and respawned routes by the current table, and after a SIGHUP reload the new workers
 * hold every change, including one made while the reload runs.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ans, answer, backend, childPids, Conn, idelete, iget, ipost, sleep, startInterface, waitGone } from './helpers.js'

const OK = ans(200, 'success')

/** Waits (bounded) until the primary has `n` workers, none of them in `old`. */
async function newWorkers(primary: number, n: number, old: number[], ms = 15_000): Promise<number[]> {
  const deadline = Date.now() + ms
  for (;;) {
    const now = childPids(primary)
    if (now.length === n && now.every((p) => !old.includes(p))) return now
    if (Date.now() > deadline) return now
    await sleep(25)
  }
}

/**
 * For each worker, one connection's answers for `hosts`. Connections are opened until every worker answered or 30 s
 * passed: a freshly forked worker accepts only once it has loaded the table, which takes a while on a busy machine.
 */
async function perWorker(port: number, workers: number[], hosts: string[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>()
  const deadline = Date.now() + 30_000
  while (out.size < workers.length && Date.now() < deadline) {
    if (out.size > 0) await sleep(10)
    const conns = await Promise.all(Array.from({ length: 8 }, () => Conn.open(port)))
    await Promise.all(
      conns.map(async (c) => {
        try {
          const pid = Number((await c.req({ path: '/pid' })).body)
          if (out.has(pid)) return
          const got: string[] = []
          for (const h of hosts) {
            const r = await c.req({ host: h, headers: { Connection: h === hosts[hosts.length - 1] ? 'close' : 'keep-alive' } })
            got.push(r.status === 200 ? r.body : `status ${r.status}`)
          }
          if (!out.has(pid)) out.set(pid, got)
        } finally {
          c.close()
        }
      }),
    )
  }
  return out
}

const numeric = (pids: Iterable<number>): number[] => [...pids].sort((x, y) => x - y)

test('a respawned worker and reloaded workers route by every acknowledged change', async (t) => {
  const [a, b, c] = await Promise.all(['wa', 'wb', 'wc'].map((n) => backend(t, n)))
  const s = await startInterface(t, {
    workers: 2,
    http: `    upstream st { server 127.0.0.1:${a!.port}; }\n    upstream gone { server 127.0.0.1:${a!.port}; }\n`,
  })
  const hosts = ['st', 'gone', 'dyn']
  assert.deepEqual(answer(await ipost(s.iface, '/upstream/st', `server 127.0.0.1:${b!.port};`)), OK)
  assert.deepEqual(answer(await ipost(s.iface, '/upstream/dyn', `server 127.0.0.1:${c!.port};`)), OK)
  assert.deepEqual(answer(await idelete(s.iface, '/upstream/gone')), OK)
  const table = answer(await iget(s.iface, '/detail'))
  const expected = ['wb', 'status 502', 'wc']

  // Kill one worker: its replacement starts from the current table, not from nginx.conf.
  const first = childPids(s.d.pid)
  assert.equal(first.length, 2)
  process.kill(first[0]!, 'SIGKILL')
  assert.deepEqual(await waitGone([first[0]!]), [])
  const respawned = await newWorkers(s.d.pid, 2, [first[0]!])
  assert.equal(respawned.length, 2, `workers after the kill: ${respawned.join(', ')}`)
  const seen1 = await perWorker(s.proxy, respawned, hosts)
  assert.deepEqual(numeric(seen1.keys()), numeric(respawned), 'reached every worker')
  for (const [pid, got] of seen1) assert.deepEqual(got, expected, `worker ${pid} after a respawn`)
  assert.deepEqual(answer(await iget(s.iface, '/detail')), table)

  // Reload: the new generation holds the table too, and a change made during the reload reaches it.
  const before = childPids(s.d.pid)
  process.kill(s.d.pid, 'SIGHUP')
  const during = await ipost(s.iface, '/upstream/during', `server 127.0.0.1:${a!.port};`)
  assert.deepEqual(answer(during), OK)
  const reloaded = await newWorkers(s.d.pid, 2, before)
  assert.equal(reloaded.length, 2, `workers after the reload: ${reloaded.join(', ')}`)
  assert.ok(reloaded.every((p) => !before.includes(p)), `old ${before.join(', ')}, now ${reloaded.join(', ')}`)
  const seen2 = await perWorker(s.proxy, reloaded, [...hosts, 'during'])
  assert.deepEqual(numeric(seen2.keys()), numeric(reloaded), 'reached every new worker')
  for (const [pid, got] of seen2) assert.deepEqual(got, [...expected, 'wa'], `worker ${pid} after the reload`)
  assert.deepEqual(answer(await iget(s.iface, '/list')), ans(200, 'st\ndyn\nduring\n'))
})

test('SIGQUIT as soon as dyups accepts, while workers may still be starting: a prompt clean exit', async (t) => {
  // Graceful stop with no request in flight has nothing to wait for (nginx exits at once); 5 s is generous.
  for (let attempt = 0; attempt < 3; attempt++) {
    const s = await startInterface(t, { workers: 4, http: '    upstream st { server 127.0.0.1:1; }\n' })
    const t0 = Date.now()
    const code = await s.d.stop('SIGQUIT', 5_000)
    assert.equal(code, 0, `attempt ${attempt}: exit ${code} after ${Date.now() - t0} ms (null: still running, SIGKILLed)`)
  }
})

/**
 * Keepalive side by side with the real nginx: how many connections the backends see for the same request
 * sequence under `keepalive N` (N idle connections per group and worker, least recently used closed first),
 * `keepalive_requests`, `keepalive_timeout`, and without keepalive (a connection per request).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { waitFor } from './helpers.js'
import { Farm, gets, runScenario, startScenarios, type Backend, type Scenario } from './nginx.js'

const srv = (...bs: Backend[]): string => bs.map((b) => `        server ${b.addr};`).join('\n')
const KEEP = 'proxy_http_version 1.1;\n            proxy_set_header Connection "";'

test('keepalive connections, as nginx', async (t) => {
  const farm = new Farm(t)
  const ok = (n: string): Promise<Backend> => farm.add(n)
  const g = async (...names: string[]): Promise<Backend[]> => Promise.all(names.map(ok))
  const k1 = await g('A1', 'B1')
  const k2 = await g('A2', 'B2')
  const k3 = await g('A3', 'B3', 'C3')
  const k4 = await g('A4')
  const k5 = await g('A5')
  const k6 = await g('A6', 'B6')
  const list: [Scenario, Backend[]][] = [
    [{ name: 'keepalive 8: one connection per server', upstream: `${srv(...k1)}\n        keepalive 8;`, location: KEEP, reqs: gets(10) }, k1],
    [{ name: 'keepalive 1 over two servers: the other server\'s connection is evicted', upstream: `${srv(...k2)}\n        keepalive 1;`, location: KEEP, reqs: gets(10) }, k2],
    [{ name: 'keepalive 2 over three servers', upstream: `${srv(...k3)}\n        keepalive 2;`, location: KEEP, reqs: gets(12) }, k3],
    [{ name: 'keepalive_requests 3: a new connection every third request', upstream: `${srv(...k4)}\n        keepalive 4;\n        keepalive_requests 3;`, location: KEEP, reqs: gets(10) }, k4],
    [{
      name: 'keepalive_timeout 1s: an idle connection is closed',
      upstream: `${srv(...k5)}\n        keepalive 4;\n        keepalive_timeout 1s;`,
      location: KEEP,
      reqs: gets(4),
      between: async (i) => {
        // The idle connection is closed by the proxy once keepalive_timeout has passed: the backend sees it go.
        if (i === 2) assert.ok(await waitFor(() => k5[0]!.open() === 0, 10_000), 'the idle connection was not closed')
      },
    }, k5],
    [{ name: 'no keepalive: a connection per request', upstream: srv(...k6), reqs: gets(6) }, k6],
  ]
  const scenarios = list.map(([s]) => s)
  const p = await startScenarios(t, scenarios)
  for (let i = 0; i < list.length; i++) {
    const [sc, bs] = list[i]!
    await t.test(sc.name, async () => {
      const side = async (pp: typeof p.nginx): Promise<unknown> => {
        const r = await runScenario(pp, farm, scenarios, i)
        return { backends: r.backends, log: r.log, conns: bs.map((b) => `${b.name}:${b.conns}`) }
      }
      const ngx = await side(p.nginx)
      const dy = await side(p.dyups)
      if (process.env.SIDE_DEBUG) console.log(sc.name, JSON.stringify(ngx))
      assert.deepEqual(dy, ngx)
    })
  }
})

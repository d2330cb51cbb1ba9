/**
 * One prober for all workers (issue: health checks): probes per server per interval do not grow with the worker
 * count; every worker serves the same check_status page (Tengine's html, csv and json, ?status= filtering); a
 * respawned worker starts with the current down set.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { Conn, childPids, request, sleep, startInterface, via, waitFor } from './helpers.js'
import { healthBackend, waitState, type HealthBackend } from './health-backend.js'

const addr = (b: HealthBackend): string => `127.0.0.1:${b.port}`
const INTERVAL = 100
/** Consecutive probes looked at. */
const PROBES = 12

/**
 * The gaps (ms) between `PROBES` + 1 consecutive probes of one server under `workers` workers, after the first two.
 * Each probe is answered only once the backend has seen it, and the next is sent `interval` after that answer: with
 * one prober, two probes are never closer than the interval, however slow the machine; one prober per worker would
 * put four probes in each interval.
 */
async function probeGaps(t: TestContext, workers: number): Promise<number[]> {
  const b = await healthBackend(t, `w${workers}`)
  const s = await startInterface(t, {
    workers,
    http: `    upstream counted { server ${addr(b)}; check interval=${INTERVAL} type=http default_down=false; check_http_send "GET /health HTTP/1.0\\r\\n\\r\\n"; }\n`,
  })
  assert.ok(await waitFor(() => b.checkTimes.length >= 2))
  const from = b.checkTimes.length
  assert.ok(await waitFor(() => b.checkTimes.length > from + PROBES, 60_000), `${b.checkTimes.length - from} of ${PROBES + 1} probes`)
  await s.d.stop()
  const times = b.checkTimes.slice(from, from + PROBES + 1)
  return times.slice(1).map((x, i) => x - times[i]!)
}

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

test('probes per server per interval are the same with 1 and 4 workers', async (t) => {
  const one = await probeGaps(t, 1)
  const four = await probeGaps(t, 4)
  const shown = (gaps: number[]): string => gaps.map((g) => g.toFixed(0)).join(' ')
  // At most one probe per interval in either case (timers may fire a millisecond early).
  assert.ok(Math.min(...one) >= INTERVAL - 5, `1 worker, gaps between probes (ms): ${shown(one)}`)
  assert.ok(Math.min(...four) >= INTERVAL - 5, `4 workers, gaps between probes (ms): ${shown(four)}`)
  // And a probe about every interval, not one every few: the median gap is far from ten intervals even on a slow machine.
  assert.ok(median(four) < 10 * INTERVAL, `4 workers, gaps between probes (ms): ${shown(four)}`)
  assert.ok(median(one) < 10 * INTERVAL, `1 worker, gaps between probes (ms): ${shown(one)}`)
})

test('every worker serves the same status page; a respawned worker starts with the down set', async (t) => {
  const [up, sick] = await Promise.all([healthBackend(t, 'up'), healthBackend(t, 'sick', 500)])
  const s = await startInterface(t, {
    workers: 2,
    http: `    upstream web {
        server ${addr(up!)}; server ${addr(sick!)};
        check interval=100 rise=1 fall=1 timeout=500 type=http port=${up!.port};
        check_http_send "GET /health HTTP/1.0\\r\\n\\r\\n";
    }
    upstream db {
        server ${addr(sick!)};
        check interval=100 rise=2 fall=1 timeout=500 type=http default_down=false;
        check_http_send "GET /health HTTP/1.0\\r\\n\\r\\n";
    }\n`,
    server: '        location /status { check_status; }\n        location /st.json { check_status json; }\n        location /st.prom { check_status prometheus; }\n',
  })
  await waitState(s.proxy, 'db', addr(sick!), 'down')
  await waitState(s.proxy, 'web', addr(sick!), 'up') // its checks go to the up backend's port

  // One connection per worker: each worker answers from the same rows.
  const pids = new Set<string>()
  const pages: string[] = []
  const deadline = Date.now() + 30_000
  for (let round = 0; pids.size < 2 && Date.now() < deadline; round++) {
    if (round > 0) await sleep(10)
    // Connections opened together spread over the workers (each accepts from the shared socket).
    const conns = await Promise.all(Array.from({ length: 8 }, () => Conn.open(s.proxy)))
    for (const c of conns) {
      const pid = (await c.send('GET /pid HTTP/1.1\r\nHost: x\r\n\r\n')).body
      if (!pids.has(pid)) {
        pids.add(pid)
        pages.push((await c.send('GET /status?format=csv&status=down HTTP/1.1\r\nHost: x\r\n\r\n')).body)
      }
      c.close()
    }
  }
  assert.equal(pids.size, 2)
  assert.deepEqual(pages.map((p) => p.replace(/,\d+,http/, ',N,http')), [`2,db,${addr(sick!)},down,0,N,http,0\n`, `2,db,${addr(sick!)},down,0,N,http,0\n`])

  const html = await request(s.proxy, { path: '/status' })
  assert.equal(html.headers['content-type'], 'text/html')
  assert.match(html.body, /<h2>Check upstream server number: 3, generation: 1<\/h2>/)
  assert.match(html.body, new RegExp(`  <tr bgcolor="#FF0000">\\n    <td>2</td>\\n    <td>db</td>\\n    <td>${addr(sick!)}</td>\\n    <td>down</td>\\n`))
  assert.match(html.body, new RegExp(`    <td>web</td>\\n    <td>${addr(sick!)}</td>\\n    <td>up</td>\\n    <td>\\d+</td>\\n    <td>0</td>\\n    <td>http</td>\\n    <td>${up!.port}</td>\\n`))
  const json = await request(s.proxy, { path: '/st.json?status=up' })
  assert.equal(json.headers['content-type'], 'application/json')
  const doc = JSON.parse(json.body)
  assert.deepEqual([doc.servers.total, doc.servers.up, doc.servers.down, doc.servers.generation], [2, 2, 0, 1])
  assert.deepEqual(doc.servers.server.map((x: { index: number; upstream: string; name: string; status: string; port: number }) => [x.index, x.upstream, x.name, x.status, x.port]),
    [[0, 'web', addr(up!), 'up', up!.port], [1, 'web', addr(sick!), 'up', up!.port]])
  // Tengine's prometheus format, by the directive and by ?format=.
  for (const path of ['/st.prom', '/status?format=prometheus']) {
    const prom = await request(s.proxy, { path })
    assert.equal(prom.headers['content-type'], 'text/plain')
    assert.match(prom.body, /^nginx_upstream_count_total 3\nnginx_upstream_count_up|^nginx_upstream_count_down 1$/m)
    assert.match(prom.body, new RegExp(`^nginx_upstream_server_active\\{index="2",upstream="db",name="${addr(sick!).replace(/\./g, '\\.')}",type="http",port="0"\\} 0$`, 'm'))
    assert.match(prom.body, new RegExp(`^nginx_upstream_server_fall\\{index="0",upstream="web",name="${addr(up!).replace(/\./g, '\\.')}",status="up",type="http",port="${up!.port}"\\} 0$`, 'm'))
  }
  const head = await request(s.proxy, { method: 'HEAD', path: '/status?format=csv' })
  assert.deepEqual([head.status, head.headers['content-type'], head.body], [200, 'text/plain', ''])
  assert.equal((await request(s.proxy, { method: 'POST', path: '/status', body: 'x' })).status, 405)
  assert.match((await request(s.proxy, { path: '/status?format=xml' })).headers['content-type']!, /text\/html/)
  assert.match(s.d.errorLog(), /http upstream check, bad argument: "xml"/)

  // A worker killed and respawned gets the down set with its table: no request reaches the sick server through db.
  const before = childPids(s.d.pid)
  process.kill(before[0]!, 'SIGKILL')
  assert.ok(await waitFor(() => {
    const now = childPids(s.d.pid)
    return now.length === 2 && !now.includes(before[0]!)
  }))
  const n = sick!.proxied()
  for (let i = 0; i < 20; i++) assert.equal((await via(s.proxy, 'db')).status, 502)
  assert.equal(sick!.proxied(), n)
})

/**
 * Active health checks move traffic (issue: health checks): real backends go down and come back (a 500 on the check
 * path, a closed and reopened listener, a server that accepts and never answers); traffic leaves a server after
 * `fall` failed checks and returns after `rise` good ones, in every worker.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startInterface, via } from './helpers.js'
import { healthBackend, statusRows, waitState, type HealthBackend } from './health-backend.js'

async function bodies(port: number, host: string, n: number): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const r = await via(port, host)
    out.push(r.status === 200 ? r.body : `status ${r.status}`)
  }
  return out
}

const addr = (b: HealthBackend): string => `127.0.0.1:${b.port}`
const SEND = 'check_http_send "GET /health HTTP/1.0\\r\\n\\r\\n";'

test('traffic leaves a server after fall bad checks and returns after rise good ones (2 workers)', async (t) => {
  const [a, b, c] = await Promise.all(['ha', 'hb', 'hc'].map((n) => healthBackend(t, n)))
  const s = await startInterface(t, {
    workers: 2,
    http: `    upstream pool {
        server ${addr(a!)}; server ${addr(b!)}; server ${addr(c!)};
        check interval=100 rise=2 fall=2 timeout=500 type=http default_down=false;
        ${SEND}
    }\n`,
    server: '        location /status { check_status; }\n',
  })
  assert.deepEqual(new Set(await bodies(s.proxy, 'pool', 9)), new Set(['ha', 'hb', 'hc']))

  // The check path answers 500: after two failed checks no request reaches hb, though it would serve them.
  b!.checkAnswer = 500
  const down = await waitState(s.proxy, 'pool', addr(b!), 'down')
  assert.ok(down.fall >= 2 && down.rise === 0, JSON.stringify(down))
  const before = b!.proxied()
  const during = await bodies(s.proxy, 'pool', 30)
  assert.equal(b!.proxied(), before)
  assert.deepEqual(new Set(during), new Set(['ha', 'hc']))

  // Good checks again: back after rise of them, in every worker.
  b!.checkAnswer = 200
  const up = await waitState(s.proxy, 'pool', addr(b!), 'up')
  assert.ok(up.rise >= 2 && up.fall === 0, JSON.stringify(up))
  // Each worker keeps its own round robin, so the split over two workers is near, not exactly, a third.
  const after = await bodies(s.proxy, 'pool', 30)
  assert.deepEqual(new Set(after), new Set(['ha', 'hb', 'hc']))
  assert.ok(after.filter((x) => x === 'hb').length >= 8, after.join())

  // A closed listener is down; reopened on the same port, it takes traffic again.
  await c!.close()
  await waitState(s.proxy, 'pool', addr(c!), 'down')
  const closed = await bodies(s.proxy, 'pool', 20)
  assert.deepEqual(new Set(closed), new Set(['ha', 'hb']))
  await c!.reopen()
  await waitState(s.proxy, 'pool', addr(c!), 'up')
  const n = c!.proxied()
  const reopened = await bodies(s.proxy, 'pool', 30)
  const toC = reopened.filter((x) => x === 'hc').length
  assert.ok(toC >= 8, reopened.join())
  assert.equal(c!.proxied(), n + toC)
  assert.match(s.d.errorLog(), new RegExp(`\\[error\\] \\d+#0: disable check peer: ${addr(b!)} \n`))
  assert.match(s.d.errorLog(), new RegExp(`\\[error\\] \\d+#0: enable check peer: ${addr(c!)} \n`))
})

test('a server that accepts and never answers: http checks time out, tcp checks only connect', async (t) => {
  const [mute, mute2, ok] = await Promise.all([healthBackend(t, 'mute', 'hang'), healthBackend(t, 'mute2', 'hang'), healthBackend(t, 'ok')])
  const s = await startInterface(t, {
    workers: 2,
    http: `    upstream byhttp {
        server ${addr(mute!)}; server ${addr(ok!)};
        check interval=100 rise=1 fall=1 timeout=200 type=http default_down=false;
        ${SEND}
    }
    upstream bytcp {
        server ${addr(mute2!)};
        check interval=100 rise=1 fall=1 timeout=200 type=tcp default_down=false;
    }\n`,
    server: '        location /status { check_status; }\n',
  })
  await waitState(s.proxy, 'byhttp', addr(mute!), 'down')
  assert.deepEqual(await bodies(s.proxy, 'byhttp', 6), ['ok', 'ok', 'ok', 'ok', 'ok', 'ok'])
  assert.equal(mute!.proxied(), 0)
  const rows = await statusRows(s.proxy)
  assert.deepEqual(rows.map((r) => [r.index, r.upstream, r.name, r.status, r.type, r.port]), [
    [0, 'byhttp', addr(mute!), 'down', 'http', 0],
    [1, 'byhttp', addr(ok!), 'up', 'http', 0],
    [2, 'bytcp', addr(mute2!), 'up', 'tcp', 0],
  ])
  assert.ok(rows[2]!.rise >= 2)
  assert.equal(mute2!.paths.length, 0) // tcp checks send nothing
  assert.deepEqual(await bodies(s.proxy, 'bytcp', 2), ['mute2', 'mute2'])
})

/**
 * Check lines through the dyups interface (issue: health checks): posted, replaced and deleted with their group,
 * the probes follow (counted at the backend); with default_down=true no request reaches a new server before it
 * passed its checks; bad check lines are refused with nothing applied; slow_start is accepted and /detail stays
 * as Tengine prints it; -t names a bad check line.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { idelete, iget, ipost, runBin, startInterface, tempPrefix, via, waitFor, writeConf } from './helpers.js'
import { healthBackend, isCheck, statusRows, waitState, type HealthBackend } from './health-backend.js'

const addr = (b: HealthBackend): string => `127.0.0.1:${b.port}`
const send = (path: string): string => `check_http_send "GET ${path} HTTP/1.0\\r\\n\\r\\n";`
const STATUS = '        location /status { check_status csv; }\n'

/** Waits until `path` got at least `n` more checks than it had; returns the new count. */
async function moreChecks(b: HealthBackend, path: string, n: number): Promise<number> {
  const from = b.count(path)
  assert.ok(await waitFor(() => b.count(path) >= from + n, 8000), `${path}: no checks after ${from}`)
  return b.count(path)
}

test('probes follow check lines posted, replaced and deleted through the interface', async (t) => {
  const b = await healthBackend(t, 'hb')
  // A witness: a group probed all along, on its own backend. When it has had two more probes, the prober has run
  // past the time any probe of a target still alive would have been due (the same interval, the same timers).
  const w = await healthBackend(t, 'witness')
  const s = await startInterface(t, { workers: 2, server: STATUS })
  const line = `check interval=100 rise=1 fall=1 type=http default_down=false;`
  assert.equal((await ipost(s.iface, '/upstream/witness', `server ${addr(w)}; ${line} ${send('/health-w')}`)).body, 'success')
  const twoMoreIntervals = (): Promise<number> => moreChecks(w, '/health-w', 3)
  assert.equal((await ipost(s.iface, '/upstream/dyn', `server ${addr(b)}; ${line} ${send('/health-a')}`)).body, 'success')
  await moreChecks(b, '/health-a', 3)

  // The same server and check line in a replacement: the counters go on.
  const rise = (await waitState(s.proxy, 'dyn', addr(b), 'up')).rise
  assert.equal((await ipost(s.iface, '/upstream/dyn', `${line} ${send('/health-a')} server ${addr(b)};`)).status, 200)
  assert.ok((await statusRows(s.proxy)).find((r) => r.upstream === 'dyn')!.rise >= rise)

  // Another check_http_send: the old probe stops, the new one starts.
  assert.equal((await ipost(s.iface, '/upstream/dyn', `server ${addr(b)}; ${line} ${send('/health-b')}`)).status, 200)
  const a = b.count('/health-a')
  await moreChecks(b, '/health-b', 3)
  assert.ok(b.count('/health-a') <= a + 1, `old probe still running: ${b.count('/health-a')} after ${a}`)
  assert.deepEqual((await via(s.proxy, 'dyn')).body, 'hb')

  // Deleted with its group: no probe at all any more (one already sent may still arrive).
  assert.equal((await idelete(s.iface, '/upstream/dyn')).status, 200)
  const total = b.paths.filter(isCheck).length
  await twoMoreIntervals()
  assert.ok(b.paths.filter(isCheck).length <= total + 1)
  const settled = b.paths.filter(isCheck).length
  await twoMoreIntervals()
  assert.equal(b.paths.filter(isCheck).length, settled)
  assert.deepEqual((await statusRows(s.proxy)).map((r) => [r.upstream, r.name]), [['witness', addr(w)]])

  // A group without a check line is not probed.
  assert.equal((await ipost(s.iface, '/upstream/plain', `server ${addr(b)};`)).status, 200)
  await twoMoreIntervals()
  assert.equal(b.paths.filter(isCheck).length, settled)
})

for (const master of [true, false]) {
  test(`default_down=true: no request reaches a new server before it passed rise checks (master_process ${master ? 'on' : 'off'})`, async (t) => {
    const [a, n] = await Promise.all([healthBackend(t, 'da'), healthBackend(t, 'dn')])
    const s = await startInterface(t, { workers: 2, master, server: STATUS })
    const line = 'check interval=150 rise=2 fall=1 timeout=500 default_down=true type=http; check_http_send "GET /health HTTP/1.0\\r\\n\\r\\n";'
    assert.equal((await ipost(s.iface, '/upstream/dd', `server ${addr(a)}; ${line}`)).body, 'success')
    // At once: down, so nothing to route to.
    assert.equal((await via(s.proxy, 'dd')).status, 502)
    assert.equal(a.proxied(), 0)
    assert.ok(await waitFor(async () => (await via(s.proxy, 'dd')).status === 200, 8000))
    const firstA = a.paths.findIndex((p) => !isCheck(p))
    assert.ok(firstA >= 2, `a request came after ${firstA} checks: ${a.paths.join(' ')}`)

    // A replacement adds a server: the known one keeps serving, the new one waits for its checks.
    assert.equal((await ipost(s.iface, '/upstream/dd', `server ${addr(a)}; server ${addr(n)}; ${line}`)).status, 200)
    const got: string[] = []
    assert.ok(await waitFor(async () => {
      const r = await via(s.proxy, 'dd')
      got.push(r.status === 200 ? r.body : String(r.status))
      return r.body === 'dn'
    }, 8000))
    assert.ok(got.every((x) => x === 'da' || x === 'dn'), got.join())
    const firstN = n.paths.findIndex((p) => !isCheck(p))
    assert.ok(firstN >= 2, `a request came after ${firstN} checks: ${n.paths.join(' ')}`)
    const rows = await statusRows(s.proxy)
    assert.deepEqual(rows.map((r) => [r.upstream, r.name, r.status, r.type]), [['dd', addr(a), 'up', 'http'], ['dd', addr(n), 'up', 'http']])
  })
}

test('bad check lines: the documented error, nothing applied, nothing probed; slow_start accepted, not shown', async (t) => {
  const b = await healthBackend(t, 'bad')
  const s = await startInterface(t, {
    workers: 2,
    http: `    upstream st { server ${addr(b)} slow_start=30s; check interval=100 type=tcp default_down=false; }\n`,
    server: STATUS,
  })
  const X = `server ${addr(b)};`
  assert.equal((await ipost(s.iface, '/upstream/keep', `${X} check interval=100 type=tcp default_down=false;`)).status, 200)
  const detail = (await iget(s.iface, '/detail')).body
  const cases: [string, string][] = [
    [`check interval=100 type=smtp; ${X}`, 'invalid parameter "type=smtp"'],
    [`check interval=0; ${X}`, 'invalid parameter "interval=0"'],
    [`check interval=100 rise=-1; ${X}`, 'invalid parameter "rise=-1"'],
    [`check interval=100 fall=x; ${X}`, 'invalid parameter "fall=x"'],
    [`check interval=100 default_down=yes; ${X}`, 'invalid value "default_down=yes", it must be "true" or "false"'],
    [`${send('/health')} check interval=100 type=http; ${X}`, 'invalid check_http_send should set [check] first'],
    [`check interval=100 type=tcp; ${send('/health')} ${X}`, 'invalid check_http_send for type "tcp"'],
    [`check interval=100 type=http; check_http_send "GET /" "x"; ${X}`, 'invalid number of arguments in "check_http_send" directive'],
    [`check interval=100 type=http; check_http_send "GET /health; ${X}`, 'unexpected end of file, expecting ";" or "}"'],
    [`check interval=100 type=http; check_http_expect_alive http_6xx; ${X}`, 'invalid value "http_6xx"'],
  ]
  for (const [body, why] of cases) {
    for (const name of ['keep', 'fresh']) {
      const r = await ipost(s.iface, `/upstream/${name}`, body)
      assert.deepEqual([r.status, r.body], [500, 'add server failed'], body)
    }
    assert.ok(s.d.errorLog().includes(why), `log lacks ${why}`)
  }
  assert.equal((await iget(s.iface, '/detail')).body, detail)
  assert.equal((await iget(s.iface, '/upstream/fresh')).status, 404)
  assert.deepEqual((await statusRows(s.proxy)).map((r) => [r.upstream, r.type]), [['st', 'tcp'], ['keep', 'tcp']])
  assert.equal(b.paths.length, 0) // tcp checks send nothing; no http check of a refused line ever ran

  // slow_start (NGINX Plus) in a block and in a body: accepted, routed, and /detail stays as Tengine prints it.
  assert.equal((await ipost(s.iface, '/upstream/st2', `server ${addr(b)} weight=2 slow_start=10s; check interval=100 type=tcp;`)).status, 200)
  const line = (w: number): string => `server ${addr(b)} weight=${w} max_conns=0 max_fails=1 fail_timeout=10 backup=0 down=0\n`
  assert.equal((await iget(s.iface, '/detail')).body, `st\n${line(1)}\nkeep\n${line(1)}\nst2\n${line(2)}\n`)
  assert.equal((await iget(s.iface, '/upstream/st2')).body, `server ${addr(b)}\n`)
  assert.equal((await via(s.proxy, 'st')).body, 'bad')
  assert.equal((await ipost(s.iface, '/upstream/st3', `server ${addr(b)} slow_start=1ms;`)).status, 500)
})

test('-t names a bad check line with its file and line', async (t) => {
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', 'events {}\nhttp {\n  upstream u {\n    server 127.0.0.1:1;\n    check interval=0;\n  }\n}\n')
  const r = await runBin(['-p', prefix, '-c', 'conf/nginx.conf', '-t'])
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, /invalid parameter "interval=0" in .*conf\/nginx\.conf:5/)
})

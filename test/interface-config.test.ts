/**
 * The dyups directives (docs/api.md#setting-up-the-interface) and the interface's location rules (docs/api.md#general-rules): accepted and validated values, the
 * `[dyups] has …` line of `dyups_read_msg_log`, the URI read whole under a prefix location, HTTP/1.0 and
 * `Connection: close` on the interface.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ans,
  answer,
  childPids,
  Conn,
  exchange,
  freePorts,
  iget,
  interfaceConf,
  ipost,
  parseResponse,
  reachWorkers,
  runBin,
  waitFor,
  startDyups,
  startInterface,
  tempPrefix,
  writeConf,
} from './helpers.js'

test('-t accepts the dyups directives and rejects bad values where nginx would', async (t) => {
  const [proxy, iface] = (await freePorts(2)) as [number, number]
  const good =
    '    dyups_read_msg_timeout 500ms;\n    dyups_shm_zone_size 4m;\n    dyups_trylock on;\n' +
    '    dyups_read_msg_log on;\n    dyups_upstream_conf conf/upstream.conf;\n'
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', interfaceConf({ proxy, iface, http: good }))
  const ok = await runBin(['-t', '-p', prefix, '-c', 'conf/nginx.conf'])
  assert.equal(ok.code, 0, ok.stderr)

  const bad: [string, string, { http?: string; iface?: string }][] = [
    ['timeout not a time', 'dyups_read_msg_timeout', { http: '    dyups_read_msg_timeout abc;\n' }],
    ['size not a size', 'dyups_shm_zone_size', { http: '    dyups_shm_zone_size lots;\n' }],
    ['flag not on/off', 'dyups_trylock', { http: '    dyups_trylock maybe;\n' }],
    ['flag not on/off', 'dyups_read_msg_log', { http: '    dyups_read_msg_log yes;\n' }],
    ['too many arguments', 'dyups_upstream_conf', { http: '    dyups_upstream_conf a b;\n' }],
    ['dyups_interface takes no argument', 'dyups_interface', { iface: '        location /x { dyups_interface on; }\n' }],
    ['dyups_interface outside a location', 'dyups_interface', { http: '    dyups_interface;\n' }],
    ['dyups_trylock inside a server', 'dyups_trylock', { iface: '        dyups_trylock on;\n' }],
  ]
  for (const [why, directive, where] of bad) {
    writeConf(prefix, 'conf/nginx.conf', interfaceConf({ proxy, iface, http: where.http, ifaceServer: where.iface }))
    const r = await runBin(['-t', '-p', prefix, '-c', 'conf/nginx.conf'])
    assert.notEqual(r.code, 0, `${why}: ${r.stderr}`)
    assert.ok(r.stderr.includes(`"${directive}"`), `${why}: ${r.stderr}`)
    assert.match(r.stderr, /nginx\.conf:\d+/, why)
  }
})

test('dyups_read_msg_log on: every worker logs the table summary when it applies a change', async (t) => {
  const s = await startInterface(t, {
    workers: 2,
    http: '    dyups_read_msg_log on;\n    dyups_read_msg_timeout 1s;\n    dyups_shm_zone_size 2m;\n    upstream st { server 127.0.0.1:1; }\n',
  })
  const workers = childPids(s.d.pid)
  assert.equal(workers.length, 2)
  // Both workers serve before the change: one still starting would get the table whole, not as a change.
  assert.deepEqual(await reachWorkers(s.proxy, 2), workers)
  assert.deepEqual(answer(await ipost(s.iface, '/upstream/made', 'server 127.0.0.1:2;')), ans(200, 'success'))
  const line = /\[info\] (\d+)#\d+: \[dyups\] has (\d+) upstreams, (\d+) static, (\d+) deleted, all (\d+)/g
  // The log file is written asynchronously: bounded wait for the lines, not for the change.
  let found: RegExpMatchArray[] = []
  await waitFor(() => new Set((found = [...s.d.errorLog().matchAll(line)]).map((m) => Number(m[1]))).size >= 2, 15_000)
  const pids = new Set(found.map((m) => Number(m[1])))
  for (const w of workers) assert.ok(pids.has(w), `worker ${w} logged: ${s.d.errorLog()}`)
  for (const m of found) assert.equal(Number(m[5]), Number(m[2]) + Number(m[4]), m[0])
})

test('the URI is read whole: a prefix location does not strip its prefix', async (t) => {
  const [proxy, iface] = (await freePorts(2)) as [number, number]
  const prefix = tempPrefix(t)
  const conf = interfaceConf({ proxy, iface, http: '    upstream st { server 127.0.0.1:1; }\n' }).replace(
    'location / { dyups_interface; }',
    'location /dyups/ { dyups_interface; }\n        location /list { dyups_interface; }\n        location /upstream/ { dyups_interface; }',
  )
  writeConf(prefix, 'conf/nginx.conf', conf)
  await startDyups(t, prefix, [proxy, iface])
  assert.deepEqual(answer(await iget(iface, '/dyups/list')), ans(404))
  assert.deepEqual(answer(await iget(iface, '/dyups/upstream/st')), ans(404))
  assert.deepEqual(answer(await ipost(iface, '/dyups/upstream/x', 'server 127.0.0.1:2;')), ans(404, 'not support this interface'))
  assert.deepEqual(answer(await ipost(iface, '/dyups/x', 'server 127.0.0.1:2;')), ans(404, 'not support this api'))
  assert.deepEqual(answer(await iget(iface, '/list')), ans(200, 'st\n'))
  assert.deepEqual(answer(await iget(iface, '/upstream/st')), ans(200, 'server 127.0.0.1:1\n'))
})

test('HTTP/1.0 and Connection: close on the interface', async (t) => {
  const s = await startInterface(t, { workers: 2, http: '    upstream st { server 127.0.0.1:1; }\n' })
  const r10 = parseResponse(await exchange(s.iface, 'GET /list HTTP/1.0\r\n\r\n'))
  assert.deepEqual(answer(r10), ans(200, 'st\n'))
  const p10 = parseResponse(await exchange(s.iface, 'POST /upstream/ten HTTP/1.0\r\nContent-Length: 19\r\n\r\nserver 127.0.0.1:3;'))
  assert.deepEqual(answer(p10), ans(200, 'success'))
  const c = await Conn.open(s.iface)
  try {
    assert.deepEqual(answer(await c.req({ path: '/upstream/ten', headers: { Connection: 'close' } })), ans(200, 'server 127.0.0.1:3\n'))
    assert.equal(await c.waitClosed(), true)
  } finally {
    c.close()
  }
  // HTTP/1.0 with keep-alive asked for stays open.
  const k = await Conn.open(s.iface)
  try {
    const a = await k.send('GET /list HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
    assert.deepEqual(answer(a), ans(200, 'st\nten\n'))
    const b = await k.send('GET /upstream/st HTTP/1.0\r\n\r\n')
    assert.deepEqual(answer(b), ans(200, 'server 127.0.0.1:1\n'))
    assert.equal(await k.waitClosed(), true, 'HTTP/1.0 without keep-alive closes')
  } finally {
    k.close()
  }
})

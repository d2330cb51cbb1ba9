/**
 * Draining a server and stable server ids through the JSON interface (docs/api.md#draining-a-server,
 * docs/api.md#server-ids): a draining server takes no new request in any worker once the PATCH answers, the request
 * it holds finishes, its keepalive connections close once idle; ids survive other changes, kill -9 and a restart.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import {
  backend,
  closeServer,
  freePorts,
  iget,
  interfaceConf,
  killAll,
  readRequests,
  request,
  startDyups,
  tempPrefix,
  waitFor,
  writeConf,
} from './helpers.js'

/** `nginx -t` (Debian's nginx) on a configuration that includes `file` inside http {}. */
function nginxAccepts(t: TestContext, file: string): Promise<{ ok: boolean; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'dyups-nginx-t-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, `error_log ${dir}/error.log;\npid ${dir}/nginx.pid;\nevents {}\nhttp {\n    include ${file};\n}\n`)
  return new Promise((res) => {
    execFile('/usr/sbin/nginx', ['-t', '-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { timeout: 10_000 }, (err, stdout, stderr) => {
      res({ ok: err === null, out: stdout + stderr })
    })
  })
}

interface ServerJson { id: number; server: string; weight: number; down: boolean; drain: boolean; state: string; active: number }
interface GroupJson { policy: unknown; keepalive: unknown; check: unknown; servers: ServerJson[] }

/** A backend that answers `name` at once, except `/slow`, which it holds until release(); it counts its sockets. */
async function holdingBackend(t: TestContext, name: string): Promise<{ port: number; sockets: Set<Socket>; served: () => number; held: () => number; release: () => void }> {
  const sockets = new Set<Socket>()
  const held: Socket[] = []
  let served = 0
  const answer = (s: Socket): void => {
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${name.length}\r\n\r\n${name}`)
  }
  const server = createServer((s) => {
    readRequests(s, sockets, (head) => {
      served++
      if (head.startsWith('GET /slow ')) held.push(s)
      else answer(s)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => closeServer(server, sockets))
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    served: () => served,
    held: () => held.length,
    release: () => {
      for (const s of held.splice(0)) answer(s)
    },
  }
}

test('drain: no new requests in any worker, the one in flight finishes, idle keepalive connections close; restored', async (t) => {
  const a = await holdingBackend(t, 'da')
  const b = await backend(t, 'db')
  const [proxy, iface] = (await freePorts(2)) as [number, number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', interfaceConf({
    proxy,
    iface,
    workers: 2,
    http: `    upstream g {\n        least_conn;\n        server 127.0.0.1:${a.port} max_fails=0;\n        server 127.0.0.1:${b.port} down;\n        keepalive 8;\n    }\n`,
    server: '        proxy_http_version 1.1;\n        proxy_set_header Connection "";\n',
    ifaceServer: '        location = /metrics { dyups_metrics; }\n',
  }))
  await startDyups(t, prefix, [proxy, iface])
  const send = (method: string, path: string, body?: unknown): ReturnType<typeof request> =>
    request(iface, { method, path, ...(body === undefined ? {} : { body: JSON.stringify(body) }), headers: { 'Content-Type': 'application/json' } })
  const read = async (): Promise<GroupJson> => JSON.parse((await iget(iface, '/api/upstreams/g')).body) as GroupJson

  // Warm: connections to A kept alive by the workers.
  for (let i = 0; i < 8; i++) assert.equal((await request(proxy, { host: 'g' })).body, 'da')
  assert.ok(await waitFor(() => a.sockets.size >= 1), 'idle keepalive connections to A')
  // A request held by A, in flight through the drain.
  const slow = request(proxy, { host: 'g', path: '/slow' })
  assert.ok(await waitFor(() => a.held() === 1), 'A holds the slow request')
  // The held request may have taken the only idle connection: requests until another one is kept idle.
  assert.ok(await waitFor(async () => {
    assert.equal((await request(proxy, { host: 'g' })).body, 'da')
    return a.sockets.size >= 2
  }), 'an idle keepalive connection to A besides the busy one')
  const idleBefore = a.sockets.size - 1

  assert.equal((await send('PATCH', '/api/upstreams/g/servers/1', { down: false })).status, 200)
  const before = await read()
  const drained = await send('PATCH', '/api/upstreams/g/servers/0', { drain: true })
  assert.equal(drained.status, 200, drained.body)
  const g = JSON.parse(drained.body) as GroupJson
  assert.deepEqual(g.servers.map((s) => [s.id, s.drain, s.state]), [[0, true, 'draining'], [1, false, 'up']])
  assert.equal(g.servers[0]!.active, 1, 'the request in flight is counted')
  // The metrics say so too: state="draining" is the one set for A.
  const states = (await iget(iface, '/metrics')).body.split('\n').filter((l) => l.startsWith(`dyups_upstream_server_state{upstream="g",server="127.0.0.1:${a.port}"`) && l.endsWith(' 1'))
  assert.deepEqual(states, [`dyups_upstream_server_state{upstream="g",server="127.0.0.1:${a.port}",state="draining"} 1`])
  assert.deepEqual([g.policy, g.keepalive, g.check], [before.policy, before.keepalive, before.check], 'the group\'s settings are kept')

  // After the 200, every worker sends new requests elsewhere: A gets none (no attempt, no retry).
  const servedAtDrain = a.served()
  for (let i = 0; i < 16; i++) assert.equal((await request(proxy, { host: 'g' })).body, 'db')
  assert.equal(a.served(), servedAtDrain, 'A receives no new request')
  // Its idle keepalive connections are closed: only the one carrying the held request stays.
  assert.ok(idleBefore >= 1)
  assert.ok(await waitFor(() => a.sockets.size === 1), `idle connections to A closed (${a.sockets.size} open)`)

  // The request in flight finishes, and its connection is not kept.
  a.release()
  const r = await slow
  assert.deepEqual([r.status, r.body], [200, 'da'])
  assert.ok(await waitFor(() => a.sockets.size === 0), 'the connection of the finished request is closed')
  assert.equal((await read()).servers[0]!.active, 0)

  // Restored: A takes requests again, and connections to it are kept again.
  const back = await send('PATCH', '/api/upstreams/g/servers/0', { drain: false })
  assert.equal(back.status, 200)
  assert.deepEqual((JSON.parse(back.body) as GroupJson).servers.map((s) => [s.drain, s.state]), [[false, 'up'], [false, 'up']])
  const seen = new Set<string>()
  for (let i = 0; i < 16; i++) seen.add((await request(proxy, { host: 'g' })).body)
  assert.deepEqual([...seen].sort(), ['da', 'db'])
  assert.ok(await waitFor(() => a.sockets.size >= 1), 'keepalive connections to A again')
})

test('stable ids: PATCH and DELETE by id after concurrent changes; ids and drains survive kill -9 and a restart; PATH stays valid for nginx', async (t) => {
  const bs = await Promise.all(['i0', 'i1', 'i2', 'i3'].map((n) => backend(t, n)))
  const P = bs.map((x) => x.port)
  const [proxy, iface] = (await freePorts(2)) as [number, number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/upstream.conf', '')
  writeConf(prefix, 'conf/nginx.conf', interfaceConf({
    proxy,
    iface,
    workers: 2,
    http: `    dyups_upstream_conf conf/upstream.conf;\n    include conf/upstream.conf;\n` +
      `    upstream g {\n        server 127.0.0.1:${P[0]};\n        server 127.0.0.1:${P[1]};\n        server 127.0.0.1:${P[2]};\n        keepalive 4;\n    }\n`,
  }))
  let d = await startDyups(t, prefix, [proxy, iface])
  const send = (method: string, path: string, body?: unknown): ReturnType<typeof request> =>
    request(iface, { method, path, ...(body === undefined ? {} : { body: JSON.stringify(body) }), headers: { 'Content-Type': 'application/json' } })
  const ids = async (): Promise<[number, string, boolean, number][]> =>
    (JSON.parse((await iget(iface, '/api/upstreams/g')).body) as GroupJson).servers.map((s) => [s.id, s.server.replace(/.*:/, ''), s.drain, s.weight])

  // nginx.conf's group numbers its servers from 0. A server removed ahead of the others: theirs stay.
  assert.deepEqual(await ids(), [[0, `${P[0]}`, false, 1], [1, `${P[1]}`, false, 1], [2, `${P[2]}`, false, 1]])
  assert.equal((await send('DELETE', '/api/upstreams/g/servers/0')).status, 200)
  assert.equal((await send('PATCH', '/api/upstreams/g/servers/2', { weight: 3 })).status, 200)
  assert.equal((await send('POST', '/api/upstreams/g/servers', { server: `127.0.0.1:${P[3]}` })).status, 200)
  assert.equal((await send('PATCH', '/api/upstreams/g/servers/1', { drain: true })).status, 200)
  // A Tengine text replace that keeps servers keeps their ids and drains; the server it adds back gets a new id.
  const text = `server 127.0.0.1:${P[0]};\nserver 127.0.0.1:${P[1]};\nserver 127.0.0.1:${P[2]} weight=3;\nserver 127.0.0.1:${P[3]};\nkeepalive 4;\n`
  assert.equal((await request(iface, { method: 'POST', path: '/upstream/g', body: text })).status, 200)
  const want: [number, string, boolean, number][] = [[4, `${P[0]}`, false, 1], [1, `${P[1]}`, true, 1], [2, `${P[2]}`, false, 3], [3, `${P[3]}`, false, 1]]
  assert.deepEqual(await ids(), want)
  // The id removed earlier names nothing (not the server that came back).
  assert.equal((await send('PATCH', '/api/upstreams/g/servers/0', { weight: 2 })).status, 404)

  const path = join(prefix, 'conf/upstream.conf')
  await killAll(d, [proxy, iface])
  d = await startDyups(t, prefix, [proxy, iface])
  assert.deepEqual(await ids(), want, 'after kill -9 (journal replayed)')
  await d.stop()
  const file = readFileSync(path, 'latin1')
  assert.match(file, new RegExp(`server 127\\.0\\.0\\.1:${P[1]}; # dyups: id=1 drain\\n`))
  assert.match(file, /upstream g \{ # dyups: next_id=5\n/)
  const nginx = await nginxAccepts(t, path)
  assert.ok(nginx.ok, nginx.out)
  d = await startDyups(t, prefix, [proxy, iface])
  assert.deepEqual(await ids(), want, 'after a clean stop (PATH read back)')
  // The next new id is still 5: no id is given twice in the group's life.
  assert.equal((await send('DELETE', '/api/upstreams/g/servers/4')).status, 200)
  assert.equal((await send('POST', '/api/upstreams/g/servers', { server: `127.0.0.1:${P[0]}` })).status, 200)
  assert.deepEqual((await ids()).map((x) => x[0]), [1, 2, 3, 5])
  // The draining server takes no request in any worker.
  for (let i = 0; i < 12; i++) assert.notEqual((await request(proxy, { host: 'g' })).body, 'i1')
})

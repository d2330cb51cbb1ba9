/**
 * One server of a group changed after another through the JSON interface (docs/api.md#json-interface), in a group with
 * least_conn, keepalive 8, a check line and five servers, with 2 workers: after each 200 every worker routes by the
 * change, the group's settings and the other servers' passive failures and active health state are as they were, and
 * the persisted group is the one GET shows, through kill -9 and a restart.
 */
import assert from 'node:assert/strict'
import { createServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { backend, closeServer, freePorts, iget, interfaceConf, killAll, request, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'

interface ServerJson { id: number; server: string; weight: number; down: boolean; drain: boolean; max_fails: number; state: string; fails: number; health: { status: string; rise: number; fall: number; last_check: string | null; last_result: string | null; reason: string | null } | null }
interface GroupJson { policy: unknown; keepalive: unknown; check: unknown; servers: ServerJson[] }

test('PATCH down, drain, weight, then DELETE: every worker follows each, settings and the others\' health state kept, restored after kill -9', async (t) => {
  const [a, b, d] = await Promise.all([backend(t, 'sa'), backend(t, 'sb'), backend(t, 'sd')])
  // E accepts connections (its TCP check passes) and closes each request unanswered: a passive failure.
  const sockets = new Set<Socket>()
  const e = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('data', () => s.destroy())
    s.on('error', () => {})
  })
  await new Promise<void>((r) => e.listen(0, '127.0.0.1', r))
  t.after(() => closeServer(e, sockets))
  const E = (e.address() as AddressInfo).port
  const [dead, proxy, iface] = (await freePorts(3)) as [number, number, number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/upstream.conf', '')
  writeConf(prefix, 'conf/nginx.conf', interfaceConf({
    proxy,
    iface,
    workers: 2,
    http: `    dyups_upstream_conf conf/upstream.conf;\n    include conf/upstream.conf;\n    upstream g {\n        least_conn;\n` +
      `        server 127.0.0.1:${a.port};\n        server 127.0.0.1:${b.port};\n        server 127.0.0.1:${dead};\n` +
      `        server 127.0.0.1:${E} max_fails=1 fail_timeout=300s;\n        server 127.0.0.1:${d.port};\n        keepalive 8;\n` +
      `        check interval=200 rise=1 fall=1 timeout=1000 type=tcp default_down=false;\n    }\n`,
  }))
  let dy = await startDyups(t, prefix, [proxy, iface])
  const send = (method: string, path: string, body?: unknown): ReturnType<typeof request> =>
    request(iface, { method, path, ...(body === undefined ? {} : { body: JSON.stringify(body) }), headers: { 'Content-Type': 'application/json' } })
  const read = async (): Promise<GroupJson> => JSON.parse((await iget(iface, '/api/upstreams/g')).body) as GroupJson
  const byPort = (g: GroupJson, port: number): ServerJson => g.servers.find((s) => s.server.endsWith(`:${port}`))!

  // The dead server is found unhealthy by the active checks; E collects passive failures.
  assert.ok(await waitFor(async () => byPort(await read(), dead).state === 'unhealthy'), 'the closed port is unhealthy')
  // What the checks last found, per server: the closed port failed, E's port answers.
  const found = await read()
  const dh = byPort(found, dead).health!
  assert.deepEqual([dh.status, dh.rise, dh.last_result], ['down', 0, 'failed'])
  assert.ok(dh.fall >= 1 && typeof dh.reason === 'string' && dh.reason !== '', JSON.stringify(dh))
  assert.ok(Math.abs(Date.parse(dh.last_check!) - Date.now()) < 60_000, dh.last_check!)
  assert.ok(await waitFor(async () => byPort(await read(), E).health?.last_result === 'ok'), 'E passes its TCP checks')
  assert.deepEqual([byPort(await read(), E).health!.status, byPort(await read(), E).health!.reason], ['up', null])
  for (let i = 0; i < 16; i++) assert.equal((await request(proxy, { host: 'g' })).status, 200)
  const start = await read()
  assert.ok(byPort(start, E).fails >= 1, 'E failed at least once')
  const settings = (g: GroupJson): unknown[] => [g.policy, g.keepalive, g.check]
  /** What must not move when another server is changed: settings, and E's and the dead server's state. */
  const kept = (g: GroupJson): unknown[] => [settings(g), byPort(g, E).fails, byPort(g, E).state, byPort(g, dead).state, byPort(g, dead).id, byPort(g, E).id]
  /** Bodies of fresh requests: the backends every worker routes to (E never answers, the dead one neither). */
  const routes = async (): Promise<string[]> => {
    const seen = new Set<string>()
    for (let i = 0; i < 16; i++) {
      const r = await request(proxy, { host: 'g' })
      assert.equal(r.status, 200)
      seen.add(r.body)
    }
    return [...seen].sort()
  }

  const steps: [string, () => ReturnType<typeof request>, (g: GroupJson) => void, string[]][] = [
    ['PATCH A down', () => send('PATCH', '/api/upstreams/g/servers/0', { down: true }), (g) => assert.equal(byPort(g, a.port).state, 'down'), ['sb', 'sd']],
    ['PATCH A drain, up again', () => send('PATCH', '/api/upstreams/g/servers/0', { down: false, drain: true }), (g) => assert.equal(byPort(g, a.port).state, 'draining'), ['sb', 'sd']],
    ['PATCH B weight', () => send('PATCH', '/api/upstreams/g/servers/1', { weight: 4 }), (g) => assert.equal(byPort(g, b.port).weight, 4), ['sb', 'sd']],
    ['DELETE D', () => send('DELETE', '/api/upstreams/g/servers/4'), (g) => assert.equal(g.servers.length, 4), ['sb']],
  ]
  let before = start
  for (const [name, change, check, expected] of steps) {
    const r = await change()
    assert.equal(r.status, 200, `${name}: ${r.body}`)
    const after = JSON.parse(r.body) as GroupJson
    check(after)
    assert.deepEqual(kept(after), kept(before), `${name}: settings and the others' health state kept`)
    assert.deepEqual(await routes(), expected, `${name}: every worker routes by it`)
    before = await read()
  }

  // kill -9 right after the last 200, then a restart: the same group (live state starts afresh).
  const params = (g: GroupJson): unknown[] => [settings(g), g.servers.map((s) => [s.id, s.server, s.weight, s.down, s.drain, s.max_fails])]
  const last = params(await read())
  await killAll(dy, [proxy, iface])
  dy = await startDyups(t, prefix, [proxy, iface])
  assert.deepEqual(params(await read()), last)
  assert.deepEqual(await routes(), ['sb'])
})

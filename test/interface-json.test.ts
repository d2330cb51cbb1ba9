/**
 * The JSON interface's reads (docs/api.md#json-interface): every group with its settings and, per server, its
 * parameters and live state merged across the workers; JSON errors, 405 with Allow. Tengine's text paths unchanged.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ans, answer, backend, freePorts, iget, ipost, request, startInterface, waitFor } from './helpers.js'

interface ServerJson {
  id: number
  server: string
  address: string
  weight: number
  max_fails: number
  fail_timeout: number
  max_conns: number
  backup: boolean
  down: boolean
  state: string
  active: number
  requests: number
  fails: number
}
interface GroupJson {
  name: string
  static: boolean | null
  policy: { name: string; key?: string; consistent?: boolean }
  keepalive: { connections: number; timeout_ms: number; requests: number; time_ms: number } | null
  check: Record<string, unknown> | null
  servers: ServerJson[]
}

for (const workers of [2, 0]) {
  test(`GET /api/upstreams: settings, parameters and live state (${workers === 0 ? 'master_process off' : `${workers} workers`})`, async (t) => {
    const [a, b] = await Promise.all([backend(t, 'ja'), backend(t, 'jb')])
    const [dead] = await freePorts(1)
    const s = await startInterface(t, {
      ...(workers === 0 ? { master: false } : { workers }),
      http:
        `    upstream st {\n        least_conn;\n        server 127.0.0.1:${a!.port} weight=2 max_fails=3 fail_timeout=20s;\n` +
        `        server 127.0.0.1:${dead} down;\n        server 127.0.0.1:${b!.port} backup;\n        keepalive 8;\n    }\n`,
    })
    assert.deepEqual(answer(await ipost(s.iface, '/upstream/dyn', `hash $request_uri consistent;server 127.0.0.1:${b!.port} max_conns=5;`)), ans(200, 'success'))

    // Every worker serving (a freshly started one answers only once it is ready), then requests on fresh
    // connections, spread over the workers by the kernel: the counts are every worker's.
    const expected = workers === 0 ? 1 : workers
    const workersSeen = async (): Promise<number> => (JSON.parse((await iget(s.iface, '/api/upstreams')).body) as { workers: number }).workers
    assert.ok(await waitFor(async () => (await workersSeen()) === expected, 20_000), 'every worker reports')
    const n = 12
    for (let i = 0; i < n; i++) assert.equal((await request(s.proxy, { host: 'st' })).body, 'ja')

    const r = await iget(s.iface, '/api/upstreams')
    assert.equal(r.status, 200)
    assert.equal(r.headers['content-type'], 'application/json')
    const body = JSON.parse(r.body) as { version: number; workers: number; upstreams: GroupJson[] }
    assert.equal(r.headers['etag'], `"${body.version}"`)
    assert.equal(body.version, 1)
    assert.equal(body.workers, expected, 'every worker answered')
    assert.deepEqual(body.upstreams.map((g) => [g.name, g.static]), [['st', true], ['dyn', false]], '/list order, static from nginx.conf')

    const st = body.upstreams[0]!
    assert.deepEqual(st.policy, { name: 'least_conn' })
    assert.deepEqual(st.keepalive, { connections: 8, timeout_ms: 60000, requests: 1000, time_ms: 3600000 })
    assert.equal(st.check, null)
    assert.deepEqual(st.servers.map((x) => [x.id, x.server, x.weight, x.max_fails, x.fail_timeout, x.backup, x.down, x.state]), [
      [0, `127.0.0.1:${a!.port}`, 2, 3, 20, false, false, 'up'],
      [1, `127.0.0.1:${dead}`, 1, 1, 10, false, true, 'down'],
      [2, `127.0.0.1:${b!.port}`, 1, 1, 10, true, false, 'up'],
    ])
    assert.deepEqual(st.servers.map((x) => [x.requests, x.active, x.fails]), [[n, 0, 0], [0, 0, 0], [0, 0, 0]], 'every request counted once, in whichever worker served it')

    const dyn = body.upstreams[1]!
    assert.deepEqual(dyn.policy, { name: 'hash', key: '$request_uri', consistent: true })
    assert.equal(dyn.keepalive, null)
    assert.deepEqual(dyn.servers.map((x) => [x.address, x.max_conns, x.state]), [[`127.0.0.1:${b!.port}`, 5, 'up']])

    // One group; names are case-insensitive as everywhere in the interface.
    const one = await iget(s.iface, '/api/upstreams/DYN')
    assert.equal(one.status, 200)
    assert.deepEqual(JSON.parse(one.body), dyn)

    // Errors are JSON; other methods answer 405 with Allow (writes come later); Tengine's paths are unchanged.
    const errorOf = (x: { status: number; body: string; headers: Record<string, string> }): [number, string, string | undefined] =>
      [x.status, (JSON.parse(x.body) as { error: { code: string } }).error.code, x.headers['content-type']]
    assert.deepEqual(errorOf(await iget(s.iface, '/api/upstreams/nosuch')), [404, 'upstream_not_found', 'application/json'])
    assert.deepEqual(errorOf(await iget(s.iface, '/api/other')), [404, 'not_found', 'application/json'])
    const post = await ipost(s.iface, '/api/upstreams/dyn', '{}')
    assert.deepEqual(errorOf(post), [405, 'method_not_allowed', 'application/json'])
    assert.equal(post.headers['allow'], 'GET')
    assert.deepEqual(answer(await iget(s.iface, '/list')), ans(200, 'st\ndyn\n'))
  })
}

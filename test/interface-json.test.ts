/**
 * The JSON interface's reads (docs/api.md#json-interface): every group with its settings and, per server, its
 * parameters and live state merged across the workers; JSON errors, 405 with Allow. Tengine's text paths unchanged.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
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
    assert.equal(post.headers['allow'], 'GET, PUT, DELETE')
    assert.equal((await request(s.iface, { method: 'PUT', path: '/api/upstreams', body: '{}' })).headers['allow'], 'GET')
    assert.deepEqual(answer(await iget(s.iface, '/list')), ans(200, 'st\ndyn\n'))
  })
}

const put = (port: number, path: string, body: string, headers: Record<string, string> = {}): ReturnType<typeof request> =>
  request(port, { method: 'PUT', path, body, headers: { 'Content-Type': 'application/json', ...headers } })

test('PUT and DELETE /api/upstreams/NAME: JSON or text bodies, the same checks as Tengine\'s interface, JSON errors', async (t) => {
  const [a, b] = await Promise.all([backend(t, 'pa'), backend(t, 'pb')])
  const s = await startInterface(t, { workers: 2, http: '' })
  const errorOf = (x: { status: number; body: string }): [number, string] => [x.status, (JSON.parse(x.body) as { error: { code: string } }).error.code]

  // Created from JSON: the answer is the group as it is now, every worker routes by it.
  const group = {
    policy: { name: 'least_conn' },
    keepalive: { connections: 4 },
    servers: [{ server: `127.0.0.1:${a!.port}`, weight: 3, max_fails: 2, fail_timeout: 5 }, { server: `127.0.0.1:${b!.port}`, backup: true }],
  }
  const created = await put(s.iface, '/api/upstreams/j1', JSON.stringify(group))
  assert.equal(created.status, 200, created.body)
  const g = JSON.parse(created.body) as GroupJson
  assert.equal(created.headers['etag'], '"1"')
  assert.deepEqual([g.name, g.static, g.policy, g.keepalive?.connections], ['j1', false, { name: 'least_conn' }, 4])
  assert.deepEqual(g.servers.map((x) => [x.server, x.weight, x.max_fails, x.fail_timeout, x.backup]), [
    [`127.0.0.1:${a!.port}`, 3, 2, 5, false], [`127.0.0.1:${b!.port}`, 1, 1, 10, true],
  ])
  for (let i = 0; i < 4; i++) assert.equal((await request(s.proxy, { host: 'j1' })).body, 'pa')
  assert.match((await iget(s.iface, '/detail')).body, new RegExp(`^j1\nserver 127\\.0\\.0\\.1:${a!.port} weight=3 max_conns=0 max_fails=2 fail_timeout=5 backup=0 down=0\nserver 127\\.0\\.0\\.1:${b!.port} weight=1 max_conns=0 max_fails=1 fail_timeout=10 backup=1 down=0\n`))

  // What GET answered, sent back with one change, replaces the group (read-only fields are ignored).
  g.servers[0]!.down = true
  const replaced = await put(s.iface, '/api/upstreams/j1', JSON.stringify(g), { 'If-Match': '"1"' })
  assert.equal(replaced.status, 200, replaced.body)
  assert.equal((JSON.parse(replaced.body) as GroupJson).servers[0]!.state, 'down')
  assert.equal((await request(s.proxy, { host: 'j1' })).body, 'pb', 'the backup takes the traffic')
  assert.deepEqual(errorOf(await put(s.iface, '/api/upstreams/j1', JSON.stringify(g), { 'If-Match': '"1"' })), [412, 'precondition_failed'])

  // A text body (any other Content-Type) is Tengine's command body.
  const text = await request(s.iface, { method: 'PUT', path: '/api/upstreams/t1', body: `server 127.0.0.1:${b!.port};` })
  assert.equal(text.status, 200, text.body)
  assert.equal((await request(s.proxy, { host: 't1' })).body, 'pb')

  // Refused with a precise 400, nothing applied: bad JSON, wrong types, unknown fields, syntax smuggled in strings,
  // and what the group checks refuse (with the command body's reason).
  const bad: [string, string][] = [
    ['{', 'invalid_json'],
    ['[]', 'invalid_body'],
    ['{"servers": []}', 'invalid_value'],
    ['{"servers": [{"server": "127.0.0.1:1", "weight": "3"}]}', 'invalid_value'],
    ['{"servers": [{"server": "127.0.0.1:1", "wieght": 3}]}', 'unknown_field'],
    ['{"servers": [{"server": "127.0.0.1:1; server 10.0.0.1:80"}]}', 'invalid_value'],
    ['{"servers": [{"server": "127.0.0.1:1"}], "policy": {"name": "hash", "key": "$x;keepalive 1"}}', 'invalid_value'],
    ['{"servers": [{"server": "127.0.0.1:1"}], "colour": 1}', 'unknown_field'],
    ['{"servers": [{"server": "127.0.0.1:99999"}]}', 'invalid_body'],
    [JSON.stringify({ servers: [{ server: '127.0.0.1:1' }], policy: { name: 'ip_hash' }, check: null }).replace('"127.0.0.1:1"}', '"127.0.0.1:1", "backup": true}'), 'invalid_body'],
    ['['.repeat(10000) + ']'.repeat(10000), 'too_deep'],
  ]
  for (const [body, code] of bad) assert.deepEqual(errorOf(await put(s.iface, '/api/upstreams/bad', body)), [400, code], body.slice(0, 80))
  const reason = JSON.parse((await put(s.iface, '/api/upstreams/bad', '{"servers": [{"server": "127.0.0.1:99999"}]}')).body) as { error: { message: string } }
  assert.match(reason.error.message, /invalid port in upstream "127\.0\.0\.1:99999" in command body:1/)

  // DELETE: 204, then 404; the table is what the successful writes made.
  const del = await request(s.iface, { method: 'DELETE', path: '/api/upstreams/t1' })
  assert.deepEqual([del.status, del.body], [204, ''])
  assert.deepEqual(errorOf(await request(s.iface, { method: 'DELETE', path: '/api/upstreams/t1' })), [404, 'upstream_not_found'])
  assert.deepEqual(answer(await iget(s.iface, '/list')), ans(200, 'j1\n'))
})

test('servers of a group: add, change, remove one, the group\'s other settings kept; concurrent edits of different servers all apply', async (t) => {
  const [a, b, c] = await Promise.all([backend(t, 'sa'), backend(t, 'sb'), backend(t, 'sc')])
  const s = await startInterface(t, {
    workers: 2,
    http:
      `    upstream g {\n        least_conn;\n        server 127.0.0.1:${a!.port};\n        server 127.0.0.1:${b!.port} max_fails=3;\n` +
      `        server 127.0.0.1:${c!.port};\n        keepalive 8;\n        check interval=60000 rise=1 fall=1 timeout=1000 type=tcp default_down=false;\n    }\n`,
  })
  const send = (method: string, path: string, body?: unknown): ReturnType<typeof request> =>
    request(s.iface, { method, path, ...(body === undefined ? {} : { body: JSON.stringify(body) }), headers: { 'Content-Type': 'application/json' } })
  const read = async (): Promise<GroupJson> => JSON.parse((await iget(s.iface, '/api/upstreams/g')).body) as GroupJson
  const before = await read()
  const settings = (g: GroupJson): unknown[] => [g.policy, g.keepalive, g.check]

  const down = await send('PATCH', '/api/upstreams/g/servers/0', { down: true })
  assert.equal(down.status, 200, down.body)
  let g = JSON.parse(down.body) as GroupJson
  assert.deepEqual(settings(g), settings(before), 'method, keepalive and check are kept')
  assert.deepEqual(g.servers.map((x) => [x.server, x.down, x.max_fails]), [
    [`127.0.0.1:${a!.port}`, true, 1], [`127.0.0.1:${b!.port}`, false, 3], [`127.0.0.1:${c!.port}`, false, 1],
  ])
  const seen = new Set<string>()
  for (let i = 0; i < 8; i++) seen.add((await request(s.proxy, { host: 'g' })).body)
  assert.deepEqual([...seen].sort(), ['sb', 'sc'], 'no worker sends to the server marked down')

  assert.equal((await send('PATCH', '/api/upstreams/g/servers/1', { weight: 5 })).status, 200)
  assert.equal((await send('DELETE', '/api/upstreams/g/servers/2')).status, 200)
  const added = await send('POST', '/api/upstreams/g/servers', { server: `127.0.0.1:${c!.port}`, backup: false, max_conns: 7 })
  assert.equal(added.status, 200, added.body)
  g = JSON.parse(added.body) as GroupJson
  assert.deepEqual(settings(g), settings(before))
  assert.deepEqual(g.servers.map((x) => [x.id, x.server, x.weight, x.down, x.max_conns]), [
    [0, `127.0.0.1:${a!.port}`, 1, true, 0], [1, `127.0.0.1:${b!.port}`, 5, false, 0], [3, `127.0.0.1:${c!.port}`, 1, false, 7],
  ])
  // Ids are stable: the server added again gets a new one, the removed server's id names nothing.
  assert.deepEqual(JSON.parse((await iget(s.iface, '/api/upstreams/g/servers/3')).body).max_conns, 7)
  assert.equal((await iget(s.iface, '/api/upstreams/g/servers/2')).status, 404)

  // Two clients edit different servers at once: both apply (the later one is read and edited again).
  const [x, y] = await Promise.all([send('PATCH', '/api/upstreams/g/servers/0', { down: false }), send('PATCH', '/api/upstreams/g/servers/3', { weight: 9 })])
  assert.deepEqual([x.status, y.status], [200, 200])
  g = await read()
  assert.deepEqual(g.servers.map((z) => [z.down, z.weight]), [[false, 1], [false, 5], [false, 9]])

  // Errors: an unknown server or group, a bad field, a stale If-Match, a method that is not there.
  const code = (r: { status: number; body: string }): [number, string] => [r.status, (JSON.parse(r.body) as { error: { code: string } }).error.code]
  assert.deepEqual(code(await send('PATCH', '/api/upstreams/g/servers/9', { down: true })), [404, 'server_not_found'])
  assert.deepEqual(code(await send('PATCH', '/api/upstreams/nosuch/servers/0', { down: true })), [404, 'upstream_not_found'])
  assert.deepEqual(code(await send('PATCH', '/api/upstreams/g/servers/0', { weight: 0 })), [400, 'invalid_value'])
  assert.deepEqual(code(await send('PATCH', '/api/upstreams/g/servers/0', { drain: 1 })), [400, 'invalid_value'])
  assert.deepEqual(code(await send('PATCH', '/api/upstreams/g/servers/0', { color: 'red' })), [400, 'unknown_field'])
  assert.deepEqual(code(await request(s.iface, { method: 'PATCH', path: '/api/upstreams/g/servers/0', body: '{"down": true}', headers: { 'If-Match': '"1"' } })), [412, 'precondition_failed'])
  const put = await send('PUT', '/api/upstreams/g/servers/0', { down: true })
  assert.deepEqual([...code(put), put.headers['allow']], [405, 'method_not_allowed', 'GET, PATCH, DELETE'])
  assert.deepEqual(settings(await read()), settings(before))
})

test('?dry_run=1: the change checked and its diff answered; nothing applied, nothing written', async (t) => {
  const [a, b] = await Promise.all([backend(t, 'da'), backend(t, 'db')])
  const s = await startInterface(t, {
    workers: 2,
    http: `    dyups_upstream_conf conf/upstream.conf;\n    include conf/upstream.conf;\n    upstream st { least_conn; server 127.0.0.1:${a!.port}; server 127.0.0.1:${b!.port} weight=2; }\n`,
    files: { 'conf/upstream.conf': '' },
  })
  assert.deepEqual(answer(await ipost(s.iface, '/upstream/dyn', `server 127.0.0.1:${a!.port};`)), ans(200, 'success'))
  const files = (): string => ['conf/upstream.conf', 'conf/upstream.conf.journal'].map((f) => { try { return readFileSync(join(s.prefix, f), 'latin1') } catch { return '' } }).join('\n--\n')
  const before = [files(), (await iget(s.iface, '/detail')).body]
  const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): ReturnType<typeof request> =>
    request(s.iface, { method, path, ...(body === undefined ? {} : { body: JSON.stringify(body) }), headers: { 'Content-Type': 'application/json', ...headers } })
  interface DryRun { dry_run: boolean; version: number; diff: { upstream: string; created: boolean; deleted: boolean; settings: Record<string, unknown[]>; servers: { added: { address: string }[]; removed: { address: string }[]; changed: { address: string; before: Record<string, unknown>; after: Record<string, unknown> }[] } } }
  const dry = async (method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<DryRun> => {
    const r = await send(method, `${path}?dry_run=1`, body, headers)
    assert.equal(r.status, 200, `${method} ${path}: ${r.body}`)
    return JSON.parse(r.body) as DryRun
  }

  const put = await dry('PUT', '/api/upstreams/st', { policy: { name: 'round_robin' }, servers: [{ server: `127.0.0.1:${b!.port}`, weight: 3 }, { server: '127.0.0.1:9' }] })
  assert.deepEqual([put.dry_run, put.version, put.diff.created, put.diff.deleted], [true, 1, false, false])
  assert.deepEqual(put.diff.settings['policy'], [{ name: 'least_conn' }, { name: 'round_robin' }])
  assert.deepEqual(put.diff.servers.added.map((x) => x.address), ['127.0.0.1:9'])
  assert.deepEqual(put.diff.servers.removed.map((x) => x.address), [`127.0.0.1:${a!.port}`])
  assert.deepEqual(put.diff.servers.changed.map((x) => [x.address, x.before['weight'], x.after['weight']]), [[`127.0.0.1:${b!.port}`, 2, 3]])

  const patch = await dry('PATCH', '/api/upstreams/st/servers/0', { down: true })
  assert.deepEqual(patch.diff.servers.changed.map((x) => [x.before['down'], x.after['down']]), [[false, true]])
  assert.deepEqual([patch.diff.servers.added, patch.diff.servers.removed, patch.diff.settings], [[], [], {}])
  const created = await dry('PUT', '/api/upstreams/new', { servers: [{ server: '127.0.0.1:9' }] })
  assert.equal(created.diff.created, true)
  const deleted = await dry('DELETE', '/api/upstreams/dyn')
  assert.deepEqual([deleted.diff.deleted, deleted.diff.servers.removed.length], [true, 1])

  // Refused as the real write would be.
  assert.equal((await send('PUT', '/api/upstreams/st?dry_run=1', { servers: [{ server: '127.0.0.1:99999' }] })).status, 400)
  assert.equal((await send('PATCH', '/api/upstreams/st/servers/0?dry_run=1', { down: true }, { 'If-Match': '"0"' })).status, 412)
  assert.equal((await send('DELETE', '/api/upstreams/nosuch?dry_run=1')).status, 404)

  assert.deepEqual([files(), (await iget(s.iface, '/detail')).body], before, 'the table, PATH and journal are as they were')
  assert.equal(JSON.parse((await iget(s.iface, '/api/upstreams')).body).version, 1)
})

test('JSON bodies: a key given twice and nesting past 32 levels are refused with a precise 400, another content type with 415, nothing applied', async (t) => {
  const a = await backend(t, 'ka')
  const s = await startInterface(t, { workers: 2, http: `    upstream g { server 127.0.0.1:${a.port}; }\n` })
  const send = (method: string, path: string, body: string): ReturnType<typeof request> =>
    request(s.iface, { method, path, body, headers: { 'Content-Type': 'application/json' } })
  const err = (r: { status: number; body: string }): [number, string, string] => {
    const e = (JSON.parse(r.body) as { error: { code: string; message: string } }).error
    return [r.status, e.code, e.message]
  }
  // The table as GET shows it, without `workers` (a worker still starting may not answer the first read).
  const table = async (): Promise<unknown> => {
    const x = JSON.parse((await iget(s.iface, '/api/upstreams')).body) as { version: number; upstreams: unknown }
    return [x.version, x.upstreams]
  }
  const before = await table()
  assert.deepEqual(err(await send('PATCH', '/api/upstreams/g/servers/0', '{"weight": 1, "weight": 100}')), [400, 'duplicate_key', 'duplicate key "weight" in the body'])
  assert.deepEqual(err(await send('PUT', '/api/upstreams/g', `{"servers": [{"server": "127.0.0.1:${a.port}", "down": false, "down": true}]}`)),
    [400, 'duplicate_key', 'duplicate key "down" in "servers[0]"'])
  assert.deepEqual(err(await send('POST', '/api/batch', '{"changes": [{"op": "delete", "upstream": "g", "upstream": "h"}]}')),
    [400, 'duplicate_key', 'duplicate key "upstream" in "changes[0]"'])
  const deep = '{"servers": ' + '['.repeat(10_000) + ']'.repeat(10_000) + '}'
  assert.deepEqual(err(await send('PUT', '/api/upstreams/g', deep)), [400, 'too_deep', 'nesting deeper than 32 levels'])
  assert.deepEqual(err(await send('PUT', '/api/upstreams/g', '{"servers": [')).slice(0, 2), [400, 'invalid_json'])
  // A body that says it is something else: 415, whatever it holds.
  const typed = (method: string, path: string, type: string, body: string): ReturnType<typeof request> =>
    request(s.iface, { method, path, body, headers: { 'Content-Type': type } })
  assert.deepEqual(err(await typed('PATCH', '/api/upstreams/g/servers/0', 'application/xml', '{"down": true}')),
    [415, 'unsupported_media_type', 'a body of type "application/xml" is not read here: send application/json'])
  assert.deepEqual(err(await typed('POST', '/api/batch', 'multipart/form-data; boundary=x', '{"changes": [{"op": "delete", "upstream": "g"}]}')).slice(0, 2),
    [415, 'unsupported_media_type'])
  assert.deepEqual(err(await typed('PUT', '/api/upstreams/g', 'text/html', `server 127.0.0.1:${a.port} down;`)),
    [415, 'unsupported_media_type', 'a body of type "text/html" is not read here: send application/json or text/plain'])
  assert.deepEqual(await table(), before, 'nothing applied')
  // What the routes read: JSON under a +json type, server lines as text/plain, curl's -d default.
  assert.equal((await typed('PATCH', '/api/upstreams/g/servers/0?dry_run=1', 'application/merge-patch+json', '{"weight": 2}')).status, 200)
  assert.equal((await typed('PUT', '/api/upstreams/g?dry_run=1', 'text/plain', `server 127.0.0.1:${a.port} weight=2;`)).status, 200)
  assert.equal((await typed('PATCH', '/api/upstreams/g/servers/0?dry_run=1', 'application/x-www-form-urlencoded', '{"weight": 2}')).status, 200)
})

test('a GROUP read with GET, check included, is sent back with PUT as it is and gives the same group', async (t) => {
  const a = await backend(t, 'ca')
  const s = await startInterface(t, {
    workers: 2,
    http: `    upstream g {\n        hash $request_uri consistent;\n        server 127.0.0.1:${a.port} weight=2;\n        keepalive 4;\n` +
      `        check interval=60000 rise=1 fall=3 timeout=900 type=http default_down=false port=${a.port};\n` +
      `        check_http_send "HEAD /health HTTP/1.0\\r\\nHost: \\"x\\"\\r\\n\\r\\n";\n        check_http_expect_alive http_2xx http_4xx;\n    }\n`,
  })
  const put = (body: unknown): ReturnType<typeof request> =>
    request(s.iface, { method: 'PUT', path: '/api/upstreams/g', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } })
  const read = async (): Promise<GroupJson> => JSON.parse((await iget(s.iface, '/api/upstreams/g')).body) as GroupJson
  const shape = (g: GroupJson): unknown[] => [g.policy, g.keepalive, g.check, g.servers.map((x) => [x.id, x.server, x.weight])]
  const before = await read()
  assert.deepEqual(before.check, {
    type: 'http', interval: 60000, timeout: 900, rise: 1, fall: 3, default_down: false, unique: false, port: a.port,
    send: 'HEAD /health HTTP/1.0\r\nHost: "x"\r\n\r\n', expect_alive: ['http_2xx', 'http_4xx'], keepalive_requests: 1, fastcgi_params: [],
  })
  const r = await put(before)
  assert.equal(r.status, 200, r.body)
  assert.deepEqual(shape(JSON.parse(r.body) as GroupJson), shape(before))
  // Only `type` is needed; Tengine's defaults fill the rest. Bad values are refused before anything is built.
  const typed = await put({ servers: [{ server: `127.0.0.1:${a.port}` }], check: { type: 'tcp' } })
  assert.equal(typed.status, 200, typed.body)
  assert.deepEqual((JSON.parse(typed.body) as GroupJson).check, {
    type: 'tcp', interval: 30000, timeout: 1000, rise: 2, fall: 5, default_down: true, unique: false, port: 0, send: '', expect_alive: [], keepalive_requests: 1, fastcgi_params: [],
  })
  const code = async (check: unknown): Promise<[number, string]> => {
    const x = await put({ servers: [{ server: `127.0.0.1:${a.port}` }], check })
    return [x.status, (JSON.parse(x.body) as { error: { code: string } }).error.code]
  }
  assert.deepEqual(await code({ type: 'smtp' }), [400, 'invalid_value'])
  assert.deepEqual(await code({ type: 'tcp', rise: 0 }), [400, 'invalid_value'])
  assert.deepEqual(await code({ type: 'http', expect_alive: ['http_6xx'] }), [400, 'invalid_value'])
  assert.deepEqual(await code({ type: 'tcp', every: 1 }), [400, 'unknown_field'])
})

/**
 * dyups_audit_log (docs/api.md#audit-log): one JSON line per applied change — text and JSON interfaces, a batch, a
 * reload — with the client, the authenticated user, method and target, the versions and the diff; nothing for a
 * refused change, a dry run or a read.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { backend, freePorts, interfaceConf, request, runBin, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'

interface Line {
  time: string
  source: string
  client: string
  user: string | null
  method: string
  target: string
  version_before: number
  version_after: number
  changes: { upstream: string; created: boolean; deleted: boolean; servers: { added: unknown[]; removed: unknown[]; changed: { address: string; before: Record<string, unknown>; after: Record<string, unknown> }[] } }[]
}

test('dyups_audit_log: a line per applied change from every source, with who, when, versions and the diff', async (t) => {
  const [a, b] = await Promise.all([backend(t, 'aa'), backend(t, 'ab')])
  const [proxy, iface] = (await freePorts(2)) as [number, number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/htpasswd', 'alice:{PLAIN}secret\n')
  const conf = (staticPort: number): string => interfaceConf({
    proxy,
    iface,
    workers: 2,
    http: `    dyups_audit_log logs/audit.log;\n    upstream st { server 127.0.0.1:${staticPort}; }\n`,
    ifaceServer: '        auth_basic "dyups";\n        auth_basic_user_file htpasswd;\n',
    server: `        location = /lua { content_by_lua_block { local s, rv = require("ngx.dyups").update("lua", "server 127.0.0.1:${a.port};") ngx.print(s) } }\n`,
  })
  writeConf(prefix, 'conf/nginx.conf', conf(a.port))
  const d = await startDyups(t, prefix, [proxy, iface])
  const auth = { Authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}` }
  const json = { ...auth, 'Content-Type': 'application/json' }
  const path = join(prefix, 'logs/audit.log')
  const lines = (): Line[] => {
    let text = ''
    try {
      text = readFileSync(path, 'utf8')
    } catch {
      return []
    }
    return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line)
  }
  const next = async (n: number): Promise<Line> => {
    assert.ok(await waitFor(() => lines().length >= n), `audit line ${n}`)
    assert.equal(lines().length, n, 'one line per applied change')
    return lines()[n - 1]!
  }

  const t0 = Date.now()
  assert.equal((await request(iface, { method: 'POST', path: '/upstream/dyn', body: `server 127.0.0.1:${a.port};`, headers: auth })).status, 200)
  let l = await next(1)
  assert.deepEqual([l.source, l.client, l.user, l.method, l.target, l.version_before, l.version_after], ['interface', '127.0.0.1', 'alice', 'POST', '/upstream/dyn', 0, 1])
  assert.ok(Math.abs(Date.parse(l.time) - t0) < 60_000, l.time)
  assert.deepEqual([l.changes.length, l.changes[0]!.upstream, l.changes[0]!.created], [1, 'dyn', true])

  // Not audited: a read, a refused write, a write without credentials, a dry run.
  assert.equal((await request(iface, { path: '/api/upstreams', headers: auth })).status, 200)
  assert.equal((await request(iface, { method: 'POST', path: '/upstream/bad', body: 'server 127.0.0.1:99999;', headers: auth })).status, 500)
  assert.equal((await request(iface, { method: 'DELETE', path: '/upstream/dyn' })).status, 401)
  assert.equal((await request(iface, { method: 'PATCH', path: '/api/upstreams/dyn/servers/0?dry_run=1', body: '{"drain": true}', headers: json })).status, 200)

  const patch = await request(iface, { method: 'PATCH', path: '/api/upstreams/dyn/servers/0', body: '{"drain": true}', headers: json })
  assert.equal(patch.status, 200, patch.body)
  l = await next(2)
  assert.deepEqual([l.method, l.target, l.version_before, l.version_after], ['PATCH', '/api/upstreams/dyn/servers/0', 1, 2])
  assert.deepEqual(l.changes[0]!.servers.changed.map((c) => [c.address, c.before['drain'], c.after['drain']]), [[`127.0.0.1:${a.port}`, false, true]])

  const batch = await request(iface, {
    method: 'POST',
    path: '/api/batch',
    body: JSON.stringify({ changes: [{ op: 'delete', upstream: 'dyn' }, { op: 'put', upstream: 'two', text: `server 127.0.0.1:${b.port};` }] }),
    headers: json,
  })
  assert.equal(batch.status, 200, batch.body)
  l = await next(3)
  assert.deepEqual([l.target, l.version_before, l.version_after], ['/api/batch', 2, 3])
  assert.deepEqual(l.changes.map((c) => [c.upstream, c.created, c.deleted]), [['dyn', false, true], ['two', true, false]])

  // A change from a script, for the client of the request that ran it.
  assert.equal((await request(proxy, { path: '/lua' })).body, '200')
  l = await next(4)
  assert.deepEqual([l.source, l.client, l.user, l.method, l.target, l.version_before, l.version_after], ['script', '127.0.0.1', null, 'update', 'lua', 3, 4])
  assert.deepEqual(l.changes.map((c) => [c.upstream, c.created]), [['lua', true]])

  // A reload that changes a static group is audited too, with no client.
  writeConf(prefix, 'conf/nginx.conf', conf(b.port))
  process.kill(d.pid, 'SIGHUP')
  l = await next(5)
  assert.deepEqual([l.source, l.client, l.user, l.version_before, l.version_after], ['reload', '', null, 4, 5])
  assert.deepEqual(l.changes.map((c) => [c.upstream, c.servers.added.length, c.servers.removed.length]), [['st', 1, 1]])
  assert.equal((await request(proxy, { host: 'st' })).body, 'ab')
})

test('dyups_audit_log: a file that cannot be opened fails -t and the start, as nginx\'s log files do', async (t) => {
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', 'events {}\nhttp {\n    dyups_audit_log nosuch/audit.log;\n}\n')
  const r = await runBin(['-t', '-p', prefix, '-c', 'conf/nginx.conf'])
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, new RegExp(`\\[emerg\\] open\\(\\) "${prefix}/nosuch/audit\\.log" failed \\(2: No such file or directory\\)`))
  writeConf(prefix, 'conf/nginx.conf', 'events {}\nhttp {\n    dyups_audit_log off;\n}\n')
  assert.equal((await runBin(['-t', '-p', prefix, '-c', 'conf/nginx.conf'])).code, 0)
})

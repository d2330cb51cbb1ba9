/**
 * Every applied change of the upstream table has an `info` line in the error log with the version it made, what
 * it did and who asked: the interface's request and client, the JSON interface's, or a reload. A refused change
 * has none (it has its own error line).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ans, answer, backend, idelete, ipost, request, startInterface, waitFor, writeConf, interfaceConf } from './helpers.js'

test('an info line for every applied change: version, what, source', async (t) => {
  const a = await backend(t, 'a')
  const http = (servers: string): string => `    upstream st { ${servers} }\n`
  const s = await startInterface(t, { workers: 2, http: http(`server 127.0.0.1:${a.port};`) })
  const lines = (): string[] => s.d.errorLog().split('\n').filter((l) => l.includes('[dyups] table version'))
  const message = (l: string): string => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[info\] \d+#\d+: /, '')

  assert.deepEqual(answer(await ipost(s.iface, '/upstream/foo', `server 127.0.0.1:${a.port}; server 127.0.0.1:1;`)), ans(200, 'success'))
  assert.equal((await ipost(s.iface, '/upstream/foo', 'server ;')).status, 500)
  const put = await request(s.iface, { method: 'PUT', path: '/api/upstreams/bar?x=%0a', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ servers: [{ server: `127.0.0.1:${a.port}` }] }) })
  assert.equal(put.status, 200, put.body)
  assert.equal((await idelete(s.iface, '/upstream/foo')).status, 200)
  assert.ok(await waitFor(() => lines().length === 3), s.d.errorLog())

  // A reload that changes the static group: its change is the reload's.
  writeConf(s.prefix, 'conf/nginx.conf', interfaceConf({ workers: 2, proxy: s.proxy, iface: s.iface, http: http(`server 127.0.0.1:${a.port}; server 127.0.0.1:2 backup;`) }))
  process.kill(s.d.pid, 'SIGHUP')
  assert.ok(await waitFor(() => lines().length === 4, 20_000), s.d.errorLog())
  assert.deepEqual(lines().map(message), [
    '[dyups] table version 1: upstream "foo" set (2 servers), source: POST /upstream/foo, client: 127.0.0.1',
    // The query's encoded line feed stays as sent: the line stays one line.
    '[dyups] table version 2: upstream "bar" set (1 server), source: PUT /api/upstreams/bar?x=%0a, client: 127.0.0.1',
    '[dyups] table version 3: upstream "foo" deleted, source: DELETE /upstream/foo, client: 127.0.0.1',
    '[dyups] table version 4: upstream "st" set (2 servers), source: reload',
  ])
})

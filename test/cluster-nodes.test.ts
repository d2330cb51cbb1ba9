/**
 * Cluster mode when a node fails (docs/cluster.md#bootstrap-local-copy-failures), on a real etcd and dyups nodes on
 * loopback: a node killed with -9 (a write is not held by it once its lease expired) and restarted (it catches up
 * before its interface answers); a node that stops applying (the write answers 504 naming it, committed, and it
 * catches up); dyups_trylock across nodes.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { backend, iget, ipost, killAll, via, waitFor } from './helpers.js'
import { startEtcd } from './etcd.js'
import { startNode, type Node } from './cluster.js'

const etag = async (n: Node): Promise<string | undefined> => (await iget(n.iface, '/list')).headers['etag']

test('a node killed with -9 is not waited for once its lease expired, and catches up before it serves when restarted', async (t) => {
  const etcd = await startEtcd(t)
  const [one, two] = await Promise.all([backend(t, 'one'), backend(t, 'two')])
  const a = await startNode(t, etcd.endpoint, 'a', { http: `    upstream g { server 127.0.0.1:${one.port}; }\n`, workers: 1 })
  const c = await startNode(t, etcd.endpoint, 'c', { workers: 1 })
  assert.equal((await via(c.proxy, 'g')).body, 'one')

  await killAll(c.d, [c.proxy, c.iface])
  // ack all: the write waits for c until c's lease (1 s) expires, well within dyups_cluster_ack_timeout (10 s).
  const started = Date.now()
  const w = await ipost(a.iface, '/upstream/g', `server 127.0.0.1:${two.port};`)
  assert.equal(w.status, 200, w.body)
  assert.ok(Date.now() - started < 8000, `answered after ${Date.now() - started} ms`)
  const nodes = (JSON.parse((await iget(a.iface, '/api/cluster')).body) as { nodes: { node: string }[] }).nodes.map((n) => n.node)
  assert.deepEqual(nodes, ['a'], 'the dead node is no longer listed')

  await c.restart()
  // No retry: the first answers of the restarted node already have the change.
  assert.equal(await etag(c), await etag(a))
  assert.equal((await via(c.proxy, 'g')).body, 'two')
})

test('a node that stops applying is reported lagging: the write answers 504 naming it (committed), and it catches up', async (t) => {
  const etcd = await startEtcd(t)
  const [one, two] = await Promise.all([backend(t, 'one'), backend(t, 'two')])
  const ack = '    dyups_cluster_ack_timeout 700ms;\n'
  const a = await startNode(t, etcd.endpoint, 'a', { http: `    upstream g { server 127.0.0.1:${one.port}; }\n${ack}`, workers: 1 })
  // A long lease: stopped, it stays registered (and waited for) past the writer's timeout.
  const s = await startNode(t, etcd.endpoint, 's', { workers: 1, params: 'prefix=/t node=s lease=30s' })
  process.kill(s.d.pid, 'SIGSTOP')
  t.after(() => {
    try {
      process.kill(s.d.pid, 'SIGCONT')
    } catch {
      // Gone already.
    }
  })
  const w = await ipost(a.iface, '/upstream/g', `server 127.0.0.1:${two.port};`)
  assert.equal(w.status, 504, w.body)
  assert.match(w.body, /committed as version \d+, not yet applied by node\(s\) s$/)
  assert.equal((await via(a.proxy, 'g')).body, 'two', 'committed: the writer routes by it')
  const lag = (JSON.parse((await iget(a.iface, '/api/cluster')).body) as { nodes: { node: string; lag: number }[] }).nodes
  assert.deepEqual(lag.map((n) => [n.node, n.lag]), [['a', 0], ['s', 1]])

  process.kill(s.d.pid, 'SIGCONT')
  assert.ok(await waitFor(async () => (await via(s.proxy, 'g')).body === 'two', 10_000), 'the stopped node catches up')
  // ack commit: this node applied it, the others are not waited for.
  assert.ok(await waitFor(async () => (await etag(s)) === (await etag(a)), 10_000))
})

test('dyups_trylock on: a write answers 409 on any node while another change is still being applied somewhere', async (t) => {
  const etcd = await startEtcd(t)
  const [one, two] = await Promise.all([backend(t, 'one'), backend(t, 'two')])
  const http = '    dyups_trylock on;\n    dyups_cluster_ack_timeout 500ms;\n'
  const a = await startNode(t, etcd.endpoint, 'a', { http: `    upstream g { server 127.0.0.1:${one.port}; }\n${http}`, workers: 1 })
  const b = await startNode(t, etcd.endpoint, 'b', { http, workers: 1 })
  const s = await startNode(t, etcd.endpoint, 's', { http, workers: 1, params: 'prefix=/t node=s lease=30s' })
  process.kill(s.d.pid, 'SIGSTOP')
  t.after(() => {
    try {
      process.kill(s.d.pid, 'SIGCONT')
    } catch {
      // Gone already.
    }
  })
  const w = await ipost(a.iface, '/upstream/g', `server 127.0.0.1:${two.port};`)
  assert.equal(w.status, 504, w.body)
  // s has not applied a's change: it is still being applied, on b as on a.
  for (const n of [b, a]) {
    const r = await ipost(n.iface, '/upstream/h', `server 127.0.0.1:${one.port};`)
    assert.equal(r.status, 409, `${n.name}: ${r.body}`)
    assert.equal(r.body, 'wait and try again\n')
  }
  process.kill(s.d.pid, 'SIGCONT')
  assert.ok(await waitFor(async () => (await ipost(b.iface, '/upstream/h', `server 127.0.0.1:${one.port};`)).status === 200, 10_000), 'once s caught up, writes go in')
  assert.equal((await via(s.proxy, 'h')).body, 'one')
})

test("a reload keeps the fleet's table: nginx.conf's upstream blocks only seeded it", async (t) => {
  const etcd = await startEtcd(t)
  const [one, two] = await Promise.all([backend(t, 'one'), backend(t, 'two')])
  const a = await startNode(t, etcd.endpoint, 'a', { http: `    upstream g { server 127.0.0.1:${one.port}; }\n`, workers: 1 })
  const before = await iget(a.iface, '/list')
  // The same group pointing elsewhere in nginx.conf, and a reload.
  const conf = join(a.prefix, 'conf/nginx.conf')
  writeFileSync(conf, readFileSync(conf, 'utf8').replace(`127.0.0.1:${one.port}`, `127.0.0.1:${two.port}`))
  process.kill(a.d.pid, 'SIGHUP')
  assert.ok(await waitFor(() => /upstream blocks are not applied on reload/.test(a.d.errorLog()), 10_000), a.d.errorLog())
  assert.equal((await via(a.proxy, 'g')).body, 'one')
  assert.equal((await iget(a.iface, '/list')).headers['etag'], before.headers['etag'])
  // Writes still go through etcd after the reload.
  const w = await ipost(a.iface, '/upstream/g', `server 127.0.0.1:${two.port};`)
  assert.equal(w.status, 200, w.body)
  assert.ok(await waitFor(async () => (await via(a.proxy, 'g')).body === 'two', 10_000))
})

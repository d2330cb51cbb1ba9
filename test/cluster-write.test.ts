/**
 * Cluster mode (docs/cluster.md) on a real etcd and three nodes on loopback: the first node seeds the table, a
 * write through any node routes on every worker of every node before its 200, If-Match and dyups_trylock hold
 * across nodes, and GET /api/cluster lists the nodes.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { join } from 'node:path'
import { backend, iget, ipost, idelete, readText, request, via } from './helpers.js'
import { startEtcd } from './etcd.js'
import { pinWorkers, routes, startNode } from './cluster.js'

test('a write on one node routes on every worker of every node before its 200; the table version is one fleet-wide', async (t) => {
  const etcd = await startEtcd(t)
  const [b1, b2, b3] = await Promise.all([backend(t, 'one'), backend(t, 'two'), backend(t, 'three')])
  // Only the first node's nginx.conf has `seed`: it seeds the empty prefix, the others take etcd's table.
  const a = await startNode(t, etcd.endpoint, 'a', { http: `    upstream seed { server 127.0.0.1:${b1.port}; }\n` })
  // c runs in one process (master_process off): the same path without workers.
  const [b, c] = await Promise.all([startNode(t, etcd.endpoint, 'b'), startNode(t, etcd.endpoint, 'c', { master: false, workers: 1 })])
  const nodes = [a, b, c]
  const pinned = await Promise.all([pinWorkers(a.proxy, 2), pinWorkers(b.proxy, 2), pinWorkers(c.proxy, 1)])
  for (const p of pinned) assert.deepEqual(await routes(p, 'seed'), p.map(() => 'one'), 'every node starts with the seeded group')

  let version = Number((await iget(a.iface, '/list')).headers['etag']?.replace(/"/g, ''))
  assert.ok(Number.isSafeInteger(version))
  // Writes through each node in turn, each checked on every worker of every node right after its 200, no retry.
  const steps: [number, 'post' | 'delete', string, number][] = [
    [0, 'post', 'g', b2.port], [1, 'post', 'g', b3.port], [2, 'post', 'h', b1.port], [1, 'delete', 'g', 0], [0, 'post', 'seed', b3.port],
  ]
  for (const [via, op, name, port] of steps) {
    const node = nodes[via]!
    const r = op === 'post' ? await ipost(node.iface, `/upstream/${name}`, `server 127.0.0.1:${port};`) : await idelete(node.iface, `/upstream/${name}`)
    assert.equal(r.status, 200, `${op} ${name} on ${node.name}: ${r.body}`)
    version++
    assert.equal(r.headers['etag'], `"${version}"`, 'one version per change, whichever node took it')
    const want = op === 'delete' ? 'status 502' : port === b1.port ? 'one' : port === b2.port ? 'two' : 'three'
    for (let i = 0; i < nodes.length; i++) {
      const got = await routes(pinned[i]!, name)
      // A deleted group is no group: proxy_pass to an unknown host answers 502 (no resolver).
      assert.deepEqual(got.map((x) => (x.startsWith('status 5') ? 'status 502' : x)), got.map(() => want), `node ${nodes[i]!.name} after ${op} ${name} on ${node.name}`)
    }
  }
  // Every node's interface reads the same table at the same version.
  const lists = await Promise.all(nodes.map((n) => iget(n.iface, '/list')))
  for (const l of lists) {
    assert.equal(l.headers['etag'], `"${version}"`)
    assert.equal(l.body, lists[0]!.body)
  }

  const cl = await iget(b.iface, '/api/cluster')
  assert.equal(cl.status, 200, cl.body)
  const report = JSON.parse(cl.body) as { node: string; connected: boolean; version: number; nodes: { node: string; applied: number; lag: number }[] }
  assert.equal(report.node, 'b')
  assert.equal(report.connected, true)
  assert.equal(report.version, version)
  assert.deepEqual(report.nodes.map((n) => [n.node, n.applied, n.lag]), [['a', version, 0], ['b', version, 0], ['c', version, 0]])
  // The text view.
  const text = await iget(c.iface, '/cluster')
  assert.equal(text.status, 200)
  const lines = text.body.split('\n')
  assert.equal(lines[0], `node c version=${version} connected`)
  assert.match(lines[3]!, new RegExp(`^c applied=${version} lag=0 host=\\S+ pid=\\d+ \\(self\\)$`))
  assert.equal(lines.length, 5)

  // Changes a node applied from etcd have the error log's line, naming the cluster as their source.
  const log = readText(join(c.prefix, 'logs/error.log'))
  assert.match(log, new RegExp(`\\[dyups\\] table version ${version}: upstream "seed" set \\(1 server\\), source: cluster`))
  // A batch has no encoding in etcd yet: refused whole, nothing changed.
  const batch = await request(a.iface, {
    method: 'POST', path: '/api/batch', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ changes: [{ op: 'delete', upstream: 'h' }] }),
  })
  assert.equal(batch.status, 501, batch.body)
  assert.equal((JSON.parse(batch.body) as { error: { code: string } }).error.code, 'not_implemented')
  assert.equal((await iget(b.iface, '/list')).headers['etag'], `"${version}"`)
})

test('concurrent If-Match writers on different nodes: exactly one wins, the others answer 412; without If-Match all go in, one after the other', async (t) => {
  const etcd = await startEtcd(t)
  const back = await backend(t, 'x')
  const nodes = await Promise.all(['a', 'b', 'c'].map((n) => startNode(t, etcd.endpoint, n, { workers: 1 })))
  for (let round = 0; round < 5; round++) {
    const v = (await iget(nodes[0]!.iface, '/list')).headers['etag']!
    // Every node has the version before the race starts (ack all).
    const rs = await Promise.all(nodes.map((n, i) => ipost(n.iface, `/upstream/r${i}`, `server 127.0.0.1:${back.port};`, { 'If-Match': v })))
    const statuses = rs.map((r) => r.status).sort()
    assert.deepEqual(statuses, [200, 412, 412], `round ${round}: ${rs.map((r) => `${r.status} ${r.body}`).join(' | ')}`)
  }
  // Without If-Match every writer's change goes in, one after the other.
  const rs = await Promise.all(nodes.map((n, i) => ipost(n.iface, `/upstream/all${i}`, `server 127.0.0.1:${back.port};`)))
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 200], rs.map((r) => r.body).join(' | '))
  const versions = rs.map((r) => Number(r.headers['etag']!.replace(/"/g, ''))).sort((x, y) => x - y)
  assert.equal(versions[1], versions[0]! + 1)
  assert.equal(versions[2], versions[1]! + 1)

  // Many writers on one node share its transactions: each change still gets a version of its own, a delete of an
  // unknown group fails alone, and every node has all of them.
  const many = await Promise.all([
    ...Array.from({ length: 12 }, (_, i) => ipost(nodes[0]!.iface, `/upstream/m${i}`, `server 127.0.0.1:${back.port};`)),
    idelete(nodes[0]!.iface, '/upstream/nonesuch'),
  ])
  assert.deepEqual(many.map((r) => r.status), [...Array(12).fill(200), 404], many.map((r) => r.body).join(' | '))
  assert.equal(many[12]!.body, 'not found uptream')
  const vs = many.slice(0, 12).map((r) => Number(r.headers['etag']!.replace(/"/g, ''))).sort((x, y) => x - y)
  assert.deepEqual(vs, Array.from({ length: 12 }, (_, i) => versions[2]! + 1 + i))
  for (const n of nodes) {
    const list = await iget(n.iface, '/list')
    assert.equal(list.headers['etag'], `"${vs[11]}"`)
    for (let i = 0; i < 12; i++) assert.ok(list.body.split('\n').includes(`m${i}`), `node ${n.name} has m${i}`)
    assert.equal((await via(n.proxy, 'm7')).body, 'x')
  }
})

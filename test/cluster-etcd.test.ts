/**
 * Cluster mode when etcd fails or guards itself (docs/cluster.md#bootstrap-local-copy-failures), on a real etcd and
 * dyups nodes on loopback: etcd killed (nodes serve on, writes answer 503 with the reason) and back (writes go
 * through); a node started while etcd is down (its local copy, then it joins); a watch resuming from a compacted
 * revision (a full resync); etcd's authentication and TLS.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { backend, idelete, iget, ipost, via, waitFor } from './helpers.js'
import { startEtcd } from './etcd.js'
import { testCertificates } from '../src/proxy/testing.js'
import { startNode, type Node } from './cluster.js'

const connected = async (n: Node): Promise<boolean> => {
  const r = await iget(n.iface, '/api/cluster')
  return r.status === 200 && (JSON.parse(r.body) as { connected: boolean }).connected
}
const etag = async (n: Node): Promise<string | undefined> => (await iget(n.iface, '/list')).headers['etag']

test('etcd killed: nodes serve their table and writes answer 503 with the reason; etcd back: writes go through everywhere', async (t) => {
  const etcd = await startEtcd(t)
  const [one, two] = await Promise.all([backend(t, 'one'), backend(t, 'two')])
  const a = await startNode(t, etcd.endpoint, 'a', { http: `    upstream g { server 127.0.0.1:${one.port}; }\n`, workers: 1 })
  const b = await startNode(t, etcd.endpoint, 'b', { workers: 1 })
  assert.equal((await via(b.proxy, 'g')).body, 'one')

  await etcd.kill()
  assert.ok(await waitFor(async () => !(await connected(a)) && !(await connected(b)), 10_000), 'the nodes notice etcd is gone')
  for (const n of [a, b]) {
    assert.equal((await via(n.proxy, 'g')).body, 'one', `node ${n.name} serves on`)
    const w = await ipost(n.iface, '/upstream/g', `server 127.0.0.1:${two.port};`)
    assert.equal(w.status, 503, w.body)
    assert.match(w.body, /etcd cannot be reached .*nothing was changed/)
  }
  const cl = JSON.parse((await iget(a.iface, '/api/cluster')).body) as { connected: boolean; reason: string | null }
  assert.equal(cl.connected, false)
  assert.ok(cl.reason !== null && cl.reason.length > 0, 'the report says why')

  await etcd.start()
  assert.ok(await waitFor(async () => (await connected(a)) && (await connected(b)), 15_000), 'the nodes follow etcd again')
  const w = await ipost(b.iface, '/upstream/g', `server 127.0.0.1:${two.port};`)
  assert.equal(w.status, 200, w.body)
  for (const n of [a, b]) assert.equal((await via(n.proxy, 'g')).body, 'two', `node ${n.name} routes by the write`)
  assert.equal(await etag(a), await etag(b))
})

test('a node whose watch resumes from a compacted revision takes the whole table again; ?ack=commit does not wait for it', async (t) => {
  const etcd = await startEtcd(t)
  const [one, two] = await Promise.all([backend(t, 'one'), backend(t, 'two')])
  const a = await startNode(t, etcd.endpoint, 'a', { http: `    upstream g { server 127.0.0.1:${one.port}; }\n    upstream old { server 127.0.0.1:${one.port}; }\n`, workers: 1 })
  const s = await startNode(t, etcd.endpoint, 's', { workers: 2 })
  assert.equal((await via(s.proxy, 'old')).body, 'one')
  // s sleeps through an etcd restart: its watch stream is gone and resumes from its last revision when it wakes.
  process.kill(s.d.pid, 'SIGSTOP')
  t.after(() => {
    try {
      process.kill(s.d.pid, 'SIGCONT')
    } catch {
      // Gone already.
    }
  })
  await etcd.kill()
  await etcd.start()
  assert.ok(await waitFor(async () => (await ipost(a.iface, '/upstream/g?ack=commit', `server 127.0.0.1:${two.port};`)).status === 200, 15_000), 'a writes again')
  const d = await idelete(a.iface, '/upstream/old?ack=commit')
  assert.equal(d.status, 200, d.body)
  const n = await ipost(a.iface, '/upstream/new?ack=commit', `server 127.0.0.1:${two.port};`)
  assert.equal(n.status, 200, n.body)
  // The revisions s would resume from are gone.
  etcd.compact()
  process.kill(s.d.pid, 'SIGCONT')
  assert.ok(await waitFor(async () => (await iget(s.iface, '/list')).headers['etag'] === n.headers['etag'], 15_000), `s catches up: ${s.d.errorLog()}`)
  assert.equal((await iget(s.iface, '/list')).body, (await iget(a.iface, '/list')).body)
  for (const [host, want] of [['g', 'two'], ['new', 'two']]) assert.equal((await via(s.proxy, host)).body, want)
  assert.notEqual((await via(s.proxy, 'old')).status, 200, 'the deleted group is gone on s')
  assert.match(s.d.errorLog(), /full resync from etcd/)
})

test('a node started while etcd is down serves its local copy and refuses writes, then joins and catches up', async (t) => {
  const etcd = await startEtcd(t)
  const [one, two] = await Promise.all([backend(t, 'one'), backend(t, 'two')])
  const a = await startNode(t, etcd.endpoint, 'a', { http: `    upstream g { server 127.0.0.1:${one.port}; }\n`, workers: 1 })
  const c = await startNode(t, etcd.endpoint, 'c', { workers: 1 })
  assert.equal((await via(c.proxy, 'g')).body, 'one')
  await c.d.stop('SIGQUIT')
  await etcd.kill()
  await c.restart()
  assert.equal((await via(c.proxy, 'g')).body, 'one', 'c serves its local copy')
  const refused = await ipost(c.iface, '/upstream/g', `server 127.0.0.1:${two.port};`)
  assert.equal(refused.status, 503, refused.body)
  assert.match(c.d.errorLog(), /etcd cannot be reached .*serving the local copy/)

  await etcd.start()
  assert.ok(await waitFor(async () => (await ipost(a.iface, '/upstream/g?ack=commit', `server 127.0.0.1:${two.port};`)).status === 200, 15_000), 'a writes again')
  assert.ok(await waitFor(async () => (await via(c.proxy, 'g')).body === 'two', 15_000), 'c joined and applied the write')
  assert.equal((await iget(c.iface, '/list')).headers['etag'], (await iget(a.iface, '/list')).headers['etag'])
})

test("etcd's authentication: a node with user= and password= joins; one without them serves its own copy and refuses writes", async (t) => {
  const etcd = await startEtcd(t)
  etcd.ctl('user', 'add', 'root:secret', '--interactive=false')
  etcd.ctl('auth', 'enable')
  const one = await backend(t, 'one')
  const a = await startNode(t, etcd.endpoint, 'a', { http: `    upstream g { server 127.0.0.1:${one.port}; }\n`, workers: 1, params: 'prefix=/t node=a lease=1s user=root password=secret' })
  const w = await ipost(a.iface, '/upstream/h', `server 127.0.0.1:${one.port};`)
  assert.equal(w.status, 200, w.body)
  assert.equal((await via(a.proxy, 'h')).body, 'one')
  // The table is in etcd, readable with the credentials only.
  assert.match(etcd.ctl('--user', 'root:secret', 'get', '/t/version', '--print-value-only'), /^1\n/)

  const b = await startNode(t, etcd.endpoint, 'b', { workers: 1 })
  const cl = JSON.parse((await iget(b.iface, '/api/cluster')).body) as { connected: boolean; reason: string }
  assert.equal(cl.connected, false)
  const r = await ipost(b.iface, '/upstream/h', `server 127.0.0.1:${one.port};`)
  assert.equal(r.status, 503, r.body)
  assert.match(r.body, /etcd cannot be reached/)
  assert.notEqual((await via(b.proxy, 'h')).status, 200, 'b has not got the fleet\'s table')
})

test('TLS to etcd (etcds://, cacert=, cert=, key=): a node with a client certificate joins; one that trusts another CA does not', async (t) => {
  const certs = testCertificates()
  const etcd = await startEtcd(t, { tls: certs })
  const one = await backend(t, 'one')
  const tls = (ca: string): string => `prefix=/t node=a lease=1s cacert=${certs}/${ca}.pem cert=${certs}/client.pem key=${certs}/client.key`
  const a = await startNode(t, `${etcd.endpoint}`, 'a', { http: `    upstream g { server 127.0.0.1:${one.port}; }\n`, workers: 1, params: tls('ca'), scheme: 'etcds' })
  const w = await ipost(a.iface, '/upstream/h', `server 127.0.0.1:${one.port};`)
  assert.equal(w.status, 200, w.body)
  assert.match(etcd.ctl('get', '/t/version', '--print-value-only'), /^1\n/)
  const b = await startNode(t, `${etcd.endpoint}`, 'b', { workers: 1, params: tls('other-ca').replace('node=a', 'node=b'), scheme: 'etcds' })
  const r = await ipost(b.iface, '/upstream/h', `server 127.0.0.1:${one.port};`)
  assert.equal(r.status, 503, r.body)
})

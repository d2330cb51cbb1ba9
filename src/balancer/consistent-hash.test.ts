import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createBalancer, type Balancer } from './balancer.js'
import { PeerStates } from './peers.js'
import { group, port } from './testing.js'

const T = 1_000_000_000

// What nginx 1.22 answered for `hash $arg_k consistent`: the points come from the server addresses as written.
const NGINX: [string, string, [string, number][]][] = [
  [
    'weights 1:2:1:1:3',
    'hash $arg_k consistent; server 127.0.0.1:19001; server 127.0.0.1:19002 weight=2; server 127.0.0.1:19003; server 127.0.0.1:19004; server 127.0.0.1:19005 weight=3;',
    [['a', 2], ['abc', 5], ['user42', 5], ['key-1', 5], ['key-2', 3], ['key-3', 4], ['%2Findex.html', 5], ['x'.repeat(50), 5], ['hello%20world', 5], ['%C3%A9', 5], ['k0', 4], ['k1', 3], ['k2', 5], ['k3', 5], ['k4', 5], ['k5', 2], ['k6', 4], ['k7', 1], ['k8', 5], ['k9', 5], ['k10', 5], ['k11', 2], ['k12', 5], ['k13', 2], ['k14', 3], ['k15', 4], ['k16', 5], ['k17', 4], ['k18', 5], ['k19', 2], ['k20', 4], ['k21', 4], ['k22', 1], ['k23', 2], ['k24', 5], ['k25', 3], ['k26', 5], ['k27', 4], ['k28', 2], ['k29', 2]],
  ],
  [
    'a down server passes its keys on',
    'hash $arg_k consistent; server 127.0.0.1:19001; server 127.0.0.1:19002 down; server 127.0.0.1:19003; server 127.0.0.1:19004;',
    [['a', 4], ['abc', 4], ['user42', 1], ['key-1', 3], ['key-2', 3], ['key-3', 4], ['%2Findex.html', 1], ['x'.repeat(50), 3], ['hello%20world', 1], ['%C3%A9', 1], ['k0', 4], ['k1', 3], ['k2', 3], ['k3', 3], ['k4', 4], ['k5', 4], ['k6', 4], ['k7', 1], ['k8', 3], ['k9', 3], ['k10', 4], ['k11', 3], ['k12', 4], ['k13', 4], ['k14', 3], ['k15', 4], ['k16', 4], ['k17', 4], ['k18', 1], ['k19', 1], ['k20', 4], ['k21', 4], ['k22', 1], ['k23', 3], ['k24', 3], ['k25', 3], ['k26', 3], ['k27', 4], ['k28', 1], ['k29', 4]],
  ],
]

function pick(b: Balancer, key: string): number {
  const sel = b.begin({ clientAddr: '', hashKey: key, now: T })
  const p = sel.next()!
  sel.done(p, true)
  return p.server.port
}

test('consistent hash picks what nginx picks', async () => {
  for (const [what, body, cases] of NGINX) {
    const b = createBalancer(await group(body), new PeerStates())
    for (const [key, want] of cases) assert.equal(pick(b, key), 19000 + want, `${what}: ${key}`)
  }
})

test('consistent hash: removing a server moves only its own keys', async () => {
  const all = [1, 2, 3, 4, 5, 6].map((i) => `server 10.0.0.${i}:80;`)
  const before = createBalancer(await group('hash $k consistent; ' + all.join(' ')), new PeerStates())
  const after = createBalancer(await group('hash $k consistent; ' + all.filter((_, i) => i !== 2).join(' ')), new PeerStates())
  const addr = (b: Balancer, key: string) => {
    const sel = b.begin({ clientAddr: '', hashKey: key, now: T })
    const p = sel.next()!
    sel.done(p, true)
    return p.server.addr
  }
  let moved = 0
  for (let i = 0; i < 2000; i++) {
    const key = `/item/${i}`
    const a = addr(before, key)
    const b = addr(after, key)
    if (a === '10.0.0.3:80') moved++
    else assert.equal(b, a, key)
  }
  // about a sixth of the keys lived on the removed server
  assert.ok(moved > 200 && moved < 500, String(moved))
})

test('consistent hash: peers of one server name share its points (a name that resolved to several addresses)', async () => {
  const b = createBalancer(
    await group('hash $k consistent; server 127.0.0.1:19001; server 127.0.0.1:19001; server 127.0.0.1:19002;'),
    new PeerStates(),
  )
  const ports = new Set<number>()
  for (let i = 0; i < 50; i++) ports.add(pick(b, `key${i}`))
  assert.deepEqual([...ports].sort(), [19001, 19002])
})

test('consistent hash: empty key and single server go round robin', async () => {
  const b = createBalancer(await group('hash $k consistent; server 127.0.0.1:1; server 127.0.0.1:2;'), new PeerStates())
  assert.deepEqual([pick(b, ''), pick(b, ''), pick(b, '')], [1, 2, 1])
  const one = createBalancer(await group('hash $k consistent; server 127.0.0.1:7;'), new PeerStates())
  assert.equal(port(one.begin({ clientAddr: '', hashKey: 'x', now: T }).next()), 7)
})

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createBalancer } from './balancer.js'
import { PeerStates } from './peers.js'
import { group, picks, port } from './testing.js'

const T = 1_000_000_000

// What nginx 1.22 answered for `hash $arg_k` (keys as nginx sees them: not URL-decoded).
const NGINX: [string, string, [string, number][]][] = [
  [
    'five equal servers',
    'hash $arg_k; server 127.0.0.1:19001; server 127.0.0.1:19002; server 127.0.0.1:19003; server 127.0.0.1:19004; server 127.0.0.1:19005;',
    [['a', 3], ['abc', 5], ['user42', 2], ['key-1', 1], ['key-2', 3], ['key-3', 3], ['%2Findex.html', 2], ['x'.repeat(50), 3], ['hello%20world', 1], ['%C3%A9', 3], ['k0', 2], ['k1', 2], ['k2', 3], ['k3', 1], ['k4', 3], ['k5', 2], ['k6', 5], ['k7', 2], ['k8', 2], ['k9', 3], ['k10', 3], ['k11', 4], ['k12', 2], ['k13', 5], ['k14', 5], ['k15', 4], ['k16', 2], ['k17', 5], ['k18', 2], ['k19', 5], ['k20', 4], ['k21', 2], ['k22', 1], ['k23', 5], ['k24', 2], ['k25', 1], ['k26', 5], ['k27', 5], ['k28', 4], ['k29', 2]],
  ],
  [
    'weights 3:1:2',
    'hash $arg_k; server 127.0.0.1:19001 weight=3; server 127.0.0.1:19002; server 127.0.0.1:19003 weight=2;',
    [['a', 3], ['abc', 1], ['user42', 2], ['key-1', 3], ['key-2', 2], ['key-3', 3], ['%2Findex.html', 2], ['x'.repeat(50), 3], ['hello%20world', 2], ['%C3%A9', 2], ['k0', 1], ['k1', 1], ['k2', 1], ['k3', 1], ['k4', 3], ['k5', 3], ['k6', 1], ['k7', 3], ['k8', 1], ['k9', 2], ['k10', 2], ['k11', 1], ['k12', 2], ['k13', 1], ['k14', 1], ['k15', 1], ['k16', 1], ['k17', 3], ['k18', 3], ['k19', 2], ['k20', 1], ['k21', 3], ['k22', 3], ['k23', 2], ['k24', 2], ['k25', 1], ['k26', 1], ['k27', 3], ['k28', 2], ['k29', 1]],
  ],
  [
    'a down server rehashes',
    'hash $arg_k; server 127.0.0.1:19001; server 127.0.0.1:19002 down; server 127.0.0.1:19003;',
    [['a', 3], ['abc', 3], ['user42', 1], ['key-1', 3], ['key-2', 1], ['key-3', 3], ['%2Findex.html', 1], ['x'.repeat(50), 3], ['hello%20world', 1], ['%C3%A9', 1], ['k0', 3], ['k1', 1], ['k2', 1], ['k3', 1], ['k4', 1], ['k5', 3], ['k6', 1], ['k7', 3], ['k8', 1], ['k9', 1], ['k10', 1], ['k11', 1], ['k12', 1], ['k13', 1], ['k14', 3], ['k15', 3], ['k16', 3], ['k17', 3], ['k18', 3], ['k19', 1], ['k20', 3], ['k21', 3], ['k22', 1], ['k23', 1], ['k24', 1], ['k25', 1], ['k26', 1], ['k27', 3], ['k28', 1], ['k29', 3]],
  ],
]

test('hash picks what nginx picks', async () => {
  for (const [what, body, cases] of NGINX) {
    const b = createBalancer(await group(body), new PeerStates())
    for (const [key, want] of cases) {
      const sel = b.begin({ clientAddr: '', hashKey: key, now: T })
      const p = sel.next()
      assert.equal(port(p), 19000 + want, `${what}: ${key}`)
      sel.done(p!, true)
    }
  }
})

test('hash: an empty key goes round robin', async () => {
  const b = createBalancer(await group('hash $arg_k; server 127.0.0.1:1; server 127.0.0.1:2;'), new PeerStates())
  assert.deepEqual(picks(b, 4, { hashKey: '' }), [1, 2, 1, 2])
  assert.deepEqual(picks(b, 2), [1, 2])
})

test('hash: a retry rehashes to another server', async () => {
  const b = createBalancer(await group('hash $arg_k; server 127.0.0.1:1; server 127.0.0.1:2; server 127.0.0.1:3;'), new PeerStates())
  const sel = b.begin({ clientAddr: '', hashKey: 'user42', now: T })
  const seen = new Set<number>()
  for (let p = sel.next(); p !== null; p = sel.next()) {
    assert.ok(!seen.has(p.server.port))
    seen.add(p.server.port)
    sel.done(p, false)
  }
  assert.equal(seen.size, 3)
})

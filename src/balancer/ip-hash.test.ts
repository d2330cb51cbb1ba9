import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createBalancer } from './balancer.js'
import { PeerStates } from './peers.js'
import { group, port } from './testing.js'

const T = 1_000_000_000

// What nginx 1.22 answered for these clients (realip-set addresses, one worker).
const NGINX: [string, string, [string, number][]][] = [
  [
    'equal weights',
    'ip_hash; server 127.0.0.1:19001; server 127.0.0.1:19002; server 127.0.0.1:19003;',
    [['127.0.0.1', 3], ['10.1.2.3', 2], ['10.1.2.99', 2], ['192.168.0.1', 1], ['172.16.5.4', 2], ['8.8.8.8', 3], ['1.2.3.4', 2], ['203.0.113.7', 1], ['::1', 3], ['2001:db8::1', 3], ['fe80::1234:5678', 1]],
  ],
  [
    'weights 1:2:3',
    'ip_hash; server 127.0.0.1:19001 weight=1; server 127.0.0.1:19002 weight=2; server 127.0.0.1:19003 weight=3;',
    [['127.0.0.1', 2], ['10.1.2.3', 3], ['10.1.2.99', 3], ['192.168.0.1', 3], ['172.16.5.4', 3], ['8.8.8.8', 3], ['1.2.3.4', 2], ['203.0.113.7', 1], ['::1', 3], ['2001:db8::1', 2], ['fe80::1234:5678', 3]],
  ],
  [
    'a down server rehashes',
    'ip_hash; server 127.0.0.1:19001; server 127.0.0.1:19002 down; server 127.0.0.1:19003;',
    [['127.0.0.1', 3], ['10.1.2.3', 3], ['10.1.2.99', 3], ['192.168.0.1', 1], ['172.16.5.4', 3], ['8.8.8.8', 3], ['1.2.3.4', 3], ['203.0.113.7', 1], ['::1', 3], ['2001:db8::1', 3], ['fe80::1234:5678', 1]],
  ],
]

test('ip_hash picks what nginx picks', async () => {
  for (const [what, body, cases] of NGINX) {
    const b = createBalancer(await group(body), new PeerStates())
    for (const [client, want] of cases) {
      const sel = b.begin({ clientAddr: client, now: T })
      const p = sel.next()
      assert.equal(port(p), 19000 + want, `${what}: ${client}`)
      sel.done(p!, true)
    }
  }
})

test('ip_hash: one /24 is one server; IPv4-mapped clients count as IPv4; unix clients hash as zeros', async () => {
  const b = createBalancer(await group('ip_hash; server 127.0.0.1:1; server 127.0.0.1:2; server 127.0.0.1:3; server 127.0.0.1:4;'), new PeerStates())
  const pick = (client: string) => {
    const sel = b.begin({ clientAddr: client, now: T })
    const p = sel.next()!
    sel.done(p, true)
    return p.server.port
  }
  for (let i = 0; i < 10; i++) assert.equal(pick(`10.20.30.${i * 25}`), pick('10.20.30.1'))
  assert.equal(pick('::ffff:10.20.30.40'), pick('10.20.30.1'))
  assert.equal(pick(''), pick('0.0.0.9'))
  assert.equal(pick('unix:'), pick(''))
})

test('ip_hash: a failed server sends its clients elsewhere, and a retry too', async () => {
  const b = createBalancer(await group('ip_hash; server 127.0.0.1:19001; server 127.0.0.1:19002; server 127.0.0.1:19003;'), new PeerStates())
  const sel = b.begin({ clientAddr: '127.0.0.1', now: T })
  const first = sel.next()!
  assert.equal(first.server.port, 19003)
  sel.done(first, false)
  const second = sel.next()!
  assert.notEqual(second.server.port, 19003)
  sel.done(second, true)
  // within fail_timeout, the same client lands where the retry went
  const again = b.begin({ clientAddr: '127.0.0.1', now: T + 1000 })
  assert.equal(again.next(), second)
})

test('ip_hash: round robin after 20 rehashes, and nothing when every server is down', async () => {
  const b = createBalancer(await group('ip_hash; server 127.0.0.1:1 down; server 127.0.0.1:2 down; server 127.0.0.1:3;'), new PeerStates())
  for (const c of ['1.1.1.1', '2.2.2.2', '3.3.3.3', '::1']) assert.equal(port(b.begin({ clientAddr: c, now: T }).next()), 3)
  const none = createBalancer(await group('ip_hash; server 127.0.0.1:1 down; server 127.0.0.1:2 down;'), new PeerStates())
  assert.equal(none.begin({ clientAddr: '1.1.1.1', now: T }).next(), null)
})

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createBalancer } from './balancer.js'
import type { Peer } from './peer.js'
import { PeerStates } from './peers.js'
import { group, picks } from './testing.js'

const T = 1_000_000_000

test('least_conn: ties go round robin by weight (what nginx 1.22 answered for sequential requests)', async () => {
  const b = createBalancer(await group('least_conn; server 127.0.0.1:19001 weight=3; server 127.0.0.1:19002; server 127.0.0.1:19003 weight=2;'), new PeerStates())
  const want = [1, 3, 1, 2, 3, 1, 1, 3, 1, 2, 3, 1, 1, 3, 1, 2, 3, 1, 1, 3, 1, 2, 3, 1]
  assert.deepEqual(picks(b, 24).map((p) => p! - 19000), want)
})

test('least_conn: fewest connections per weight wins', async () => {
  const b = createBalancer(await group('least_conn; server 127.0.0.1:1 weight=2; server 127.0.0.1:2; server 127.0.0.1:3;'), new PeerStates())
  const held: Peer[] = []
  const open = () => {
    const p = b.begin({ clientAddr: '', now: T }).next()!
    held.push(p)
    return p.server.port
  }
  // :1 may hold two for every one the others hold; ties are broken by smooth WRR among the tied
  assert.deepEqual([open(), open(), open(), open(), open(), open(), open(), open()], [1, 2, 3, 1, 3, 1, 2, 1])
  assert.deepEqual(held.map((p) => p.state.conns), [4, 2, 2, 4, 2, 4, 2, 4])
})

test('least_conn: failures, max_fails and backups as nginx (one dead server, sequential requests)', async () => {
  const b = createBalancer(
    await group('least_conn; server 127.0.0.1:19001; server 127.0.0.1:19009 weight=2 max_fails=2; server 127.0.0.1:19002; server 127.0.0.1:19003 backup;'),
    new PeerStates(),
  )
  const got: number[] = []
  for (let i = 0; i < 24; i++) {
    const sel = b.begin({ clientAddr: '', now: T })
    for (let p = sel.next(); p !== null; p = sel.next()) {
      const ok = p.server.port !== 19009
      sel.done(p, ok)
      if (ok) {
        got.push(p.server.port - 19000)
        break
      }
    }
  }
  assert.deepEqual(got, [1, 2, 1, 2, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1])

  const backup = createBalancer(await group('least_conn; server 127.0.0.1:1 down; server 127.0.0.1:2 backup;'), new PeerStates())
  assert.deepEqual(picks(backup, 2), [2, 2])
})

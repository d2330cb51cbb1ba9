import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createBalancer } from './balancer.js'
import type { Peer } from './peer.js'
import { PeerStates } from './peers.js'
import { group, picks, tally } from './testing.js'

const T = 1_000_000_000

/** A random source that plays back `values`, cycling. */
function playback(values: number[]): () => number {
  let i = 0
  return () => values[i++ % values.length]!
}

test('random: draws map to peers by weight', async () => {
  // weights 1:3 over [0, 4): [0, 1) is :1, [1, 4) is :2
  const g = await group('random; server 127.0.0.1:1; server 127.0.0.1:2 weight=3;')
  const b = createBalancer(g, new PeerStates(), { random: playback([0, 0.24, 0.25, 0.5, 0.99]) })
  assert.deepEqual(picks(b, 5), [1, 1, 2, 2, 2])
  const seeded = createBalancer(g, new PeerStates(), { random: playback(Array.from({ length: 400 }, (_, i) => (i + 0.5) / 400)) })
  assert.deepEqual(tally(picks(seeded, 400)), { '1': 100, '2': 300 })
})

test('random: an unusable draw is drawn again; after 20, round robin', async () => {
  const b = createBalancer(await group('random; server 127.0.0.1:1 down; server 127.0.0.1:2;'), new PeerStates(), { random: playback([0.1, 0.1, 0.9]) })
  assert.deepEqual(picks(b, 3), [2, 2, 2])
  const stuck = createBalancer(await group('random; server 127.0.0.1:1 down; server 127.0.0.1:2; server 127.0.0.1:3;'), new PeerStates(), { random: () => 0 })
  assert.deepEqual(picks(stuck, 4), [2, 3, 2, 3])
})

test('random two: of two distinct draws, the one with fewer connections per weight; the second on a tie', async () => {
  const b = createBalancer(await group('random two least_conn; server 127.0.0.1:1; server 127.0.0.1:2; server 127.0.0.1:3;'), new PeerStates(), {
    random: playback([0.1, 0.1, 0.5]),
  })
  // draws :1, :1 again (ignored), :2: a tie, so :2
  const held: Peer[] = []
  const s1 = b.begin({ clientAddr: '', now: T })
  held.push(s1.next()!)
  assert.equal(held[0]!.server.port, 2)
  // :1 then :2 again; :2 now has a connection, so :1
  const s2 = b.begin({ clientAddr: '', now: T })
  assert.equal(s2.next()!.server.port, 1)
})

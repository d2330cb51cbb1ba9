/**
 * nginx's random (src/http/modules/ngx_http_upstream_random_module.c): a peer drawn with probability
 * proportional to its weight; `random two [least_conn]` draws two distinct usable peers and keeps the one with
 * fewer connections per weight (the second on a tie). An unusable draw redraws, up to 20 times, then round robin.
 */
import { unusable, type RrPeer, type Selection, type Tier } from './peer.js'
import { getRoundRobinPeer } from './smooth-wrr.js'

/** Each peer's range start on [0, total weight): peer i owns [starts[i], starts[i + 1]). */
export function weightRanges(tier: Tier): Float64Array {
  const starts = new Float64Array(tier.number)
  let w = 0
  for (let i = 0; i < tier.number; i++) {
    starts[i] = w
    w += tier.peers[i]!.weight
  }
  return starts
}

/** ngx_http_upstream_peek_random_peer: `random()` in [0, 1). */
function peek(tier: Tier, starts: Float64Array, random: () => number): number {
  const x = Math.floor(random() * tier.totalWeight)
  let i = 0
  let j = tier.number
  while (j - i > 1) {
    const k = (i + j) >>> 1
    if (x < starts[k]!) j = k
    else i = k
  }
  return i
}

/** ngx_http_upstream_get_random_peer. */
export function getRandomPeer(sel: Selection, starts: Float64Array, random: () => number): RrPeer | null {
  const tier = sel.tier
  if (sel.hashTries > 20 || tier.number < 2) return getRoundRobinPeer(sel)
  const now = sel.now
  const check = sel.core.check
  let i: number
  let peer: RrPeer
  for (;;) {
    i = peek(tier, starts, random)
    peer = tier.peers[i]!
    if (!sel.isTried(i) && !unusable(peer, now, check)) break
    if (++sel.hashTries > 20) return getRoundRobinPeer(sel)
  }
  return sel.take(peer, i)
}

/** ngx_http_upstream_get_random2_peer. */
export function getRandom2Peer(sel: Selection, starts: Float64Array, random: () => number): RrPeer | null {
  const tier = sel.tier
  if (sel.hashTries > 20 || tier.number < 2) return getRoundRobinPeer(sel)
  const now = sel.now
  const check = sel.core.check
  let prev: RrPeer | null = null
  let p = 0
  let i: number
  let peer: RrPeer
  for (;;) {
    i = peek(tier, starts, random)
    peer = tier.peers[i]!
    if (peer !== prev && !sel.isTried(i) && !unusable(peer, now, check)) {
      if (prev !== null) {
        if (peer.state.conns * prev.weight > prev.state.conns * peer.weight) {
          peer = prev
          i = p
        }
        break
      }
      prev = peer
      p = i
    }
    if (++sel.hashTries > 20) return getRoundRobinPeer(sel)
  }
  return sel.take(peer, i)
}

/**
 * The peer search nginx's `hash` and `ip_hash` balancers share; they differ only in how the hash advances.
 */
import { unusable, type RrPeer, type Selection } from './peer.js'
import { getRoundRobinPeer } from './smooth-wrr.js'

/**
 * Advances `sel.hash` with `step`, then picks the peer by weight from `sel.hash % total_weight`; a peer already tried
 * or unusable makes it step again, and after 20 such steps round robin takes over.
 * @param step a module-level function (no closure per request)
 */
export function getHashedPeer(sel: Selection, step: (sel: Selection) => void): RrPeer | null {
  const tier = sel.tier
  const now = sel.now
  const check = sel.core.check
  const peers = tier.peers
  let peer: RrPeer
  let p: number
  for (;;) {
    step(sel)
    let w = sel.hash % tier.totalWeight
    p = 0
    peer = peers[0]!
    while (w >= peer.weight) {
      w -= peer.weight
      peer = peers[++p]!
    }
    if (!sel.isTried(p) && !unusable(peer, now, check)) break
    if (++sel.hashTries > 20) return getRoundRobinPeer(sel)
  }
  return sel.take(peer, p)
}

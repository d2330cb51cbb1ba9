/**
 * nginx's round robin (src/http/ngx_http_upstream_round_robin.c): smooth weighted round robin over the peers
 * not yet tried, not down, not failed within fail_timeout and not at max_conns; the backup tier only when the
 * primary tier has nothing left; one probe per fail_timeout for a failed peer. The other methods fall back to it.
 *
 * Smooth WRR, per pick: every eligible peer adds its effective weight to its current weight; the highest current
 * weight wins and pays back the total. Weights 5:1:1 give a a b a c a a; 1:1 alternates; 3:1 gives 30/10 over 40.
 * A failure lowers the effective weight by weight/max_fails; each pick raises it by one until it is whole again.
 */
import { slowStartWeight, unusable, type RrPeer, type Selection, type Tier } from './peer.js'

/**
 * ngx_http_upstream_get_round_robin_peer: a peer of the current tier, else (switching for good) of the backup
 * tier; null when neither has one (nginx's NGX_BUSY: "no live upstreams", 502).
 */
export function getRoundRobinPeer(sel: Selection): RrPeer | null {
  const tier = sel.tier
  let peer: RrPeer | null
  if (tier.single) {
    // One server and no backups: nginx tries it whatever its failures, unless it is down or full.
    peer = tier.peers[0]!
    if (peer.down || (sel.core.check && peer.state.checkDown) || (peer.maxConns !== 0 && peer.state.conns >= peer.maxConns)) {
      peer = null
    } else {
      sel.current = peer
    }
  } else {
    peer = getPeer(sel, tier)
  }
  if (peer !== null) {
    peer.state.conns++
    peer.state.requests++
    return peer
  }
  if (tier.next !== null) {
    sel.tier = tier.next
    sel.clearTried()
    return getRoundRobinPeer(sel)
  }
  return null
}

/** ngx_http_upstream_get_peer: one smooth-WRR pick among the usable, untried peers of `tier`. */
export function getPeer(sel: Selection, tier: Tier): RrPeer | null {
  const now = sel.now
  const check = sel.core.check
  const peers = tier.peers
  let best: RrPeer | null = null
  let p = 0
  let total = 0
  for (let i = 0; i < peers.length; i++) {
    if (sel.isTried(i)) continue
    const peer = peers[i]!
    if (unusable(peer, now, check)) continue
    const w = check ? slowStartWeight(peer, now) : peer.effectiveWeight
    peer.currentWeight += w
    total += w
    if (peer.effectiveWeight < peer.weight) peer.effectiveWeight++
    if (best === null || peer.currentWeight > best.currentWeight) {
      best = peer
      p = i
    }
  }
  if (best === null) return null
  sel.current = best
  sel.setTried(p)
  best.currentWeight -= total
  // A failed peer picked after its fail_timeout is being probed: a new window starts now (see freePeer).
  if (now - best.state.checked > best.failTimeout) best.state.checked = now
  return best
}

/**
 * ngx_http_upstream_free_round_robin_peer: the attempt on `peer` is over. A failure counts against max_fails and
 * lowers the peer's effective weight; a success after a probe clears the failures.
 */
export function freePeer(sel: Selection, peer: RrPeer, failed: boolean): void {
  const st = peer.state
  if (sel.tier.single) {
    st.conns--
    sel.tries = 0
    return
  }
  if (failed) {
    st.fails++
    st.accessed = sel.now
    st.checked = sel.now
    if (peer.maxFails !== 0) peer.effectiveWeight -= Math.floor(peer.weight / peer.maxFails)
    if (peer.effectiveWeight < 0) peer.effectiveWeight = 0
  } else if (st.accessed < st.checked) {
    st.fails = 0
  }
  st.conns--
  if (sel.tries > 0) sel.tries--
}

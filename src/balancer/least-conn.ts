/**
 * nginx's least_conn (src/http/modules/ngx_http_upstream_least_conn_module.c): the usable peer with the fewest
 * connections per unit of weight (`conns * best.weight < best.conns * weight`); ties go to smooth WRR among the
 * tied peers. Backups when the primaries have none left; a single server goes through round robin.
 */
import { slowStartWeight, unusable, type RrPeer, type Selection } from './peer.js'
import { getRoundRobinPeer } from './smooth-wrr.js'

/** ngx_http_upstream_get_least_conn_peer. */
export function getLeastConnPeer(sel: Selection): RrPeer | null {
  const tier = sel.tier
  if (tier.single) return getRoundRobinPeer(sel)
  const now = sel.now
  const check = sel.core.check
  const peers = tier.peers

  let best: RrPeer | null = null
  let p = 0
  let many = false
  for (let i = 0; i < peers.length; i++) {
    if (sel.isTried(i)) continue
    const peer = peers[i]!
    if (unusable(peer, now, check)) continue
    if (best === null || peer.state.conns * best.weight < best.state.conns * peer.weight) {
      best = peer
      many = false
      p = i
    } else if (peer.state.conns * best.weight === best.state.conns * peer.weight) {
      many = true
    }
  }

  if (best === null) {
    if (tier.next !== null) {
      sel.tier = tier.next
      sel.clearTried()
      return getLeastConnPeer(sel)
    }
    return null
  }

  if (many) {
    let total = 0
    for (let i = p; i < peers.length; i++) {
      if (sel.isTried(i)) continue
      const peer = peers[i]!
      if (peer.state.conns * best.weight !== best.state.conns * peer.weight) continue
      if (unusable(peer, now, check)) continue
      const w = check ? slowStartWeight(peer, now) : peer.effectiveWeight
      peer.currentWeight += w
      total += w
      if (peer.effectiveWeight < peer.weight) peer.effectiveWeight++
      if (peer.currentWeight > best.currentWeight) {
        best = peer
        p = i
      }
    }
    best.currentWeight -= total
  }

  return sel.take(best, p)
}

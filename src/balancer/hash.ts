/**
 * nginx's `hash KEY` (src/http/modules/ngx_http_upstream_hash_module.c), compatible with Cache::Memcached:
 * `hash += (crc32([REHASH] KEY) >> 16) & 0x7fff`, the peer chosen by weight from `hash % total_weight`; a peer
 * that cannot take the request rehashes, and after 20 rehashes (or for an empty key) round robin takes over.
 */
import { crc32 } from '../crc32.js'
import { unusable, type RrPeer, type Selection } from './peer.js'
import { getRoundRobinPeer } from './smooth-wrr.js'

export function initHash(sel: Selection, key: string): void {
  sel.key = key
  sel.hash = 0
  sel.rehash = 0
  sel.hashTries = 0
}

/** ngx_http_upstream_get_hash_peer. */
export function getHashPeer(sel: Selection): RrPeer | null {
  const tier = sel.tier
  if (sel.hashTries > 20 || tier.number < 2 || sel.key.length === 0) return getRoundRobinPeer(sel)
  const now = sel.now
  const check = sel.core.check
  const peers = tier.peers
  let peer: RrPeer
  let p: number
  for (;;) {
    const c = sel.rehash > 0 ? crc32(sel.key, crc32(String(sel.rehash))) : crc32(sel.key)
    sel.hash = (sel.hash + ((c >>> 16) & 0x7fff)) >>> 0
    sel.rehash++
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
  sel.current = peer
  peer.state.conns++
  if (now - peer.state.checked > peer.failTimeout) peer.state.checked = now
  sel.setTried(p)
  return peer
}

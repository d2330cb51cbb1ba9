/**
 * nginx's `hash KEY` (src/http/modules/ngx_http_upstream_hash_module.c), compatible with Cache::Memcached:
 * `hash += (crc32([REHASH] KEY) >> 16) & 0x7fff`, the peer chosen by weight from `hash % total_weight`; a peer
 * that cannot take the request rehashes, and after 20 rehashes (or for an empty key) round robin takes over.
 */
import { crc32 } from '../crc32.js'
import { getHashedPeer } from './hash-peer.js'
import type { RrPeer, Selection } from './peer.js'
import { getRoundRobinPeer } from './smooth-wrr.js'

export function initHash(sel: Selection, key: string): void {
  sel.key = key
  sel.hash = 0
  sel.rehash = 0
  sel.hashTries = 0
}

/** ngx_http_upstream_get_hash_peer. */
export function getHashPeer(sel: Selection): RrPeer | null {
  if (sel.hashTries > 20 || sel.tier.number < 2 || sel.key.length === 0) return getRoundRobinPeer(sel)
  return getHashedPeer(sel, nextHash)
}

/** Cache::Memcached's step: the key, prefixed with the rehash count after the first try. */
function nextHash(sel: Selection): void {
  const c = sel.rehash > 0 ? crc32(sel.key, crc32(String(sel.rehash))) : crc32(sel.key)
  sel.hash = (sel.hash + ((c >>> 16) & 0x7fff)) >>> 0
  sel.rehash++
}

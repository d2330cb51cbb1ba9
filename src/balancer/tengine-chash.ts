/**
 * Tengine's `consistent_hash KEY` (its ngx_http_upstream_consistent_hash_module): each primary peer puts
 * weight × 160 points (at most 2^14) on a ring, the j-th at murmur2 of the low four bytes (little-endian) of
 * `sid × 4096 + j`, where sid is murmur2 of the peer's address (`127.0.0.1:8081`); points are sorted by value. A key
 * goes to the first point at or after murmur2(KEY), the first point when it is past the last. A peer that is down or
 * failed gives way to the alive point nearest in value on either side (no wrap-around; the lower one on a tie), as
 * Tengine's segment-tree search does.
 */
import { unusable, type RrPeer, type Selection } from './peer.js'

/** ngx_murmur_hash2 over `len` bytes read by `at`. Hand-written: Math.imul keeps nginx's 32-bit arithmetic. */
function murmur2(at: (i: number) => number, len: number): number {
  const M = 0x5bd1e995
  let h = len >>> 0
  let i = 0
  while (len - i >= 4) {
    let k = at(i) | (at(i + 1) << 8) | (at(i + 2) << 16) | (at(i + 3) << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
    i += 4
  }
  const rest = len - i
  if (rest === 3) h ^= at(i + 2) << 16
  if (rest >= 2) h ^= at(i + 1) << 8
  if (rest >= 1) {
    h ^= at(i)
    h = Math.imul(h, M)
  }
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h >>> 0
}

/** murmur2 of a string's bytes (latin1: one char per byte, as request data is kept). */
export function murmurString(s: string): number {
  return murmur2((i) => s.charCodeAt(i) & 0xff, s.length)
}

/** murmur2 of the four little-endian bytes of a 32-bit value. */
function murmurWord(v: number): number {
  return murmur2((i) => (v >>> (8 * i)) & 0xff, 4)
}

export class TengineRing {
  /** Point values, ascending. */
  readonly hashes: Uint32Array
  /** The primary peer (index in the tier) of each point. */
  readonly owners: Int32Array

  constructor(peers: readonly RrPeer[]) {
    const points: Array<[number, number]> = []
    for (let i = 0; i < peers.length; i++) {
      const p = peers[i]!
      // Tengine takes a server's `id=` when it has one; dyups has no such parameter: the address's hash.
      const sid = murmurString(p.server.addr)
      const n = Math.min(p.weight * 160, 1 << 14)
      // sid × 4096 + j in 64 bits, of which murmur2 reads the low 32.
      const base = Math.imul(sid, 4096) >>> 0
      for (let j = 0; j < n; j++) points.push([murmurWord((base + j) >>> 0), i])
    }
    points.sort((a, b) => a[0] - b[0])
    this.hashes = Uint32Array.from(points, (x) => x[0])
    this.owners = Int32Array.from(points, (x) => x[1])
  }

  /** ngx_http_upstream_chash_get_server_index, 0-based: the first point >= hash, or the first point. */
  find(hash: number): number {
    const pts = this.hashes
    const n = pts.length
    let low = 0
    let high = n - 1
    while (low < high) {
      const mid = (low + high) >>> 1
      if (pts[mid] === hash) return mid
      if (pts[mid]! < hash) low = mid + 1
      else high = mid
    }
    return low === n - 1 && pts[low]! < hash ? 0 : low
  }
}

export function initTengineChash(sel: Selection, key: string): void {
  sel.key = key
  sel.hash = murmurString(key)
}

/** ngx_http_upstream_get_chash_peer: the key's point's peer, or the nearest alive point's (tried peers skipped). */
export function getTengineChashPeer(sel: Selection, ring: TengineRing): RrPeer | null {
  const peers = sel.tier.peers
  const n = ring.hashes.length
  if (n === 0) return null
  const alive = (k: number): boolean => {
    const i = ring.owners[k]!
    return !sel.isTried(i) && !unusable(peers[i]!, sel.now, sel.core.check)
  }
  const hash = sel.hash >>> 0
  let k = ring.find(hash)
  if (!alive(k)) {
    let lo = k - 1
    while (lo >= 0 && !alive(lo)) lo--
    let hi = k + 1
    while (hi < n && !alive(hi)) hi++
    if (lo < 0 && hi >= n) return null
    if (lo < 0) k = hi
    else if (hi >= n) k = lo
    else k = Math.abs(ring.hashes[lo]! - hash) > Math.abs(ring.hashes[hi]! - hash) ? hi : lo
  }
  const i = ring.owners[k]!
  return sel.take(peers[i]!, i)
}

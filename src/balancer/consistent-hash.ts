/**
 * nginx's `hash KEY consistent` (ketama; src/http/modules/ngx_http_upstream_hash_module.c), compatible with
 * Cache::Memcached::Fast: each peer puts 160 points per weight unit on a ring, the n-th being
 * `crc32(HOST \0 PORT PREV)` where HOST and PORT come from the server address as written and PREV is the previous
 * point's four bytes (little-endian, as on x86). A key goes to the first point at or after `crc32(KEY)`; among the
 * usable peers with that point's server name, smooth WRR picks one. Unusable: the next point, up to 20 times, then
 * round robin.
 */
import { crc32 } from '../crc32.js'
import { unusable, type RrPeer, type Selection } from './peer.js'
import { getRoundRobinPeer } from './smooth-wrr.js'

/** The sorted, de-duplicated points of a group's primary peers; built once per balancer. */
export class ChashRing {
  readonly hashes: Uint32Array
  /** The server-name id (RrPeer.nameId) of each point. */
  readonly ids: Int32Array

  /** Builds the ring and numbers the peers' distinct server names (sets RrPeer.nameId). */
  constructor(peers: readonly RrPeer[]) {
    const names = new Map<string, number>()
    let total = 0
    for (const p of peers) {
      let id = names.get(p.server.name)
      if (id === undefined) {
        id = names.size
        names.set(p.server.name, id)
      }
      p.nameId = id
      total += p.weight * 160
    }

    const hashes = new Uint32Array(total)
    const ids = new Int32Array(total)
    const prev = new Uint8Array(4)
    let n = 0
    for (const p of peers) {
      const base = baseHash(p.server.name)
      prev.fill(0)
      for (let j = p.weight * 160; j > 0; j--) {
        const h = crc32(prev, base)
        hashes[n] = h
        ids[n] = p.nameId
        n++
        prev[0] = h & 0xff
        prev[1] = (h >>> 8) & 0xff
        prev[2] = (h >>> 16) & 0xff
        prev[3] = h >>> 24
      }
    }

    const order = sortedOrder(hashes)
    // Equal hashes keep the first point, as nginx's de-duplication after sorting does.
    const outH = new Uint32Array(total)
    const outI = new Int32Array(total)
    let m = 0
    for (let k = 0; k < order.length; k++) {
      const i = order[k]!
      if (m > 0 && outH[m - 1] === hashes[i]) continue
      outH[m] = hashes[i]!
      outI[m] = ids[i]!
      m++
    }
    this.hashes = outH.subarray(0, m)
    this.ids = outI.subarray(0, m)
  }

  /** ngx_http_upstream_find_chash_point: the index of the first point >= `hash` (may be one past the end). */
  find(hash: number): number {
    const pts = this.hashes
    let i = 0
    let j = pts.length
    while (i < j) {
      const k = (i + j) >>> 1
      if (hash > pts[k]!) i = k + 1
      else if (hash < pts[k]!) j = k
      else return k
    }
    return i
  }
}

/** crc32(HOST \0 PORT) of a server address as written: `unix:` paths have no port; so has `host` without `:digits`. */
function baseHash(server: string): number {
  let host = server
  let port = ''
  if (server.length >= 5 && server.slice(0, 5).toLowerCase() === 'unix:') {
    host = server.slice(5)
  } else {
    for (let j = server.length - 1; j >= 0; j--) {
      const c = server.charCodeAt(j)
      if (c === 0x3a) {
        host = server.slice(0, j)
        port = server.slice(j + 1)
        break
      }
      if (c < 0x30 || c > 0x39) break
    }
  }
  return crc32(port, crc32('\0', crc32(host)))
}

/** Point indices in ascending hash order, ties in generation order. */
function sortedOrder(hashes: Uint32Array): ArrayLike<number> {
  const n = hashes.length
  if (n < 2 ** 21) {
    // hash * 2^21 + index stays below 2^53: one native numeric sort instead of a comparator.
    const keys = new Float64Array(n)
    for (let i = 0; i < n; i++) keys[i] = hashes[i]! * 2 ** 21 + i
    keys.sort()
    const order = new Int32Array(n)
    for (let i = 0; i < n; i++) order[i] = keys[i]! % 2 ** 21
    return order
  }
  const order = Array.from({ length: n }, (_, i) => i)
  order.sort((a, b) => hashes[a]! - hashes[b]! || a - b)
  return order
}

export function initChash(sel: Selection, ring: ChashRing, key: string): void {
  sel.key = key
  sel.hashTries = 0
  sel.hash = ring.find(crc32(key))
}

/** ngx_http_upstream_get_chash_peer. */
export function getChashPeer(sel: Selection, ring: ChashRing): RrPeer | null {
  const tier = sel.tier
  if (sel.hashTries > 20 || tier.number < 2 || sel.key.length === 0) return getRoundRobinPeer(sel)
  const now = sel.now
  const check = sel.core.check
  const peers = tier.peers
  const points = ring.ids.length
  let best: RrPeer | null = null
  let bi = 0
  for (;;) {
    const id = ring.ids[sel.hash % points]!
    let total = 0
    for (let i = 0; i < peers.length; i++) {
      const peer = peers[i]!
      if (sel.isTried(i) || peer.nameId !== id || unusable(peer, now, check)) continue
      peer.currentWeight += peer.effectiveWeight
      total += peer.effectiveWeight
      if (peer.effectiveWeight < peer.weight) peer.effectiveWeight++
      if (best === null || peer.currentWeight > best.currentWeight) {
        best = peer
        bi = i
      }
    }
    if (best !== null) {
      best.currentWeight -= total
      break
    }
    sel.hash++
    if (++sel.hashTries > 20) return getRoundRobinPeer(sel)
  }
  return sel.take(best, bi)
}

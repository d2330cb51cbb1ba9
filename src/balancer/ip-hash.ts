/**
 * nginx's ip_hash (src/http/modules/ngx_http_upstream_ip_hash_module.c): the first three bytes of an IPv4
 * client address, or all sixteen of IPv6, hashed as `hash = (hash * 113 + byte) % 6271` from 89, pick the peer by
 * weight; a peer that cannot take the request rehashes, and after 20 rehashes round robin takes over.
 */
import { inet6Addr } from '../upstream/index.js'
import { getHashedPeer } from './hash-peer.js'
import type { RrPeer, Selection } from './peer.js'
import { getRoundRobinPeer } from './smooth-wrr.js'

const V6 = new Uint8Array(16)

/**
 * Loads the client address into the selection (no allocation). IPv4-mapped IPv6 addresses count as IPv4: they are
 * what an IPv4 client looks like on Node's dual-stack sockets, where nginx would have an IPv4 listener.
 * Anything else (a unix socket client) hashes as three zero bytes, nginx's pseudo address.
 */
export function initIpHash(sel: Selection, client: string): void {
  sel.hash = 89
  sel.hashTries = 0
  sel.addrLen = 3
  sel.a0 = 0
  let from = 0
  if (client.startsWith('::ffff:') && client.indexOf('.') > 0) from = 7
  const v4 = ipv4Prefix(client, from)
  if (v4 >= 0) {
    sel.a0 = v4
    return
  }
  if (client.indexOf(':') >= 0 && inet6Addr(client, V6)) {
    sel.addrLen = 16
    sel.a0 = word(0)
    sel.a1 = word(4)
    sel.a2 = word(8)
    sel.a3 = word(12)
  }
}

function word(i: number): number {
  return ((V6[i]! << 24) | (V6[i + 1]! << 16) | (V6[i + 2]! << 8) | V6[i + 3]!) >>> 0
}

/** The first three bytes of a dotted IPv4 address starting at `from`, packed big-endian; -1 if not IPv4. */
function ipv4Prefix(s: string, from: number): number {
  let octet = 0
  let dots = 0
  let packed = 0
  let digits = 0
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x30 && c <= 0x39) {
      octet = octet * 10 + (c - 0x30)
      if (octet > 255) return -1
      digits++
      continue
    }
    if (c !== 0x2e || digits === 0) return -1
    if (dots < 3) packed = packed * 256 + octet
    octet = 0
    digits = 0
    dots++
  }
  return dots === 3 && digits > 0 ? packed : -1
}

function byteAt(sel: Selection, i: number): number {
  if (sel.addrLen === 3) return (sel.a0 >>> ((2 - i) * 8)) & 0xff
  const w = i < 4 ? sel.a0 : i < 8 ? sel.a1 : i < 12 ? sel.a2 : sel.a3
  return (w >>> ((3 - (i & 3)) * 8)) & 0xff
}

/** ngx_http_upstream_get_ip_hash_peer. */
export function getIpHashPeer(sel: Selection): RrPeer | null {
  if (sel.hashTries > 20 || sel.tier.number < 2) return getRoundRobinPeer(sel)
  return getHashedPeer(sel, nextIpHash)
}

function nextIpHash(sel: Selection): void {
  let hash = sel.hash
  for (let i = 0; i < sel.addrLen; i++) hash = (hash * 113 + byteAt(sel, i)) % 6271
  sel.hash = hash
}

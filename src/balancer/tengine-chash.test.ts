import { test } from 'node:test'
import assert from 'node:assert/strict'
import { murmurHash2 } from '../http/modules/split-clients.js'
import { createBalancer, type Balancer } from './balancer.js'
import { PeerStates } from './peers.js'
import { murmurString } from './tengine-chash.js'
import { group } from './testing.js'

const T = 1_000_000_000

/**
 * Tengine's module read a second way, slowly and plainly: BigInt for `sid * 256 * 16 + j` as a 64-bit ngx_uint_t
 * of which murmur2 hashes the first four bytes, every point in a list sorted by value, the binary search of
 * ngx_http_upstream_chash_get_server_index, and the nearest alive point on either side for a down server.
 */
function reference(servers: Array<{ addr: string; weight: number; down?: boolean }>, key: string): string {
  const points: Array<{ hash: number; addr: string; down: boolean }> = []
  for (const s of servers) {
    const sid = BigInt(murmurHash2(s.addr))
    for (let j = 0; j < Math.min(s.weight * 160, 1 << 14); j++) {
      const id = (sid * 256n * 16n + BigInt(j)) & 0xffffffffn
      const bytes = String.fromCharCode(Number(id & 0xffn), Number((id >> 8n) & 0xffn), Number((id >> 16n) & 0xffn), Number(id >> 24n))
      points.push({ hash: murmurHash2(bytes), addr: s.addr, down: s.down === true })
    }
  }
  points.sort((a, b) => a.hash - b.hash)
  const h = murmurHash2(key)
  // servers[1..n] in Tengine; 0-based here.
  let low = 0, high = points.length - 1
  while (low < high) {
    const mid = (low + high) >> 1
    if (points[mid]!.hash === h) { low = mid; break }
    if (points[mid]!.hash < h) low = mid + 1
    else high = mid
  }
  let k = low === points.length - 1 && points[low]!.hash < h ? 0 : low
  if (points[k]!.down) {
    let lo = k - 1, hi = k + 1
    while (lo >= 0 && points[lo]!.down) lo--
    while (hi < points.length && points[hi]!.down) hi++
    k = lo < 0 ? hi : hi >= points.length ? lo : Math.abs(points[lo]!.hash - h) > Math.abs(points[hi]!.hash - h) ? hi : lo
  }
  return points[k]!.addr
}

function pick(b: Balancer, key: string): string {
  const sel = b.begin({ clientAddr: '', hashKey: key, now: T })
  const p = sel.next()!
  sel.done(p, true)
  return p.server.addr
}

const KEYS = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? `/path/${i}` : i % 3 === 1 ? `user${i}` : `k${i * 7919}`))

test("murmur2 is nginx's (the split_clients one, compared with nginx)", () => {
  for (const k of KEYS) assert.equal(murmurString(k), murmurHash2(k))
})

test("consistent_hash picks what Tengine's module picks", async () => {
  const servers = [
    { addr: '127.0.0.1:19001', weight: 1 },
    { addr: '127.0.0.1:19002', weight: 2 },
    { addr: '127.0.0.1:19003', weight: 1 },
    { addr: '10.0.0.4:80', weight: 3 },
  ]
  const g = await group(`consistent_hash $arg_k;\n${servers.map((s) => `server ${s.addr} weight=${s.weight};`).join('\n')}`)
  const b = createBalancer(g, new PeerStates())
  const got = KEYS.map((k) => pick(b, k))
  assert.deepEqual(got, KEYS.map((k) => reference(servers, k)))
  // Every server gets keys, the heavier more: the table is about something.
  const count = (a: string): number => got.filter((x) => x === a).length
  for (const s of servers) assert.ok(count(s.addr) > 0, s.addr)
  assert.ok(count('10.0.0.4:80') > count('127.0.0.1:19001'))
  // A fixed table (Tengine's algorithm as read above, for this list): a change of the ring shows here first.
  const keys = ['a', 'abc', 'user42', '/index.html', '', 'k1', 'k2', 'k3']
  assert.deepEqual(keys.map((k) => pick(b, k)), [
    '127.0.0.1:19002', '127.0.0.1:19002', '127.0.0.1:19003', '127.0.0.1:19003', '10.0.0.4:80', '10.0.0.4:80',
    '127.0.0.1:19003', '127.0.0.1:19001',
  ])
})

test('consistent_hash: a down server passes its keys to the nearest alive point; the others keep theirs', async () => {
  const servers = [
    { addr: '127.0.0.1:19001', weight: 1 },
    { addr: '127.0.0.1:19002', weight: 1, down: true },
    { addr: '127.0.0.1:19003', weight: 1 },
  ]
  const up = await group('consistent_hash $arg_k;\nserver 127.0.0.1:19001;\nserver 127.0.0.1:19002;\nserver 127.0.0.1:19003;')
  const down = await group('consistent_hash $arg_k;\nserver 127.0.0.1:19001;\nserver 127.0.0.1:19002 down;\nserver 127.0.0.1:19003;')
  const bu = createBalancer(up, new PeerStates())
  const bd = createBalancer(down, new PeerStates())
  const before = KEYS.map((k) => pick(bu, k))
  const after = KEYS.map((k) => pick(bd, k))
  assert.deepEqual(after, KEYS.map((k) => reference(servers, k)))
  for (let i = 0; i < KEYS.length; i++) if (before[i] !== '127.0.0.1:19002') assert.equal(after[i], before[i], KEYS[i])
  assert.ok(before.includes('127.0.0.1:19002') && !after.includes('127.0.0.1:19002'))
})

test('consistent_hash takes no backup servers, as Tengine', async () => {
  await assert.rejects(group('consistent_hash $arg_k;\nserver 127.0.0.1:1;\nserver 127.0.0.1:2 backup;'), /balancing method does not support parameter "backup"/)
})

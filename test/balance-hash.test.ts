/**
 * hash, hash consistent and ip_hash side by side with the real nginx: over a few hundred keys (and client
 * addresses 127.0.X.Y bound on loopback), the key → server map must be identical, with mixed weights, a `down`
 * server (rehash) and a refused server (rehash after its failure). An empty key falls back to round robin.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Farm, runSequence, startPair, type Backend, type HitOptions } from './nginx.js'

/** Deterministic keys of varied length and alphabet (a linear congruential sequence). */
function keys(n: number): string[] {
  const out: string[] = []
  let x = 12345
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31
    out.push(`${(x % 7 === 0 ? 'user-' : '') + x.toString(36).slice(0, 2 + (x % 9))}`)
  }
  return out
}

const group = (name: string, method: string, bs: Backend[], dead: Backend): string => `
    upstream ${name} {
        ${method};
        server ${bs[0]!.addr} weight=2;
        server ${bs[1]!.addr};
        server ${dead.addr};
        server ${bs[2]!.addr} down;
        server ${bs[3]!.addr} weight=3;
    }`

test('hash, hash consistent and ip_hash map keys as nginx', async (t) => {
  const farm = new Farm(t)
  const bs = await Promise.all(['A', 'B', 'C', 'D'].map((n) => farm.add(n)))
  const [x1, x2, x3] = await Promise.all([farm.dead('X1'), farm.dead('X2'), farm.dead('X3')])
  const upstream = group('u', 'hash $arg_k', bs, x1!) + group('hc', 'hash $arg_k consistent', bs, x2!) + group('ip', 'ip_hash', bs, x3!)
  const extra = `
        location /hc { proxy_pass http://hc; }
        location /ip { proxy_pass http://ip; }
`
  const p = await startPair(t, { upstream }, extra)
  const ks = keys(300)
  // Every 40th request has no key: round robin takes over.
  const byKey = (prefix: string): HitOptions[] => ks.map((k, i) => ({ path: i % 40 === 39 ? `${prefix}?i=${i}` : `${prefix}?k=${encodeURIComponent(k)}` }))

  const compare = async (reqs: HitOptions[]): Promise<void> => {
    const ngx = await runSequence(p.nginx, farm, reqs)
    const dy = await runSequence(p.dyups, farm, reqs)
    assert.equal(ngx.log.length, reqs.length, `nginx logged ${ngx.log.length} of ${reqs.length}`)
    // The map first (short message on a mismatch), then everything.
    const diff = reqs.map((r, i) => `${r.localAddress ?? r.path} ${ngx.backends[i]} ${dy.backends[i]}`).filter((_, i) => ngx.backends[i] !== dy.backends[i])
    assert.deepEqual(diff, [], 'request, nginx, dyups')
    assert.deepEqual(dy, ngx)
    assert.ok(new Set(ngx.backends).size >= 3, `keys spread over servers: ${[...new Set(ngx.backends)].join(' ')}`)
  }

  await t.test('hash $arg_k', () => compare(byKey('/')))
  await t.test('hash $arg_k consistent', () => compare(byKey('/hc')))
  await t.test('ip_hash: first three octets of IPv4 decide', () => {
    const reqs: HitOptions[] = []
    for (let i = 0; i < 300; i++) reqs.push({ path: `/ip?i=${i}`, localAddress: `127.0.${(i * 37) % 256}.${1 + ((i * 101) % 254)}` })
    return compare(reqs)
  })
})

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createBalancer, PeerStates, type Balancer } from '../balancer/index.js'
import { parseCommands, type UpstreamGroup } from '../upstream/index.js'
import { HealthView } from './view.js'

const group = (body: string, name = 'g'): Promise<UpstreamGroup> =>
  parseCommands(name, body, async () => {
    throw new Error('no DNS here')
  })

/** Ports picked by `n` requests at `now` ms, each succeeding on its first peer. */
function picks(b: Balancer, n: number, now: number, key = ''): (number | null)[] {
  const out: (number | null)[] = []
  for (let i = 0; i < n; i++) {
    const sel = b.begin({ clientAddr: '10.0.0.1', hashKey: key || String(i), now })
    const p = sel.next()
    out.push(p === null ? null : p.server.port)
    if (p !== null) sel.done(p, true)
  }
  return out
}

const count = (xs: readonly (number | null)[], x: number): number => xs.filter((y) => y === x).length
const T = 1_700_000_000_000

test('down addresses are skipped by every policy of groups with a check line, including balancers built later', async () => {
  const states = new PeerStates()
  const view = new HealthView(states)
  view.apply([['127.0.0.1:2', true]])
  const check = 'check interval=1000 type=tcp;'
  for (const policy of ['', 'least_conn;', 'ip_hash;', 'hash $x;', 'hash $x consistent;', 'random;', 'random two;']) {
    const b = createBalancer(await group(`${policy} ${check} server 127.0.0.1:1; server 127.0.0.1:2; server 127.0.0.1:3;`), states)
    const got = picks(b, 60, T)
    assert.equal(count(got, 2), 0, policy)
    assert.equal(count(got, 1) + count(got, 3), 60, policy)
    b.release()
  }
  // Without a check line the flag means nothing.
  const plain = createBalancer(await group('server 127.0.0.1:1; server 127.0.0.1:2;'), states)
  assert.deepEqual(picks(plain, 4, T), [1, 2, 1, 2])
  // The only server down: no live upstreams.
  const single = createBalancer(await group(`${check} server 127.0.0.1:2;`), states)
  assert.deepEqual(picks(single, 2, T), [null, null])
  plain.release()
  single.release()
  // The flag outlives every balancer that used the address, and clears when it comes back.
  assert.equal(states.peek('127.0.0.1:2')!.checkDown, true)
  view.apply([['127.0.0.1:2', false]], T)
  assert.deepEqual([...view.down], [])
  const again = createBalancer(await group(`${check} server 127.0.0.1:1; server 127.0.0.1:2;`), states)
  assert.deepEqual(picks(again, 4, T + 60_000), [1, 2, 1, 2])
})

test('repeated and reset changes keep one reference per down address', async () => {
  const states = new PeerStates()
  const view = new HealthView(states)
  view.apply([['a:1', true], ['a:1', true], ['b:1', true]])
  view.reset(['b:1', 'c:1'])
  assert.deepEqual([...view.down].sort(), ['b:1', 'c:1'])
  assert.equal(states.peek('a:1')?.checkDown ?? false, false)
  assert.deepEqual([states.peek('b:1')!.refs, states.peek('c:1')!.refs], [1, 1])
  view.apply([['b:1', false], ['b:1', false]])
  assert.equal(states.peek('b:1'), undefined) // forgotten: nothing uses it
})

test('slow_start: the weight of a recovered server ramps up linearly (round robin)', async () => {
  const states = new PeerStates()
  const view = new HealthView(states)
  const b = createBalancer(await group('check interval=1000 type=tcp; server 127.0.0.1:1; server 127.0.0.1:2 slow_start=10s;'), states)
  view.apply([['127.0.0.1:2', true]], T)
  assert.equal(count(picks(b, 20, T), 2), 0)
  view.apply([['127.0.0.1:2', false]], T)
  // 0 s after recovery: weight 0; 5 s: half of 1 (1 pick in 3); 10 s and later: equal.
  const share = (s: number): number => count(picks(b, 300, T + s * 1000), 2)
  assert.equal(share(0), 0)
  assert.equal(share(5), 100)
  assert.equal(share(10), 150)
  assert.equal(share(100), 150)
})

test('slow_start: least_conn ramps among equally loaded servers; hash ignores it; no check line, no ramp', async () => {
  const states = new PeerStates()
  const view = new HealthView(states)
  const lc = createBalancer(await group('least_conn; check interval=1000 type=tcp; server 127.0.0.1:1; server 127.0.0.1:2 slow_start=4s;'), states)
  const hash = createBalancer(await group('hash $x; check interval=1000 type=tcp; server 127.0.0.1:1; server 127.0.0.1:2 slow_start=4s;', 'h'), states)
  const plain = createBalancer(await group('server 127.0.0.1:1; server 127.0.0.1:2 slow_start=4s;', 'p'), states)
  view.apply([['127.0.0.1:2', true]], T)
  const hashBefore = picks(hash, 100, T).filter((p) => p === 2).length
  view.apply([['127.0.0.1:2', false]], T)
  assert.equal(count(picks(lc, 100, T + 1000), 2), 20) // weight 1/4 against 1
  assert.equal(count(picks(lc, 100, T + 4000), 2), 50)
  assert.equal(hashBefore, 0)
  const byHash = picks(hash, 100, T)
  assert.ok(count(byHash, 2) > 20, `hash keeps its mapping: ${count(byHash, 2)}`)
  assert.deepEqual(picks(plain, 4, T), [1, 2, 1, 2])
})

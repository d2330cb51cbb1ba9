import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createBalancer } from './balancer.js'
import type { RrPeer } from './peer.js'
import { PeerStates } from './peers.js'
import { failAll, group, picks, port, tally } from './testing.js'

const T = 1_000_000_000 // ms; 1 000 000 s

test('smooth WRR: nginx sequences', async () => {
  const cases: [string, number, (number | null)[]][] = [
    ['server 127.0.0.1:1 weight=5; server 127.0.0.1:2; server 127.0.0.1:3;', 7, [1, 1, 2, 1, 3, 1, 1]],
    ['server 127.0.0.1:1 weight=5; server 127.0.0.1:2; server 127.0.0.1:3;', 14, [1, 1, 2, 1, 3, 1, 1, 1, 1, 2, 1, 3, 1, 1]],
    ['server 127.0.0.1:1; server 127.0.0.1:2;', 6, [1, 2, 1, 2, 1, 2]],
    ['server 127.0.0.1:1; server 127.0.0.1:2; server 127.0.0.1:3;', 6, [1, 2, 3, 1, 2, 3]],
    ['server 127.0.0.1:1 weight=3; server 127.0.0.1:2;', 8, [1, 1, 2, 1, 1, 1, 2, 1]],
    ['server 127.0.0.1:1 weight=2; server 127.0.0.1:2 weight=3;', 5, [2, 1, 2, 1, 2]],
    ['server 127.0.0.1:1;', 3, [1, 1, 1]],
  ]
  for (const [body, n, want] of cases) {
    const b = createBalancer(await group(body), new PeerStates())
    assert.deepEqual(picks(b, n), want, body)
  }
})

test('smooth WRR: 3:1 gives exactly 30/10 over 40 requests, 1:1 gives 20/20', async () => {
  const b = createBalancer(await group('server 127.0.0.1:1 weight=3; server 127.0.0.1:2 weight=1;'), new PeerStates())
  assert.deepEqual(tally(picks(b, 40)), { '1': 30, '2': 10 })
  const e = createBalancer(await group('server 127.0.0.1:1; server 127.0.0.1:2;'), new PeerStates())
  assert.deepEqual(tally(picks(e, 40)), { '1': 20, '2': 20 })
})

test('down servers are never picked', async () => {
  const b = createBalancer(await group('server 127.0.0.1:1 down; server 127.0.0.1:2; server 127.0.0.1:3 weight=2;'), new PeerStates())
  assert.deepEqual(tally(picks(b, 30)), { '2': 10, '3': 20 })
  const all = createBalancer(await group('server 127.0.0.1:1 down; server 127.0.0.1:2 down;'), new PeerStates())
  assert.deepEqual(picks(all, 2), [null, null])
  const single = createBalancer(await group('server 127.0.0.1:1 down;'), new PeerStates())
  assert.deepEqual(picks(single, 2), [null, null])
})

test('backup servers only when no primary can take the request', async () => {
  const body = 'server 127.0.0.1:1; server 127.0.0.1:2 max_fails=1 fail_timeout=10; server 127.0.0.1:3 backup; server 127.0.0.1:4 backup;'
  const b = createBalancer(await group(body), new PeerStates())
  assert.deepEqual(picks(b, 4), [1, 2, 1, 2])

  const down = createBalancer(await group('server 127.0.0.1:1 down; server 127.0.0.1:3 backup; server 127.0.0.1:4 backup;'), new PeerStates())
  assert.deepEqual(picks(down, 4), [3, 4, 3, 4])

  // every primary fails: the request moves to the backups, and later requests go there until fail_timeout ends
  const f = createBalancer(await group(body), new PeerStates())
  const sel = f.begin({ clientAddr: '', now: T })
  const tried: number[] = []
  for (let p = sel.next(); p !== null; p = sel.next()) {
    tried.push(p.server.port)
    const backup = p.server.port > 2
    sel.done(p, backup)
    if (backup) break
  }
  assert.deepEqual(tried, [1, 2, 3])
  assert.deepEqual(picks(f, 4, { now: T + 5000 }), [4, 3, 4, 3])
  // after fail_timeout the primaries take every request again
  assert.deepEqual(Object.keys(tally(picks(f, 6, { now: T + 11000 }))), ['1', '2'])
})

test('max_fails within fail_timeout, then one probe', async () => {
  const states = new PeerStates()
  const b = createBalancer(await group('server 127.0.0.1:1 max_fails=2 fail_timeout=10; server 127.0.0.1:2;'), states)
  const fail1 = (now: number) => {
    for (;;) {
      const sel = b.begin({ clientAddr: '', now })
      const p = sel.next()!
      sel.done(p, p.server.port !== 1)
      if (p.server.port === 1) return
    }
  }
  fail1(T)
  // one failure out of two: still in rotation
  assert.ok(picks(b, 4, { now: T }).includes(1))
  fail1(T + 1000)
  const s1 = states.peek('127.0.0.1:1')!
  assert.equal(s1.fails, 2)
  // within fail_timeout (10 s from the last failure, inclusive): skipped
  for (const dt of [1000, 5000, 11000]) assert.deepEqual(tally(picks(b, 6, { now: T + dt })), { '2': 6 }, `+${dt}`)
  // after it: one request probes it, the others keep away until the probe ends
  const probe = b.begin({ clientAddr: '', now: T + 12000 })
  let p = probe.next()
  if (p!.server.port !== 1) {
    probe.done(p!, true)
    p = null
  }
  const sel = p === null ? b.begin({ clientAddr: '', now: T + 12000 }) : probe
  const peer = p ?? sel.next()!
  assert.equal(peer.server.port, 1)
  assert.deepEqual(tally(picks(b, 4, { now: T + 12000 })), { '2': 4 })
  // the probe succeeds: the failures are forgotten
  sel.done(peer, true)
  assert.equal(s1.fails, 0)
  assert.ok(picks(b, 4, { now: T + 12000 }).includes(1))
})

test('a failed probe starts a new fail_timeout', async () => {
  const states = new PeerStates()
  const b = createBalancer(await group('server 127.0.0.1:1 fail_timeout=10; server 127.0.0.1:2;'), states)
  assert.deepEqual(failAll(b, T), [1, 2])
  assert.deepEqual(picks(b, 2, { now: T + 10000 }), [null, null])
  // both probe-eligible at +11 s; the probe of :1 fails again
  const sel = b.begin({ clientAddr: '', now: T + 11000 })
  const p = sel.next()!
  sel.done(p, false)
  assert.equal(states.peek(p.server.addr)!.fails, 2)
  assert.equal(states.peek(p.server.addr)!.checked, (T + 11000) / 1000)
})

test('all servers failed: no peer (502), and recovery after fail_timeout', async () => {
  const b = createBalancer(await group('server 127.0.0.1:1; server 127.0.0.1:2; server 127.0.0.1:3;'), new PeerStates())
  assert.deepEqual(failAll(b, T), [1, 2, 3])
  assert.deepEqual(picks(b, 3, { now: T + 3000 }), [null, null, null])
  // nginx's arithmetic after the failures (effective weights at 0, growing back by one per pick)
  assert.deepEqual(picks(b, 5, { now: T + 11000 }), [3, 3, 2, 3, 1])
})

test('max_fails=0 never marks a server failed', async () => {
  const b = createBalancer(await group('server 127.0.0.1:1 max_fails=0; server 127.0.0.1:2 max_fails=0;'), new PeerStates())
  assert.deepEqual(failAll(b, T), [1, 2])
  assert.deepEqual(picks(b, 4, { now: T }), [2, 1, 2, 1])
  assert.equal(b.peers[0]!.state.fails, 1)
})

test('a single server is always tried, however often it failed, but only once per request', async () => {
  const b = createBalancer(await group('server 127.0.0.1:1 max_fails=1;'), new PeerStates())
  for (let i = 0; i < 3; i++) assert.deepEqual(failAll(b, T + i), [1])
  assert.deepEqual(picks(b, 2, { now: T }), [1, 1])
})

test('a retry never returns a peer already tried by the request', async () => {
  const b = createBalancer(await group('server 127.0.0.1:1; server 127.0.0.1:2 weight=5; server 127.0.0.1:3;'), new PeerStates())
  const tried = failAll(b, T)
  assert.deepEqual([...tried].sort(), [1, 2, 3])
  // success on the second peer: the third is not touched, and a later request sees both failures
  const b2 = createBalancer(await group('server 127.0.0.1:1; server 127.0.0.1:2; server 127.0.0.1:3;'), new PeerStates())
  const sel = b2.begin({ clientAddr: '', now: T })
  const p1 = sel.next()!
  sel.done(p1, false)
  const p2 = sel.next()!
  assert.notEqual(p2, p1)
  sel.done(p2, true)
  assert.deepEqual(picks(b2, 2, { now: T }).includes(p1.server.port), false)
})

test('attempts: every usable primary and backup once', async () => {
  const b = createBalancer(
    await group('server 127.0.0.1:1; server 127.0.0.1:2 down; server 127.0.0.1:3; server 127.0.0.1:4 backup; server 127.0.0.1:5 backup;'),
    new PeerStates(),
  )
  const sel = b.begin({ clientAddr: '', now: T })
  assert.equal(sel.tries, 4)
  const tried = []
  for (let p = sel.next(); p !== null; p = sel.next()) {
    tried.push(p.server.port)
    sel.done(p, false)
  }
  assert.deepEqual(tried, [1, 3, 4, 5])
  assert.equal(sel.tries, 0)
})

test('max_conns: a full server is skipped until a request ends', async () => {
  const b = createBalancer(await group('server 127.0.0.1:1 max_conns=1 weight=10; server 127.0.0.1:2;'), new PeerStates())
  const s1 = b.begin({ clientAddr: '', now: T })
  const p1 = s1.next()!
  assert.equal(p1.server.port, 1)
  assert.equal(p1.state.conns, 1)
  assert.deepEqual(picks(b, 3), [2, 2, 2])
  s1.done(p1, true)
  assert.equal(p1.state.conns, 0)
  assert.equal(port(b.begin({ clientAddr: '', now: T }).next()), 1)

  const single = createBalancer(await group('server 127.0.0.1:7 max_conns=1;'), new PeerStates())
  const held = single.begin({ clientAddr: '', now: T })
  assert.equal(port(held.next()), 7)
  assert.equal(port(single.begin({ clientAddr: '', now: T }).next()), null)
})

test('a failure lowers the effective weight by weight/max_fails, and picks restore it', async () => {
  const b = createBalancer(await group('server 127.0.0.1:1 weight=10 max_fails=4; server 127.0.0.1:2 weight=10;'), new PeerStates())
  const a = b.peers[0] as RrPeer
  const sel = b.begin({ clientAddr: '', now: T })
  let p = sel.next()!
  while (p !== a) {
    sel.done(p, true)
    p = b.begin({ clientAddr: '', now: T }).next()!
  }
  sel.done(p, false)
  assert.equal(a.effectiveWeight, 8) // 10 - floor(10 / 4)
  picks(b, 1, { now: T })
  assert.equal(a.effectiveWeight, 9)
  picks(b, 5, { now: T })
  assert.equal(a.effectiveWeight, 10)
})

test('done is counted once per attempt', async () => {
  const b = createBalancer(await group('server 127.0.0.1:1; server 127.0.0.1:2;'), new PeerStates())
  const sel = b.begin({ clientAddr: '', now: T })
  const p = sel.next()!
  sel.done(p, false)
  sel.done(p, false)
  assert.equal(p.state.conns, 0)
  assert.equal(p.state.fails, 1)
})

test('groups with more than 32 servers keep a full tried bitmap', async () => {
  let body = ''
  for (let i = 1; i <= 70; i++) body += `server 127.0.0.1:${i};`
  const b = createBalancer(await group(body), new PeerStates())
  const inOrder = Array.from({ length: 70 }, (_, i) => i + 1)
  assert.deepEqual(picks(b, 70), inOrder)
  assert.deepEqual(failAll(b, T), inOrder)
  assert.deepEqual(picks(b, 1, { now: T + 5000 }), [null])
})

test('state is kept across a rebuilt group with the same address', async () => {
  const states = new PeerStates()
  const g1 = createBalancer(await group('server 127.0.0.1:1 max_fails=1; server 127.0.0.1:2;'), states)
  const held = g1.begin({ clientAddr: '', now: T })
  const p2 = held.next()!
  assert.equal(p2.server.port, 1)
  held.done(p2, false)
  const inFlight = g1.begin({ clientAddr: '', now: T })
  const q = inFlight.next()!
  assert.equal(q.server.port, 2)

  // the replacement keeps :1 (failed) and :2 (one request in flight, max_conns=1 now), and adds :3
  const g2 = createBalancer(await group('server 127.0.0.1:1; server 127.0.0.1:2 max_conns=1; server 127.0.0.1:3;'), states)
  g1.release()
  assert.equal(states.peek('127.0.0.1:1')!.fails, 1)
  assert.deepEqual(picks(g2, 3, { now: T + 1000 }), [3, 3, 3])
  // the old group's request ends: its connection is counted off the shared state
  inFlight.done(q, true)
  assert.equal(states.peek('127.0.0.1:2')!.conns, 0)
  assert.deepEqual(tally(picks(g2, 4, { now: T + 1000 })), { '2': 2, '3': 2 })
})

test('states of addresses no group uses are forgotten once their requests end', async () => {
  const states = new PeerStates()
  const g1 = createBalancer(await group('server 127.0.0.1:1; server 127.0.0.1:2;'), states)
  const sel = g1.begin({ clientAddr: '', now: T })
  const p = sel.next()!
  const g2 = createBalancer(await group('server 127.0.0.1:3;'), states)
  g1.release()
  g1.release()
  // :1 still has a request in flight
  assert.equal(states.size, 2)
  assert.ok(states.peek(p.server.addr))
  sel.done(p, true)
  g2.release()
  assert.equal(states.size, 0)

  const s = new PeerStates()
  const a = await group('server 127.0.0.1:1; server 127.0.0.1:2;')
  const c = await group('server 127.0.0.1:2;')
  createBalancer(a, s)
  assert.equal(s.size, 2)
  assert.equal(s.retain([c]), 1)
  assert.deepEqual([...s].map((x) => x.addr), ['127.0.0.1:2'])
})

test('active health checks mark peers down for groups with a check line', async () => {
  const states = new PeerStates()
  const checked = createBalancer(await group('server 127.0.0.1:1; server 127.0.0.1:2; check interval=1000;'), states)
  const plain = createBalancer(await group('server 127.0.0.1:1; server 127.0.0.1:2;', 'h'), states)
  states.get('127.0.0.1:1').checkDown = true
  assert.deepEqual(picks(checked, 3), [2, 2, 2])
  assert.deepEqual(tally(picks(plain, 4)), { '1': 2, '2': 2 })
})

test('failures and retries follow nginx (one dead server, sequential requests, as nginx 1.22 answered)', async () => {
  const cases: [string, number[]][] = [
    ['server 127.0.0.1:19001 weight=5; server 127.0.0.1:19009 weight=3; server 127.0.0.1:19002;', [1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1]],
    ['server 127.0.0.1:19001; server 127.0.0.1:19009 weight=4 max_fails=3; server 127.0.0.1:19002 weight=2;', [2, 1, 2, 2, 2, 1, 2, 2, 1, 2, 2, 1, 2, 2, 1, 2, 2, 1, 2, 2, 1, 2, 2, 1]],
    ['server 127.0.0.1:19008; server 127.0.0.1:19009; server 127.0.0.1:19003 backup; server 127.0.0.1:19004 backup weight=2;', [4, 3, 4, 4, 3, 4, 4, 3, 4, 4, 3, 4, 4, 3, 4, 4, 3, 4, 4, 3, 4, 4, 3, 4]],
  ]
  for (const [body, want] of cases) {
    const b = createBalancer(await group(body), new PeerStates())
    const got: number[] = []
    for (let i = 0; i < want.length; i++) {
      const sel = b.begin({ clientAddr: '', now: T })
      for (let p = sel.next(); p !== null; p = sel.next()) {
        const ok = p.server.port < 19008
        sel.done(p, ok)
        if (ok) {
          got.push(p.server.port - 19000)
          break
        }
      }
    }
    assert.deepEqual(got, want, body)
  }
})

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DeadlineWheel, type Deadline, type DeadlineOwner } from './deadlines.js'

/** A wheel on a clock the test moves by hand; no interval timer. */
function manual(resolution = 100, slots = 16): { wheel: DeadlineWheel; clock: { t: number }; advance: (ms: number) => void } {
  const clock = { t: 10_000 }
  const wheel = new DeadlineWheel({ resolution, slots, now: () => clock.t, timer: false })
  return { wheel, clock, advance: (ms) => { clock.t += ms; wheel.tick() } }
}

/** An owner that records when each of its expiries happened. */
class Owner implements DeadlineOwner {
  fired: number[] = []
  constructor(private readonly clock: { t: number }, private readonly then: (d: Deadline) => void = () => {}) {}
  onDeadline(d: Deadline): void {
    this.fired.push(this.clock.t)
    this.then(d)
  }
}

/** Moves the clock in small steps until `until`, ticking each time, as the interval timer would. */
function run(advance: (ms: number) => void, clock: { t: number }, until: number, step = 10): void {
  while (clock.t < until) advance(Math.min(step, until - clock.t))
}

test('a deadline fires once, never before it is due, at most one resolution after', () => {
  const { wheel, clock, advance } = manual(100)
  const o = new Owner(clock)
  const d = wheel.create(o)
  const start = clock.t
  d.arm(1000)
  assert.equal(d.armed, true)
  run(advance, clock, start + 999)
  assert.deepEqual(o.fired, [])
  run(advance, clock, start + 1100)
  assert.equal(o.fired.length, 1)
  assert.ok(o.fired[0]! >= start + 1000 && o.fired[0]! <= start + 1100, `fired at +${o.fired[0]! - start}`)
  assert.equal(d.armed, false)
  run(advance, clock, start + 5000)
  assert.equal(o.fired.length, 1)
  assert.equal(wheel.size, 0)
})

test('re-arming later on progress only moves the time; the bucket re-files it when it comes due', () => {
  const { wheel, clock, advance } = manual(100)
  const o = new Owner(clock)
  const d = wheel.create(o)
  const start = clock.t
  d.arm(500)
  // Progress every 300 ms: the gap never reaches 500 ms.
  for (let i = 1; i <= 10; i++) {
    run(advance, clock, start + i * 300)
    d.arm(500)
    assert.equal(wheel.size, 1)
  }
  assert.deepEqual(o.fired, [])
  const last = clock.t
  run(advance, clock, last + 700)
  assert.equal(o.fired.length, 1)
  assert.ok(o.fired[0]! >= last + 500 && o.fired[0]! <= last + 600)
})

test('re-arming earlier moves the entry at once, so it does not fire late', () => {
  const { wheel, clock, advance } = manual(100)
  const o = new Owner(clock)
  const d = wheel.create(o)
  const start = clock.t
  d.arm(75_000 / 100) // a long keepalive-like wait (750 ms on this clock)
  d.arm(200) // then a shorter one
  run(advance, clock, start + 400)
  assert.equal(o.fired.length, 1)
  assert.ok(o.fired[0]! >= start + 200 && o.fired[0]! <= start + 300)
  assert.equal(wheel.size, 0)
})

test('armOnce bounds a whole phase: a trickle of bytes does not extend it (client_header_timeout)', () => {
  const { wheel, clock, advance } = manual(100)
  const o = new Owner(clock)
  const d = wheel.create(o)
  const start = clock.t
  d.armOnce(1000)
  for (let t = 50; t < 1000; t += 50) {
    run(advance, clock, start + t)
    d.armOnce(1000) // each byte of the head
  }
  run(advance, clock, start + 1100)
  assert.equal(o.fired.length, 1)
  assert.ok(o.fired[0]! <= start + 1100)
})

test('disarm is lazy (swept when its bucket comes due); cancel unfiles at once; arm(0) disarms', () => {
  const { wheel, clock, advance } = manual(100)
  const o = new Owner(clock)
  const a = wheel.create(o)
  const b = wheel.create(o)
  const c = wheel.create(o)
  a.arm(300)
  b.arm(300)
  c.arm(300)
  assert.equal(wheel.size, 3)
  a.disarm()
  assert.equal(a.armed, false)
  assert.equal(wheel.size, 3)
  b.cancel()
  assert.equal(wheel.size, 2)
  c.arm(0)
  assert.equal(c.armed, false)
  run(advance, clock, clock.t + 1000)
  assert.deepEqual(o.fired, [])
  assert.equal(wheel.size, 0)
})

test('a disarmed deadline armed again before its bucket comes due fires at its new time', () => {
  const { wheel, clock, advance } = manual(100)
  const o = new Owner(clock)
  const d = wheel.create(o)
  const start = clock.t
  d.arm(200)
  d.disarm()
  d.arm(600)
  assert.equal(wheel.size, 1)
  run(advance, clock, start + 599)
  assert.deepEqual(o.fired, [])
  run(advance, clock, start + 700)
  assert.equal(o.fired.length, 1)
})

test('deadlines beyond the wheel span are re-filed until they are due', () => {
  const { wheel, clock, advance } = manual(100, 8) // span 800 ms
  const o = new Owner(clock)
  const d = wheel.create(o)
  const start = clock.t
  d.arm(5_000)
  run(advance, clock, start + 4_999, 50)
  assert.deepEqual(o.fired, [])
  run(advance, clock, start + 5_100, 50)
  assert.equal(o.fired.length, 1)
  assert.ok(o.fired[0]! >= start + 5_000)
})

test('a clock that jumps far fires everything due and keeps what is not', () => {
  const { wheel, clock, advance } = manual(100, 8)
  const o = new Owner(clock)
  const due = wheel.create(o)
  const later = wheel.create(o)
  due.arm(300)
  later.arm(1_000_000)
  advance(100_000)
  assert.equal(o.fired.length, 1)
  assert.equal(due.armed, false)
  assert.equal(later.armed, true)
  assert.equal(wheel.size, 1)
})

test('owners may re-arm themselves, and cancel or re-arm others due in the same bucket, while being told', () => {
  const { wheel, clock, advance } = manual(100)
  const log: string[] = []
  const owners: Record<string, Deadline> = {}
  const mk = (name: string, then: (d: Deadline) => void): Deadline => {
    const d = wheel.create({ onDeadline: (x) => { log.push(`${name}@${clock.t}`); then(x) } })
    owners[name] = d
    return d
  }
  const start = clock.t
  // All three are due in the same bucket; whichever fires first re-arms itself once, cancels the next one and moves
  // the third to +2000 ms (which one fires first is not promised).
  let first = true
  const act = (next: string, third: string) => (d: Deadline): void => {
    if (!first) return
    first = false
    d.arm(1000)
    owners[next]!.cancel()
    owners[third]!.arm(2000)
  }
  mk('a', act('b', 'c')).arm(150)
  mk('b', act('c', 'a')).arm(150)
  mk('c', act('a', 'b')).arm(150)
  run(advance, clock, start + 300)
  assert.equal(log.length, 1, log.join(' '))
  assert.equal(wheel.size, 2)
  run(advance, clock, start + 3000)
  // The first fires again at +1000; the moved one fires once at +2000; the cancelled one never.
  assert.equal(log.length, 3, log.join(' '))
  assert.equal(new Set(log.map((l) => l[0])).size, 2, log.join(' '))
  assert.equal(wheel.size, 0)
})

test('arming a deadline due at once from inside onDeadline fires it on the next tick, not a wheel turn later', () => {
  const { wheel, clock, advance } = manual(100, 8)
  let n = 0
  const d = wheel.create({ onDeadline: (x) => { if (++n < 3) x.arm(1) } })
  const start = clock.t
  d.arm(100)
  run(advance, clock, start + 600, 100)
  assert.equal(n, 3)
})

test('many deadlines: removing some by swap keeps the others in place', () => {
  const { wheel, clock, advance } = manual(50, 64)
  const fired = new Set<number>()
  const ds: Deadline[] = []
  for (let i = 0; i < 1000; i++) {
    const id = i
    const d = wheel.create({ onDeadline: () => fired.add(id) })
    d.arm(100 + (i % 37) * 20)
    ds.push(d)
  }
  for (let i = 0; i < 1000; i += 3) ds[i]!.cancel()
  for (let i = 1; i < 1000; i += 3) ds[i]!.arm(5000)
  assert.equal(wheel.size, 1000 - 334)
  run(advance, clock, clock.t + 1000, 25)
  for (let i = 0; i < 1000; i++) assert.equal(fired.has(i), i % 3 === 2, `deadline ${i}`)
  run(advance, clock, clock.t + 5000, 25)
  for (let i = 0; i < 1000; i++) assert.equal(fired.has(i), i % 3 !== 0, `deadline ${i}`)
  assert.equal(wheel.size, 0)
})

test('a throwing owner does not stop the others; the error goes to onError', () => {
  const clock = { t: 0 }
  const errors: unknown[] = []
  const wheel = new DeadlineWheel({ resolution: 100, now: () => clock.t, timer: false, onError: (e) => errors.push(e) })
  let ok = 0
  wheel.create({ onDeadline: () => { throw new Error('owner failed') } }).arm(100)
  wheel.create({ onDeadline: () => { ok++ } }).arm(100)
  clock.t = 300
  wheel.tick()
  assert.equal(ok, 1)
  assert.equal(errors.length, 1)
  assert.match(String(errors[0]), /owner failed/)
})

test('with its own timer, the wheel ticks while deadlines are filed and stops when none are', async () => {
  const wheel = new DeadlineWheel({ resolution: 5 })
  assert.equal(wheel.running, false)
  const t0 = performance.now()
  const fired = new Promise<number>((resolve) => wheel.create({ onDeadline: () => resolve(performance.now()) }).arm(20))
  assert.equal(wheel.running, true)
  const at = await fired
  assert.ok(at - t0 >= 20, `fired after ${at - t0} ms`)
  assert.equal(wheel.size, 0)
  assert.equal(wheel.running, false)
})

test('options are checked', () => {
  assert.throws(() => new DeadlineWheel({ slots: 12, timer: false }), RangeError)
  assert.throws(() => new DeadlineWheel({ resolution: 0, timer: false }), RangeError)
})

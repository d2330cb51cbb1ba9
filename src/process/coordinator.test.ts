import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseCommands, type UpstreamGroup } from '../upstream/index.js'
import { Replica, Store, type Change, type Delta } from '../store/index.js'
import { Coordinator } from './coordinator.js'

const group = (name: string, n: number): Promise<UpstreamGroup> => parseCommands(name, `server 10.0.2.${n}:80;`)
const put = async (name: string, n = 1): Promise<Change> => ({ op: 'put', group: await group(name, n) })

/** A coordinator whose broadcast feeds a replica and records what it was told, in order. */
async function setup(statics: string[], trylock = false) {
  const store = await Store.open({ staticGroups: await Promise.all(statics.map((n) => group(n, 1))) })
  const replica = new Replica(store.snapshot())
  const told: string[] = []
  const broadcast = async (delta: Delta): Promise<void> => {
    // A worker acknowledges later than the primary applies: a caller must not be answered before this resolves.
    await new Promise((r) => setTimeout(r, 5))
    replica.apply(delta)
    told.push(`${delta.from}->${delta.version}`)
  }
  return { store, replica, told, coordinator: new Coordinator(store, broadcast, trylock) }
}

test('a reload takes its turn among changes and completes once workers have its delta', async () => {
  const { store, replica, told, coordinator } = await setup(['a', 'b'])
  const before = coordinator.submit(await put('x'), null)
  const reload = coordinator.reload([await group('a', 1), await group('n', 1)])
  const after = coordinator.submit({ op: 'delete', name: 'n' }, null)
  const o1 = await before
  assert.deepEqual([o1.version, o1.error], [1, null])
  const r = await reload
  assert.equal(r.error, null)
  assert.equal(r.changes, 4) // delete b, delete x, put n, put x
  assert.equal(replica.version, r.version, 'workers had the reload before it completed')
  const o2 = await after
  assert.deepEqual([o2.version, o2.error], [r.version + 1, null], 'n exists only in the reloaded table')
  assert.deepEqual(told, ['0->1', `1->${r.version}`, `${r.version}->${r.version + 1}`])
  assert.deepEqual(replica.list().map((g) => g.name), ['a', 'x'])
  assert.deepEqual(store.list().map((e) => e.group.name), ['a', 'x'])
})

test('a reload that changes nothing workers hold is not broadcast', async () => {
  const { told, coordinator } = await setup(['a'])
  const r = await coordinator.reload([await group('a', 1)])
  assert.deepEqual([r.version, r.error, r.changes], [0, null, 0])
  assert.deepEqual(told, [])
})

test('dyups_trylock on: a change during a reload gets E_LOCKED; the reload itself never does', async () => {
  const { coordinator } = await setup(['a'], true)
  const first = coordinator.submit(await put('x'), null)
  const reload = coordinator.reload([await group('a', 2)])
  assert.equal(coordinator.busy, true)
  const locked = await coordinator.submit(await put('y'), null)
  assert.equal(locked.error?.code, 'E_LOCKED')
  assert.equal((await first).error, null)
  assert.equal((await reload).error, null)
  await new Promise((r) => setImmediate(r)) // the queue's loop ends after answering
  assert.equal(coordinator.busy, false)
  coordinator.trylock = false // a reload may turn it off
  const p1 = coordinator.submit(await put('y'), null)
  const p2 = coordinator.submit(await put('z'), null)
  assert.deepEqual([(await p1).error, (await p2).error], [null, null])
})

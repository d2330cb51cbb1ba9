import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Store } from './store.js'
import { Replica } from './replica.js'
import { del, dump, names, put, script, statics, SCRIPT_STATICS } from './fixtures.js'
import type { Change } from './types.js'

const memory = async (...s: string[]): Promise<Store> => Store.open({ staticGroups: await statics(...s) })

test('order: statics first, replaced in place, deleted gone, re-created at the end', async () => {
  const s = await memory('A', 'B', 'C')
  assert.deepEqual(names(s), ['*A', '*B', '*C'])
  const steps: Array<[Change, string[]]> = [
    [await put('d'), ['*A', '*B', '*C', 'd']],
    [await put('b', 2), ['*A', '*b', '*C', 'd']], // replaced static: same place, new spelling, still static
    [await put('E'), ['*A', '*b', '*C', 'd', 'E']],
    [await put('D', 3), ['*A', '*b', '*C', 'D', 'E']],
    [del('a'), ['*b', '*C', 'D', 'E']],
    [await put('a', 4), ['*b', '*C', 'D', 'E', 'a']], // a re-created static name is a new creation
    [del('d'), ['*b', '*C', 'E', 'a']],
    [await put('d', 5), ['*b', '*C', 'E', 'a', 'd']],
    [del('C'), ['*b', 'E', 'a', 'd']],
  ]
  let version = 0
  for (const [change, want] of steps) {
    const r = await s.applyBatch([change])
    version++
    assert.deepEqual(r.map((x) => [x.version, x.error]), [[version, null]])
    assert.deepEqual(names(s), want, JSON.stringify(change).slice(0, 60))
    assert.equal(s.version, version)
  }
  assert.deepEqual(s.counts(), { groups: 4, static: 1, deleted: 2 })
  assert.equal(s.get('B')!.group.name, 'b')
  assert.equal(s.get('A')!.static, false)
  assert.equal(s.get('c'), undefined)
})

test('a delete of an unknown name fails alone; versions count applied changes only', async () => {
  const s = await memory('A')
  const r = await s.applyBatch([await put('x'), del('nope'), del('X'), del('x'), await put('X', 2), del('a')])
  assert.deepEqual(r.map((x) => [x.version, x.error?.code ?? null]), [
    [1, null],
    [1, 'E_NO_GROUP'],
    [2, null],
    [2, 'E_NO_GROUP'],
    [3, null],
    [4, null],
  ])
  assert.equal(r[1]!.error!.message, 'not found uptream')
  assert.equal(r[1]!.error!.status, 404)
  assert.deepEqual(names(s), ['X'])
  assert.equal(s.version, 4)
  assert.deepEqual(r.delta.changes.map((c) => c.op), ['put', 'delete', 'put', 'delete'])
  assert.deepEqual([r.delta.from, r.delta.version], [0, 4])

  const none = await s.applyBatch([del('gone')])
  assert.deepEqual([none.delta.from, none.delta.version, none.delta.changes.length], [4, 4, 0])
})

test('concurrent batches apply in call order with contiguous deltas', async () => {
  const s = await memory()
  const calls = await Promise.all(Array.from({ length: 20 }, async (_, i) => [await put(`g${i % 5}`, i)]))
  const rs = await Promise.all(calls.map((c) => s.applyBatch(c)))
  assert.deepEqual(rs.map((r) => r[0]!.version), Array.from({ length: 20 }, (_, i) => i + 1))
  for (let i = 0; i < rs.length; i++) assert.deepEqual([rs[i]!.delta.from, rs[i]!.delta.version], [i, i + 1])
  assert.deepEqual(names(s), ['g0', 'g1', 'g2', 'g3', 'g4'])
  assert.match(JSON.stringify(s.get('g4')!.group), /"weight":2\b/) // the last put of g4 was i=19: weight 19%9+1
})

test('a replica fed the deltas reads exactly as the store', async () => {
  const s = await Store.open({ staticGroups: await statics(...SCRIPT_STATICS) })
  const replica = new Replica(s.snapshot())
  const changes = await script(300, 7)
  for (let i = 0; i < changes.length; i += 3) {
    const r = await s.applyBatch(changes.slice(i, i + 3))
    replica.apply(r.delta)
    assert.equal(replica.version, s.version)
    assert.deepEqual(replica.list(), s.list().map((e) => e.group))
  }
  assert.ok(s.version > 150, `${s.version} changes applied`)
  assert.deepEqual(replica.get('S1'), s.get('s1')?.group)
  const late = new Replica(s.snapshot())
  assert.deepEqual(late.list(), replica.list())
  const r = await s.applyBatch([await put('new')])
  replica.apply(r.delta)
  assert.throws(() => replica.apply(r.delta), { code: 'E_INTERNAL' })
})

test('entries handed out are not edited by later changes', async () => {
  const s = await memory('A')
  const before = s.list()
  const entry = s.get('a')!
  await s.applyBatch([await put('A', 9), await put('n')])
  assert.equal(before.length, 1)
  assert.equal(s.get('a')!.group === entry.group, false)
  assert.deepEqual(dump({ version: 0, counts: () => s.counts(), list: () => before }).entries.length, 1)
  assert.equal(entry.static, true)
})

test('a closed store refuses changes', async () => {
  const s = await memory('A')
  await s.close()
  const r = await s.applyBatch([del('A')])
  assert.equal(r[0]!.error!.code, 'E_INTERNAL')
  assert.deepEqual(names(s), ['*A'])
})

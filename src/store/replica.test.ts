import { test } from 'node:test'
import assert from 'node:assert/strict'
import { packGroup } from '../upstream/index.js'
import { Store } from './store.js'
import { Replica, packDelta } from './replica.js'
import { del, put, statics } from './fixtures.js'

const listed = (r: Replica): string[] => r.list().map((g) => `${g.name} ${g.servers.map((s) => s.addr).join(',')}`)

test('packDelta: a put is its packGroup() line, a delete "-NAME", whatever bytes the name holds', async () => {
  const p = await put('a\xff"[x', 3)
  const d = packDelta({ from: 4, version: 6, changes: [p, del('[b')] })
  assert.deepEqual(d, { from: 4, version: 6, changes: [packGroup(p.op === 'put' ? p.group : null!), '-[b'] })
  const seen: string[] = []
  packDelta({ from: 0, version: 1, changes: [p] }, (g) => (seen.push(g.name), 'LINE'))
  assert.deepEqual(seen, ['a\xff"[x'])
})

test('applyPacked follows the store and returns the keys it changed, in order', async () => {
  const s = await Store.open({ staticGroups: await statics('A', 'B') })
  const r = new Replica(s.snapshot())
  const batch = await s.applyBatch([await put('c'), del('a'), await put('b', 2), await put('C', 3)])
  assert.deepEqual(r.applyPacked(packDelta(batch.delta)), ['c', 'a', 'b', 'c'])
  assert.equal(r.version, s.version)
  assert.deepEqual(r.list(), s.list().map((e) => e.group))
  assert.throws(() => r.applyPacked(packDelta(batch.delta)), { code: 'E_INTERNAL' })
})

test('a snapshot in pieces builds the same replica as in one string', async () => {
  const s = await Store.open({ staticGroups: await statics('A', 'B', 'C', 'D', 'E') })
  await s.applyBatch([await put('f'), del('b')])
  const snap = s.snapshot()
  const lines = snap.packed.split('\n')
  const cases: Array<[string[], string]> = [
    [[], snap.packed],
    [[lines.slice(0, 2).join('\n')], lines.slice(2).join('\n')],
    [[lines[0]!, lines.slice(1, 4).join('\n')], lines.slice(4).join('\n')],
  ]
  for (const [earlier, rest] of cases) {
    const r = new Replica({ version: snap.version, packed: rest }, earlier)
    assert.deepEqual(listed(r), listed(new Replica(snap)), `${earlier.length} pieces before`)
    assert.equal(r.version, snap.version)
    assert.equal(r.size, 5)
  }
})

import { afterEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { UpstreamGroup } from '../upstream/index.js'
import { Store } from './store.js'
import { Replica } from './replica.js'
import { del, dump, group, names, put, script, tempDir } from './fixtures.js'
import type { Entry } from './table.js'
import type { GroupChange } from './types.js'

const opened: Store[] = []
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined)
})

/**
 * nginx.conf's static groups from a spec: `'a:1 b:2'` is `upstream a { server 10.0.1.1:80; }` then b with
 * 10.0.1.2; the same spec always builds the same definition.
 */
function conf(spec: string): Promise<UpstreamGroup[]> {
  const list = spec.split(' ').filter((w) => w !== '')
  return Promise.all(list.map((w) => {
    const [name, n] = w.split(':') as [string, string]
    return group(name, `server 10.0.1.${n}:80;`)
  }))
}

async function open(spec: string, path?: string): Promise<Store> {
  const s = await Store.open({ staticGroups: await conf(spec), path })
  opened.push(s)
  return s
}

/** dump() plus the pristine flags, which decide what PATH holds. */
const full = (s: Store): unknown => ({ ...dump(s), pristine: s.list().map((e) => (e as Entry).pristine) })

/** The first server of a group, to tell definitions apart. */
const addr = (s: Store, name: string): string | undefined => s.get(name)?.group.servers[0]?.addr

async function reload(s: Store, spec: string): Promise<GroupChange[]> {
  const r = await s.reload(await conf(spec))
  assert.equal(r.error, null)
  assert.equal(r.delta.version, s.version)
  return [...r.delta.changes]
}

const ops = (changes: readonly GroupChange[]): string[] =>
  changes.map((c) => (c.op === 'put' ? `put ${c.group.name}` : `delete ${c.name}`))

test('a pristine static group takes its new definition; one nginx.conf drops is gone', async () => {
  const s = await open('a:1 b:1 c:1')
  const c = s.get('c')!.group
  const changes = await reload(s, 'a:2 c:1')
  assert.deepEqual(names(s), ['*a', '*c'])
  assert.equal(addr(s, 'a'), '10.0.1.2:80')
  assert.equal(s.get('c')!.group, c, 'an unchanged definition keeps its object: workers see no change for it')
  assert.deepEqual(ops(changes), ['delete b', 'put a'])
  assert.equal(s.version, 2)
  assert.deepEqual(s.counts(), { groups: 2, static: 2, deleted: 0 }, 'a dropped group leaves no deleted marker')
  assert.equal((s.get('a') as Entry).pristine, true)
  // Spelling follows nginx.conf too.
  assert.deepEqual(ops(await reload(s, 'A:2 c:1')), ['put A'])
  assert.deepEqual(names(s), ['*A', '*c'])
})

test('a static group replaced through the interface keeps that version; dropped, it becomes a created group', async () => {
  const s = await open('a:1 b:1 c:1')
  await s.applyBatch([await put('x'), await put('B', 7)])
  const b = s.get('b')!.group
  assert.deepEqual(ops(await reload(s, 'a:1 b:2 c:3')), ['put c'])
  assert.deepEqual(names(s), ['*a', '*B', '*c', 'x'])
  assert.equal(s.get('b')!.group, b)
  assert.equal((s.get('b') as Entry).pristine, false)

  await reload(s, 'a:1 c:3')
  assert.deepEqual(names(s), ['*a', '*c', 'B', 'x'], 'created, ahead of the groups created after it was static')
  assert.equal(s.get('b')!.group, b)
  assert.deepEqual(s.counts(), { groups: 4, static: 2, deleted: 0 })
})

test('a static group deleted through the interface stays deleted while nginx.conf defines it', async () => {
  const s = await open('a:1 b:1')
  await s.applyBatch([del('b')])
  assert.deepEqual(await reload(s, 'a:1 b:2'), [])
  assert.deepEqual(names(s), ['*a'])
  assert.deepEqual(s.counts(), { groups: 1, static: 1, deleted: 1 })
  assert.equal(s.version, 1)

  assert.deepEqual(await reload(s, 'a:1'), [])
  assert.deepEqual(s.counts(), { groups: 1, static: 1, deleted: 0 }, 'the marker goes with the definition')
  // Defined again later: a new static group like any other.
  assert.deepEqual(ops(await reload(s, 'a:1 b:3')), ['put b'])
  assert.deepEqual(names(s), ['*a', '*b'])
  assert.equal(addr(s, 'b'), '10.0.1.3:80')
})

test('a deleted static name created again through the interface stays a created group', async () => {
  const s = await open('a:1 b:1')
  await s.applyBatch([del('a'), await put('x'), await put('A', 5)])
  const a = s.get('a')!.group
  for (const spec of ['a:2 b:1', 'b:1']) {
    await reload(s, spec)
    assert.deepEqual(names(s), ['*b', 'x', 'A'], spec)
    assert.equal(s.get('a')!.group, a)
  }
  assert.deepEqual(s.counts(), { groups: 3, static: 1, deleted: 0 })
})

test('new static names appear in configuration order, ahead of created groups', async () => {
  const s = await open('a:1 c:1')
  await s.applyBatch([await put('x'), await put('y')])
  const changes = await reload(s, 'a:1 b:1 c:1 d:1')
  assert.deepEqual(names(s), ['*a', '*b', '*c', '*d', 'x', 'y'])
  // A replica can only append: what follows the new group is deleted and put again.
  assert.deepEqual(ops(changes), ['delete c', 'delete x', 'delete y', 'put b', 'put c', 'put d', 'put x', 'put y'])
  assert.deepEqual(s.counts(), { groups: 6, static: 4, deleted: 0 })
  for (const n of ['b', 'd']) assert.equal((s.get(n) as Entry).pristine, true)
})

test('a created group whose name nginx.conf now defines keeps its servers and becomes static', async () => {
  const s = await open('a:1')
  await s.applyBatch([await put('x'), await put('N', 3)])
  const n = s.get('n')!.group
  await reload(s, 'n:9 a:1')
  assert.deepEqual(names(s), ['*N', '*a', 'x'])
  assert.equal(s.get('n')!.group, n)
  assert.equal((s.get('n') as Entry).pristine, false)
  assert.deepEqual(s.counts(), { groups: 3, static: 2, deleted: 0 })
})

test('an unchanged nginx.conf changes nothing, not even PATH', async (t) => {
  const path = join(await tempDir(t), 'upstream.conf')
  const s = await open('a:1 b:1', path)
  await s.applyBatch([await put('x'), del('b')])
  const before = full(s)
  const stats = s.persistStats!
  const r = await s.reload(await conf('a:1 b:1'))
  assert.deepEqual([r.error, r.delta], [null, { from: 2, version: 2, changes: [] }])
  assert.deepEqual(full(s), before)
  assert.deepEqual(s.persistStats, stats)
})

test('changes before and after a reload keep their order; later ones apply to the reloaded table', async () => {
  const s = await open('a:1 b:1')
  const first = s.applyBatch([await put('x')])
  const reloaded = s.reload(await conf('a:1 n:1'))
  const after = s.applyBatch([del('n'), del('b')])
  const [r1, rr, r2] = await Promise.all([first, reloaded, after])
  assert.deepEqual([r1.delta.from, r1.delta.version], [0, 1])
  assert.deepEqual([rr.delta.from, rr.delta.version], [1, 1 + rr.delta.changes.length])
  assert.equal(r2.delta.from, rr.delta.version)
  assert.deepEqual(r2.map((r) => r.error?.code ?? null), [null, 'E_NO_GROUP'], 'n exists only after the reload')
  assert.deepEqual(names(s), ['*a', 'x'])
  assert.deepEqual(s.counts(), { groups: 2, static: 1, deleted: 1 })
})

test('a replica fed the deltas of changes and reloads reads exactly as the store', async () => {
  const pool = ['s1', 'S2', 's3', 'a', 'B', 'Z']
  const s = await open('s1:1 s2:1 S3:1')
  const replica = new Replica(s.snapshot())
  const changes = await script(240, 5)
  for (let i = 0; i < changes.length; i += 4) {
    replica.apply((await s.applyBatch(changes.slice(i, i + 4))).delta)
    if (i % 12 === 0) {
      // A rotating choice of static names and definitions.
      const spec = pool.filter((_, j) => ((i / 12) >> j) % 2 === 0).map((n, j) => `${n}:${(i + j) % 3}`).join(' ')
      const r = await s.reload(await conf(spec))
      assert.equal(r.error, null)
      replica.apply(r.delta)
    }
    assert.equal(replica.version, s.version)
    assert.deepEqual(replica.list(), s.list().map((e) => e.group), `after ${i + 4} changes`)
  }
})

test('restart after reloads reproduces the table: without close, after close, and with PATH as nginx reads it', async (t) => {
  const path = join(await tempDir(t), 'upstream.conf')
  // Each step: changes through the interface, then a reload with a new nginx.conf.
  const steps: Array<[() => Promise<GroupChange[]>, string, string[]]> = [
    // Journal order is "create c, replace static a", table order is a, c: a restart that replayed the journal
    // against an nginx.conf without a would give c, a.
    [async () => [await put('c'), await put('a', 4), del('b')], 'd:1', ['*d', 'a', 'c']],
    // b was deleted while static; nginx.conf no longer defines it, so defining it again adds it back.
    [async () => [await put('e')], 'b:2 d:1', ['*b', '*d', 'a', 'c', 'e']],
    // A created group named by nginx.conf becomes static; d's new definition applies.
    [async () => [del('c')], 'e:1 b:2 d:5 f:1', ['*e', '*b', '*d', '*f', 'a']],
    [async () => [del('f'), await put('F', 8)], 'e:1 b:2 d:5 f:2', ['*e', '*b', '*d', 'a', 'F']],
  ]
  const s = await open('a:1 b:1', path)
  for (const [changes, spec, want] of steps) {
    for (const c of await changes()) assert.equal((await s.applyBatch([c]))[0]!.error, null)
    await reload(s, spec)
    assert.deepEqual(names(s), want, spec)
    // A crash now: the next start reads nginx.conf's groups, PATH and the journal.
    assert.deepEqual(full(await open(spec, path)), full(s), `restart after reload to ${spec}`)
    // Later changes go to the journal again, and a restart replays them on top of the reloaded table.
    assert.equal((await s.applyBatch([await put('later', s.version)]))[0]!.error, null)
    assert.deepEqual(full(await open(spec, path)), full(s), `restart after a change following ${spec}`)
    assert.equal((await s.applyBatch([del('later')]))[0]!.error, null)
  }
  const want = full(s)
  await s.close()
  const text = await readFile(path, 'latin1')
  assert.match(text, /^# dyups: deleted "f"$/m)
  assert.doesNotMatch(text, /^# dyups: deleted "b"$/m)
  assert.deepEqual(full(await open('e:1 b:2 d:5 f:2', path)), want)
})

test('PATH that cannot be written: the reload fails with E_PERSIST and changes nothing', async (t) => {
  const path = join(await tempDir(t), 'upstream.conf')
  const s = await open('a:1 b:1', path)
  await s.applyBatch([await put('x'), await put('b', 3)])
  const before = full(s)
  await mkdir(`${path}.tmp`) // the temp file of the atomic rewrite cannot be created
  const r = await s.reload(await conf('a:2 n:1'))
  assert.equal(r.error?.code, 'E_PERSIST')
  assert.match(r.error!.message, /^open\(\) ".*upstream\.conf\.tmp" failed \(EISDIR: [^\n]*\)$/)
  assert.deepEqual(r.delta, { from: 2, version: 2, changes: [] })
  assert.deepEqual(full(s), before)

  await rm(`${path}.tmp`, { recursive: true })
  assert.equal((await s.applyBatch([await put('y')]))[0]!.error, null)
  assert.deepEqual(full(await open('a:1 b:1', path)), full(s), 'the files still hold the table before the reload')
  await reload(s, 'a:2 n:1')
  assert.deepEqual(names(s), ['*a', '*n', 'b', 'x', 'y'])
  assert.deepEqual(full(await open('a:2 n:1', path)), full(s))
})

test('a closed store refuses a reload', async () => {
  const s = await open('a:1')
  await s.close()
  const r = await s.reload(await conf('b:1'))
  assert.equal(r.error?.code, 'E_INTERNAL')
  assert.deepEqual(names(s), ['*a'])
})

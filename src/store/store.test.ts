import { afterEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, mkdir, readFile, readdir, rename, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseText, type Directive } from '../config/index.js'
import { Store, type StoreOptions } from './store.js'
import { del, dump, group, names, put, script, statics, tempDir, SCRIPT_STATICS } from './fixtures.js'
import { checkWritable, upstreamConfMatcher } from './check.js'

const opened: Store[] = []
// Stores dropped to simulate crashes still hold their journal; close them once the test is over (the temp dir is
// gone by then, so nothing is written), or Node warns about file handles closed by the garbage collector.
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined)
})

async function open(path: string, more: Partial<StoreOptions> = {}, s = SCRIPT_STATICS): Promise<Store> {
  const store = await Store.open({ staticGroups: await statics(...s), path, ...more })
  opened.push(store)
  return store
}

/** The table the same changes give without persistence: the reference for every restore. */
async function reference(changes: Parameters<Store['applyBatch']>[0], s = SCRIPT_STATICS): Promise<Store> {
  const m = await Store.open({ staticGroups: await statics(...s) })
  for (const c of changes) await m.applyBatch([c])
  return m
}

test('restore without close() gives the last acknowledged table', async (t) => {
  const path = join(await tempDir(t), 'upstream.conf')
  const changes = await script(120, 3)
  const a = await open(path)
  for (let i = 0; i < 60; i++) await a.applyBatch([changes[i]!])
  // `a` is dropped without close(): a crash as far as the files know.
  const b = await open(path)
  assert.deepEqual(dump(b), dump(await reference(changes.slice(0, 60))))
  for (let i = 60; i < 120; i++) await b.applyBatch([changes[i]!])
  const c = await open(path)
  assert.deepEqual(dump(c), dump(await reference(changes)))
  assert.ok(c.version > 60)
})

test('close() writes PATH (valid nginx syntax, markers) and removes the journal; reopen is identical', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'upstream.conf')
  const a = await open(path, {}, ['one', 'Two', 'three', 'four'])
  await a.applyBatch([await put('created'), await put('TWO', 5), del('three'), del('one'), await put('One', 6)])
  await a.applyBatch([await put('we"ird \\ n\u00ffme;{}#', 7), await put('later')])
  const want = dump(a)
  await a.close()
  assert.deepEqual((await readdir(dir)).sort(), ['upstream.conf'])
  const text = await readFile(path, 'latin1')
  assert.match(text, /^# dyups: version 7$/m)
  assert.match(text, /^# dyups: deleted "three"$/m)
  assert.match(text, /^# dyups: deleted "one"$/m)
  const blocks = parseText(text, path)
  assert.deepEqual(blocks.map((d: Directive) => [d.name, d.args]), [
    ['upstream', ['TWO']],
    ['upstream', ['created']],
    ['upstream', ['One']],
    ['upstream', ['we"ird \\ n\u00ffme;{}#']],
    ['upstream', ['later']],
  ])
  const b = await open(path, {}, ['one', 'Two', 'three', 'four'])
  assert.deepEqual(dump(b), want)
  assert.deepEqual(names(b), ['*TWO', '*four', 'created', 'One', 'we"ird \\ n\u00ffme;{}#', 'later'])
  // A start without changes keeps the file as it is.
  await b.close()
  assert.equal(await readFile(path, 'latin1'), text)
})

test('a torn last record is ignored, and later appends are not lost behind it', async (t) => {
  const path = join(await tempDir(t), 'upstream.conf')
  const journal = `${path}.journal`
  const changes = await script(40, 5)
  const a = await open(path)
  for (const c of changes) await a.applyBatch([c])
  const full = dump(a)

  await appendFile(journal, Buffer.from([0x20, 0, 0, 0, 1, 2, 3, 4, 0x7b, 0x22])) // a crash mid-append
  const b = await open(path)
  assert.deepEqual(dump(b), full)
  const r = await b.applyBatch([await put('after-torn', 1)])
  assert.equal(r[0]!.error, null)
  const c = await open(path)
  assert.deepEqual(dump(c), dump(b))

  // Cut the last record in half: the table is the one before it.
  const size = (await stat(journal)).size
  await truncate(journal, size - 7)
  const d = await open(path)
  assert.deepEqual(dump(d), full)
})

test('rewrites of PATH while concurrent applies go on lose nothing', async (t) => {
  const path = join(await tempDir(t), 'upstream.conf')
  const errors: unknown[] = []
  const opts = { compactRecords: 3, compactBytes: 2000, onError: (e: unknown) => errors.push(e) }
  const changes = await script(400, 11)
  const a = await open(path, opts)
  for (let i = 0; i < changes.length; i += 40) {
    const wave = changes.slice(i, i + 40).map((c) => a.applyBatch([c]))
    const rs = await Promise.all(wave)
    for (const r of rs) assert.notEqual(r[0]!.error?.code, 'E_PERSIST')
    // Two stores must not share PATH while one writes (crash.test.ts covers restores during a rewrite).
    await a.idle()
    const mid = await open(path, opts)
    assert.deepEqual(dump(mid), dump(await reference(changes.slice(0, i + 40))), `after ${i + 40}`)
  }
  await a.idle()
  const stats = a.persistStats!
  assert.ok(stats.rewrites >= 3, `rewrites: ${stats.rewrites}`)
  assert.ok(stats.syncs < 400, `syncs: ${stats.syncs}`)
  assert.deepEqual(errors, [])
  const b = await open(path)
  assert.deepEqual(dump(b), dump(a))
  await a.close()
  const c = await open(path)
  assert.deepEqual(dump(c), dump(b))
})

test('a rewrite interrupted after the journal rotation: .old is replayed, then folded in', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'upstream.conf')
  const changes = await script(40, 13)
  const a = await open(path)
  for (const c of changes.slice(0, 20)) await a.applyBatch([c])
  // The state a crash leaves between the rotation and the end of the PATH rewrite.
  await rename(`${path}.journal`, `${path}.journal.old`)
  const b = await open(path)
  assert.deepEqual(dump(b), dump(await reference(changes.slice(0, 20))))
  for (const c of changes.slice(20)) await b.applyBatch([c])
  const want = dump(await reference(changes))
  const c = await open(path, { compactRecords: 1 })
  assert.deepEqual(dump(c), want)
  assert.equal((await c.applyBatch([await put('last')]))[0]!.error, null) // starts a rewrite
  await c.idle()
  assert.equal(c.persistStats!.rewrites, 1)
  assert.equal(c.persistStats!.pathVersion, c.version)
  assert.deepEqual((await readdir(dir)).sort(), ['upstream.conf', 'upstream.conf.journal'])
  assert.deepEqual(dump(await open(path)), dump(c))
})

test('group commit: 100 concurrent callers share a handful of fsyncs', async (t) => {
  const path = join(await tempDir(t), 'upstream.conf')
  const a = await open(path)
  const changes = await Promise.all(Array.from({ length: 100 }, (_, i) => put(`g${i}`, i)))
  const before = a.persistStats!.syncs
  const rs = await Promise.all(changes.map((c) => a.applyBatch([c])))
  const syncs = a.persistStats!.syncs - before
  console.log(`100 concurrent applyBatch calls: ${syncs} journal fsyncs`)
  assert.ok(syncs >= 1 && syncs <= 10, `fsyncs: ${syncs}`)
  assert.deepEqual(rs.map((r) => r[0]!.version), Array.from({ length: 100 }, (_, i) => i + 1))
  assert.deepEqual(dump(await open(path)), dump(a))
})

test('a journal that cannot be written: E_PERSIST, nothing applied; later changes recover', async (t) => {
  const path = join(await tempDir(t), 'upstream.conf')
  const journal = `${path}.journal`
  const a = await open(path)
  await a.applyBatch([await put('kept'), del('s1')])
  const before = dump(a)

  await rm(journal)
  await mkdir(journal) // the journal is now a directory: it cannot be opened for writing
  const r = await a.applyBatch([await put('lost'), del('kept'), del('unknown')])
  assert.deepEqual(r.map((x) => x.error?.code), ['E_PERSIST', 'E_PERSIST', 'E_NO_GROUP'])
  assert.match(r[0]!.error!.message, /^open\(\) ".*upstream\.conf\.journal" failed \(EISDIR: [^\n]*\)$/)
  assert.deepEqual(r.map((x) => x.version), [2, 2, 2])
  assert.deepEqual([r.delta.from, r.delta.version, r.delta.changes.length], [2, 2, 0])
  assert.deepEqual(dump(a), before)
  // Still failing: still nothing applied.
  assert.equal((await a.applyBatch([await put('lost2')]))[0]!.error!.code, 'E_PERSIST')
  assert.deepEqual(dump(a), before)

  await rm(journal, { recursive: true })
  const ok = await a.applyBatch([await put('after')])
  assert.deepEqual([ok[0]!.error, ok[0]!.version], [null, 3])
  assert.deepEqual(dump(await open(path)), dump(a))
  assert.deepEqual(names(a), ['*s2', '*S3', 'kept', 'after'])
})

test('a journal replaced by a symlink to /dev/full: E_PERSIST, table unchanged', async (t) => {
  const path = join(await tempDir(t), 'upstream.conf')
  const journal = `${path}.journal`
  const a = await open(path)
  await a.applyBatch([await put('kept')])
  const before = dump(a)
  await rm(journal)
  await symlink('/dev/full', journal)
  const r = await a.applyBatch([await put('lost')])
  assert.equal(r[0]!.error!.code, 'E_PERSIST')
  assert.deepEqual(dump(a), before)
})

test('PATH written by hand: groups are created in file order and override static ones', async (t) => {
  const path = join(await tempDir(t), 'upstream.conf')
  await writeFile(path, [
    '# written by an operator',
    'upstream b { server 127.0.0.1:81; }',
    'upstream S2 {',
    '    server 127.0.0.1:82 weight=3;  # overrides the static s2 in place',
    '}',
    'upstream a { server 127.0.0.1:83; }',
    '',
  ].join('\n'), 'latin1')
  const s = await open(path)
  assert.deepEqual(names(s), ['*s1', '*S2', '*S3', 'b', 'a'])
  assert.equal(s.version, 0)
  assert.equal(s.get('s2')!.group.servers[0]!.weight, 3)
  await s.applyBatch([await put('c')])
  assert.deepEqual(dump(await open(path)), dump(s))
})

test('bad PATH content: E_CONFIG with file and line', async (t) => {
  const path = join(await tempDir(t), 'upstream.conf')
  const cases: Array<[string, string, number]> = [
    ['upstream a { server 127.0.0.1:80; }\nserver { listen 80; }\n', '"server" directive is not allowed here', 2],
    ['upstream a { server 127.0.0.1:80; }\n\nupstream A { server 127.0.0.1:81; }\n', 'duplicate upstream "A"', 3],
    ['upstream a {\n  server 127.0.0.1:80 weight=0;\n}\n', 'invalid parameter "weight=0"', 2],
    ['upstream a b { server 127.0.0.1:80; }\n', 'invalid number of arguments in "upstream" directive', 1],
    ['upstream a { server 127.0.0.1:80;\n', 'unexpected end of file, expecting "}"', 2],
    ['# x\n# dyups: deleted "a\\q"\n', 'invalid deleted group name "a\\q"', 2],
    ['# dyups: version x1\n', 'invalid version "x1"', 1],
  ]
  for (const [text, message, line] of cases) {
    await writeFile(path, text, 'latin1')
    await assert.rejects(open(path), (e: any) => {
      assert.deepEqual([e.code, e.message, e.at], ['E_CONFIG', message, { file: path, line }], text)
      return true
    })
  }
})

test('a journal that does not continue PATH is refused', async (t) => {
  const path = join(await tempDir(t), 'upstream.conf')
  const a = await open(path)
  for (let i = 0; i < 5; i++) await a.applyBatch([await put(`g${i}`, i)])
  await a.close()
  const b = await open(path)
  for (let i = 0; i < 3; i++) await b.applyBatch([await put(`h${i}`, i)]) // journal: versions 6, 7, 8
  // An older PATH (version 4) with this journal: version 5 is missing.
  await writeFile(path, (await readFile(path, 'latin1')).replace('# dyups: version 5', '# dyups: version 4'), 'latin1')
  await assert.rejects(open(path), {
    code: 'E_CONFIG',
    message: /continues from version 5, but the table restored so far is at version 4$/,
  })
})

test('a missing PATH is created at open, so an include of it works', async (t) => {
  const path = join(await tempDir(t), 'upstream.conf')
  const s = await open(path)
  const text = await readFile(path, 'latin1')
  assert.match(text, /^# dyups: version 0$/m)
  assert.deepEqual(parseText(text, path), [])
  await s.close()
})

test('checkWritable', async (t) => {
  const dir = await tempDir(t)
  checkWritable(join(dir, 'upstream.conf'))
  const at = { file: '/etc/dyups/nginx.conf', line: 12 }
  assert.throws(() => checkWritable(join(dir, 'missing', 'upstream.conf'), at), (e: any) => {
    assert.equal(e.code, 'E_CONFIG')
    assert.deepEqual(e.at, at)
    assert.match(e.message, /^dyups_upstream_conf ".*" is not usable: stat\(\) ".*missing" failed \(ENOENT: no such file or directory\)$/)
    return true
  })
  await mkdir(join(dir, 'isdir'))
  assert.throws(() => checkWritable(join(dir, 'isdir')), { code: 'E_CONFIG', message: /"[^"]*isdir" is not a regular file$/ })
  await writeFile(join(dir, 'file'), '')
  assert.throws(() => checkWritable(join(dir, 'file', 'upstream.conf')), { code: 'E_CONFIG', message: /is not a directory/ })
  await mkdir(join(dir, 'j.conf.journal'))
  assert.throws(() => checkWritable(join(dir, 'j.conf')), { code: 'E_CONFIG', message: /j\.conf\.journal" is not a regular file$/ })
})

test('upstreamConfMatcher recognizes PATH however it is spelled', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'upstream.conf')
  await writeFile(path, '')
  await symlink(path, join(dir, 'link.conf'))
  const m = upstreamConfMatcher(path)
  assert.equal(m(path), true)
  assert.equal(m(join(dir, 'x', '..', 'upstream.conf')), true)
  assert.equal(m(join(dir, 'link.conf')), true)
  assert.equal(m(join(dir, 'nginx.conf')), false)
  assert.equal(upstreamConfMatcher(undefined)(path), false)
})

test('a batch change: all or nothing, one version, one journal record; replayed after a crash', async (t) => {
  const path = join(await tempDir(t), 'upstream.conf')
  const a = await open(path)
  const v0 = a.version
  const statsBefore = a.persistStats!
  // A delete of an unknown group fails the whole batch: the put before it is not applied either.
  const failed = await a.applyBatch([{ op: 'batch', changes: [await put('nb1', 1), del('nosuch')] }])
  assert.deepEqual([failed[0]!.error?.code, failed[0]!.version, a.version, a.get('nb1')], ['E_NO_GROUP', v0, v0, undefined])
  assert.equal(a.persistStats!.records, statsBefore.records, 'nothing written')
  // Two puts of one group and a put of another: one version, one record, the delta carries all three.
  const ok = await a.applyBatch([{ op: 'batch', changes: [await put('nb1', 1), await put('nb2', 2), await put('nb1', 3)] }])
  assert.deepEqual([ok[0]!.error, ok[0]!.version, a.version], [null, v0 + 1, v0 + 1])
  assert.deepEqual(ok.delta.changes.map((c) => (c.op === 'put' ? c.group.name : c.name)), ['nb1', 'nb2', 'nb1'])
  assert.deepEqual([ok.delta.from, ok.delta.version], [v0, v0 + 1])
  assert.equal(a.persistStats!.records, statsBefore.records + 1)
  assert.equal(a.get('nb1')!.group.servers[0]!.weight, 4, 'the later put of a group wins')
  // A crash (no close): the batch record replays to the same table.
  const b = await open(path)
  assert.deepEqual(dump(b), dump(a))
})

test('replace() makes the table exactly the groups given, at the version given: statics keep their place, durable', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'upstream.conf')
  const s = await open(path, {}, ['s1', 's2', 'S3'])
  await s.applyBatch([await put('c1'), await put('c2')])
  // The other copy: s2 gone, S3 changed, c1 gone, c2 kept, n1 and n2 new, in that order.
  const three = 'server 127.0.0.1:1; server 127.0.0.1:2; server 127.0.0.1:3;'
  const r = await s.replace([await group('n2'), await group('S3', three), s.get('s1')!.group, s.get('c2')!.group, await group('n1')], 40)
  assert.equal(r.error, null)
  assert.equal(r.delta.from, 2)
  assert.equal(r.delta.version, 40)
  assert.equal(s.version, 40)
  assert.deepEqual(names(s), ['*s1', '*S3', 'n2', 'c2', 'n1'])
  assert.equal(s.get('S3')!.group.servers.length, 3)
  assert.deepEqual(s.counts(), { groups: 5, static: 2, deleted: 1 })
  // The same groups again at the same version: nothing for workers.
  const again = await s.replace(s.list().map((e) => e.group), 40)
  assert.deepEqual(again.delta.changes, [])
  await s.close()
  const back = await open(path, {}, ['s1', 's2', 'S3'])
  assert.equal(back.version, 40)
  assert.deepEqual(names(back), names(s))
})

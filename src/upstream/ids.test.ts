import { test } from 'node:test'
import assert from 'node:assert/strict'
import { assignIds } from './ids.js'
import { parseCommands } from './build.js'
import { renderUpstreamBlock } from './render.js'

const ids = (g: { servers: readonly { id: number; drain: boolean }[] }): [number, boolean][] => g.servers.map((s) => [s.id, s.drain])

test('ids: a new group numbers from 0; a replacement keeps the ids of the servers it keeps and never gives one again', async () => {
  const a = assignIds(undefined, await parseCommands('g', 'server 10.0.0.1:80; server 10.0.0.2:80; server 10.0.0.3:80;'))
  assert.deepEqual([ids(a), a.nextId], [[[0, false], [1, false], [2, false]], 3])
  // 10.0.0.3 removed, 10.0.0.4 added in front: the kept servers keep their ids, the new one gets 3.
  const b = assignIds(a, await parseCommands('g', 'server 10.0.0.4:80; server 10.0.0.2:80; server 10.0.0.1:80;'))
  assert.deepEqual([ids(b), b.nextId], [[[3, false], [1, false], [0, false]], 4])
  // 10.0.0.3 comes back: a new id, not 2.
  const c = assignIds(b, await parseCommands('g', 'server 10.0.0.1:80; server 10.0.0.3:80;'))
  assert.deepEqual([ids(c), c.nextId], [[[0, false], [4, false]], 5])
  assert.equal(assignIds(b, c), c, 'a settled group is kept as it is')
})

test('ids: markers give explicit ids and drains; a text body keeps a kept server\'s drain', async () => {
  const a = assignIds(undefined, await parseCommands('g', 'server 10.0.0.1:80; # dyups: id=7 drain\nserver 10.0.0.2:80;\n'))
  assert.deepEqual([ids(a), a.nextId], [[[7, true], [8, false]], 9])
  const b = assignIds(a, await parseCommands('g', 'server 10.0.0.1:80; server 10.0.0.2:80;'))
  assert.deepEqual(ids(b), [[7, true], [8, false]])
  const undrained = assignIds(b, await parseCommands('g', 'server 10.0.0.1:80; # dyups: id=7\n'))
  assert.deepEqual(ids(undrained), [[7, false]])
  // The block PATH holds reads back the same.
  const text = renderUpstreamBlock(b)
  assert.match(text, /^upstream g \{ # dyups: next_id=9\n {4}server 10\.0\.0\.1:80; # dyups: id=7 drain\n/)
  const back = assignIds(undefined, await parseCommands('g', text.slice(text.indexOf('\n') + 1, text.lastIndexOf('}'))))
  assert.deepEqual(ids(back), ids(b))
})

test('ids: servers of a journal written before ids existed (no id, no drain) are settled like new ones', async () => {
  const built = await parseCommands('g', 'server 10.0.0.1:80; server 10.0.0.2:80;')
  const old = JSON.parse(JSON.stringify(built, (k, v: unknown) => (k === 'id' || k === 'drain' ? undefined : v))) as typeof built
  assert.equal(old.servers[0]!.id, undefined)
  const g = assignIds(undefined, old)
  assert.deepEqual([ids(g), g.nextId], [[[0, false], [1, false]], 2])
})

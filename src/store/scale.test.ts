import { test } from 'node:test'
import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Store } from './store.js'
import { group, put, tempDir } from './fixtures.js'
import type { UpstreamGroup } from '../upstream/index.js'

const N = 100_000

async function many(prefix: string): Promise<UpstreamGroup[]> {
  const template = await group('template', 'server 127.0.0.1:8088 weight=2;\nserver 127.0.0.2:8088 backup;')
  return Array.from({ length: N }, (_, i) => Object.freeze({ ...template, name: `${prefix}${i}` }))
}

const ms = (t0: bigint): string => `${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms`

test('100 000 groups: open and one apply cost what changed, not the table', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'upstream.conf')
  const staticGroups = await many('static-')

  let t0 = process.hrtime.bigint()
  const a = await Store.open({ staticGroups, path })
  console.log(`open, ${N} static groups: ${ms(t0)}`)
  t0 = process.hrtime.bigint()
  const r = await a.applyBatch([await put('static-50000', 3)])
  console.log(`one apply among ${N} groups: ${ms(t0)}`)
  assert.equal(r[0]!.error, null)
  assert.equal(a.list()[50000]!.group.name, 'static-50000')

  // 100 000 created groups in PATH.
  t0 = process.hrtime.bigint()
  const created = await many('created-')
  for (let i = 0; i < N; i += 10_000) {
    const rs = await a.applyBatch(created.slice(i, i + 10_000).map((group) => ({ op: 'put' as const, group })))
    assert.equal(rs.at(-1)!.error, null)
  }
  console.log(`${N} creates in 10 batches: ${ms(t0)}`)
  t0 = process.hrtime.bigint()
  await a.close()
  console.log(`close (PATH of ${(await stat(path)).size} bytes): ${ms(t0)}`)

  t0 = process.hrtime.bigint()
  const b = await Store.open({ staticGroups, path })
  console.log(`open, ${N} static + ${N} groups from PATH: ${ms(t0)}`)
  assert.equal(b.size, 2 * N)
  assert.equal(b.version, 1 + N)
  t0 = process.hrtime.bigint()
  const r2 = await b.applyBatch([{ op: 'delete', name: 'created-99999' }])
  console.log(`one apply among ${2 * N} groups: ${ms(t0)}`)
  assert.equal(r2[0]!.version, N + 2)
  assert.equal(b.list()[N]!.group.name, 'created-0')
  assert.equal(b.get('STATIC-50000')!.group.servers[0]!.weight, 4)
  await b.close()
})

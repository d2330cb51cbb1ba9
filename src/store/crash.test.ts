import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Store } from './store.js'
import { dump, script, statics, tempDir, SCRIPT_STATICS } from './fixtures.js'
import type { Change } from './types.js'

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url))

const exited = (c: ChildProcess): Promise<NodeJS.Signals | number | null> =>
  new Promise((resolve) => c.once('exit', (code, signal) => resolve(signal ?? code)))

async function restore(t: { after(fn: () => Promise<void>): void }, path: string): Promise<Store> {
  const s = await Store.open({ staticGroups: await statics(...SCRIPT_STATICS), path })
  t.after(() => s.close().catch(() => undefined))
  return s
}

/** The table after the script's changes up to `version`, without persistence. */
async function expected(changes: readonly Change[], version: number): Promise<Store> {
  const m = await Store.open({ staticGroups: await statics(...SCRIPT_STATICS) })
  for (const c of changes) {
    if (m.version >= version) break
    await m.applyBatch([c])
  }
  assert.equal(m.version, version)
  return m
}

test('SIGKILL right after an acknowledged change: restore gives exactly that table', async (t) => {
  const dir = await tempDir(t)
  await Promise.all([[1, 1], [90, 3]].map(async ([count, seed]) => {
    const path = join(dir, `u${count}.conf`)
    const child = fork(CHILD, ['self', path, String(count), String(seed)], { stdio: 'inherit' })
    t.after(() => child.kill('SIGKILL'))
    assert.equal(await exited(child), 'SIGKILL')
    const changes = await script(count!, seed)
    const all = await Store.open({ staticGroups: await statics(...SCRIPT_STATICS) })
    for (const c of changes) await all.applyBatch([c])
    assert.deepEqual(dump(await restore(t, path)), dump(all), `${count} changes`)
  }))
})

test('SIGKILL while changes and PATH rewrites are in flight: nothing acknowledged is lost', async (t) => {
  const dir = await tempDir(t)
  const changes = await script(3000, 9)
  await Promise.all([30, 170].map(async (killAt) => {
    const path = join(dir, `k${killAt}.conf`)
    const child = fork(CHILD, ['stream', path, '3000', '9'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    t.after(() => child.kill('SIGKILL'))
    let acked = 0
    let acks = 0
    child.on('message', (m: { version?: number; error: string | null; done?: boolean }) => {
      assert.equal(m.done, undefined, 'the child finished before it was killed')
      assert.notEqual(m.error, 'E_PERSIST')
      if (m.error === null && m.version! > acked) acked = m.version!
      if (++acks === killAt) child.kill('SIGKILL')
    })
    assert.equal(await exited(child), 'SIGKILL')
    const restored = await restore(t, path)
    assert.ok(restored.version >= acked, `restored ${restored.version} < acknowledged ${acked}`)
    assert.deepEqual(dump(restored), dump(await expected(changes, restored.version)), `killed after ${killAt} acks`)
  }))
})

test('a journal write cut short by the file size limit: E_PERSIST, partial bytes removed, table unchanged', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'upstream.conf')
  // 8 KiB: the initial PATH and a few dozen records fit, then an append is cut short (a short write, then EFBIG).
  const child = spawn('bash', ['-c', 'ulimit -f 8 && exec "$0" "$@"', process.execPath, CHILD, 'efbig', path, '400', '4'],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  t.after(() => child.kill('SIGKILL'))
  const report = await new Promise<any>((resolve) => child.once('message', resolve))
  await exited(child)
  assert.notEqual(report.before, null, 'the journal never filled up')
  assert.deepEqual(report.after, report.before)
  assert.match(report.message, /^write\(\) ".*upstream\.conf\.journal" failed \(EFBIG: file too large\)$/)
  assert.equal((await stat(`${path}.journal`)).size, report.journalBytes)
  assert.deepEqual(dump(await restore(t, path)), report.before)
})

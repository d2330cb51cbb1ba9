/**
 * A child process for the crash tests (crash.test.ts): applies the fixtures' script to a persistent Store and
 * dies without warning. Not part of dyups itself.
 *
 *   node crash-child.js self PATH COUNT SEED     apply COUNT changes one by one, then SIGKILL itself
 *   node crash-child.js stream PATH COUNT SEED   apply in windows of 4, report each acknowledged version over IPC
 *   node crash-child.js efbig PATH COUNT SEED    (under `ulimit -f`) apply until the journal cannot grow, report
 */
import { Store } from './store.js'
import { dump, script, statics, SCRIPT_STATICS } from './fixtures.js'

// With a handler, a write past RLIMIT_FSIZE fails with EFBIG instead of killing the process.
process.on('SIGXFSZ', () => undefined)

const [mode, path, count, seed] = process.argv.slice(2)
const send = (m: unknown): Promise<void> => new Promise((resolve) => process.send!(m, () => resolve()))
const small = mode !== 'efbig'
const store = await Store.open({
  staticGroups: await statics(...SCRIPT_STATICS),
  path: path!,
  compactRecords: small ? 5 : 1e9,
  compactBytes: small ? 4000 : 1e9,
})
const changes = await script(Number(count), Number(seed))

if (mode === 'self') {
  for (const c of changes) await store.applyBatch([c])
  process.kill(process.pid, 'SIGKILL')
} else if (mode === 'stream') {
  for (let i = 0; i < changes.length; i += 4) {
    await Promise.all(changes.slice(i, i + 4).map(async (c) => {
      const r = await store.applyBatch([c])
      process.send!({ version: r[0]!.version, error: r[0]!.error?.code ?? null })
    }))
  }
  await send({ done: true })
  setInterval(() => undefined, 1000) // wait to be killed
} else if (mode === 'efbig') {
  for (const c of changes) {
    const before = dump(store)
    const r = await store.applyBatch([c])
    if (r[0]!.error?.code === 'E_PERSIST') {
      await send({ before, after: dump(store), message: r[0]!.error.message, journalBytes: store.persistStats!.journalBytes })
      process.kill(process.pid, 'SIGKILL')
    }
  }
  await send({ before: null })
  process.exit(0)
}

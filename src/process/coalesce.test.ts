import assert from 'node:assert/strict'
import { test } from 'node:test'
import { coalesced } from './coalesce.js'

/** A job whose runs end when the test says so. */
function gatedJob(): { job: () => Promise<void>; runs: number; release: () => void } {
  const s = {
    runs: 0,
    gate: null as (() => void) | null,
    job: async (): Promise<void> => {
      s.runs++
      await new Promise<void>((r) => (s.gate = r))
    },
    release: (): void => {
      const g = s.gate
      s.gate = null
      g?.()
    },
  }
  return s
}

test('requests while a run is in progress merge into one more run', async () => {
  const s = gatedJob()
  const run = coalesced(s.job, (e) => assert.fail(String(e)))
  const first = run()
  assert.equal(s.runs, 1)
  const merged = [run(), run(), run(), run()]
  await Promise.all(merged)
  assert.equal(s.runs, 1, 'merged requests return at once and start nothing themselves')
  s.release()
  await new Promise((r) => setImmediate(r))
  assert.equal(s.runs, 2, 'one more run for all of them')
  s.release()
  await first
  assert.equal(s.runs, 2)
  // Idle again: the next request runs at once.
  const next = run()
  assert.equal(s.runs, 3)
  s.release()
  await next
})

test('a failing run is reported and the merged run still happens; stop() ends the merging', async () => {
  const errors: unknown[] = []
  let runs = 0
  let stopped = false
  let gate: (() => void) | null = null
  const run = coalesced(
    async () => {
      runs++
      await new Promise<void>((r) => (gate = r))
      if (runs === 1) throw new Error('first fails')
    },
    (e) => errors.push(e),
    () => stopped,
  )
  const first = run()
  void run()
  gate!()
  await new Promise((r) => setImmediate(r))
  assert.equal(runs, 2)
  assert.deepEqual(errors.map((e) => (e as Error).message), ['first fails'])
  void run()
  stopped = true
  gate!()
  await first
  assert.equal(runs, 2, 'no run after stop()')
})

/**
 * One fuzz run in a worker thread: inputs `from` … `from + count - 1` of `target` under `seed`. The index of the
 * input being run is kept in shared memory before each run, so the parent can name the input that hung (it stops
 * the thread) or that ran the thread out of memory, and generate it again from the seed to write it out.
 */
import { performance } from 'node:perf_hooks'
import { parentPort, workerData } from 'node:worker_threads'
import { mix, prng } from '../prng.js'
import { TARGETS, Violation, type Outcome } from './targets.js'

export interface WorkerInput {
  target: string
  seed: number
  from: number
  count: number
  progress: SharedArrayBuffer
}

export type WorkerMessage =
  | { t: 'stats'; done: number; outcomes: Record<Outcome, number>; slowest: Slowest }
  | { t: 'fail'; index: number; message: string }
  | { t: 'done'; done: number; outcomes: Record<Outcome, number>; slowest: Slowest }

export interface Slowest {
  index: number
  ms: number
  bytes: number
}

const w = workerData as WorkerInput
const progress = new Int32Array(w.progress)
const target = TARGETS[w.target]!()
const outcomes: Record<Outcome, number> = { accepted: 0, rejected: 0, incomplete: 0 }
const slowest: Slowest = { index: -1, ms: 0, bytes: 0 }
const post = (m: WorkerMessage): void => parentPort!.postMessage(m)

let done = 0
for (let i = w.from; i < w.from + w.count; i++) {
  Atomics.store(progress, 0, i)
  const rnd = prng(mix(w.seed, i))
  const input = target.generate(rnd)
  const t0 = performance.now()
  let outcome: Outcome
  try {
    outcome = await target.run(input, rnd)
  } catch (e) {
    post({ t: 'fail', index: i, message: e instanceof Violation ? e.message : `threw ${(e as Error)?.stack ?? String(e)}` })
    process.exit(0)
  }
  const ms = performance.now() - t0
  if (ms > slowest.ms) Object.assign(slowest, { index: i, ms, bytes: input.length })
  outcomes[outcome]++
  done++
  if (done % 2000 === 0) post({ t: 'stats', done, outcomes, slowest })
}
post({ t: 'done', done, outcomes, slowest })

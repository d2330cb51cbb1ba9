/**
 * Runs a fuzz target in a worker thread and watches it: an input that runs longer than the per-input budget is a
 * hang (the thread is stopped), the process's RSS is sampled and bounded, an input that breaks an invariant or throws
 * an undocumented error ends the run. The failing input is generated again from the seed and its index, written to a
 * file, and the command that replays it is printed.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import { mix, prng } from '../prng.js'
import { TARGETS, type Outcome } from './targets.js'
import type { Slowest, WorkerInput, WorkerMessage } from './worker.js'

export interface FuzzOptions {
  target: string
  seed: number
  count: number
  /** First input index; @default 0 */
  from?: number
  /** An input still running after this long is a hang. */
  budgetMs: number
  /** The process's RSS above this is a failure (the worker's heap is also capped at it). */
  rssLimitMb: number
  /** Where a failing input is written. */
  outDir: string
}

export interface FuzzReport {
  target: string
  seed: number
  inputs: number
  outcomes: Record<Outcome, number>
  ms: number
  rssMaxMb: number
  slowest: Slowest
  failure: { index: number; message: string; file: string; replay: string } | null
}

export const replayCommand = (target: string, seed: number, index: number): string =>
  `node bin/node24.js dist/test/chaos/run.js --replay ${target} ${seed} ${index}`

/** Writes input `index` of `target` under `seed` to a file in `outDir`; returns its path. */
export function writeInput(outDir: string, target: string, seed: number, index: number): string {
  mkdirSync(outDir, { recursive: true })
  const input = TARGETS[target]!().generate(prng(mix(seed, index)))
  const file = join(outDir, `${target}-seed${seed}-input${index}.bin`)
  writeFileSync(file, Buffer.from(input, 'latin1'))
  return file
}

export function fuzz(o: FuzzOptions): Promise<FuzzReport> {
  const from = o.from ?? 0
  const progress = new SharedArrayBuffer(8)
  const seen = new Int32Array(progress)
  Atomics.store(seen, 0, from)
  const data: WorkerInput = { target: o.target, seed: o.seed, from, count: o.count, progress }
  const worker = new Worker(new URL('./worker.js', import.meta.url), {
    workerData: data,
    resourceLimits: { maxOldGenerationSizeMb: o.rssLimitMb },
  })
  const t0 = performance.now()
  const report: FuzzReport = {
    target: o.target, seed: o.seed, inputs: 0, outcomes: { accepted: 0, rejected: 0, incomplete: 0 }, ms: 0, rssMaxMb: 0,
    slowest: { index: -1, ms: 0, bytes: 0 }, failure: null,
  }
  return new Promise((resolve) => {
    let last = Atomics.load(seen, 0)
    let lastAt = performance.now()
    let finished = false
    const fail = (index: number, message: string): void => {
      if (report.failure !== null) return
      report.failure = { index, message, file: writeInput(o.outDir, o.target, o.seed, index), replay: replayCommand(o.target, o.seed, index) }
    }
    const finish = (): void => {
      if (finished) return
      finished = true
      clearInterval(watch)
      report.ms = Math.round(performance.now() - t0)
      resolve(report)
    }
    const watch = setInterval(() => {
      const rss = process.memoryUsage.rss() / (1024 * 1024)
      report.rssMaxMb = Math.max(report.rssMaxMb, Math.round(rss))
      const now = Atomics.load(seen, 0)
      if (now !== last) {
        last = now
        lastAt = performance.now()
      } else if (performance.now() - lastAt > o.budgetMs) {
        fail(now, `input ${now} still running after ${o.budgetMs} ms: a hang`)
        void worker.terminate()
      }
      if (rss > o.rssLimitMb * 1.5) {
        fail(now, `RSS ${Math.round(rss)} MB above ${Math.round(o.rssLimitMb * 1.5)} MB at input ${now}`)
        void worker.terminate()
      }
    }, 100)
    worker.on('message', (m: WorkerMessage) => {
      if (m.t === 'fail') fail(m.index, m.message)
      else {
        report.inputs = m.done
        report.outcomes = m.outcomes
        report.slowest = m.slowest
      }
    })
    worker.on('error', (e) => fail(Atomics.load(seen, 0), `the worker died: ${e.message}`))
    worker.on('exit', finish)
  })
}

export const describeFuzz = (r: FuzzReport): string =>
  `${r.target}: ${r.inputs} inputs in ${(r.ms / 1000).toFixed(1)} s (${r.outcomes.accepted} accepted, ${r.outcomes.rejected} rejected` +
  `${r.outcomes.incomplete > 0 ? `, ${r.outcomes.incomplete} incomplete` : ''}), seed ${r.seed}; slowest input ${r.slowest.ms.toFixed(1)} ms ` +
  `(${r.slowest.bytes} bytes, #${r.slowest.index}); RSS max ${r.rssMaxMb} MB` +
  (r.failure === null ? '' : `\n  FAILED at input ${r.failure.index}: ${r.failure.message}\n  input written to ${r.failure.file}\n  replay: ${r.failure.replay}`)

/** One wrk run against one proxy, with the proxy's CPU time and peak RSS over the same interval. */
import { PeakSampler, sampleTree } from './procstat.js'
import { runWrk } from './wrk.js'
import type { WrkResult, WrkRun } from './wrk.js'

export interface Measured {
  wrk: WrkResult
  /** proxy CPU time (all its processes) per completed request, microseconds */
  cpuUsPerReq: number
  /** proxy CPU cores busy on average during the run */
  cpuCores: number
  rssWorkerPeakMB: number
  rssTotalPeakMB: number
}

const MB = 1024 * 1024

/**
 * Runs wrk against a proxy whose root process is `pid`.
 * @throws Error when wrk fails.
 */
export async function measure(wrk: string, pid: number, run: WrkRun): Promise<Measured> {
  const before = sampleTree(pid)
  const peaks = new PeakSampler(pid).start()
  let w: WrkResult
  try {
    w = await runWrk(wrk, run)
  } finally {
    peaks.stop()
  }
  const cpu = sampleTree(pid).cpuSec - before.cpuSec
  return {
    wrk: w,
    cpuUsPerReq: w.requests > 0 ? cpu / w.requests * 1e6 : NaN,
    cpuCores: cpu / w.seconds,
    rssWorkerPeakMB: peaks.rssWorkerPeak / MB,
    rssTotalPeakMB: peaks.rssTotalPeak / MB,
  }
}

/**
 * The order of contenders in repetition `rep`: alternating, so neither side always runs on a warmer
 * (or more loaded) machine.
 */
export function order<T>(items: readonly T[], rep: number): T[] {
  return rep % 2 === 0 ? [...items] : [...items].reverse()
}

/**
 * Measures every proxy `runs` times, interleaved (A B, B A, A B, ...), after a warm-up of `warmSec` each
 * (Node's JIT needs it; nginx does not, but gets the same). Returns label -> one Measured per repetition.
 */
export async function interleaved<P extends { label: string, pid: number }>(wrk: string, proxies: readonly P[],
  runs: number, warmSec: number, run: (p: P) => WrkRun): Promise<Record<string, Measured[]>> {
  const out: Record<string, Measured[]> = {}
  for (const p of proxies) {
    out[p.label] = []
    if (warmSec > 0) await runWrk(wrk, { ...run(p), seconds: warmSec })
  }
  for (let rep = 0; rep < runs; rep++) {
    for (const p of order(proxies, rep)) out[p.label]!.push(await measure(wrk, p.pid, run(p)))
  }
  return out
}

/** label -> f(each measurement), the shape makeRow takes. */
export function pick<T>(m: Record<string, T[]>, f: (x: T) => number): Record<string, number[]> {
  const out: Record<string, number[]> = {}
  for (const k in m) out[k] = m[k]!.map(f)
  return out
}

/** What the figures were measured on. */
import { readFileSync } from 'node:fs'
import { cpus, totalmem, release, loadavg, hostname } from 'node:os'

export interface Machine {
  cores: number
  cpuModel: string
  memoryGiB: number
  kernel: string
  node: string
  nginx: string
  wrk: string
  loadAvgAtStart: number[]
  /** set when the run ends: other work on the machine moves every figure */
  loadAvgAtEnd?: number[]
  host: string
}

/** The 1, 5 and 15 minute load averages, two decimals. */
export function loadAverage(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100)
}

/** Reads the machine description; `nginx` and `wrk` are the versions found by tools.ts. */
export function machine(nginx: string, wrk: string): Machine {
  let model = cpus()[0]?.model ?? 'unknown'
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? model
  } catch { /* not Linux */ }
  return {
    cores: cpus().length,
    cpuModel: model,
    memoryGiB: Math.round(totalmem() / 1024 ** 3 * 10) / 10,
    kernel: release(),
    node: process.version,
    nginx,
    wrk,
    loadAvgAtStart: loadAverage(),
    host: hostname(),
  }
}

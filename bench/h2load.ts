/**
 * h2load (nghttp2's load generator) against a proxy's HTTP/2 listener: requests per second, and the latency
 * percentiles computed from its per-request log, with the proxy's CPU time over the same interval.
 */
import { spawn } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { sampleTree } from './procstat.js'

export interface H2Run {
  url: string
  /** client connections */
  connections: number
  /** concurrent streams per connection */
  streams: number
  seconds: number
  /** where the per-request log is written (removed after) */
  tmp: string
}

export interface H2Result {
  rps: number
  requests: number
  /** failed or errored requests (streams cut at the end of the duration included) */
  errors: number
  p50: number
  p99: number
  /** proxy CPU time per request, µs */
  cpuUsPerReq: number
}

let serial = 0

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
}

/** Runs h2load once; `pid`: the proxy's root process, for its CPU time. @throws Error when h2load fails. */
export async function runH2load(bin: string, pid: number, r: H2Run): Promise<H2Result> {
  const log = join(r.tmp, `h2load-${process.pid}-${++serial}.log`)
  const args = ['-c', String(r.connections), '-m', String(r.streams), '-D', String(r.seconds), '--log-file', log, r.url]
  const before = sampleTree(pid).cpuSec
  const out = await new Promise<string>((res, rej) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let text = ''
    child.stdout.on('data', (b: Buffer) => (text += b.toString()))
    child.stderr.on('data', (b: Buffer) => (text += b.toString()))
    child.on('error', rej)
    child.on('close', (code) => (code === 0 ? res(text) : rej(new Error(`h2load exited with ${code}: ${text.slice(-2000)}`))))
  })
  const cpu = sampleTree(pid).cpuSec - before
  const m = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(out)
  const q = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out)
  if (m === null || q === null) throw new Error(`h2load printed no result: ${out.slice(-2000)}`)
  let durations: number[] = []
  try {
    durations = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').map((l) => Number(l.split('\t')[2]) / 1000)
  } finally {
    rmSync(log, { force: true })
  }
  durations.sort((a, b) => a - b)
  const ok = Number(q[2])
  return {
    rps: Number(m[3]),
    requests: ok,
    errors: Number(q[3]) + Number(q[4]),
    p50: percentile(durations, 0.5),
    p99: percentile(durations, 0.99),
    cpuUsPerReq: ok > 0 ? (cpu / ok) * 1e6 : NaN,
  }
}

/** Runs wrk and parses its report, including the `--latency` percentiles. */
import { spawnTracked, stopTracked } from './children.js'

export interface WrkResult {
  requests: number
  seconds: number
  rps: number
  /** latency in milliseconds */
  latency: { avg: number, max: number, p50: number, p75: number, p90: number, p99: number }
  errors: { connect: number, read: number, write: number, timeout: number, status: number }
  bytesPerSec: number
}

const TIME: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60000, h: 3600000 }
const SIZE: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }

/** `268.00us` -> 0.268 (ms). @throws Error on an unknown unit. */
export function parseDuration(s: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(s.trim())
  if (!m) throw new Error(`wrk: bad duration "${s}"`)
  return Number(m[1]) * TIME[m[2]!]!
}

/** `10.28MB` -> bytes. @throws Error on an unknown unit. */
export function parseSize(s: string): number {
  const m = /^([\d.]+)(B|KB|MB|GB|TB)$/.exec(s.trim())
  if (!m) throw new Error(`wrk: bad size "${s}"`)
  return Number(m[1]) * SIZE[m[2]!]!
}

/**
 * Parses wrk's stdout.
 * @throws Error when the report has no summary line (wrk failed: its message is in the error).
 */
export function parseWrk(out: string): WrkResult {
  const sum = /(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read/.exec(out)
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)
  if (!sum || !rps) throw new Error(`wrk produced no report: ${out.trim().split('\n').slice(-3).join(' | ')}`)
  const lat = /^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)/m.exec(out)
  const pct = (q: string): number => {
    const m = new RegExp(`^\\s+${q}%\\s+(\\S+)`, 'm').exec(out)
    return m ? parseDuration(m[1]!) : NaN
  }
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)
  const tps = /Transfer\/sec:\s+(\S+)/.exec(out)
  return {
    requests: Number(sum[1]),
    seconds: parseDuration(sum[2]!) / 1000,
    rps: Number(rps[1]),
    latency: {
      avg: lat ? parseDuration(lat[1]!) : NaN,
      max: lat ? parseDuration(lat[3]!) : NaN,
      p50: pct('50'),
      p75: pct('75'),
      p90: pct('90'),
      p99: pct('99'),
    },
    errors: {
      connect: se ? Number(se[1]) : 0,
      read: se ? Number(se[2]) : 0,
      write: se ? Number(se[3]) : 0,
      timeout: se ? Number(se[4]) : 0,
      status: non2xx ? Number(non2xx[1]) : 0,
    },
    bytesPerSec: tps ? parseSize(tps[1]!) : NaN,
  }
}

/** Total of every error wrk counted: socket errors and non-2xx/3xx answers. */
export function errorCount(r: WrkResult): number {
  const e = r.errors
  return e.connect + e.read + e.write + e.timeout + e.status
}

export interface WrkRun {
  url: string
  connections: number
  /** whole seconds (wrk takes no fractions); at least 1 */
  seconds: number
  threads?: number
  /** path of a Lua script (-s) */
  script?: string
  headers?: readonly string[]
  /** per-request timeout, seconds */
  timeout?: number
}

/**
 * Runs wrk with `--latency`.
 * @throws Error when wrk exits without a report.
 */
export function runWrk(wrk: string, r: WrkRun): Promise<WrkResult> {
  const threads = Math.min(r.threads ?? 1, r.connections)
  const args = ['-t', String(threads), '-c', String(r.connections), '-d', `${Math.max(1, Math.round(r.seconds))}s`, '--latency',
    '--timeout', `${r.timeout ?? 5}s`]
  if (r.script) args.push('-s', r.script)
  for (const h of r.headers ?? []) args.push('-H', h)
  args.push(r.url)
  return new Promise((resolve, reject) => {
    // Tracked like every server, so an interrupted run leaves no wrk behind.
    const child = spawnTracked('wrk', wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { void stopTracked(child.pid!, 'SIGKILL', 0) }, (r.seconds + 30) * 1000)
    child.once('close', (code) => {
      clearTimeout(timer)
      try {
        resolve(parseWrk(stdout))
      } catch (e) {
        reject(new Error(`${(e as Error).message} (exit ${code}) ${stderr.trim()}`.trimEnd()))
      }
    })
  })
}

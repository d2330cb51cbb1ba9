/**
 * `npm run chaos`: the long version of the chaos experiments and the fuzzers (the short ones run in `npm test`).
 * Every experiment runs real processes on real sockets on this machine (127.0.0.1 only), each bounded in time, and
 * stops what it started by PID. It prints what each saw and a summary of the counts, writes the summary as JSON
 * beside the fuzzers' failing inputs, and exits 1 if anything failed.
 *
 *   npm run chaos                         everything (a few minutes on 2 cores)
 *   npm run chaos -- --quick              smaller numbers (about a minute)
 *   npm run chaos -- --only fuzz,kills    some sections: kills, reloads, slowloris, uploads, table, sandbox, fuzz
 *   npm run chaos -- --seed N             the seed (random otherwise; printed either way)
 *   npm run chaos -- --fuzz N             inputs per fuzz target (default 250 000: a million in all)
 *   node bin/node24.js dist/test/chaos/run.js --replay TARGET SEED INDEX    one fuzz input again, in this process
 */
import { writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { describeFuzz, fuzz, writeInput, type FuzzReport } from './fuzz/runner.js'
import { TARGETS, Violation } from './fuzz/targets.js'
import { describe } from './load.js'
import { killWorkers, reloadStorm, startProxy, type Kind } from './processes.js'
import { mix, prng } from './prng.js'
import { sandboxEscapes } from './sandbox.js'
import { Standalone } from './scope.js'
import { slowloris } from './slowloris.js'
import { hugeGroupAndStorms } from './table.js'
import { uploadsInFlight } from './uploads.js'

const SECTIONS = ['kills', 'reloads', 'slowloris', 'uploads', 'table', 'sandbox', 'fuzz'] as const
type Section = (typeof SECTIONS)[number]

interface Args {
  quick: boolean
  only: Section[]
  seed: number
  fuzz: number
  replay: [string, number, number] | null
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { quick: false, only: [...SECTIONS], seed: Math.floor(Math.random() * 2 ** 32), fuzz: 250_000, replay: null }
  let fuzzSet = false
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!
    const val = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new RangeError(`${k} needs a value`)
      return v
    }
    const num = (v: string): number => {
      const n = Number(v)
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${k}: "${v}" is not a non-negative integer`)
      return n
    }
    switch (k) {
      case '--quick': a.quick = true; break
      case '--only': {
        a.only = val().split(',') as Section[]
        const bad = a.only.filter((s) => !SECTIONS.includes(s))
        if (bad.length > 0) throw new RangeError(`--only: ${bad.join(', ')}; the sections are ${SECTIONS.join(', ')}`)
        break
      }
      case '--seed': a.seed = num(val()) >>> 0; break
      case '--fuzz': a.fuzz = num(val()); fuzzSet = true; break
      case '--replay': {
        const target = val()
        if (!(target in TARGETS)) throw new RangeError(`--replay: no target "${target}"; the targets are ${Object.keys(TARGETS).join(', ')}`)
        a.replay = [target, num(val()), num(val())]
        break
      }
      default: throw new RangeError(`unknown option ${k}`)
    }
  }
  if (a.quick && !fuzzSet) a.fuzz = 25_000
  return a
}

const OUT = process.env.CHAOS_OUT ?? join(tmpdir(), 'dyups-chaos')

/** One fuzz input, again, in this process: what it was and what it did. */
async function replay(target: string, seed: number, index: number): Promise<number> {
  const t = TARGETS[target]!()
  const rnd = prng(mix(seed, index))
  const input = t.generate(rnd)
  const file = writeInput(OUT, target, seed, index)
  console.log(`${target} input ${index} of seed ${seed}: ${input.length} bytes, written to ${file}`)
  console.log(JSON.stringify(input.length > 2000 ? `${input.slice(0, 2000)}…` : input))
  const t0 = performance.now()
  try {
    const outcome = await t.run(input, rnd)
    console.log(`${outcome} in ${(performance.now() - t0).toFixed(1)} ms`)
    return 0
  } catch (e) {
    console.log(e instanceof Violation ? `VIOLATION: ${e.message}` : `THREW: ${(e as Error).stack}`)
    return 1
  }
}

interface Result {
  section: Section
  ok: boolean
  ms: number
  lines: string[]
  error?: string
}

async function main(): Promise<number> {
  const a = parseArgs(process.argv.slice(2))
  if (a.replay !== null) return replay(...a.replay)
  const q = a.quick
  console.log(`chaos: seed ${a.seed} (--seed ${a.seed} replays the random choices), sections ${a.only.join(', ')}${q ? ', quick' : ''}`)
  const rnd = prng(a.seed)
  const results: Result[] = []
  const summary: Record<string, unknown> = { seed: a.seed, quick: q, node: process.version }

  const sections: Record<Section, (s: Standalone, out: string[]) => Promise<void>> = {
    async kills(s, out) {
      const runs: [Kind, number, boolean | 'mixed', number][] = [
        ['dyups', 1, false, q ? 5 : 20], ['dyups', 2, 'mixed', q ? 5 : 20], ['dyups', 2, true, q ? 3 : 10],
        ['nginx', 1, false, q ? 5 : 20], ['nginx', 2, true, q ? 3 : 10],
      ]
      const reports = []
      for (const [kind, workers, all, cycles] of runs) {
        const p = await startProxy(s, kind, workers)
        const r = await killWorkers(s, p, { cycles, all, concurrency: 16, rnd, check: kind === 'dyups' })
        reports.push({ ...r, all })
        out.push(`${kind} worker_processes ${workers}, ${all === true ? 'all workers' : all === 'mixed' ? 'one or all (random)' : 'one worker'} ` +
          `per kill, ${cycles} kills (${r.killed} workers): ${describe(r.tally)}; first answer from a new worker ${r.recoverMs.p50} ms ` +
          `(median) / ${r.recoverMs.max} ms (max) after the kill`)
      }
      summary.kills = reports
    },
    async reloads(s, out) {
      const reports = []
      for (const kind of ['dyups', 'nginx'] as const) {
        const p = await startProxy(s, kind, 2)
        for (const pace of q ? (['logged'] as const) : (['burst', 'logged', 700] as const)) {
          const r = await reloadStorm(s, p, { reloads: 10, pace, concurrency: 16, baselineMs: 1_000, check: kind === 'dyups' })
          reports.push(r)
          out.push(`${kind}: 10 SIGHUPs ${pace === 'burst' ? 'back to back' : pace === 'logged' ? 'each once the one before was logged' : `${pace} ms apart`} ` +
            `(${r.reconfigured} reloads): ${describe(r.tally)}; ${r.rpsBefore} req/s before, ${r.rpsDuring} during the ${r.stormMs} ms ` +
            `until the last old worker answered; latency p50/p99 ${r.latencyBefore.p50}/${r.latencyBefore.p99} ms before, ` +
            `${r.latencyDuring.p50}/${r.latencyDuring.p99} ms during`)
        }
      }
      summary.reloads = reports
    },
    async slowloris(s, out) {
      const reports = []
      for (const kind of ['dyups', 'nginx'] as const) {
        const r = await slowloris(s, { kind, connections: q ? 100 : 400, tickMs: 100, timeout: '2s', workers: 2, boundMs: 60_000 })
        reports.push(r)
        out.push(`${kind}: ${r.connections} slowloris connections, client_header_timeout 2s: ${r.closed} closed (${r.answered408} with a 408, ` +
          `${r.silent} silently) ${r.closeMs.min}/${r.closeMs.p50}/${r.closeMs.max} ms (min/median/max) after their first byte; ` +
          `${r.served} ordinary requests served meanwhile`)
      }
      summary.slowloris = reports
    },
    async uploads(s, out) {
      const r = await uploadsInFlight(s, { rounds: q ? 1 : 4, concurrent: q ? 10 : 40, bytes: 900_000, chunks: 30, gapMs: 50, rnd })
      summary.uploads = r
      out.push(`${r.uploads} uploads of ${r.bytes} bytes (30 pieces 50 ms apart), ${r.changes.deleted} groups deleted and ${r.changes.replaced} ` +
        `replaced under them, ${r.changes.other} other changes: ${r.answeredByOriginal} answered 200 by their original server`)
    },
    async table(s, out) {
      const r = await hugeGroupAndStorms(s, {
        servers: 45_000, concurrency: 16, baselineMs: 1_000,
        storms: q ? [{ reloads: 3, pace: 'logged' }] : [{ reloads: 10, pace: 'logged' }, { reloads: 10, pace: 700 }],
      })
      summary.table = r
      out.push(`POST of ${r.servers} servers (${r.bodyBytes} bytes) under 16 clients: ${r.postMs} ms; traffic latency p50/p99/max ` +
        `${r.latencyBefore.p50}/${r.latencyBefore.p99}/${r.latencyBefore.max} ms before, ${r.latencyDuringPost.p50}/${r.latencyDuringPost.p99}/` +
        `${r.latencyDuringPost.max} ms during`)
      for (const st of r.storms) {
        out.push(`then ${st.reloads} SIGHUPs ${st.pace === 'logged' ? 'each once the one before was logged' : `${st.pace} ms apart`} (${st.reconfigured} reloads) ` +
          `with the 45 000-server group in the table: ${st.rpsBefore} req/s before, ${st.rpsDuring} during the ${st.ms} ms until the last ` +
          `old worker answered; latency p50/p99 ${st.latencyDuring.p50}/${st.latencyDuring.p99} ms`)
      }
      out.push(`traffic throughout: ${describe(r.total)}; the table was whole after the POST and after each storm`)
    },
    async sandbox(s, out) {
      const r = await sandboxEscapes(s)
      summary.sandbox = r
      out.push(`${r.tried} escapes (besides test/script-js-sandbox.test.ts's): every one blocked or confined to its own module`)
    },
    async fuzz(_s, out) {
      const jobs = Object.keys(TARGETS)
      const reports: FuzzReport[] = []
      // Two at a time: one thread per core.
      const next = async (): Promise<void> => {
        for (let target = jobs.shift(); target !== undefined; target = jobs.shift()) {
          const r = await fuzz({ target, seed: a.seed, count: a.fuzz, budgetMs: 10_000, rssLimitMb: 1024, outDir: OUT })
          reports.push(r)
          console.log(`  ${describeFuzz(r)}`)
        }
      }
      await Promise.all([next(), next()])
      summary.fuzz = reports
      const total = reports.reduce((n, r) => n + r.inputs, 0)
      for (const r of reports) out.push(describeFuzz(r))
      out.push(`${total} inputs in all`)
      const failed = reports.filter((r) => r.failure !== null)
      if (failed.length > 0) throw new Error(`${failed.length} fuzz target(s) failed: ${failed.map((r) => r.failure!.replay).join('; ')}`)
    },
  }

  for (const section of a.only) {
    console.log(`\n== ${section}`)
    const s = new Standalone()
    current = s
    const t0 = performance.now()
    const r: Result = { section, ok: true, ms: 0, lines: [] }
    try {
      await sections[section](s, r.lines)
    } catch (e) {
      r.ok = false
      r.error = (e as Error).stack ?? String(e)
      console.log(`  FAILED: ${r.error}`)
    } finally {
      await s.close()
      r.ms = Math.round(performance.now() - t0)
    }
    results.push(r)
  }

  console.log(`\n== summary (seed ${a.seed})`)
  for (const r of results) {
    console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.section} (${(r.ms / 1000).toFixed(1)} s)`)
    for (const l of r.lines) console.log(`     ${l.replace(/\n/g, '\n     ')}`)
    if (!r.ok) console.log(`     ${r.error!.split('\n')[0]}`)
  }
  mkdirSync(OUT, { recursive: true })
  const file = join(OUT, 'chaos-summary.json')
  writeFileSync(file, JSON.stringify({ ...summary, results: results.map(({ section, ok, ms, error }) => ({ section, ok, ms, error })) }, null, 2))
  const failed = results.filter((r) => !r.ok).length
  console.log(`summary written to ${file}`)
  console.log(`chaos: ${results.length - failed} passed, ${failed} failed`)
  return failed > 0 ? 1 : 0
}

/** The scope of the section running: on SIGINT or SIGTERM its processes are stopped before this one exits. */
let current: Standalone | null = null
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.log(`\n${sig}: stopping what the running section started`)
    void (current?.close() ?? Promise.resolve()).finally(() => process.exit(130))
  })
}

process.exitCode = await main()

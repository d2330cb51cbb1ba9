/**
 * The benchmark's entry point: `npm run bench` (full) or `npm run bench -- --quick` (about a minute).
 * Finds nginx and wrk, starts the backends, runs each scenario against nginx and dyups, interleaved, prints the
 * tables and writes bench/results/latest.json and latest.md. Everything started is stopped by PID at the end,
 * on error and on SIGINT.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { startBackends } from './backends.js'
import type { Backends } from './backends.js'
import { chooseContenders, relayContender } from './candidates.js'
import { installCleanup, stopAll } from './children.js'
import type { Ctx, Options } from './context.js'
import { loadAverage, machine } from './machine.js'
import { textReport, textTable, writeReport } from './report.js'
import type { Report } from './report.js'
import { scenarios } from './scenarios/index.js'
import { findTools } from './tools.js'

const USAGE = `usage: npm run bench -- [options]
  --quick            smoke run (~1 min): 1 repetition, 2 s points, fewer sizes
  --runs N           repetitions per point (default 3; medians are reported)
  --seconds S        seconds per wrk measurement (default 10)
  --only a,b         run only these scenarios: ${scenarios.map((s) => s.id).join(', ')}
  --proxy-bin PATH   compare nginx with this binary instead of bin/dyups.js (an nginx binary works:
                     the harness then runs with nginx on both sides)
  --node PATH        run dyups under this node binary (repeat to compare: --node /usr/bin/node
                     --node node_modules/.bin/node gives columns dyups-node20 and dyups-node24)
  --sched MODE       dyups cluster scheduling: default (rr), none, or both (adds dyups-none)
  --profile          start dyups under node --cpu-prof; profiles in bench/results/profiles/
  --keep             keep the temporary directory (configs and logs of every server)
  --workers 1|auto   small: only this worker count (default both)
  --no-relay         small: do not run Node's floor (a byte relay) beside the proxies
  --name NAME        write bench/results/NAME.json and NAME.md instead of latest.*`

interface Args extends Options {
  name: string
  proxyBin: string | null
  /** --node, in order: one dyups contender per Node binary */
  nodes: string[]
  sched: 'default' | 'none' | 'both'
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { quick: false, runs: 0, seconds: 0, only: [], profile: false, keep: false, relay: true, workers: [], name: 'latest', proxyBin: null, nodes: [], sched: 'default' }
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!
    const val = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new RangeError(`${k} needs a value`)
      return v
    }
    switch (k) {
      case '--quick': a.quick = true; break
      case '--runs': a.runs = Number(val()); break
      case '--seconds': a.seconds = Number(val()); break
      case '--only': a.only = val().split(','); break
      case '--proxy-bin': a.proxyBin = val(); break
      case '--node': a.nodes.push(val()); break
      case '--profile': a.profile = true; break
      case '--keep': a.keep = true; break
      case '--no-relay': a.relay = false; break
      case '--workers': {
        a.workers = val().split(',')
        if (a.workers.some((w) => w !== '1' && w !== 'auto')) throw new RangeError('--workers: 1, auto or 1,auto')
        break
      }
      case '--name': {
        const v = val()
        if (!/^[\w.-]+$/.test(v)) throw new RangeError(`--name: "${v}" is not a plain file name`)
        a.name = v
        break
      }
      case '--sched': {
        const v = val()
        if (v !== 'default' && v !== 'none' && v !== 'both') throw new RangeError(`--sched: "${v}" is not default, none or both`)
        a.sched = v
        break
      }
      case '-h': case '--help': console.log(USAGE); process.exit(0)
      // falls through (process.exit never returns)
      default: throw new RangeError(`unknown option "${k}"\n${USAGE}`)
    }
  }
  if (a.runs === 0) a.runs = a.quick ? 1 : 3
  if (a.seconds === 0) a.seconds = a.quick ? 2 : 10
  if (!(a.runs >= 1) || !(a.seconds > 0)) throw new RangeError('--runs and --seconds must be positive')
  const unknown = a.only.filter((id) => !scenarios.some((s) => s.id === id))
  if (unknown.length > 0) throw new RangeError(`--only: unknown scenario ${unknown.join(', ')}`)
  return a
}

async function main(): Promise<number> {
  const t0 = performance.now()
  const args = parseArgs(process.argv.slice(2))
  const repo = fileURLToPath(new URL('../../', import.meta.url))
  const results = join(repo, 'bench', 'results')
  let tools
  try {
    tools = findTools()
  } catch (e) {
    console.error((e as Error).message)
    return 2
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const profileDir = args.profile ? join(results, 'profiles', stamp) : null
  const tmp = mkdtempSync(join(tmpdir(), 'dyups-bench-'))
  const { contenders, notices } = chooseContenders(repo, tools.nginx, args.proxyBin, args.sched, profileDir, tmp, args.nodes)
  const cleanup = async (): Promise<void> => {
    await stopAll()
    if (!args.keep) rmSync(tmp, { recursive: true, force: true })
  }
  installCleanup(cleanup)
  const log = (m: string): void => console.log(`.. ${m}`)
  for (const n of notices) console.log(`!! ${n}`)
  for (const c of contenders) log(`${c.label}: ${c.argv.join(' ')}`)
  const report: Report = {
    date: new Date().toISOString(),
    machine: machine(tools.nginxVersion, tools.wrkVersion),
    options: { quick: args.quick, runs: args.runs, seconds: args.seconds, only: args.only, sched: args.sched, profile: args.profile, relay: args.relay, workers: args.workers, ...(args.nodes.length > 0 ? { nodes: args.nodes } : {}) },
    contenders: contenders.map((c) => ({ label: c.label, command: [...(c.env ? Object.entries(c.env).map(([k, v]) => `${k}=${v}`) : []), ...c.argv].join(' ') })),
    notices,
    sections: [],
    failures: {},
    durationSec: 0,
  }
  let backends: Backends | null = null
  try {
    backends = await startBackends(tools.nginx, tmp)
    log(`backends: ${Object.entries(backends.ports).map(([k, v]) => `${k}=${v}`).join(' ')}`)
    for (const sc of scenarios) {
      if (args.only.length > 0 && !args.only.includes(sc.id)) continue
      const cs = sc.dyupsOnly ? contenders.filter((c) => c.kind === 'dyups') : contenders
      if (cs.length === 0) {
        report.notices.push(`${sc.id}: skipped, it needs the dyups interface`)
        log(`${sc.id}: skipped (needs the dyups interface)`)
        continue
      }
      const relay = args.relay && args.proxyBin === null ? relayContender() : null
      const ctx: Ctx = { opts: args, tools, backends, contenders: cs, relay, tmp, log }
      try {
        for (const s of await sc.run(ctx)) {
          report.sections.push(s)
          console.log(`\n${textTable(s)}\n`)
        }
      } catch (e) {
        report.failures[sc.id] = (e as Error).message
        console.log(`!! ${sc.id} failed: ${(e as Error).message}`)
      }
    }
  } finally {
    if (backends) await backends.stop()
    await cleanup()
  }
  report.durationSec = (performance.now() - t0) / 1000
  report.machine.loadAvgAtEnd = loadAverage()
  console.log(`\n${textReport(report)}`)
  const files = writeReport(results, report, args.name)
  console.log(`\nwritten: ${files.join(', ')}${args.keep ? `\nkept: ${tmp}` : ''}${profileDir ? `\nprofiles: ${profileDir}` : ''}`)
  return Object.keys(report.failures).length > 0 ? 1 : 0
}

main().then((code) => { process.exitCode = code }, async (e: Error) => {
  console.error(e instanceof RangeError ? e.message : e.stack)
  await stopAll()
  process.exitCode = 2
})

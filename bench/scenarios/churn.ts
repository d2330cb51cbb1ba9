/**
 * Churn under load: paced traffic to ten groups while those same groups are replaced continuously through the
 * interface (alternating between two server pairs). Every request must succeed; the latency is compared with the
 * same traffic on a steady table, and with nginx serving the same traffic (it cannot change groups without a reload).
 */
import { performance } from 'node:perf_hooks'
import { Client } from '../client.js'
import type { Ctx, Scenario } from '../context.js'
import { commands, upstreamBlock } from '../config.js'
import { order } from '../measure.js'
import { runPaced } from '../pacer.js'
import type { PacedResult } from '../pacer.js'
import { withProxies } from '../proxies.js'
import type { Proxy } from '../proxies.js'
import { makeRow } from '../report.js'
import type { Section } from '../report.js'
import { quantile } from '../stats.js'

const GROUPS = 10
/** Changes per second during churn: one every 5 ms, far beyond what operators do, below what saturates a core. */
const CHANGE_RATE = 200

interface Phase { traffic: PacedResult, changesPerSec: number, changeFailures: Record<string, number> }

async function phase(ctx: Ctx, p: Proxy, churn: boolean): Promise<Phase> {
  const b = ctx.backends
  const hosts = Array.from({ length: GROUPS }, (_, i) => `c${i + 1}`)
  const rate = ctx.opts.quick ? 1000 : 2000
  const traffic = runPaced({ port: p.port, rate, seconds: ctx.opts.seconds, conns: 16, hosts })
  let changes = 0
  const changeFailures: Record<string, number> = {}
  const fail = (why: string): void => { changeFailures[why] = (changeFailures[why] ?? 0) + 1 }
  let elapsed = 1
  if (churn) {
    const sets = [commands([b.addr('A'), b.addr('B')], 16), commands([b.addr('C'), b.addr('D')], 16)]
    const c = new Client(p.ifPort!)
    const t0 = performance.now()
    const end = t0 + ctx.opts.seconds * 1000
    for (let i = 0; performance.now() < end; i++) {
      const due = t0 + i * 1000 / CHANGE_RATE
      const wait = due - performance.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      try {
        const r = await c.request('POST', `/upstream/${hosts[i % GROUPS]}`, {}, sets[Math.floor(i / GROUPS) & 1]!)
        if (r.status === 200) changes++
        else fail(`${r.status} ${r.body.toString('latin1').slice(0, 40).trim()}`)
      } catch (e) {
        fail((e as Error).message)
      }
    }
    elapsed = (performance.now() - t0) / 1000
    c.close()
  }
  return { traffic: await traffic, changesPerSec: changes / elapsed, changeFailures }
}

export const churn: Scenario = {
  id: 'churn',
  title: 'churn: groups replaced continuously under paced traffic',
  dyupsOnly: false,
  async run(ctx: Ctx): Promise<Section[]> {
    const b = ctx.backends
    const labels = ctx.contenders.map((c) => c.label)
    const s: Section = { id: this.id, title: this.title, labels, rows: [], notes: [] }
    let upstreams = ''
    for (let i = 1; i <= GROUPS; i++) upstreams += upstreamBlock(`c${i}`, [b.addr('A'), b.addr('B')], 16)
    upstreams += upstreamBlock('bench', [b.addr('A'), b.addr('B')], 16)
    const steady: Record<string, Phase[]> = {}
    const churned: Record<string, Phase[]> = {}
    await withProxies(ctx.contenders, { workers: 'auto', routing: 'host', upstreams }, ctx.tmp, async (ps) => {
      for (const p of ps) {
        await runPaced({ port: p.port, rate: 1000, seconds: ctx.opts.quick ? 1 : 2, conns: 16, hosts: ['c1', 'c2'] })
      }
      for (let rep = 0; rep < ctx.opts.runs; rep++) {
        for (const p of order(ps, rep)) {
          // Steady first, then churn, on even repetitions; the other way round on odd ones.
          for (const withChurn of order([false, true], rep)) {
            if (withChurn && p.ifPort === null) continue
            ctx.log(`churn: ${p.label}, ${withChurn ? `${CHANGE_RATE} changes/s` : 'steady'}`)
            ;((withChurn ? churned : steady)[p.label] ??= []).push(await phase(ctx, p, withChurn))
          }
        }
      }
    })
    const per = (m: Record<string, Phase[]>, f: (x: Phase) => number): Record<string, number[]> =>
      Object.fromEntries(labels.map((l) => [l, (m[l] ?? []).map(f)]))
    const rate = ctx.opts.quick ? 1000 : 2000
    const steadyPt = `${rate} req/s, steady table`
    const churnPt = `${rate} req/s, ${CHANGE_RATE} changes/s`
    const zero = { target: { text: '0', check: (x: number) => x === 0 } }
    s.rows.push(
      makeRow(steadyPt, 'failed requests', per(steady, (x) => x.traffic.failed), zero),
      makeRow(steadyPt, 'p50 ms', per(steady, (x) => quantile(x.traffic.latencies, 0.5))),
      makeRow(steadyPt, 'p99 ms', per(steady, (x) => quantile(x.traffic.latencies, 0.99))),
      makeRow(churnPt, 'failed requests', per(churned, (x) => x.traffic.failed), zero),
      makeRow(churnPt, 'p50 ms', per(churned, (x) => quantile(x.traffic.latencies, 0.5))),
      makeRow(churnPt, 'p99 ms', per(churned, (x) => quantile(x.traffic.latencies, 0.99))),
      makeRow(churnPt, 'p99 ÷ steady p99', Object.fromEntries(labels.map((l) => [l, (churned[l] ?? []).map((x, i) =>
        quantile(x.traffic.latencies, 0.99) / quantile(steady[l]![i]!.traffic.latencies, 0.99))]))),
      makeRow(churnPt, 'changes/s applied', per(churned, (x) => x.changesPerSec)),
      makeRow(churnPt, 'failed changes', per(churned, (x) => Object.values(x.changeFailures).reduce((a, n) => a + n, 0)), zero),
    )
    const reasons = new Set<string>()
    for (const m of [steady, churned]) {
      for (const l in m) {
        for (const x of m[l]!) {
          for (const k in x.traffic.failures) reasons.add(`${l}: request ${k}`)
          for (const k in x.changeFailures) reasons.add(`${l}: change ${k}`)
        }
      }
    }
    if (reasons.size > 0) s.notes.push(`failures seen: ${[...reasons].join('; ')}`)
    s.notes.push(`changes: one POST every ${1000 / CHANGE_RATE} ms on one connection, fewer when a POST takes longer; ` +
      'each replaces one of the ten groups with the other server pair.',
    `traffic: ${rate} req/s on 16 keepalive connections, Host cycling over ${GROUPS} groups, ` +
      `${ctx.opts.seconds} s per phase; latency from each request's due time (coordinated omission counted); worker_processes auto.`)
    return [s]
  },
}

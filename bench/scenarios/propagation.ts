/**
 * Propagation: from sending `POST /upstream/probe` until every worker routes by the new group. One keepalive
 * connection is pinned to each worker (found through /proc: which process holds the accepted socket), the
 * backends answer with their id, and after the 200 each worker is probed until all answer from the new server.
 * dyups promises routing by a change before its 200, so the figure should be the POST round trip and a stale
 * answer after a 200 is a broken promise (counted).
 */
import { performance } from 'node:perf_hooks'
import { Client, HttpConn } from '../client.js'
import type { Ctx, Scenario } from '../context.js'
import { commands, upstreamBlock } from '../config.js'
import { sampleTree, socketOwner } from '../procstat.js'
import { withProxies } from '../proxies.js'
import type { Proxy } from '../proxies.js'
import { below, makeRow } from '../report.js'
import type { Section } from '../report.js'
import { quantile } from '../stats.js'

const TENGINE = 'Tengine: 1 s poll; median 700, max 877 ms'
/** Give up on one change after this long (Tengine's poll would need up to 1 s). */
const GIVE_UP_MS = 3000

/**
 * One keepalive connection per worker of the proxy, keyed by worker pid.
 * @throws Error when no worker can be reached.
 */
export async function connectEveryWorker(p: Proxy, host: string): Promise<Map<number, HttpConn>> {
  const workers = sampleTree(p.pid).workers
  const byPid = new Map<number, HttpConn>()
  for (let i = 0; i < 40 * workers.length && byPid.size < workers.length; i++) {
    const c = await HttpConn.open(p.port)
    // After one answer the connection has surely been handed to a worker.
    await c.request('GET', '/', { Host: host })
    const owner = socketOwner(workers, p.port, c.localPort)
    if (owner !== null && !byPid.has(owner)) byPid.set(owner, c)
    else c.close()
  }
  if (byPid.size === 0) throw new Error('no connection could be traced to a worker')
  return byPid
}

interface Run { ack: number[], routed: number[], stale: number, failed: number, workers: number, reached: number }

async function changes(ctx: Ctx, p: Proxy, n: number): Promise<Run> {
  const b = ctx.backends
  const iface = new Client(p.ifPort!)
  let conns = await connectEveryWorker(p, 'probe')
  const run: Run = { ack: [], routed: [], stale: 0, failed: 0, workers: sampleTree(p.pid).workers.length, reached: conns.size }
  let current = 'A'
  try {
    for (let i = 0; i < n; i++) {
      const next = current === 'A' ? 'B' : 'A'
      const t0 = performance.now()
      const r = await iface.request('POST', '/upstream/probe', {}, commands([b.addr(next)], 16))
      const ack = performance.now() - t0
      if (r.status !== 200) {
        run.failed++
        continue
      }
      current = next
      run.ack.push(ack)
      let first = true
      for (;;) {
        let answers: string[]
        try {
          answers = await Promise.all([...conns.values()].map(async (c) => (await c.request('GET', '/', { Host: 'probe' })).body.toString('latin1')))
        } catch {
          // A worker closed its keepalive connection (keepalive_requests): trace new ones and probe again.
          for (const c of conns.values()) c.close()
          conns = await connectEveryWorker(p, 'probe')
          continue
        }
        const now = performance.now() - t0
        if (answers.every((a) => a === `${next}\n`)) {
          run.routed.push(first ? ack : now)
          break
        }
        if (first) run.stale++
        first = false
        if (now > GIVE_UP_MS) {
          run.routed.push(Infinity)
          break
        }
      }
    }
  } finally {
    iface.close()
    for (const c of conns.values()) c.close()
  }
  return run
}

export const propagation: Scenario = {
  id: 'propagation',
  title: 'propagation of one change to every worker (dyups only)',
  dyupsOnly: true,
  async run(ctx: Ctx): Promise<Section[]> {
    const b = ctx.backends
    const labels = ctx.contenders.map((c) => c.label)
    const s: Section = { id: this.id, title: this.title, labels, rows: [], notes: [] }
    const n = ctx.opts.quick ? 30 : 200
    const upstreams = upstreamBlock('bench', [b.addr('A'), b.addr('B')], 16) + upstreamBlock('probe', [b.addr('A')], 16)
    for (const workers of [2, 4]) {
      const runs: Record<string, Run[]> = {}
      await withProxies(ctx.contenders, { workers, routing: 'host', upstreams }, ctx.tmp, async (ps) => {
        for (let rep = 0; rep < ctx.opts.runs; rep++) {
          for (const p of ps) {
            ctx.log(`propagation: ${workers} workers, ${p.label}, ${n} changes`)
            ;(runs[p.label] ??= []).push(await changes(ctx, p, n))
          }
        }
      })
      const point = `${workers} workers`
      const per = (f: (r: Run) => number): Record<string, number[]> =>
        Object.fromEntries(Object.entries(runs).map(([k, rs]) => [k, rs.map(f)]))
      s.rows.push(
        makeRow(point, 'all workers routing, p50 ms', per((r) => quantile(r.routed, 0.5)), { reference: TENGINE }),
        makeRow(point, 'all workers routing, p99 ms', per((r) => quantile(r.routed, 0.99)),
          workers === 2 ? { target: below(5, 'ms'), reference: TENGINE } : { reference: TENGINE }),
        makeRow(point, 'all workers routing, max ms', per((r) => Math.max(...r.routed))),
        makeRow(point, 'POST round trip, p50 ms', per((r) => quantile(r.ack, 0.5))),
        makeRow(point, 'stale answers after 200', per((r) => r.stale), { target: { text: '0', check: (v) => v === 0 } }),
        makeRow(point, 'failed POSTs', per((r) => r.failed)),
        makeRow(point, 'changes', per((r) => r.ack.length)),
        makeRow(point, 'workers probed / total', per((r) => r.reached / r.workers)),
      )
    }
    s.notes.push(`${n} changes per repetition; each value is the median over repetitions of that repetition's percentile.`,
      '"all workers routing" = the POST round trip when the first probe after the 200 finds every worker on the new ' +
      'server, else the time until a probe round does (a stale answer is counted).')
    return [s]
  },
}

/**
 * What a large change and a reload storm do to traffic already flowing:
 * - a group of 45 000 servers (about 1 MB of command body) POSTed while paced traffic goes to another group: the
 *   traffic's p99 and max latency against the same traffic on a steady table (dyups only: nginx has no interface);
 * - 10 reloads in 7 s (HUP to the master/primary every 700 ms) under closed-loop load: requests per second against
 *   the same load without reloads, for nginx and dyups.
 */
import { performance } from 'node:perf_hooks'
import { Client } from '../client.js'
import type { Ctx, Scenario } from '../context.js'
import { upstreamBlock } from '../config.js'
import { measure, order } from '../measure.js'
import { runPaced, type PacedResult } from '../pacer.js'
import { withProxies, type Proxy } from '../proxies.js'
import { makeRow, ratioAtLeast, type Section } from '../report.js'
import { quantile } from '../stats.js'
import { errorCount } from '../wrk.js'

const BIG_SERVERS = 45_000
const RELOADS = 10
const RELOAD_EVERY_MS = 700

/** 45 000 `server` lines on addresses nothing connects to (the group gets no traffic). */
function bigBody(): string {
  const lines: string[] = new Array(BIG_SERVERS)
  for (let i = 0; i < BIG_SERVERS; i++) lines[i] = `server 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80 weight=${(i % 3) + 1};`
  return lines.join('\n')
}

interface BigPhase { traffic: PacedResult; postMs: number; postStatus: number }

async function bigPhase(ctx: Ctx, p: Proxy, post: boolean, body: string, round: number): Promise<BigPhase> {
  const seconds = Math.max(3, ctx.opts.seconds)
  const traffic = runPaced({ port: p.port, rate: ctx.opts.quick ? 1000 : 2000, seconds, conns: 16, hosts: ['bench'] })
  let postMs = 0
  let postStatus = 0
  if (post) {
    // A third of the way in, so that the traffic before and after the change is in the same sample.
    await new Promise((r) => setTimeout(r, (seconds * 1000) / 3))
    const c = new Client(p.ifPort!)
    const t0 = performance.now()
    try {
      postStatus = (await c.request('POST', `/upstream/big${round}`, {}, body)).status
    } catch {
      postStatus = -1
    }
    postMs = performance.now() - t0
    c.close()
  }
  return { traffic: await traffic, postMs, postStatus }
}

async function bigGroup(ctx: Ctx): Promise<Section> {
  const b = ctx.backends
  const dyups = ctx.contenders.filter((c) => c.kind === 'dyups')
  const labels = dyups.map((c) => c.label)
  const s: Section = { id: 'disturb-big', title: `a ${BIG_SERVERS}-server group POSTed under paced traffic`, labels, rows: [], notes: [] }
  const body = bigBody()
  const steady: Record<string, BigPhase[]> = {}
  const posted: Record<string, BigPhase[]> = {}
  await withProxies(dyups, { workers: 'auto', routing: 'host', upstreams: upstreamBlock('bench', [b.addr('A'), b.addr('B')], 16) }, ctx.tmp, async (ps) => {
    for (const p of ps) await runPaced({ port: p.port, rate: 1000, seconds: 1, conns: 16, hosts: ['bench'] })
    for (let rep = 0; rep < ctx.opts.runs; rep++) {
      for (const p of order(ps, rep)) {
        for (const post of order([false, true], rep)) {
          ctx.log(`disturb: ${p.label}, ${post ? `POST of ${BIG_SERVERS} servers` : 'steady'}`)
          ;((post ? posted : steady)[p.label] ??= []).push(await bigPhase(ctx, p, post, body, rep))
        }
      }
    }
  })
  const per = (m: Record<string, BigPhase[]>, f: (x: BigPhase) => number): Record<string, number[]> =>
    Object.fromEntries(labels.map((l) => [l, (m[l] ?? []).map(f)]))
  const vs = (f: (x: PacedResult) => number): Record<string, number[]> =>
    Object.fromEntries(labels.map((l) => [l, (posted[l] ?? []).map((x, i) => f(x.traffic) / f(steady[l]![i]!.traffic))]))
  const p99 = (x: PacedResult): number => quantile(x.latencies, 0.99)
  const max = (x: PacedResult): number => quantile(x.latencies, 1)
  const within2 = { target: { text: '≤ 2', check: (v: number) => v <= 2 } }
  const zero = { target: { text: '0', check: (v: number) => v === 0 } }
  s.rows.push(
    makeRow('steady table', 'p99 ms', per(steady, (x) => p99(x.traffic))),
    makeRow('steady table', 'max ms', per(steady, (x) => max(x.traffic))),
    makeRow('during the POST', 'p99 ms', per(posted, (x) => p99(x.traffic))),
    makeRow('during the POST', 'max ms', per(posted, (x) => max(x.traffic))),
    makeRow('during the POST', 'p99 ÷ steady p99', vs(p99), within2),
    makeRow('during the POST', 'max ÷ steady max', vs(max), within2),
    makeRow('during the POST', 'failed requests', per(posted, (x) => x.traffic.failed), zero),
    makeRow('the POST', 'ms to 200', per(posted, (x) => (x.postStatus === 200 ? x.postMs : NaN))),
  )
  s.notes.push(`body: ${body.length} bytes, ${BIG_SERVERS} servers; a new group each round, no traffic goes to it. ` +
    `traffic: ${ctx.opts.quick ? 1000 : 2000} req/s on 16 keepalive connections to another group, ` +
    `${Math.max(3, ctx.opts.seconds)} s per phase, the POST a third of the way in; worker_processes auto.`)
  return s
}

async function reloadStorm(ctx: Ctx): Promise<Section> {
  const b = ctx.backends
  const labels = ctx.contenders.map((c) => c.label)
  const s: Section = { id: 'disturb-reload', title: `${RELOADS} reloads in ${(RELOADS * RELOAD_EVERY_MS) / 1000} s under load`, labels, rows: [], notes: [] }
  const seconds = Math.ceil((RELOADS * RELOAD_EVERY_MS) / 1000)
  const steady: Record<string, { rps: number; errors: number }[]> = {}
  const storm: Record<string, { rps: number; errors: number }[]> = {}
  await withProxies(ctx.contenders, { workers: 'auto', routing: 'static', upstreams: upstreamBlock('bench', [b.addr('A'), b.addr('B')], 64) }, ctx.tmp, async (ps) => {
    for (let rep = 0; rep < ctx.opts.runs; rep++) {
      for (const p of order(ps, rep)) {
        for (const reload of order([false, true], rep)) {
          ctx.log(`disturb: ${p.label}, ${reload ? `${RELOADS} reloads` : 'steady'}`)
          let timer: NodeJS.Timeout | null = null
          if (reload) {
            let sent = 0
            timer = setInterval(() => {
              if (++sent > RELOADS) return clearInterval(timer!)
              try {
                process.kill(p.pid, 'SIGHUP')
              } catch {
                // Counted below as errors if the proxy is gone.
              }
            }, RELOAD_EVERY_MS)
          }
          const m = await measure(ctx.tools.wrk, p.pid, { url: `http://127.0.0.1:${p.port}/`, connections: 50, seconds })
          if (timer !== null) clearInterval(timer)
          ;((reload ? storm : steady)[p.label] ??= []).push({ rps: m.wrk.rps, errors: errorCount(m.wrk) })
        }
      }
    }
  })
  const per = (m: typeof steady, f: (x: { rps: number; errors: number }) => number): Record<string, number[]> =>
    Object.fromEntries(labels.map((l) => [l, (m[l] ?? []).map(f)]))
  s.rows.push(
    makeRow('steady', 'req/s', per(steady, (x) => x.rps)),
    makeRow(`${RELOADS} reloads`, 'req/s', per(storm, (x) => x.rps), { target: ratioAtLeast(0.8) }),
    makeRow(`${RELOADS} reloads`, 'req/s ÷ steady', Object.fromEntries(labels.map((l) => [l, (storm[l] ?? []).map((x, i) => x.rps / steady[l]![i]!.rps)])),
      { target: { text: '≥ 0.8', check: (v: number) => v >= 0.8 } }),
    makeRow(`${RELOADS} reloads`, 'errors', per(storm, (x) => x.errors)),
  )
  s.notes.push(`wrk, 50 keepalive connections, ${seconds} s; a HUP to the master (nginx) or primary (dyups) every ` +
    `${RELOAD_EVERY_MS} ms; worker_processes auto. A reload asked for while one runs is merged into the next (dyups). ` +
    'errors: wrk read errors, requests sent on a keep-alive connection just as an old worker closed it (both proxies ' +
    'close idle keep-alive connections when a reload stops their workers; wrk does not retry them as a browser would).')
  return s
}

export const disturb: Scenario = {
  id: 'disturb',
  title: 'a huge group POSTed, and a reload storm, under traffic',
  dyupsOnly: false,
  async run(ctx: Ctx): Promise<Section[]> {
    return [await bigGroup(ctx), await reloadStorm(ctx)]
  },
}

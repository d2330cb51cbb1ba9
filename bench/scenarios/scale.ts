/**
 * Scale: 10 to 100 000 groups in a generated upstream.conf. Start-up time (until the listener answers), RSS,
 * req/s when every request's Host picks a random group (`proxy_pass http://$host`), and for dyups the time of
 * one update. Each proxy is compared with itself at 10 groups, and with nginx.
 */
import { performance } from 'node:perf_hooks'
import { Client } from '../client.js'
import type { Ctx, Scenario } from '../context.js'
import { commands, upstreamBlock } from '../config.js'
import { interleaved, pick } from '../measure.js'
import { sampleTree } from '../procstat.js'
import { withProxies } from '../proxies.js'
import type { Proxy } from '../proxies.js'
import { below, makeRow } from '../report.js'
import type { Row, Section, Target } from '../report.js'
import { quantile } from '../stats.js'
import { errorCount } from '../wrk.js'
import { randomHostScript } from '../wrkscripts.js'

const MB = 1024 * 1024
/**
 * nginx checks each new upstream block against every earlier one, so loading n blocks costs O(n²): 10 000 take
 * about 8 s on the 2-core development machine, 100 000 did not start within 10 minutes. Above this, nginx is left out.
 */
const NGINX_MAX_GROUPS = 10000

/** Sequential replacements of random groups; ms per POST round trip. */
async function updateTimes(p: Proxy, groups: number, n: number, servers: string): Promise<number[]> {
  const c = new Client(p.ifPort!)
  const out: number[] = []
  try {
    for (let i = 0; i < n; i++) {
      const name = `g${1 + Math.floor(Math.random() * groups)}`
      const t0 = performance.now()
      const r = await c.request('POST', `/upstream/${name}`, {}, servers)
      if (r.status === 200) out.push(performance.now() - t0)
    }
  } finally {
    c.close()
  }
  return out
}

interface Size { n: number, point: string, script: string, base: Record<string, number>, first: boolean }

/** Start-up, RSS, random-Host req/s and (dyups) update time of proxies already loaded with `z.n` groups. */
async function measureSize(ctx: Ctx, ps: Proxy[], z: Size): Promise<Row[]> {
  const { opts, tools, backends: b } = ctx
  const idle: Record<string, number[]> = {}
  const start: Record<string, number[]> = {}
  for (const p of ps) {
    start[p.label] = [p.startMs]
    idle[p.label] = [sampleTree(p.pid).rssWorkerMax / MB]
  }
  ctx.log(`scale: ${z.point}, random Host`)
  const m = await interleaved(tools.wrk, ps, opts.runs, opts.quick ? 1 : 2,
    (p) => ({ url: `http://127.0.0.1:${p.port}/`, connections: 50, seconds: opts.seconds, script: z.script }))
  const upd: Record<string, number[]> = {}
  for (const p of ps) {
    if (p.ifPort === null) continue
    const times = await updateTimes(p, z.n, opts.quick ? 20 : 100, commands([b.addr('C'), b.addr('D')]))
    upd[p.label] = [quantile(times, 0.5)]
  }
  const rps = pick(m, (x) => x.wrk.rps)
  if (z.first) for (const k in rps) z.base[k] = quantile(rps[k]!, 0.5)
  const vsBase: Record<string, number[]> = {}
  for (const k in rps) vsBase[k] = z.base[k] === undefined ? [] : rps[k]!.map((x) => x / z.base[k]!)
  const big = z.n === 100000
  const rssTarget: { target?: Target } = big ? { target: below(100, 'MB') } : {}
  const keepTarget: { target?: Target } = big ? { target: { text: '≥ 0.95', check: (x) => x >= 0.95 } } : {}
  return [
    makeRow(z.point, 'start-up ms', start),
    makeRow(z.point, 'RSS/worker MB, idle', idle),
    makeRow(z.point, 'RSS/worker MB, under load', pick(m, (x) => x.rssWorkerPeakMB), rssTarget),
    makeRow(z.point, 'RSS total MB', pick(m, (x) => x.rssTotalPeakMB)),
    makeRow(z.point, 'req/s, random Host', rps),
    makeRow(z.point, 'req/s ÷ own at fewest groups', vsBase, keepTarget),
    makeRow(z.point, 'p99 ms', pick(m, (x) => x.wrk.latency.p99)),
    makeRow(z.point, 'errors', pick(m, (x) => errorCount(x.wrk))),
    ...(Object.keys(upd).length > 0 ? [makeRow(z.point, 'one update, p50 ms', upd)] : []),
  ]
}

export const scale: Scenario = {
  id: 'scale',
  title: 'scale: number of groups, random Host per request, 1 worker',
  dyupsOnly: false,
  async run(ctx: Ctx): Promise<Section[]> {
    const b = ctx.backends
    const s: Section = { id: this.id, title: this.title, labels: ctx.contenders.map((c) => c.label), rows: [], notes: [] }
    const sizes = ctx.opts.quick ? [10, 1000] : [10, 1000, 10000, 100000]
    const servers = [b.addr('A'), b.addr('B')]
    const base: Record<string, number> = {}
    for (const n of sizes) {
      const parts = [upstreamBlock('bench', servers)]
      for (let i = 1; i <= n; i++) parts.push(upstreamBlock(`g${i}`, servers))
      const upstreams = parts.join('')
      const point = `${n.toLocaleString('en-US').replace(/,/g, ' ')} groups`
      const cs = ctx.contenders.filter((c) => c.kind !== 'nginx' || n <= NGINX_MAX_GROUPS)
      if (cs.length === 0) continue
      ctx.log(`scale: ${point}, starting (${(upstreams.length / MB).toFixed(1)} MB of upstream.conf)`)
      const z: Size = { n, point, script: randomHostScript(ctx.tmp, 'g', n), base, first: n === sizes[0] }
      try {
        s.rows.push(...await withProxies(cs, { workers: 1, routing: 'host', upstreams }, ctx.tmp, (ps) => measureSize(ctx, ps, z), 600000))
      } catch (e) {
        // One size failing (a start-up timeout) should not lose the sizes already measured.
        s.notes.push(`${point}: ${(e as Error).message.split('\n')[0]}`)
        ctx.log(`scale: ${point} failed: ${(e as Error).message}`)
      }
    }
    s.notes.push('Groups carry no keepalive: nginx keeps idle connections per group, and with 100 000 groups picked at random ' +
      'they would exhaust worker_connections and local ports; so both proxies may open a backend connection per request here.',
    'start-up: from spawn until the listener answers one request (a single start per size).',
    `nginx is not started above ${NGINX_MAX_GROUPS} groups: it loads upstream blocks in quadratic time (100 000 did not start in 10 minutes).`)
    return [s]
  },
}

/**
 * Scale: 10 to 100 000 groups in a generated upstream.conf. Start-up time (until the listener answers), RSS,
 * req/s when every request's Host picks a random group (`proxy_pass http://$host`), and for dyups the time of
 * one update. Each proxy is compared with itself at 10 groups, and with nginx.
 */
import { performance } from 'node:perf_hooks'
import { HttpConn } from '../client.js'
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

/** Sequential replacements of random groups; ms per POST round trip. */
async function updateTimes(p: Proxy, groups: number, n: number, servers: string): Promise<number[]> {
  const c = await HttpConn.open(p.ifPort!)
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

export const scale: Scenario = {
  id: 'scale',
  title: 'scale: number of groups, random Host per request, 1 worker',
  dyupsOnly: false,
  async run(ctx: Ctx): Promise<Section[]> {
    const { opts, tools, backends: b } = ctx
    const labels = ctx.contenders.map((c) => c.label)
    const s: Section = { id: this.id, title: this.title, labels, rows: [], notes: [] }
    const sizes = opts.quick ? [10, 1000] : [10, 1000, 10000, 100000]
    const servers = [b.addr('A'), b.addr('B')]
    const base: Record<string, number> = {}
    for (const n of sizes) {
      const parts = [upstreamBlock('bench', servers)]
      for (let i = 1; i <= n; i++) parts.push(upstreamBlock(`g${i}`, servers))
      const upstreams = parts.join('')
      const script = randomHostScript(ctx.tmp, 'g', n)
      const point = `${n.toLocaleString('en-US').replace(/,/g, ' ')} groups`
      ctx.log(`scale: ${point}, starting (${(upstreams.length / MB).toFixed(1)} MB of upstream.conf)`)
      const rows: Row[] = await withProxies(ctx.contenders, { workers: 1, routing: 'host', upstreams }, ctx.tmp, async (ps) => {
        const idle: Record<string, number[]> = {}
        const start: Record<string, number[]> = {}
        for (const p of ps) {
          start[p.label] = [p.startMs]
          idle[p.label] = [sampleTree(p.pid).rssWorkerMax / MB]
        }
        ctx.log(`scale: ${point}, random Host`)
        const m = await interleaved(tools.wrk, ps, opts.runs, opts.quick ? 1 : 2,
          (p) => ({ url: `http://127.0.0.1:${p.port}/`, connections: 50, seconds: opts.seconds, script }))
        const upd: Record<string, number[]> = {}
        for (const p of ps) {
          if (p.ifPort === null) continue
          const times = await updateTimes(p, n, opts.quick ? 20 : 100, commands([b.addr('C'), b.addr('D')]))
          upd[p.label] = [quantile(times, 0.5)]
        }
        const rps = pick(m, (x) => x.wrk.rps)
        if (n === sizes[0]) for (const k in rps) base[k] = quantile(rps[k]!, 0.5)
        const vsBase: Record<string, number[]> = {}
        for (const k in rps) vsBase[k] = rps[k]!.map((x) => x / base[k]!)
        const big = n === 100000
        const rssTarget: { target?: Target } = big ? { target: below(100, 'MB') } : {}
        const keepTarget: { target?: Target } = big ? { target: { text: '≥ 0.95', check: (x) => x >= 0.95 } } : {}
        return [
          makeRow(point, 'start-up ms', start),
          makeRow(point, 'RSS/worker MB, idle', idle),
          makeRow(point, 'RSS/worker MB, under load', pick(m, (x) => x.rssWorkerPeakMB), rssTarget),
          makeRow(point, 'RSS total MB', pick(m, (x) => x.rssTotalPeakMB)),
          makeRow(point, 'req/s, random Host', rps),
          makeRow(point, `req/s ÷ own at ${sizes[0]} groups`, vsBase, keepTarget),
          makeRow(point, 'p99 ms', pick(m, (x) => x.wrk.latency.p99)),
          makeRow(point, 'errors', pick(m, (x) => errorCount(x.wrk))),
          ...(Object.keys(upd).length > 0 ? [makeRow(point, 'one update, p50 ms', upd)] : []),
        ]
      }, 600000)
      s.rows.push(...rows)
    }
    s.notes.push('Groups carry no keepalive: nginx keeps idle connections per group, and with 100 000 groups picked at random ' +
      'they would exhaust worker_connections and local ports; so both proxies may open a backend connection per request here.',
    'start-up: from spawn until the listener answers one request (a single start per size).')
    return [s]
  },
}

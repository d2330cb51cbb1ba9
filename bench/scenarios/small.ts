/**
 * Small GETs on keepalive client connections through a two-server group with keepalive to the backends:
 * the proxy's per-request cost. 1 worker and `worker_processes auto`, 50 and 200 connections.
 */
import { cpus } from 'node:os'
import type { Ctx, Scenario } from '../context.js'
import { upstreamBlock } from '../config.js'
import { interleaved, pick } from '../measure.js'
import { withProxies } from '../proxies.js'
import { below, makeRow, ratioAtLeast, ratioAtMost } from '../report.js'
import type { Section } from '../report.js'
import { errorCount } from '../wrk.js'

export const small: Scenario = {
  id: 'small',
  title: 'small GET, keepalive clients (req/s, latency, proxy CPU and RSS)',
  dyupsOnly: false,
  async run(ctx: Ctx): Promise<Section[]> {
    const { opts, tools, backends: b } = ctx
    const labels = ctx.contenders.map((c) => c.label)
    if (ctx.relay !== null) labels.push(ctx.relay.label)
    const s: Section = { id: this.id, title: this.title, labels, rows: [], notes: [] }
    const upstreams = upstreamBlock('bench', [b.addr('A'), b.addr('B')], 64)
    for (const workers of [1, 'auto'] as const) {
      if (opts.workers.length > 0 && !opts.workers.includes(String(workers))) continue
      const wname = workers === 1 ? '1 worker' : `auto (${cpus().length}) workers`
      // Node's floor is one process: it stands beside the 1-worker points only.
      const cs = workers === 1 && ctx.relay !== null ? [...ctx.contenders, ctx.relay] : ctx.contenders
      await withProxies(cs, { workers, routing: 'static', upstreams }, ctx.tmp, async (ps) => {
        for (const conns of [50, 200]) {
          const point = `${wname}, ${conns} conns`
          ctx.log(`small: ${point}`)
          const m = await interleaved(tools.wrk, ps, opts.runs, opts.quick ? 1 : 2,
            (p) => ({ url: `http://127.0.0.1:${p.port}/`, connections: conns, seconds: opts.seconds }))
          s.rows.push(
            makeRow(point, 'req/s', pick(m, (x) => x.wrk.rps), workers === 1 ? { target: ratioAtLeast(0.8) } : {}),
            makeRow(point, 'p50 ms', pick(m, (x) => x.wrk.latency.p50)),
            makeRow(point, 'p99 ms', pick(m, (x) => x.wrk.latency.p99), { target: ratioAtMost(1.5) }),
            makeRow(point, 'CPU µs/req', pick(m, (x) => x.cpuUsPerReq), { target: ratioAtMost(1.5) }),
            makeRow(point, 'RSS/worker MB', pick(m, (x) => x.rssWorkerPeakMB), { target: below(80, 'MB') }),
            makeRow(point, 'RSS total MB', pick(m, (x) => x.rssTotalPeakMB)),
            makeRow(point, 'errors', pick(m, (x) => errorCount(x.wrk))),
          )
        }
      })
    }
    s.notes.push('CPU µs/req: CPU time of all the proxy\'s processes during the run / requests completed.',
      'wrk, the backends and the proxy share the machine\'s cores; both proxies are measured under the same conditions.')
    if (ctx.relay !== null) {
      s.notes.push('relay: Node\'s floor, a byte relay without HTTP through Node\'s stream layer (bench/relay.ts), ' +
        'one backend connection per client connection; 1-worker points only.')
    }
    return [s]
  },
}

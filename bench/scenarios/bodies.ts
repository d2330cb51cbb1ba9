/** Bodies and connections: 64 KiB responses, 1 MiB request bodies, a new client connection per request. */
import type { Ctx, Scenario } from '../context.js'
import { upstreamBlock } from '../config.js'
import { interleaved, pick } from '../measure.js'
import { withProxies } from '../proxies.js'
import { makeRow, ratioAtLeast, ratioAtMost } from '../report.js'
import type { Section, Target } from '../report.js'
import { errorCount } from '../wrk.js'
import type { WrkRun } from '../wrk.js'
import { postScript } from '../wrkscripts.js'

interface Point { name: string, conns: number, path: string, script?: string, headers?: string[], target?: Target }

export const bodies: Scenario = {
  id: 'bodies',
  title: 'bodies and connections, 1 worker',
  dyupsOnly: false,
  async run(ctx: Ctx): Promise<Section[]> {
    const { opts, tools, backends: b } = ctx
    const s: Section = { id: this.id, title: this.title, labels: ctx.contenders.map((c) => c.label), rows: [], notes: [] }
    const points: Point[] = [
      { name: '64 KiB GET, 50 conns', conns: 50, path: '/64k', target: ratioAtLeast(0.8) },
      { name: '1 MiB POST, 16 conns', conns: 16, path: '/', script: postScript(ctx.tmp, 1024 * 1024) },
      { name: 'new connection per request, 50 conns', conns: 50, path: '/', headers: ['Connection: close'] },
    ]
    const upstreams = upstreamBlock('bench', [b.addr('A'), b.addr('B')], 64)
    await withProxies(ctx.contenders, { workers: 1, routing: 'static', upstreams }, ctx.tmp, async (ps) => {
      for (const pt of points) {
        ctx.log(`bodies: ${pt.name}`)
        const m = await interleaved(tools.wrk, ps, opts.runs, opts.quick ? 1 : 2, (p) => {
          const r: WrkRun = { url: `http://127.0.0.1:${p.port}${pt.path}`, connections: pt.conns, seconds: opts.seconds }
          if (pt.script) r.script = pt.script
          if (pt.headers) r.headers = pt.headers
          return r
        })
        s.rows.push(
          makeRow(pt.name, 'req/s', pick(m, (x) => x.wrk.rps), pt.target ? { target: pt.target } : {}),
          makeRow(pt.name, 'MB/s read', pick(m, (x) => x.wrk.bytesPerSec / 1024 / 1024)),
          makeRow(pt.name, 'p50 ms', pick(m, (x) => x.wrk.latency.p50)),
          makeRow(pt.name, 'p99 ms', pick(m, (x) => x.wrk.latency.p99)),
          makeRow(pt.name, 'CPU µs/req', pick(m, (x) => x.cpuUsPerReq), { target: ratioAtMost(1.5) }),
          makeRow(pt.name, 'RSS/worker MB', pick(m, (x) => x.rssWorkerPeakMB)),
          makeRow(pt.name, 'errors', pick(m, (x) => errorCount(x.wrk))),
        )
      }
    })
    s.notes.push('Both proxies run with their defaults here: nginx buffers a 1 MiB request body (to a temp file) before it forwards it.')
    return [s]
  },
}

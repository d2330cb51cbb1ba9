/** HTTP/2 clients: small GETs proxied to HTTP/1.1 backends, 100 streams on 10 connections (h2c, prior knowledge). */
import type { Ctx, Scenario } from '../context.js'
import { upstreamBlock } from '../config.js'
import { runH2load, type H2Result } from '../h2load.js'
import { order } from '../measure.js'
import { withProxies } from '../proxies.js'
import { makeRow, ratioAtLeast, ratioAtMost } from '../report.js'
import type { Section } from '../report.js'

export const h2: Scenario = {
  id: 'h2',
  title: 'HTTP/2 clients (h2load), 1 worker',
  dyupsOnly: false,
  async run(ctx: Ctx): Promise<Section[]> {
    const { opts, tools, backends: b } = ctx
    const s: Section = { id: this.id, title: this.title, labels: ctx.contenders.map((c) => c.label), rows: [], notes: [] }
    if (tools.h2load === null) {
      s.notes.push('h2load not found (apt-get install nghttp2-client): not measured.')
      return [s]
    }
    const h2load = tools.h2load
    const upstreams = upstreamBlock('bench', [b.addr('A'), b.addr('B')], 64)
    const points = [
      { name: '100 streams on 10 conns', connections: 10, streams: 10 },
      { name: '100 streams on 1 conn', connections: 1, streams: 100 },
    ]
    await withProxies(ctx.contenders, { workers: 1, routing: 'static', upstreams, h2: true }, ctx.tmp, async (ps) => {
      for (const pt of points) {
        ctx.log(`h2: ${pt.name}`)
        const m: Record<string, H2Result[]> = {}
        const run = (p: (typeof ps)[number], seconds: number): Promise<H2Result> =>
          runH2load(h2load, p.pid, { url: `http://127.0.0.1:${p.h2Port}/`, connections: pt.connections, streams: pt.streams, seconds, tmp: ctx.tmp })
        for (const p of ps) {
          m[p.label] = []
          // Warm-up (Node's JIT), the same for both.
          await run(p, opts.quick ? 1 : 2)
        }
        for (let rep = 0; rep < opts.runs; rep++) for (const p of order(ps, rep)) m[p.label]!.push(await run(p, opts.seconds))
        const pick = (f: (x: H2Result) => number): Record<string, number[]> => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.map(f)]))
        s.rows.push(
          makeRow(pt.name, 'req/s', pick((x) => x.rps), { target: ratioAtLeast(0.5) }),
          makeRow(pt.name, 'p50 ms', pick((x) => x.p50)),
          makeRow(pt.name, 'p99 ms', pick((x) => x.p99), { target: ratioAtMost(2) }),
          makeRow(pt.name, 'CPU µs/req', pick((x) => x.cpuUsPerReq)),
          makeRow(pt.name, 'errors', pick((x) => x.errors)),
        )
      }
    })
    s.notes.push('h2load ends each run by cutting the streams in flight: `errors` counts those too (at most the streams open at once).')
    return [s]
  },
}

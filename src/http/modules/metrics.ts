/**
 * `location /metrics { dyups_metrics; }`: the upstream table and its servers' live state for Prometheus
 * (src/dyups/metrics.ts), gathered from every worker when scraped. GET and HEAD only.
 */
import { renderMetrics, METRICS_TYPE } from '../../dyups/index.js'
import type { Responder, Services } from '../lib/context.js'
import type { Request } from '../lib/request.js'

export async function doMetrics(w: Services, c: Responder, req: Request): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return c.finishLocal(405)
  const live = w.deps.live === undefined ? { workers: 1, statics: null, rows: [w.deps.table.peerRows()] } : await w.deps.live.report()
  c.sendLocal(200, renderMetrics(w.deps.table, live), null, METRICS_TYPE)
}

/**
 * `location /metrics { dyups_metrics; }`: the upstream table, its servers' live state and the client connections
 * for Prometheus (src/dyups/metrics.ts), gathered from every worker when scraped. GET and HEAD only.
 */
import { renderMetrics, wantsOpenMetrics, METRICS_TYPE, OPENMETRICS_TYPE } from '../../dyups/index.js'
import type { Responder, Services } from '../lib/context.js'
import type { Request } from '../lib/request.js'
import { liveReport } from './live.js'

export async function doMetrics(w: Services, c: Responder, req: Request): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return c.finishLocal(405)
  const live = await liveReport(w)
  if (c.gone) return
  const om = wantsOpenMetrics(req.head.get('accept') ?? undefined)
  c.sendLocal(200, renderMetrics(w.deps.table, live, om), null, om ? OPENMETRICS_TYPE : METRICS_TYPE)
}

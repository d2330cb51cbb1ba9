/**
 * `location /dashboard { dyups_dashboard; }`: the live dashboard's page (src/dyups/dashboard-page.ts), and at
 * `?format=json` the data it refreshes from, gathered from every worker. GET and HEAD only.
 */
import { DASHBOARD_HTML, dashboardData } from '../../dyups/index.js'
import { queryArg } from '../../health/index.js'
import type { Responder, Services } from '../lib/context.js'
import type { Request } from '../lib/request.js'
import { liveReport } from './live.js'

const NO_STORE: [string, string][] = [['Cache-Control', 'no-store']]

export async function doDashboard(w: Services, c: Responder, req: Request): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return c.finishLocal(405)
  if (queryArg(req.args, 'format') !== 'json') return c.sendLocal(200, DASHBOARD_HTML, NO_STORE, 'text/html')
  const live = await liveReport(w)
  if (c.gone) return
  c.sendLocal(200, JSON.stringify(dashboardData(w.deps.table, live, Date.now())) + '\n', NO_STORE, 'application/json')
}

/**
 * `location /status { check_status [html|csv|json]; }`: Tengine's health-check status page, from the rows the
 * prober reports (through the worker's HealthSource). GET and HEAD only; `?format=` and `?status=up|down`.
 */
import { parseStatusQuery, renderStatus, type StatusFormat, type StatusRow } from '../../health/index.js'
import { formatError, isDyupsError } from '../../errors.js'
import { log } from '../../log.js'
import type { Responder, Services } from '../lib/context.js'
import type { Request } from '../lib/request.js'

export async function doCheckStatus(w: Services, c: Responder, req: Request, format: StatusFormat): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return c.finishLocal(405)
  const { query, errors } = parseStatusQuery(req.args, format)
  for (const e of errors) log('error', `http upstream check, bad argument: "${e}"`)
  let rows: readonly StatusRow[]
  try {
    rows = w.deps.health === undefined ? [] : await w.deps.health.status()
  } catch (e) {
    // A worker whose primary died has no prober to ask: 503, as its refused changes (process/worker.ts).
    if (isDyupsError(e) && e.code === 'E_PRIMARY_GONE') return c.finishLocal(e.status)
    log('alert', `check_status failed: ${formatError(e)}`)
    return c.finishLocal(500)
  }
  const page = renderStatus(rows, query)
  c.sendLocal(200, page.body, null, page.contentType)
}

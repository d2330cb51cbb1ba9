/**
 * `location /basic_status { stub_status; }`: nginx's ngx_http_stub_status_module page, byte for byte, with the
 * connections of every worker summed (nginx's counters are in shared memory, so its page is the whole server's).
 */
import { sumConns } from '../../dyups/index.js'
import type { Responder, Services } from '../lib/context.js'
import type { Request } from '../lib/request.js'
import { liveReport } from './live.js'

export async function doStubStatus(w: Services, c: Responder, req: Request): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return c.finishLocal(405)
  const live = await liveReport(w)
  if (c.gone) return
  const t = sumConns(live.conns ?? [])
  // nginx's format, trailing spaces included (ngx_http_stub_status_handler).
  const body =
    `Active connections: ${t.active} \n` +
    'server accepts handled requests\n' +
    ` ${t.accepted} ${t.handled} ${t.requests} \n` +
    `Reading: ${t.reading} Writing: ${t.writing} Waiting: ${t.active - t.reading - t.writing} \n`
  c.sendLocal(200, body, null, 'text/plain')
}

/**
 * `dyups_interface`: Tengine's REST interface in a location — the request's method, path segments, body and
 * If-Match handed to src/dyups, its answer sent as the module sends it.
 */
import { handleInterface, type ChangeSink } from '../../dyups/index.js'
import { formatError } from '../../errors.js'
import { log } from '../../log.js'
import type { Responder, Services } from '../lib/context.js'
import type { Request } from '../lib/request.js'
import { decodeForDyups } from '../lib/uri.js'

export async function doInterface(w: Services, c: Responder, req: Request): Promise<void> {
  const segments = decodeForDyups(req.head.target)
  if (segments === null) return c.finishLocal(400)
  const hasBody = req.head.contentLength >= 0 || req.head.chunked
  try {
    const reply = await handleInterface(
      {
        method: req.method,
        segments,
        body: hasBody ? (req.body?.toString('latin1') ?? '') : null,
        ifMatch: req.head.get('if-match'),
        contentType: req.head.get('content-type'),
        query: req.args,
      },
      { table: w.deps.table, sink: withSource(w.deps.sink, requestSource(req)), trylock: w.deps.trylock, live: w.deps.live },
    )
    let headers: [string, string][] | null = reply.etag !== null ? [['ETag', `"${reply.etag}"`]] : null
    if (reply.allow !== undefined) (headers ??= []).push(['Allow', reply.allow])
    if (reply.status === 204) return c.sendLocal(204, '', headers)
    c.sendLocal(reply.status, reply.body, headers, reply.body === null ? undefined : (reply.type ?? 'text/plain'))
  } catch (e) {
    log('alert', `dyups interface failed: ${formatError(e)}`)
    c.sendLocal(500, formatError(e).replace(/[\r\n]+/g, ' '), null, 'text/plain')
  }
}


/** Who asked for a change, as the error log's line about it says: `POST /upstream/NAME, client: ADDR`. */
export function requestSource(req: Request): string {
  // The URI as sent, bounded and without control bytes: a log line stays one line.
  const uri = req.requestUri.length > 200 ? req.requestUri.slice(0, 200) + '...' : req.requestUri
  // eslint-disable-next-line no-control-regex
  return `${req.method} ${uri.replace(/[\x00-\x1f\x7f]/g, '?')}, client: ${req.remoteAddr}`
}

/** `sink` with every change it passes on naming `source` (one small object per interface request). */
export function withSource(sink: ChangeSink, source: string): ChangeSink {
  const update = sink.update
  return {
    submit: (change, ifMatch) => sink.submit(change, ifMatch, source),
    busy: () => sink.busy(),
    ...(update === undefined ? {} : { update: (name: string, body: string, ifMatch: number | null) => update.call(sink, name, body, ifMatch, source) }),
  }
}

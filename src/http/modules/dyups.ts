/**
 * `dyups_interface`: Tengine's REST interface in a location — the request's method, path segments, body and
 * If-Match handed to src/dyups, its answer sent as the module sends it.
 */
import { handleInterface, type Actor } from '../../dyups/index.js'
import { formatError } from '../../errors.js'
import { log } from '../../log.js'
import type { Responder, Services } from '../lib/context.js'
import type { Request } from '../lib/request.js'
import { decodeForDyups } from '../lib/uri.js'

/** Who sends this request to the interface, for dyups_audit_log. */
function actorOf(w: Services, req: Request): Actor {
  const v = (name: string): string => w.vars.ref(name).get(req) ?? ''
  const user = v('remote_user')
  return { source: 'interface', client: v('remote_addr'), user: user === '' ? null : user, method: req.method, target: req.head.target }
}

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
        // Reads are not audited: only a change needs to know who asked.
        ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { actor: actorOf(w, req) }),
      },
      { table: w.deps.table, sink: w.deps.sink, trylock: w.deps.trylock, live: w.deps.live, cluster: w.deps.cluster },
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


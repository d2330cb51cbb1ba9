/**
 * nginx's internal redirect (ngx_http_internal_redirect) and jump to a named location (ngx_http_named_location):
 * the request starts over with a new `$uri` (and `$args`) in the same server — location matching, `set`, access
 * rules, try_files, the content handler — without the client seeing it. Ten in a row are allowed, as in nginx.
 */
import { log } from '../log.js'
import type { Connection } from './connection.js'
import { runHandler } from './handlers.js'
import { LocationMatch } from './locations.js'
import type { Request } from './request.js'

/** Matching is synchronous, so one match object serves every redirect of the worker. */
const scratch = new LocationMatch()

function context(req: Request): string {
  return `, client: ${req.remoteAddr}, server: ${req.serverName}, request: "${req.requestLine}", host: "${req.host}"`
}

/** Counts one more URI change; false (after logging nginx's line and answering 500) past the limit. */
function count(c: Connection, req: Request, what: string): boolean {
  if (--req.uriChanges > 0) return true
  log('error', `rewrite or internal redirection cycle while ${what}${context(req)}`)
  c.finishLocal(500)
  return false
}

/** Restarts `req` at `uri` (decoded, normalized) with `args`. */
export function internalRedirect(c: Connection, req: Request, uri: string, args: string): void {
  if (c.socket.destroyed) return
  if (!count(c, req, `internally redirecting to "${uri}"`)) return
  req.uri = uri
  req.args = args
  req.addUriToAlias = false
  const server = req.server!
  const loc = server.locations.match(uri, scratch)
  req.loc = loc === null ? server.serverConf : server.locConfs[loc.id]!
  if (scratch.redirect) {
    return c.sendLocal(301, null, [['Location', c.absolute(loc!.name + (args === '' ? '' : `?${args}`))]])
  }
  req.captures = scratch.captures
  enter(c, req)
}

/** Continues `req` in the named location `name` (`@x`), its URI unchanged. */
export function namedLocation(c: Connection, req: Request, name: string): void {
  if (c.socket.destroyed) return
  const server = req.server!
  const loc = server.locations.findNamed(name)
  if (loc === undefined) {
    log('error', `could not find named location "${name}"${context(req)}`)
    return c.finishLocal(500)
  }
  if (!count(c, req, `redirect to named location "${name}"`)) return
  req.loc = server.locConfs[loc.id]!
  enter(c, req)
}

/** The phases after location matching: access rules, `set`, then try_files and the handler. */
function enter(c: Connection, req: Request): void {
  const lc = req.loc!
  if (lc.access !== null && !lc.access.allows(req.remoteAddr)) {
    log('error', `access forbidden by rule${context(req)}`)
    return c.finishLocal(403)
  }
  for (const op of lc.sets) op.set(req, op.value.eval(req))
  runHandler(c.worker, c, req)
}

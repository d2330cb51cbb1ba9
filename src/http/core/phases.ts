/**
 * nginx's phases for one request, in its order: server rewrites → find the location → location rewrites (again while
 * they change the URI) → access → the body → try_files and content. Internal redirects (error_page, index,
 * try_files, rewrite `last`) and named locations re-enter here; ten URI changes at most, the eleventh is a 500.
 */
import { log } from '../../log.js'
import type { HttpRequest, LocConf } from '../conf/types.js'
import type { LocationMatch } from '../conf/locations.js'
import { ANSWERED, GO_ON, runRewrites, type RewriteAnswer } from '../modules/rewrite.js'
import { accessPhase } from '../modules/access-phase.js'
import { limitReq } from '../modules/limit-req.js'
import { limitConn } from '../modules/limit-conn.js'

/** What the phases need of the connection that carries the request. */
export interface PhaseHost extends RewriteAnswer {
  readonly gone: boolean
  /** The request waits out a limit_req delay (a client that leaves meanwhile ends it with 499, as in nginx). */
  delayed: boolean
  /** The connection's location search state, reused by every request. */
  readonly match: LocationMatch
  finishLocal(status: number): void
  sendLocal(status: number, body: string | null, headers: [string, string][] | null): void
  /** A Content-Length over the location's client_max_body_size: true when the body is to be refused (413). */
  refuseBody(): boolean
  /** Access granted: read the body as the location needs it, then run the content phase. */
  content(lc: LocConf): void
  /** nginx's error-log context of the request. */
  where(): string
}

/** The server's rewrite directives, then the location. */
export function startPhases(h: PhaseHost, req: HttpRequest): void {
  const server = req.server!
  req.loc = server.serverConf
  if (server.rewrites.length > 0 && runRewrites(server.rewrites, req, h) === ANSWERED) return
  route(h, req, null)
}

/**
 * nginx's find-config and rewrite phases: the location for `$uri` (or `named`), then its rewrite directives, again
 * while they change the URI (ten changes at most); then the access check, the body and the content handler.
 */
function route(h: PhaseHost, req: HttpRequest, named: LocConf | null): void {
  const server = req.server!
  const match = h.match
  for (;;) {
    if (named !== null) {
      req.loc = named
      named = null
      limitExcept(req)
      if (h.refuseBody()) return h.finishLocal(413)
    } else {
      const loc = server.locations.match(req.uri, match)
      req.loc = loc === null ? server.serverConf : server.locConfs[loc.id]!
      req.captures = match.captures
      // nginx's find-config checks, in its order: `internal` locations (reached only by rewrites and internal
      // redirects), Content-Length over client_max_body_size, then the redirect that adds a slash.
      if (req.loc.internal && !req.rewritten) return h.finishLocal(404)
      limitExcept(req)
      if (h.refuseBody()) return h.finishLocal(413)
      if (match.redirect) {
        return h.sendLocal(301, null, [['Location', loc!.name + (req.args === '' ? '' : `?${req.args}`)]])
      }
    }
    req.uriChanged = false
    const r = req.loc.rewrites.length === 0 ? GO_ON : runRewrites(req.loc.rewrites, req, h)
    if (r === ANSWERED) return
    if (r === GO_ON) break
    if (--req.uriChanges === 0) {
      log('error', `rewrite or internal redirection cycle while processing "${req.uri}"${h.where()}`)
      return h.finishLocal(500)
    }
  }
  const lc = req.loc
  // The pre-access phase, in nginx's order: realip (the location's settings, when the server's did not apply),
  // limit_req, limit_conn.
  if (lc.realip !== null && req.realipAddr === null) lc.realip.apply(req)
  if (lc.limitReq !== null) {
    const r = limitReq(lc.limitReq, req, h)
    if (r > 0) return h.finishLocal(r)
    // Delayed (burst without nodelay): the rest of the phases run when the delay is over.
    if (r < 0) {
      h.delayed = true
      return void setTimeout(afterDelay, -r, h, req)
    }
  }
  afterLimitReq(h, req)
}

function afterDelay(h: PhaseHost, req: HttpRequest): void {
  if (!h.delayed) return
  h.delayed = false
  if (!h.gone) afterLimitReq(h, req)
}

/** limit_conn, then the access phase and content. */
function afterLimitReq(h: PhaseHost, req: HttpRequest): void {
  const lc = req.loc!
  if (lc.limitConn !== null) {
    const r = limitConn(lc.limitConn, req, h)
    if (r > 0) return h.finishLocal(r)
  }
  if (lc.access !== null || lc.auth !== null) {
    const status = accessPhase(lc, req, h)
    if (status !== 0) return h.finishLocal(status)
  }
  h.content(lc)
}

/** nginx's ngx_http_update_location_config: a method the location's `limit_except` does not list gets its block. */
function limitExcept(req: HttpRequest): void {
  const le = req.loc!.limitExcept
  if (le !== null && !le.allowed.has(req.method)) req.loc = le.conf
}

/**
 * nginx's internal redirect (error_page, try_files, index): `$uri` and `$args` change and the request starts over
 * at the server's rewrite directives; ten redirects at most.
 */
export function internalRedirect(h: PhaseHost, req: HttpRequest, uri: string, args: string): void {
  // try_files and index look at the disk first: the client may have gone meanwhile.
  if (h.gone) return
  if (--req.uriChanges === 0) {
    log('error', `rewrite or internal redirection cycle while internally redirecting to "${uri}"${h.where()}`)
    return h.finishLocal(500)
  }
  req.uri = uri
  req.args = args
  req.rewritten = true
  req.addUriToAlias = false
  startPhases(h, req)
}

/** nginx's named location (`@name`): its rewrite directives and handler, the URI unchanged. */
export function namedLocation(h: PhaseHost, req: HttpRequest, name: string): void {
  if (h.gone) return
  if (--req.uriChanges === 0) {
    log('error', `rewrite or internal redirection cycle while redirect to named location "${name}"${h.where()}`)
    return h.finishLocal(500)
  }
  const server = req.server!
  const loc = server.locations.findNamed(name)
  if (loc === undefined) {
    log('error', `could not find named location "${name}"${h.where()}`)
    return h.finishLocal(500)
  }
  route(h, req, server.locConfs[loc.id]!)
}

/**
 * The content phase: try_files (when the location has it), then the location's handler — `proxy_pass`, `echo`,
 * `dyups_interface`, `check_status`, Lua, JS, static files. A handler that throws, or whose promise rejects, fails
 * its own request only (Responder.fail): the worker goes on serving every other connection.
 */
import type { HttpRequest } from '../conf/types.js'
import type { GrpcResponder, ProxyResponder, Services } from '../lib/context.js'
import { CONTENT_FAILPOINT, contentFailpoint } from '../lib/failpoints.js'
import { doCheckStatus } from '../modules/check-status.js'
import { doMetrics } from '../modules/metrics.js'
import { doStubStatus } from '../modules/stub-status.js'
import { doDashboard } from '../modules/dashboard.js'
import { doInterface } from '../modules/dyups.js'
import { doEcho } from '../modules/echo.js'
import { doProxy } from '../modules/proxy.js'
import { doGrpc } from '../modules/grpc.js'
import { runJs, runLua } from '../modules/script/index.js'
import { serveStatic } from '../modules/static.js'
import { tryFiles } from '../modules/try-files.js'

/** A responder whose failures are caught here; `failed` is bound once per connection, not made per request. */
export interface ContentResponder extends ProxyResponder, GrpcResponder {
  readonly failed: (e: unknown) => void
}

export function runHandler(w: Services, c: ContentResponder, req: HttpRequest): void {
  const tf = req.loc!.tryFiles
  if (tf === null) return runContent(w, c, req)
  tryFiles(c, req, tf)
    .then((found) => {
      if (found) runContent(w, c, req)
    })
    .catch(c.failed)
}

function runContent(w: Services, c: ContentResponder, req: HttpRequest): void {
  const h = req.loc!.handler
  try {
    if (CONTENT_FAILPOINT) {
      const p = contentFailpoint(req)
      if (p !== undefined) return void p.catch(c.failed)
    }
    switch (h.kind) {
      case 'echo':
        return doEcho(c, req, h.parts)
      case 'dyups':
        return void doInterface(w, c, req).catch(c.failed)
      case 'check_status':
        return void doCheckStatus(w, c, req, h.format).catch(c.failed)
      case 'metrics':
        return void doMetrics(w, c, req).catch(c.failed)
      case 'stub_status':
        return void doStubStatus(w, c, req).catch(c.failed)
      case 'dashboard':
        return void doDashboard(w, c, req).catch(c.failed)
      case 'proxy':
        return doProxy(w, c, req, h.pass)
      case 'grpc':
        return doGrpc(w, c, req, h.pass)
      case 'lua':
        return void runLua(w, c, req, h.script).catch(c.failed)
      case 'js':
        return runJs(w, c, req, h.content)
      case 'static':
        return serveStatic(c, req)
    }
  } catch (e) {
    c.failed(e)
  }
}

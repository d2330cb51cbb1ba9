/**
 * nginx's `return CODE [TEXT|URL]` and a redirecting `rewrite`, answered as ngx_http_rewrite_module finalizes them:
 * 444 closes, a redirect is a special response that error_page may replace, an error code gets its page.
 */
import type { HttpRequest } from '../conf/types.js'
import type { Responder } from '../lib/context.js'
import { sendErrorPage } from './error-page.js'

/** nginx's `return CODE [TEXT|URL]` (and a redirecting `rewrite`): `value` is the evaluated text, null for none. */
export function doReturn(c: Responder, req: HttpRequest, code: number, value: string | null): void {
  if (code === 444) {
    req.status = 444
    req.keepAlive = false
    c.abort()
    return
  }
  if (code === 301 || code === 302 || code === 303 || code === 307 || code === 308) {
    // nginx finalizes a redirect as a special response: error_page applies to it.
    req.errStatus = 0
    // A new redirect replaces an earlier one's Location; it stays with whatever answers instead of it (nginx keeps
    // headers_out.location through an error page).
    req.location = null
    if (req.loc!.errorPages !== null) {
      req.location = value
      if (sendErrorPage(c, req, code, req.loc!.errorPages, req.loc!.recursiveErrorPages)) return
      req.location = null
    }
    return c.sendLocal(code, null, value === null ? null : [['Location', value]])
  }
  if (value === null) return code >= 300 ? c.finishLocal(code) : c.sendLocal(code, '', null)
  c.sendLocal(code, value, null)
}


/**
 * `error_page` and `proxy_intercept_errors`, as nginx's ngx_http_special_response_handler and
 * ngx_http_send_error_page do them: an error status with a page of the location's list is answered by an internal
 * redirect to a URI (matched against the locations again; the method becomes GET unless it is HEAD), by a named
 * location, or by a redirect to a URL (302 unless `=301|302|303|307|308` says otherwise). The status the client
 * sees is the error's, `=CODE`'s, or with a bare `=` the one the page's own handler answers.
 *
 * A level that sets any error_page replaces the list it would inherit (ngx_http_core_merge_loc_conf). Unless
 * `recursive_error_pages` is on, a request follows at most one error page: nginx marks it as soon as the location
 * has a list, whether or not the status is in it. Internal redirects are bounded as in nginx: the 11th is a 500.
 */
import type { Directive } from '../../config/index.js'
import type { ResponseHead } from '../../http1/index.js'
import { DyupsError } from '../../errors.js'
import type { Responder } from '../lib/context.js'
import type { Request } from '../lib/request.js'
import type { Template, Variables } from '../lib/variables.js'

/** One `error_page` target. */
export interface ErrorPage {
  /** -1: keep the error status; 0 (`=`): the page's own status; else `=CODE`. */
  readonly overwrite: number
  readonly value: Template
  /** For a constant `/uri?args`: the part before `?` and the args (null: the value has variables). */
  readonly uri: string | null
  readonly args: string
}

/** The `error_page` list of one level: the first entry naming a status wins, as nginx scans its array. */
export class ErrorPages {
  private readonly byStatus: Array<ErrorPage | undefined> = new Array(300)

  /** @internal use {@link compileErrorPages} */
  add(status: number, page: ErrorPage): void {
    if (this.byStatus[status - 300] === undefined) this.byStatus[status - 300] = page
  }

  /** The page for `status`, or null. */
  find(status: number): ErrorPage | null {
    return status >= 300 && status < 600 ? (this.byStatus[status - 300] ?? null) : null
  }
}

/**
 * The `error_page` directives of one level (already checked by the registry), or null when it has none, so that
 * the level inherits its parent's list.
 * @throws DyupsError E_CONFIG from compiling a value with an unknown variable
 */
export function compileErrorPages(block: readonly Directive[], vars: Variables): ErrorPages | null {
  let out: ErrorPages | null = null
  for (const d of block) {
    if (d.name !== 'error_page') continue
    const a = d.args
    const at = { file: d.file, line: d.line }
    let last = a.length - 1
    let overwrite = -1
    const o = a[last - 1]!
    if (o.startsWith('=')) {
      overwrite = o.length > 1 ? Number(o.slice(1)) : 0
      last--
    }
    const text = a[a.length - 1]!
    const value = vars.compile(text, at)
    let uri: string | null = null
    let args = ''
    if (value.constant !== null && text.startsWith('/')) {
      const q = text.indexOf('?')
      uri = q < 0 ? text : text.slice(0, q)
      args = q < 0 ? '' : text.slice(q + 1)
    }
    out ??= new ErrorPages()
    for (let i = 0; i < last; i++) {
      const status = Number(a[i])
      if (!Number.isInteger(status)) throw new DyupsError('E_CONFIG', `invalid value "${a[i]}"`, at)
      // nginx's own 49x codes show as 400 unless the page says otherwise.
      const ow = overwrite === -1 && status >= 494 && status <= 497 ? 400 : overwrite
      out.add(status, { overwrite: ow, value, uri, args })
    }
  }
  return out
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])

/**
 * The special response for `status` went through the location's error_page list: when it names the status, the
 * request now follows the page and true is returned; false: send the standard page.
 */
export function sendErrorPage(c: Responder, req: Request, status: number, pages: ErrorPages | null, recursive: boolean): boolean {
  if (pages === null || req.errorPage || req.uriChanges === 0) return false
  if (!recursive) req.errorPage = true
  const page = pages.find(status)
  if (page === null) return false
  req.errStatus = page.overwrite >= 0 ? page.overwrite : status
  let uri = page.uri
  let args = page.args
  let value = uri
  if (uri === null) {
    value = page.value.eval(req)
    if (value.startsWith('/')) {
      const q = value.indexOf('?')
      uri = q < 0 ? value : value.slice(0, q)
      args = q < 0 ? '' : value.slice(q + 1)
    }
  }
  if (uri !== null) {
    if (req.method !== 'HEAD') req.method = 'GET'
    c.internalRedirect(uri, args)
    return true
  }
  if (value!.startsWith('@')) {
    c.namedLocation(value!)
    return true
  }
  // A URL: a redirect with nginx's page for it.
  const code = REDIRECTS.has(page.overwrite) ? page.overwrite : 302
  req.errStatus = 0
  req.location = null
  c.sendLocal(code, null, [['Location', value!]])
  return true
}

/**
 * proxy_intercept_errors: whether a backend's answer is to be replaced by the location's error page. A 401's
 * WWW-Authenticate is kept for the page, as nginx keeps it.
 */
export function intercepts(req: Request, rh: ResponseHead, pages: ErrorPages | null): boolean {
  const status = rh.status
  if (pages === null || pages.find(status) === null) return false
  if (status === 401) req.wwwAuthenticate = rh.get('www-authenticate')
  return true
}

/**
 * nginx's access phase (ngx_http_core_access_phase and the post-access phase): the `allow`/`deny` rules, then
 * `auth_basic`, combined by `satisfy`.
 *
 * - `satisfy all` (the default): a `deny` that matches answers 403 at once ("access forbidden by rule"); then
 *   auth_basic must accept the request (401, or 403/500 for a missing/unreadable user file).
 * - `satisfy any`: an `allow` that matches lets the request in without asking for credentials; otherwise
 *   auth_basic accepting it does. When neither does, a 401 from auth_basic wins over a 403 from the rules (the
 *   request can still authenticate), and only a final 403 is logged as "access forbidden by rule". A context with
 *   no rule matching the client and no auth_basic lets the request in, as in nginx.
 *
 * The rules run before auth_basic in both modes, as nginx orders its access handlers.
 */
import { log } from '../../log.js'
import { ALLOWED, DENIED, type AccessRules } from './access.js'
import { AUTH_OK, type AuthBasic, type AuthHost, type AuthTarget } from './auth-basic.js'

/** The access settings of the location (or limit_except block) in force. */
export interface AccessConf {
  readonly access: AccessRules | null
  readonly auth: AuthBasic | null
  readonly satisfyAny: boolean
}

export type AccessHost = AuthHost

/** @returns 0 to go on, else the status to answer (401 with `req.wwwAuthenticate` set, 403 or 500) */
export function accessPhase(lc: AccessConf, req: AuthTarget, h: AccessHost): number {
  const rules = lc.access
  const auth = lc.auth
  if (!lc.satisfyAny) {
    if (rules !== null && rules.verdict(req.remoteAddr) === DENIED) {
      log('error', `access forbidden by rule${h.where()}`)
      return 403
    }
    if (auth !== null) {
      const r = auth.check(req, h)
      if (r > 0) return r
    }
    return 0
  }
  let code = 0
  if (rules !== null) {
    const v = rules.verdict(req.remoteAddr)
    if (v === ALLOWED) return 0
    if (v === DENIED) code = 403
  }
  if (auth !== null) {
    const r = auth.check(req, h)
    if (r === AUTH_OK) {
      req.wwwAuthenticate = null
      return 0
    }
    if (r === 401 || r === 403) {
      if (code !== 401) code = r
    } else if (r > 0) {
      return r
    }
  }
  if (code === 403) log('error', `access forbidden by rule${h.where()}`)
  return code
}

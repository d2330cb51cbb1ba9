/**
 * `limit_except METHOD … { … }` (ngx_http_core_limit_except): a request whose method is not listed (GET lists HEAD
 * too) is served with the block's configuration instead of its location's. The block is an unnamed location nested
 * in the location: it inherits the location's settings, and its own `allow`/`deny`, `auth_basic*`, `proxy_pass`,
 * `access_log` … override them. As in nginx the location's rewrite directives (`return`, `rewrite`, `set`, `if`)
 * do not run for such a request (the rewrite module does not inherit its code into the block), the block does not
 * apply in nested locations, and an unknown method is never listed.
 *
 * The content handler: nginx's proxy module (like the other upstream modules) carries `proxy_pass` into the block,
 * and dyups carries every handler of the location in the same way, `dyups_interface` included — Tengine's dyups
 * module does not, there a request of a limited method that passed the block's checks is served by the static
 * handler instead of the interface. Keeping the interface is what makes
 * `location / { dyups_interface; limit_except GET { auth_basic …; } }` protect writes.
 */
import type { Directive } from '../../config/index.js'
import { configError, LIMIT_METHODS } from '../../config/index.js'

/**
 * The methods a `limit_except` lists (upper case; HEAD added with GET).
 * @throws DyupsError E_CONFIG `invalid method "X"`
 */
export function limitMethods(d: Directive): ReadonlySet<string> {
  const out = new Set<string>()
  for (const a of d.args) {
    const m = a.toUpperCase()
    if (!LIMIT_METHODS.includes(m)) throw configError(d, `invalid method "${a}"`)
    out.add(m)
  }
  if (out.has('GET')) out.add('HEAD')
  return out
}

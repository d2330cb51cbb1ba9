/**
 * `proxy_pass`: the group (or literal address, or resolved name) a request goes to, the URI and head the backend
 * gets by nginx's rules, and the exchange that carries it — the client side of which is the request's responder.
 */
import { createBalancer, type Balancer } from '../../balancer/index.js'
import { log } from '../../log.js'
import { BODY_OUT_NONE, BODY_OUT_SPOOL, BodySpool, buildRequestHead, Exchange, sslName } from '../../proxy/index.js'
import { parseCommands } from '../../upstream/index.js'
import type { ProxyPass } from '../conf/types.js'
import type { ProxyResponder, Services } from '../lib/context.js'
import type { Request } from '../lib/request.js'
import { requestContext } from '../lib/log-context.js'
import { escapeUri } from '../lib/uri.js'

/** `proxy_pass http://$var…`: the scheme, host and URI part of the value (null: not a URL nginx accepts). */
const URL_PARTS = /^http(s?):\/\/([^/]*)(.*)$/i

/**
 * The location is found and its body is about to be read: the group the request goes to is chosen now and kept, so
 * deleting or replacing it while the body comes in does not fail the request (docs/design.md: a request pins its table
 * version). Literal addresses and resolved names are looked up when the body is in, as they cannot be deleted.
 */
export function pinUpstream(w: Services, req: Request, pass: ProxyPass): void {
  let host = pass.host
  if (pass.url !== null) {
    const m = URL_PARTS.exec(pass.url.eval(req))
    if (m === null || m[2] === '') return
    host = m[2]!
  }
  req.pinnedGroup = w.deps.table.route(host) ?? null
  req.pinnedFor = pass
}

export function doProxy(w: Services, c: ProxyResponder, req: Request, pass: ProxyPass): void {
  let host = pass.host
  let uri: string | null = pass.uri
  let https = pass.https
  if (pass.url !== null) {
    const url = pass.url.eval(req)
    const m = URL_PARTS.exec(url)
    if (m === null || m[2] === '') {
      log('error', `invalid URL prefix in "${url}", client: ${req.remoteAddr}, host: "${req.host}"`)
      return c.finishLocal(500)
    }
    https = m[1] !== ''
    host = m[2]!
    uri = m[3] === '' ? null : m[3]!
  }
  // nginx's $proxy_host for a unix socket is `localhost` (ngx_http_proxy_set_vars).
  req.proxyHost = host.startsWith('unix:') ? 'localhost' : host
  const path = upstreamUri(req, pass, uri)
  // An address without a port means 443 for https (groups keep their servers' own ports).
  const addr = https && !hasPort(host) ? `${host}:443` : host
  const pinned = req.pinnedFor === pass ? req.pinnedGroup : null
  const balancer = pinned ?? w.deps.table.route(host) ?? w.literals.get(addr)
  if (balancer !== undefined) return forward(w, c, req, pass, balancer, path, https)
  // Not a group: a literal address makes an implicit upstream (cached); anything else is 502 at once.
  void literalBalancer(w, addr).then(async (b) => {
    if (b === undefined && w.names !== null) b = await w.names.balancer(addr)
    if (b !== undefined) return forward(w, c, req, pass, b, path, https)
    const why = w.names === null ? `no resolver defined to resolve ${host}` : `${host} could not be resolved (3: Host not found)`
    log('error', `${why}${requestContext(req)}`)
    c.finishLocal(502)
  })
}

/**
 * The URI the backend gets, by nginx's rules: the client's request target unchanged, unless a rewrite changed `$uri`
 * (then `$uri` escaped, with `$args`); with a URI part in proxy_pass, that part replaces the location's prefix — or is
 * dropped when a rewrite `break` kept the request in a location that no longer matches it.
 */
function upstreamUri(req: Request, pass: ProxyPass, uri: string | null): string {
  if (uri !== null && pass.url !== null) return uri
  const args = req.args === '' ? '' : `?${req.args}`
  if (uri === null) return req.rewritten ? escapeUri(req.uri) + args : req.requestUri
  if (req.locationBypassed) return escapeUri(req.uri) + args
  return uri + escapeUri(req.uri.slice(pass.locationPrefix.length)) + args
}

/** `host:port`, `[::1]:port` or `unix:/path`: an address that needs no default port. */
function hasPort(host: string): boolean {
  if (host.startsWith('unix:')) return true
  let i = host.length - 1
  while (i >= 0 && host.charCodeAt(i) >= 0x30 && host.charCodeAt(i) <= 0x39) i--
  return i < host.length - 1 && host.charCodeAt(i) === 0x3a && host.charCodeAt(i - 1) !== 0x3a
}

function forward(w: Services, c: ProxyResponder, req: Request, pass: ProxyPass, balancer: Balancer, path: string, https: boolean): void {
  const values: string[] = new Array(pass.values.length)
  for (let i = 0; i < values.length; i++) values[i] = pass.values[i]!.eval(req)
  if (req.upstreamAddr !== '') req.upstreamAgain = true
  // proxy_set_body and proxy_pass_request_body off replace the client's body (read whole, then left here).
  let spool = c.bodySpool
  let mode = c.bodyOutMode
  let length = c.bodyOutLength
  if (pass.setBody !== null) {
    const b = Buffer.from(pass.setBody.eval(req), 'latin1')
    spool = new BodySpool(Number.MAX_SAFE_INTEGER, pass.bodyTemp)
    spool.write(b)
    mode = BODY_OUT_SPOOL
    length = b.length
  } else if (!pass.passBody) {
    // nginx still sends the client body's Content-Length (its $proxy_internal_body_length), with no body after it.
    spool = null
    mode = BODY_OUT_NONE
  }
  const method = pass.method === null ? req.method : pass.method.eval(req)
  const head = buildRequestHead(method, path, pass.version, pass.plan, values, req.head, length, pass.passHeaders)
  const group = balancer.group
  const sel = balancer.begin({ clientAddr: req.remoteAddr, hashKey: hashKey(w, group.policy.key, req), now: Date.now() })
  const tls = https ? pass.tls : null
  if (tls === null) return c.startProxy(new Exchange(sel, w.pools, group.keepalive, pass.settings, head, spool, c, mode))
  const name = sslName(tls.name === null ? req.proxyHost : tls.name.eval(req))
  c.startProxy(new Exchange(sel, w.pools, group.keepalive, pass.settings, head, spool, c, mode, tls.tls, name))
}

function hashKey(w: Services, key: string | undefined, req: Request): string | undefined {
  if (key === undefined) return undefined
  try {
    return w.template(key).eval(req)
  } catch {
    return ''
  }
}

/**
 * A balancer for a literal address in proxy_pass (`127.0.0.1:8088`, `[::1]:80`, `unix:/path`): nginx's implicit
 * upstream. Names are not resolved (no `resolver` support yet), so they fail.
 */
async function literalBalancer(w: Services, host: string): Promise<Balancer | undefined> {
  if (w.literals.has(host)) return w.literals.get(host)
  let b: Balancer | undefined
  try {
    const g = await parseCommands(host, `server ${host};`, async () => [])
    b = createBalancer(g, w.deps.table.states)
  } catch {
    b = undefined
  }
  // Only addresses are cached: the key space of unknown names is the clients' to choose.
  if (b !== undefined && w.literals.size < 1024) w.literals.set(host, b)
  return b
}

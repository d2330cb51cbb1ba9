/**
 * What an HTTP/1.x connection (Connection) and an HTTP/2 stream (H2Stream) do alike once a request's server is
 * chosen and when a backend answers with X-Accel-Redirect: one place, so the two protocols cannot drift apart.
 */
import type { TLSSocket } from 'node:tls'
import { log } from '../../log.js'
import type { ResponseHead } from '../../http1/index.js'
import { carriedLines } from '../../proxy/index.js'
import type { HttpRequest, ServerConf } from '../conf/types.js'
import { VERIFY_OFF, VERIFY_ON, VERIFY_OPTIONAL_NO_CA } from '../conf/tls.js'
import { peerCertificate, verifyError } from '../lib/ssl-client.js'
import { safeUri } from '../lib/uri.js'

/** The host of a request: where its answer, redirects and log context come from. */
export interface RequestHost {
  finishLocal(status: number): void
  internalRedirect(uri: string, args: string): void
  namedLocation(name: string): void
  where(): string
}

/**
 * ssl_verify_client, checked once the server is chosen as nginx does (ngx_http_process_request): 0 when the request
 * goes on, else the status of nginx's 400 page (496 no certificate, 495 not verified), logged as nginx logs it.
 */
export function clientCertRefusal(server: ServerConf, tls: TLSSocket | null, where: string): number {
  if (server.verifyClient === VERIFY_OFF || tls === null) return 0
  const none = peerCertificate(tls) === undefined
  if (none ? server.verifyClient !== VERIFY_ON : tls.authorized || server.verifyClient === VERIFY_OPTIONAL_NO_CA) return 0
  log('info', none ? `client sent no required SSL certificate while reading client request headers${where}`
    : `client SSL certificate verify error: (${verifyError(tls).join(':')}) while reading client request headers${where}`)
  return none ? 496 : 495
}

/**
 * nginx's X-Accel-Redirect: Set-Cookie and the few headers nginx carries go along, the method becomes GET (HEAD
 * stays), and the request goes on at a named location or, for a URI, as an internal redirect (an unsafe URI: 404).
 * The host has dropped its exchange first.
 */
export function redirectByAccel(h: RequestHost, req: HttpRequest, rh: ResponseHead, target: string, cookies: ((v: string) => string | null) | null): void {
  req.carried += carriedLines(rh, cookies)
  req.carriedType = rh.get('content-type') ?? req.carriedType
  if (target.startsWith('@')) return h.namedLocation(target)
  const q = target.indexOf('?')
  const raw = q < 0 ? target : target.slice(0, q)
  const uri = safeUri(raw)
  if (uri === null) {
    log('error', `unsafe URI "${raw}" was detected${h.where()}`)
    return h.finishLocal(404)
  }
  if (req.method !== 'HEAD') req.method = 'GET'
  h.internalRedirect(uri, q < 0 ? '' : target.slice(q + 1))
}

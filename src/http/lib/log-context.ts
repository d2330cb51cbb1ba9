/** nginx's error-log context of a request (ngx_http_log_error): who asked, which server, what, and for which host. */
import type { VarSource } from './variables.js'

/** `, client: …, server: …, request: "…"[, upstream: "…"], host: "…"`, as nginx appends it to a request's lines. */
export function requestContext(req: Pick<VarSource, 'remoteAddr' | 'serverName' | 'requestLine' | 'host'>, upstream?: string): string {
  const up = upstream === undefined ? '' : `, upstream: "${upstream}"`
  return `, client: ${req.remoteAddr}, server: ${req.serverName}, request: "${req.requestLine}"${up}, host: "${req.host}"`
}

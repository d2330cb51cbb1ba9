/**
 * The head a client receives for a proxied response, in nginx's order: the backend's status line, `Server`,
 * `Date`, `Content-Type`, `Content-Length`, a `Location` proxy_redirect made a path (absolute now),
 * `Transfer-Encoding`, `Connection`, then the backend's other headers as sent (Last-Modified and Location
 * included: nginx keeps their list place). Hop-by-hop headers and those nginx hides by default (`Date`, `Server`,
 * `X-Pad`, `X-Accel-*`) are not copied; `proxy_hide_header` adds names, `proxy_pass_header` lets hidden ones through.
 */
import { statusLine, type ResponseHead } from '../http1/index.js'

/** Lowercased names never copied from a backend: the proxy frames and dates the response itself. */
const ALWAYS_DROP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer'])

/** nginx's default `proxy_hide_header` list. */
export const DEFAULT_HIDE: readonly string[] = ['date', 'server', 'x-pad', 'x-accel-expires', 'x-accel-redirect', 'x-accel-limit-rate', 'x-accel-buffering', 'x-accel-charset']

/** proxy_redirect, seen from the head builder. */
export interface RedirectRewriter {
  /** `Location`'s new value, or null to keep it as sent. */
  rewriteLocation(value: string): string | null
  /** `Refresh`'s new value, or null to keep it as sent. */
  rewriteRefresh(value: string): string | null
  /** A relative Location made absolute (nginx's absolute_redirect). */
  absolute(path: string): string
}

export interface ClientHeadOptions {
  /** `Server: …` value. */
  server: string
  date: string
  /** The body goes to the client chunked (backend sent chunked, or until-close to a keepalive HTTP/1.1 client). */
  chunked: boolean
  /** `Connection: keep-alive` rather than `close`. */
  keepAlive: boolean
  /** With keep-alive: `Keep-Alive: timeout=N` (keepalive_timeout's second parameter); 0: none. */
  keepAliveHeader?: number
  /** Lowercased names hidden for this location. */
  hide: ReadonlySet<string>
  /** Extra `Name: value\r\n` lines (add_header), appended last. */
  extra: string
  /** A 101 to an Upgrade request: `Connection: upgrade` and this `Upgrade` value instead of keep-alive/close. */
  upgrade?: string | null
  /** proxy_redirect, when the location rewrites redirects. */
  redirect?: RedirectRewriter | null
  /** The body is gzipped here: no Content-Length or Accept-Ranges, a weak ETag, `Content-Encoding: gzip` last. */
  gzip?: boolean
  /** `Vary: Accept-Encoding` after Connection (gzip_vary). */
  vary?: boolean
  /** An error page's status replacing the backend's (nginx's err_status): its standard status line. */
  status?: number
  /** Appended to the Content-Type value (`; charset=NAME`, decided by the caller's charset setting). */
  charset?: string
  /** `expires`: these values replace the backend's Expires and first Cache-Control in place (other Cache-Control lines
   * dropped), or are added after the backend's headers. */
  expires?: { expires: string; cacheControl: string } | null
}

export const defaultHide = new Set(DEFAULT_HIDE)

export function buildClientHead(rh: ResponseHead, o: ClientHeadOptions): string {
  let contentType = '', contentLength = '', location = '', rest = ''
  const ex = o.expires ?? null
  let exSeen = false, ccSeen = false
  const n = rh.headerCount
  for (let i = 0; i < n; i++) {
    const name = rh.name(i)
    const lower = name.toLowerCase()
    switch (lower) {
      case 'content-type': contentType = `Content-Type: ${rh.value(i)}${o.charset ?? ''}\r\n`; continue
      case 'content-length': contentLength = o.chunked || o.gzip ? '' : `Content-Length: ${rh.value(i)}\r\n`; continue
    }
    if (ALWAYS_DROP.has(lower) || o.hide.has(lower)) continue
    if (ex !== null && lower === 'expires') {
      if (!exSeen) rest += `${name}: ${ex.expires}\r\n`
      exSeen = true
      continue
    }
    if (ex !== null && lower === 'cache-control') {
      if (!ccSeen) rest += `${name}: ${ex.cacheControl}\r\n`
      ccSeen = true
      continue
    }
    if (o.gzip && (lower === 'accept-ranges' || lower === 'etag')) {
      // nginx's ngx_http_clear_accept_ranges and ngx_http_weak_etag.
      const v = rh.value(i)
      if (lower === 'etag' && v.startsWith('W/') && v.length > 2) rest += `${name}: ${v}\r\n`
      else if (lower === 'etag' && v.startsWith('"')) rest += `${name}: W/${v}\r\n`
      continue
    }
    if (o.redirect && (lower === 'location' || lower === 'refresh')) {
      const v = rh.value(i)
      const r = lower === 'location' ? o.redirect.rewriteLocation(v) : o.redirect.rewriteRefresh(v)
      // Only a Location rewritten to a path is made absolute and moves up; anything else keeps its place.
      if (r !== null && lower === 'location' && r.startsWith('/')) location = `Location: ${o.redirect.absolute(r)}\r\n`
      else rest += `${name}: ${r ?? v}\r\n`
      continue
    }
    rest += `${name}: ${rh.value(i)}\r\n`
  }
  if (ex !== null && !exSeen) rest += `Expires: ${ex.expires}\r\n`
  if (ex !== null && !ccSeen) rest += `Cache-Control: ${ex.cacheControl}\r\n`
  const reason = rh.reason === '' ? '' : ` ${rh.reason}`
  return (
    (o.status ? statusLine(o.status) : `HTTP/1.1 ${rh.status}${reason}\r\n`) + `Server: ${o.server}\r\nDate: ${o.date}\r\n` +
    contentType + contentLength + location +
    (o.chunked ? 'Transfer-Encoding: chunked\r\n' : '') +
    (o.upgrade ? `Connection: upgrade\r\nUpgrade: ${o.upgrade}\r\n` : o.keepAlive ? (o.keepAliveHeader ? `Connection: keep-alive\r\nKeep-Alive: timeout=${o.keepAliveHeader}\r\n` : 'Connection: keep-alive\r\n') : 'Connection: close\r\n') +
    (o.vary ? 'Vary: Accept-Encoding\r\n' : '') + rest + o.extra + (o.gzip ? 'Content-Encoding: gzip\r\n' : '') + '\r\n'
  )
}

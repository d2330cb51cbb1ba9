/**
 * The one place response heads are written, for local answers (return, echo, the interface, error pages), files,
 * proxied responses and heads that could not be parsed. Each starts with nginx's status line, `Server` and `Date`
 * and applies the header filters of its location in nginx's order — expires and add_header (ngx_http_headers_filter),
 * charset, gzip — with the header lines where nginx's header filter puts them. The not-modified and range filters
 * of files run in the static module, which hands its lines here (`before`/`after`).
 */
import { BODY_CHUNKED, BODY_NONE, BODY_UNTIL_CLOSE, httpDate, statusLine, type BodyKind, type ResponseHead } from '../../http1/index.js'
import { buildClientHead, FRAME_AS_IS, FRAME_CHUNK, FRAME_DECHUNK, type RedirectRewriter } from '../../proxy/index.js'
import { VERSION } from '../../version.js'
import type { HttpRequest, LocConf, ProxyPass } from '../conf/types.js'
import { charsetSuffix } from '../filters/charset.js'
import { parseHttpTime } from '../filters/conditional.js'
import { expiresLines, expiresValues } from '../filters/expires.js'
import { GZ_COMPRESS, GZ_VARY } from '../filters/gzip.js'

/** `Server:` with server_tokens on, and off. */
const TOKENS_ON = `dyups/${VERSION}`
const TOKENS_OFF = 'dyups'
const SERVER_ON = `Server: ${TOKENS_ON}\r\n`
const SERVER_OFF = `Server: ${TOKENS_OFF}\r\n`

/** The status line, `Server` (server_tokens) and `Date` (`nowMs`: the answer's time): how every head begins. */
export function headStart(status: number, tokens: boolean, nowMs?: number): string {
  return `${statusLine(status)}${tokens ? SERVER_ON : SERVER_OFF}Date: ${httpDate(nowMs)}\r\n`
}

/** `Connection:`, and with keep-alive the `Keep-Alive: timeout=N` keepalive_timeout's second parameter asks for. */
function connection(keep: boolean, lc: LocConf | null): string {
  if (!keep) return 'Connection: close\r\n'
  return lc === null || lc.keepaliveHeader === 0 ? 'Connection: keep-alive\r\n' : `Connection: keep-alive\r\nKeep-Alive: timeout=${lc.keepaliveHeader}\r\n`
}

/** nginx adds add_header lines only to 200, 201, 204, 206, 301, 302, 303, 304, 307, 308 unless `always`. */
export function addHeaderLines(lc: LocConf, req: HttpRequest, status: number): string {
  if (lc.addHeaders.length === 0) return ''
  const ok = status === 200 || status === 201 || status === 204 || status === 206 || (status >= 301 && status <= 304) || status === 307 || status === 308
  let h = ''
  for (const a of lc.addHeaders) {
    if (!ok && !a.always) continue
    const v = a.value.eval(req)
    if (v !== '') h += `${a.name}: ${v}\r\n`
  }
  return h
}

/** A head that could not be parsed: nginx's page for `status`, then the connection closes. */
export function rejectedHead(status: number, bodyLength: number): string {
  return `${headStart(status, true)}Content-Type: text/html\r\nContent-Length: ${bodyLength}\r\nConnection: close\r\n\r\n`
}

/**
 * A local answer's head. `status` is the code sent, `type` its Content-Type (undefined: none), `len` the body's
 * length, `gz` gzipLocal's flags. `headers`: extra pairs after the standard ones; a relative Location (theirs or a
 * redirect's, `req.location`) is made absolute by `redirects` and moves up where nginx's header filter writes it.
 */
export function localHead(
  req: HttpRequest,
  lc: LocConf | null,
  status: number,
  type: string | undefined,
  len: number,
  gz: number,
  keep: boolean,
  headers: [string, string][] | null,
  redirects: Pick<RedirectRewriter, 'absolute'>,
): string {
  const noLength = status === 204 || status === 304
  let h = headStart(status, lc?.serverTokens ?? true, req.answerTime())
  if (type !== undefined && !noLength) h += `Content-Type: ${type}${charsetSuffix(lc?.charset ?? null, type)}\r\n`
  if (!noLength && !(gz & GZ_COMPRESS)) h += `Content-Length: ${len}\r\n`
  const loc = req.location
  // A relative Location moves up, made absolute, only with absolute_redirect on; else it keeps its list place.
  const abs = lc === null || lc.absoluteRedirect
  if (abs && loc !== null && loc.startsWith('/')) h += `Location: ${redirects.absolute(loc)}\r\n`
  if (abs && headers !== null) for (const [n, v] of headers) if (n === 'Location' && v.startsWith('/')) h += `Location: ${redirects.absolute(v)}\r\n`
  // A compressed body has no length: chunked to HTTP/1.1, until the close to HTTP/1.0 (HEAD: neither).
  if (gz & GZ_COMPRESS && req.versionMinor === 1 && status !== 204 && status !== 304 && req.method !== 'HEAD') h += 'Transfer-Encoding: chunked\r\n'
  h += connection(keep, lc)
  if (gz & GZ_VARY) h += 'Vary: Accept-Encoding\r\n'
  h += req.carried
  if (req.wwwAuthenticate !== null) h += `WWW-Authenticate: ${req.wwwAuthenticate}\r\n`
  if (loc !== null && !(abs && loc.startsWith('/'))) h += `Location: ${loc}\r\n`
  if (headers !== null) for (const [n, v] of headers) if (n !== 'Location' || !(abs && v.startsWith('/'))) h += `${n}: ${v}\r\n`
  if (lc !== null) {
    if (lc.expires !== null) h += expiresLines(lc.expires, status, -1, req.answerTime())
    h += addHeaderLines(lc, req, status)
  }
  if (gz & GZ_COMPRESS) h += 'Content-Encoding: gzip\r\n'
  return h + '\r\n'
}

/**
 * A file's head: `before` (Content-Type, Content-Length, Last-Modified) goes before `Connection:`, `after` (ETag,
 * Expires, Accept-Ranges, Content-Range) after it, then add_header's lines, then `last` (Content-Encoding).
 */
export function streamHead(req: HttpRequest, lc: LocConf | null, status: number, keep: boolean, before: string, after: string, last: string): string {
  let h = headStart(status, lc?.serverTokens !== false, req.answerTime()) + before + connection(keep, lc) + req.carried + after
  if (lc !== null) h += addHeaderLines(lc, req, status)
  return h + last + '\r\n'
}

/** How a proxied body reaches the client. */
export interface ProxiedFraming {
  /** The body goes out chunked (a chunked backend body passed on, an until-close one chunked here, a gzipped one). */
  chunked: boolean
  keepAlive: boolean
}

/**
 * How the backend's body is framed toward the client: an HTTP/1.1 client gets a chunked or until-close body chunked;
 * an HTTP/1.0 client gets it until the close, a chunked one with its framing taken off. A gzipped body is framed by
 * the compressor the same way.
 * @returns FRAME_AS_IS, FRAME_CHUNK or FRAME_DECHUNK (Downstream.responseHead's answer)
 */
export function proxiedFraming(req: HttpRequest, kind: BodyKind, gz: number, keep: boolean, out: ProxiedFraming): number {
  const client11 = req.versionMinor === 1
  let chunk = false
  let passChunked = false
  if (kind === BODY_UNTIL_CLOSE) {
    if (client11) chunk = true
    else keep = false
  } else if (kind === BODY_CHUNKED) {
    if (client11) passChunked = true
    else keep = false
  }
  const compressed = (gz & GZ_COMPRESS) !== 0 && !(kind === BODY_NONE && req.method === 'HEAD')
  if (compressed) {
    chunk = false
    passChunked = false
    if (!client11) keep = false
  }
  out.chunked = chunk || passChunked || (compressed && client11)
  out.keepAlive = keep
  if (chunk) return FRAME_CHUNK
  return kind === BODY_CHUNKED && !client11 && !compressed ? FRAME_DECHUNK : FRAME_AS_IS
}

/** A proxied response's head: the backend's lines through proxy_hide_header, proxy_redirect and the filters. */
export function proxiedHead(req: HttpRequest, lc: LocConf, pass: ProxyPass, rh: ResponseHead, status: number, gz: number, framing: ProxiedFraming, redirects: RedirectRewriter): string {
  return buildClientHead(rh, {
    server: lc.serverTokens ? TOKENS_ON : TOKENS_OFF,
    date: httpDate(req.answerTime()),
    chunked: framing.chunked,
    keepAlive: framing.keepAlive,
    keepAliveHeader: lc.keepaliveHeader,
    hide: pass.hide,
    extra: addHeaderLines(lc, req, status),
    carried: req.carried,
    upgrade: rh.status === 101 ? rh.upgrade : null,
    status: req.errStatus,
    redirect: pass.redirect !== null ? redirects : null,
    cookies: pass.cookies !== null ? redirects.rewriteCookie : null,
    gzip: (gz & GZ_COMPRESS) !== 0,
    vary: (gz & GZ_VARY) !== 0,
    // The backend's Content-Type is looked up only when a charset is to be added.
    charset: lc.charset === null ? '' : charsetSuffix(lc.charset, rh.get('content-type') ?? undefined),
    expires: lc.expires !== null ? expiresValues(lc.expires, status, lastModifiedOf(rh), req.answerTime()) : null,
  })
}

/** A backend's Last-Modified in seconds, or -1 (for `expires modified`). */
function lastModifiedOf(rh: ResponseHead): number {
  const v = rh.get('last-modified')
  if (v === null) return -1
  const t = parseHttpTime(v)
  return t >= 0 ? t : -1
}

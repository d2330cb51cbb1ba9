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
  /** A relative Location made absolute (nginx's absolute_redirect; off: returned as it is). */
  absolute(path: string): string
  /** proxy_cookie_domain/proxy_cookie_path on a Set-Cookie value: its new value, or null to keep it (a bound function). */
  readonly rewriteCookie: (value: string) => string | null
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
  /** Lines an X-Accel-Redirect carried here, before the backend's own. */
  carried?: string
  /** A 101 to an Upgrade request: `Connection: upgrade` and this `Upgrade` value instead of keep-alive/close. */
  upgrade?: string | null
  /** proxy_redirect, when the location rewrites redirects. */
  redirect?: RedirectRewriter | null
  /** proxy_cookie_domain/proxy_cookie_path: a Set-Cookie value's new value, or null to keep it as sent. */
  cookies?: ((value: string) => string | null) | null
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

/** What buildClientHead does with a backend header line, by name (NameTable). */
const C_OTHER = 0
const C_DROP = 1
const C_TYPE = 2
const C_LENGTH = 3
const C_EXPIRES = 4
const C_CACHE_CONTROL = 5
const C_ACCEPT_RANGES = 6
const C_ETAG = 7
const C_LOCATION = 8
const C_REFRESH = 9
const C_SET_COOKIE = 10

const CR = 0x0d
const LF = 0x0a
const SP = 0x20
const COLON = 0x3a

/**
 * The names buildClientHead treats apart for one hide set, by length, matched against the backend's head in place
 * (case-insensitively): a header line is classified without cutting or lowercasing its name. Content-Type and
 * Content-Length come first (they are rewritten even when hidden), then what is never copied or hidden, then the
 * names the filters rewrite when they are on (expires, gzip, proxy_redirect).
 */
class NameTable {
  /** byLen[n]: the names of length n with their code; lowercased. */
  private readonly byLen: Array<Array<{ name: string; code: number }> | undefined> = []

  constructor(hide: ReadonlySet<string>) {
    this.add('content-type', C_TYPE)
    this.add('content-length', C_LENGTH)
    for (const n of ALWAYS_DROP) this.add(n, C_DROP)
    for (const n of hide) this.add(n, C_DROP)
    this.add('expires', C_EXPIRES)
    this.add('cache-control', C_CACHE_CONTROL)
    this.add('accept-ranges', C_ACCEPT_RANGES)
    this.add('etag', C_ETAG)
    this.add('location', C_LOCATION)
    this.add('refresh', C_REFRESH)
    this.add('set-cookie', C_SET_COOKIE)
  }

  /** The first code given to a name wins. */
  private add(name: string, code: number): void {
    const list = (this.byLen[name.length] ??= [])
    if (!list.some((e) => e.name === name)) list.push({ name, code })
  }

  /** The code of the name raw[s, e). */
  code(raw: string, s: number, e: number): number {
    const list = this.byLen[e - s]
    if (list === undefined) return C_OTHER
    for (let k = 0; k < list.length; k++) {
      const name = list[k]!.name
      let j = 0
      for (; j < name.length; j++) {
        let c = raw.charCodeAt(s + j)
        if (c >= 0x41 && c <= 0x5a) c |= 0x20
        if (c !== name.charCodeAt(j)) break
      }
      if (j === name.length) return list[k]!.code
    }
    return C_OTHER
  }
}

/** One table per hide set (a location's proxy_hide_header/proxy_pass_header list; most share the default one). */
const tables = new WeakMap<ReadonlySet<string>, NameTable>()
let lastHide: ReadonlySet<string> | null = null
let lastTable: NameTable | null = null

function tableFor(hide: ReadonlySet<string>): NameTable {
  if (hide === lastHide) return lastTable!
  let t = tables.get(hide)
  if (t === undefined) tables.set(hide, (t = new NameTable(hide)))
  lastHide = hide
  lastTable = t
  return t
}

/**
 * Hand-written for speed (it runs for every proxied response): header lines are classified in place, and the lines
 * copied as they came are cut from the backend's head in runs — consecutive lines already written `Name: value`
 * CRLF go out as one slice — instead of being cut into names and values and joined again.
 */
export function buildClientHead(rh: ResponseHead, o: ClientHeadOptions): string {
  let contentType = '', contentLength = '', location = '', rest = ''
  const ex = o.expires ?? null
  const gzip = o.gzip === true
  const redirect = o.redirect ?? null
  const cookies = o.cookies ?? null
  let exSeen = false, ccSeen = false
  const table = tableFor(o.hide)
  const raw = rh.raw, offs = rh.offsets
  // A run of lines copied as they are: raw[runStart, runEnd).
  let runStart = 0, runEnd = -1
  const n = rh.headerCount
  for (let i = 0; i < n; i++) {
    const k = i * 4
    const ls = offs[k]!, ne = offs[k + 1]!, vs = offs[k + 2]!, ve = offs[k + 3]!
    let code = table.code(raw, ls, ne)
    switch (code) {
      case C_TYPE: contentType = `Content-Type: ${raw.slice(vs, ve)}${o.charset ?? ''}\r\n`; continue
      case C_LENGTH: contentLength = o.chunked || gzip ? '' : `Content-Length: ${raw.slice(vs, ve)}\r\n`; continue
      case C_DROP: continue
      case C_EXPIRES: case C_CACHE_CONTROL: if (ex === null) code = C_OTHER; break
      case C_ACCEPT_RANGES: case C_ETAG: if (!gzip) code = C_OTHER; break
      case C_LOCATION: case C_REFRESH: if (redirect === null) code = C_OTHER; break
      case C_SET_COOKIE: if (cookies === null) code = C_OTHER; break
    }
    if (code === C_OTHER) {
      // `Name: value` CRLF as sent (one space after the colon, nothing after the value): copied, joined to the run.
      if (vs === ne + 2 && raw.charCodeAt(ne + 1) === SP && raw.charCodeAt(ne) === COLON && raw.charCodeAt(ve) === CR && raw.charCodeAt(ve + 1) === LF) {
        if (ls !== runEnd) {
          if (runEnd > 0) rest += raw.slice(runStart, runEnd)
          runStart = ls
        }
        runEnd = ve + 2
        continue
      }
    }
    if (runEnd > 0) {
      rest += raw.slice(runStart, runEnd)
      runEnd = -1
    }
    const name = raw.slice(ls, ne)
    switch (code) {
      case C_EXPIRES:
        if (!exSeen) rest += `${name}: ${ex!.expires}\r\n`
        exSeen = true
        continue
      case C_CACHE_CONTROL:
        if (!ccSeen) rest += `${name}: ${ex!.cacheControl}\r\n`
        ccSeen = true
        continue
      case C_ACCEPT_RANGES:
        // nginx's ngx_http_clear_accept_ranges.
        continue
      case C_ETAG: {
        // nginx's ngx_http_weak_etag.
        const v = raw.slice(vs, ve)
        if (v.startsWith('W/') && v.length > 2) rest += `${name}: ${v}\r\n`
        else if (v.startsWith('"')) rest += `${name}: W/${v}\r\n`
        continue
      }
      case C_SET_COOKIE: {
        const v = raw.slice(vs, ve)
        rest += `${name}: ${cookies!(v) ?? v}\r\n`
        continue
      }
      case C_LOCATION: case C_REFRESH: {
        const v = raw.slice(vs, ve)
        const r = code === C_LOCATION ? redirect!.rewriteLocation(v) : redirect!.rewriteRefresh(v)
        // Only a Location rewritten to a path is made absolute and moves up; anything else keeps its place (a path
        // left as it is, absolute_redirect off, too).
        const abs = r !== null && code === C_LOCATION && r.startsWith('/') ? redirect!.absolute(r) : null
        if (abs !== null && !abs.startsWith('/')) location = `Location: ${abs}\r\n`
        else rest += `${name}: ${r ?? v}\r\n`
        continue
      }
    }
    rest += `${name}: ${raw.slice(vs, ve)}\r\n`
  }
  if (runEnd > 0) rest += raw.slice(runStart, runEnd)
  if (ex !== null && !exSeen) rest += `Expires: ${ex.expires}\r\n`
  if (ex !== null && !ccSeen) rest += `Cache-Control: ${ex.cacheControl}\r\n`
  const reason = rh.reason === '' ? '' : ` ${rh.reason}`
  return (
    (o.status ? statusLine(o.status) : `HTTP/1.1 ${rh.status}${reason}\r\n`) + `Server: ${o.server}\r\nDate: ${o.date}\r\n` +
    contentType + contentLength + location +
    (o.chunked ? 'Transfer-Encoding: chunked\r\n' : '') +
    (o.upgrade ? `Connection: upgrade\r\nUpgrade: ${o.upgrade}\r\n` : o.keepAlive ? (o.keepAliveHeader ? `Connection: keep-alive\r\nKeep-Alive: timeout=${o.keepAliveHeader}\r\n` : 'Connection: keep-alive\r\n') : 'Connection: close\r\n') +
    (o.vary ? 'Vary: Accept-Encoding\r\n' : '') + (o.carried ?? '') + rest + o.extra + (gzip ? 'Content-Encoding: gzip\r\n' : '') + '\r\n'
  )
}

/** The backend headers an X-Accel-Redirect carries into the response of its target (nginx's `redirect` flag). */
const CARRIED = new Set(['set-cookie', 'content-disposition', 'cache-control', 'expires', 'accept-ranges'])

/**
 * The lines of `rh` that nginx copies to the client's response when it follows X-Accel-Redirect: Set-Cookie,
 * Content-Disposition, Cache-Control, Expires and Accept-Ranges, in the backend's order, hidden or not (nginx's copy
 * ignores proxy_hide_header there). `cookies`: proxy_cookie_domain/_path/_flags, or null.
 */
export function carriedLines(rh: ResponseHead, cookies: ((value: string) => string | null) | null): string {
  let out = ''
  const raw = rh.raw, offs = rh.offsets
  for (let i = 0; i < rh.headerCount; i++) {
    const k = i * 4
    const name = raw.slice(offs[k]!, offs[k + 1]!)
    const lower = name.toLowerCase()
    if (!CARRIED.has(lower)) continue
    const v = raw.slice(offs[k + 2]!, offs[k + 3]!)
    // Set-Cookie goes through proxy_cookie_* here too (nginx's copy handler for it is the rewriting one).
    out += `${name}: ${(cookies !== null && lower === 'set-cookie' ? cookies(v) : null) ?? v}\r\n`
  }
  return out
}

/**
 * Request-target → `$uri`, `$args`, `$request_uri`, as nginx derives them.
 *
 * The normalization is a port of `ngx_http_parse_complex_uri()` (src/http/ngx_http_parse.c): percent-decoding,
 * `//` merged (`merge_slashes on`), `/./` dropped, `/../` resolved, `#fragment` cut. A decoded byte is
 * re-examined in the state the `%` was met in, so `%2F` is a slash and `%2E%2E` a dot-segment, while a decoded
 * `?`, `%` or `#` is a literal byte. Failures are the cases nginx answers 400: a bad `%XX`, `%00`, and `..` that
 * climbs above the root.
 *
 * All strings are latin1 (one char per byte).
 *
 * Per-request cost: one pass over the target. A target without `%`, `#` or a `/`-`.` / `//` pair (the usual case)
 * allocates only the `$uri`/`$args` slices; a complex one decodes into a shared scratch buffer and allocates one
 * string for `$uri`.
 */

/** The parts of a request-target; filled in place by {@link parseTarget} so a request can reuse one object. */
export class Target {
  /** `$uri`: decoded and normalized path. */
  uri = ''
  /** `$args`: the query, undecoded, without `?` and `#fragment`; '' when there is none. */
  args = ''
  /** `$request_uri`: the target from the path on, exactly as sent (absolute-form: without scheme and host). */
  requestUri = ''
  /** `host[:port]` of an absolute-form target, as sent; '' for origin-form. Normalize it like a Host header. */
  host = ''
}

// nginx's `usual[]` table: bytes copied as they are in every state. Not usual: CTLs, space, '#', '%', '+', '.',
// '/', '?' and DEL; every byte >= 0x80 is usual.
const USUAL = new Uint8Array(256)
for (let c = 0x21; c < 256; c++) USUAL[c] = 1
for (const c of [0x23, 0x25, 0x2b, 0x2e, 0x2f, 0x3f, 0x7f]) USUAL[c] = 0

let scratch = Buffer.allocUnsafe(2048)

const S_USUAL = 0
const S_SLASH = 1
const S_DOT = 2
const S_DOT_DOT = 3
const S_QUOTED = 4
const S_QUOTED_SECOND = 5

function hexval(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const l = c | 0x20
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10
  return -1
}

/**
 * Walk back over the `/..` just written (nginx: `u -= 4`, then to the previous `/`).
 * @returns the new write position, or -1 when `..` climbs above the root.
 */
function climb(u: number, start: number): number {
  u -= 4
  for (;;) {
    if (u < start) return -1
    if (scratch[u] === 0x2f) return u + 1
    u--
  }
}

/**
 * Decode and normalize `s[from, to)` (a path that starts with `/`, or with `?` when `emptyPath`), as
 * `ngx_http_parse_complex_uri()`. Sets `out.uri` and `out.args`.
 * @returns false for a request nginx answers with 400.
 */
function parseComplex(s: string, from: number, to: number, emptyPath: boolean, merge: boolean, out: Target): boolean {
  if (scratch.length < to - from + 2) scratch = Buffer.allocUnsafe((to - from + 2) * 2)
  const b = scratch
  let u = 0
  if (emptyPath) b[u++] = 0x2f
  let state = S_USUAL
  let quotedState = S_USUAL
  let decoded = 0
  let p = from
  // nginx reads one byte past the URI (the request line's CR/LF); 0x0a plays that role here.
  let ch = p < to ? s.charCodeAt(p) : 0x0a
  p++
  let argsAt = -1

  while (p <= to) {
    switch (state) {
      case S_USUAL:
        if (USUAL[ch] === 1) {
          b[u++] = ch
          ch = p < to ? s.charCodeAt(p) : 0x0a
          p++
          break
        }
        if (ch === 0x2f) {
          state = S_SLASH
          b[u++] = ch
        } else if (ch === 0x25) {
          quotedState = state
          state = S_QUOTED
        } else if (ch === 0x3f) {
          argsAt = p
          p = to + 1
          break
        } else if (ch === 0x23) {
          p = to + 1
          argsAt = -2
          break
        } else {
          b[u++] = ch
        }
        ch = p < to ? s.charCodeAt(p) : 0x0a
        p++
        break

      case S_SLASH:
        if (USUAL[ch] === 1) {
          state = S_USUAL
          b[u++] = ch
          ch = p < to ? s.charCodeAt(p) : 0x0a
          p++
          break
        }
        if (ch === 0x2f) {
          if (!merge) b[u++] = ch
        } else if (ch === 0x2e) {
          state = S_DOT
          b[u++] = ch
        } else if (ch === 0x25) {
          quotedState = state
          state = S_QUOTED
        } else if (ch === 0x3f) {
          argsAt = p
          p = to + 1
          break
        } else if (ch === 0x23) {
          p = to + 1
          argsAt = -2
          break
        } else {
          state = S_USUAL
          b[u++] = ch
        }
        ch = p < to ? s.charCodeAt(p) : 0x0a
        p++
        break

      case S_DOT:
        if (USUAL[ch] === 1) {
          state = S_USUAL
          b[u++] = ch
          ch = p < to ? s.charCodeAt(p) : 0x0a
          p++
          break
        }
        if (ch === 0x2f) {
          state = S_SLASH
          u--
        } else if (ch === 0x2e) {
          state = S_DOT_DOT
          b[u++] = ch
        } else if (ch === 0x25) {
          quotedState = state
          state = S_QUOTED
        } else if (ch === 0x3f) {
          u--
          argsAt = p
          p = to + 1
          break
        } else if (ch === 0x23) {
          u--
          p = to + 1
          argsAt = -2
          break
        } else {
          state = S_USUAL
          b[u++] = ch
        }
        ch = p < to ? s.charCodeAt(p) : 0x0a
        p++
        break

      case S_DOT_DOT:
        if (USUAL[ch] === 1) {
          state = S_USUAL
          b[u++] = ch
          ch = p < to ? s.charCodeAt(p) : 0x0a
          p++
          break
        }
        if (ch === 0x2f || ch === 0x3f || ch === 0x23) {
          u = climb(u, 0)
          if (u < 0) return false
          if (ch === 0x3f) {
            argsAt = p
            p = to + 1
            break
          }
          if (ch === 0x23) {
            p = to + 1
            argsAt = -2
            break
          }
          state = S_SLASH
        } else if (ch === 0x25) {
          quotedState = state
          state = S_QUOTED
        } else {
          state = S_USUAL
          b[u++] = ch
        }
        ch = p < to ? s.charCodeAt(p) : 0x0a
        p++
        break

      case S_QUOTED: {
        const v = hexval(ch)
        if (v < 0) return false
        decoded = v
        state = S_QUOTED_SECOND
        ch = p < to ? s.charCodeAt(p) : 0x0a
        p++
        break
      }

      case S_QUOTED_SECOND: {
        const v = hexval(ch)
        if (v < 0) return false
        ch = (decoded << 4) + v
        if (ch === 0) return false
        if (ch === 0x25 || ch === 0x23 || ch === 0x3f) {
          // A decoded '%', '#' or '?' is data, never syntax.
          state = S_USUAL
          b[u++] = ch
          ch = p < to ? s.charCodeAt(p) : 0x0a
          p++
          break
        }
        // Re-examine the decoded byte in the state the '%' interrupted.
        state = quotedState
        break
      }
    }
  }

  if (argsAt === -1) {
    // Reached the end of the URI without '?' or '#'.
    if (state === S_QUOTED || state === S_QUOTED_SECOND) return false
    if (state === S_DOT) {
      u--
    } else if (state === S_DOT_DOT) {
      u = climb(u, 0)
      if (u < 0) return false
    }
    out.args = ''
  } else if (argsAt === -2) {
    out.args = ''
  } else {
    // argsAt is the index after '?'; the query ends at '#' or at the end.
    let end = argsAt
    while (end < to && s.charCodeAt(end) !== 0x23) end++
    out.args = s.slice(argsAt, end)
  }
  out.uri = b.toString('latin1', 0, u)
  return true
}

/**
 * Parse a request-target into `$uri`, `$args`, `$request_uri` (and the host of an absolute-form target).
 * Origin-form (`/a/b?x`) and absolute-form (`http://host:port/a?x`) are accepted; `*` and authority-form are not
 * (the caller handles `OPTIONS *` / `CONNECT` before this).
 *
 * @param target the request-target bytes as a latin1 string
 * @param out filled in place
 * @param mergeSlashes nginx `merge_slashes` @default true
 * @returns false when nginx would answer 400 (bad escape, `%00`, `..` above the root, a CTL, space or DEL byte,
 *   a malformed absolute-form)
 */
export function parseTarget(target: string, out: Target, mergeSlashes = true): boolean {
  const n = target.length
  let start = 0
  let emptyPath = false
  out.host = ''

  if (n === 0) return false
  const c0 = target.charCodeAt(0)
  if (c0 !== 0x2f) {
    // absolute-form: scheme "://" host [ ":" port ] [ path-abempty ] [ "?" query ]
    const l0 = c0 | 0x20
    if (l0 < 0x61 || l0 > 0x7a) return false
    let i = 1
    for (; i < n; i++) {
      const c = target.charCodeAt(i)
      const l = c | 0x20
      if ((l >= 0x61 && l <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e) continue
      break
    }
    if (target.charCodeAt(i) !== 0x3a || target.charCodeAt(i + 1) !== 0x2f || target.charCodeAt(i + 2) !== 0x2f) {
      return false
    }
    i += 3
    const hostStart = i
    if (target.charCodeAt(i) === 0x5b) {
      // IP-literal: unreserved, sub-delims and ':' up to ']'
      for (i++; i < n; i++) {
        const c = target.charCodeAt(i)
        if (c === 0x5d) break
        const l = c | 0x20
        if ((l >= 0x61 && l <= 0x7a) || (c >= 0x30 && c <= 0x39) || ':-._~!$&\'()*+,;='.indexOf(target[i]) >= 0) {
          continue
        }
        return false
      }
      if (i === n) return false
      i++
    } else {
      for (; i < n; i++) {
        const c = target.charCodeAt(i)
        const l = c | 0x20
        if ((l >= 0x61 && l <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d) continue
        break
      }
    }
    if (i < n && target.charCodeAt(i) === 0x3a) {
      for (i++; i < n; i++) {
        const c = target.charCodeAt(i)
        if (c < 0x30 || c > 0x39) break
      }
    }
    out.host = target.slice(hostStart, i)
    if (i === n) {
      // "http://host": nginx uses one "/" of "://" as the URI.
      out.uri = '/'
      out.args = ''
      out.requestUri = '/'
      return true
    }
    const c = target.charCodeAt(i)
    if (c === 0x3f) emptyPath = true
    else if (c !== 0x2f) return false
    start = i
  }

  // One pass: validate bytes and find out whether the slow path is needed.
  // The flags nginx's request-line parser sets: `complex_uri` for "//", "/." and '#', `quoted_uri` for '%' before
  // the query. Either sends the path through ngx_http_parse_complex_uri().
  let complex = emptyPath
  let q = emptyPath ? start : -1
  let prev = 0x2f
  for (let i = start + 1; i < n; i++) {
    const c = target.charCodeAt(i)
    if (c <= 0x20 || c === 0x7f || c > 0xff) return false
    if (q < 0) {
      if (c === 0x3f) q = i
      else if (c === 0x25 || c === 0x23) complex = true
      else if (prev === 0x2f && (c === 0x2f || c === 0x2e)) complex = true
    } else if (c === 0x23) {
      complex = true
    }
    prev = c
  }

  out.requestUri = start === 0 ? target : target.slice(start)
  if (!complex) {
    if (q < 0) {
      out.uri = out.requestUri
      out.args = ''
    } else {
      out.uri = target.slice(start, q)
      out.args = target.slice(q + 1)
    }
    return true
  }
  return parseComplex(target, start, n, emptyPath, mergeSlashes, out)
}

const dyupsTarget = new Target()

/**
 * The path of a dyups interface request, as segments (docs/api.md#general-rules): decoded (`%2F` is `/`), slashes merged,
 * dot-segments resolved, query and fragment dropped, split on `/`; a trailing slash adds no segment.
 * `/upstream/my%20host` → `['upstream', 'my host']`, `/` → `[]`.
 *
 * @returns null when the target is one nginx answers with 400
 */
export function decodeForDyups(target: string): string[] | null {
  if (!parseTarget(target, dyupsTarget, true)) return null
  return splitPath(dyupsTarget.uri)
}

/** `/a/b/` → `['a', 'b']`; empty segments (only possible with `merge_slashes off`) are dropped. */
export function splitPath(uri: string): string[] {
  const out: string[] = []
  let from = 0
  const n = uri.length
  while (from < n) {
    let to = uri.indexOf('/', from)
    if (to < 0) to = n
    if (to > from) out.push(uri.slice(from, to))
    from = to + 1
  }
  return out
}

// nginx's NGX_ESCAPE_URI set: control bytes, space, `#`, `%`, `?`, DEL and every byte >= 0x80.
const ESCAPE_URI = new Uint8Array(256)
for (let c = 0; c < 256; c++) ESCAPE_URI[c] = c < 0x21 || c === 0x23 || c === 0x25 || c === 0x3f || c >= 0x7f ? 1 : 0
const HEX_UPPER = '0123456789ABCDEF'

/**
 * `ngx_escape_uri(…, NGX_ESCAPE_URI)`: how nginx writes a normalized `$uri` back into a request line (proxy_pass
 * with a URI part). Returns `uri` itself when nothing needs escaping, the usual case.
 */
export function escapeUri(uri: string): string {
  let i = 0
  const n = uri.length
  while (i < n && ESCAPE_URI[uri.charCodeAt(i)] === 0) i++
  if (i === n) return uri
  let out = uri.slice(0, i)
  for (; i < n; i++) {
    const c = uri.charCodeAt(i)
    out += ESCAPE_URI[c] === 0 ? uri[i] : `%${HEX_UPPER[c >> 4]}${HEX_UPPER[c & 15]}`
  }
  return out
}

/**
 * nginx's ngx_http_parse_unsafe_uri (X-Accel-Redirect's URI part): `%XX` escapes are decoded, and a URI with a NUL,
 * a leading `../` or a `/../` segment (or ending in `/..`), before or after decoding, is unsafe.
 * @returns the URI as the request goes on with it, or null when it is unsafe
 */
export function safeUri(uri: string): string | null {
  if (unsafe(uri)) return null
  if (!uri.includes('%')) return uri
  const decoded = uri.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
  return unsafe(decoded) ? null : decoded
}

function unsafe(uri: string): boolean {
  if (uri === '' || uri.charCodeAt(0) === 0) return true
  if (uri.startsWith('..') && (uri.length === 2 || uri[2] === '/')) return true
  for (let i = 0; i < uri.length; i++) {
    const c = uri.charCodeAt(i)
    if (c === 0) return true
    if (c === 0x2f && uri.length - i > 2 && uri[i + 1] === '.' && uri[i + 2] === '.' && (uri.length - i === 3 || uri[i + 3] === '/')) return true
  }
  return false
}

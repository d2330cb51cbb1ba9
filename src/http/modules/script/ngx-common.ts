/**
 * The parts of the scripting API that need nothing of the worker: the response a script builds, query-string
 * decoding, header pairs, request bodies and nginx's numeric log levels. The JavaScript engine's thread
 * (js-engine.ts) imports this file alone; ngx-api.ts re-exports it.
 *
 * Strings are byte strings here as everywhere in dyups: one char per byte (latin1).
 */
import type { Level } from '../../../log.js'
import type { Responder } from '../../lib/context.js'
import type { Request } from '../../lib/request.js'

/** nginx's numeric log levels (ngx.ERR, ngx.INFO…) to ours; STDERR and EMERG alike are `emerg`. */
const LEVEL_BY_NUMBER: readonly Level[] = ['emerg', 'emerg', 'alert', 'crit', 'error', 'warn', 'notice', 'info', 'debug']

export function levelOf(n: number): Level | null {
  return Number.isInteger(n) && n >= 0 && n < LEVEL_BY_NUMBER.length ? LEVEL_BY_NUMBER[n]! : null
}

/** Response header names scripts may not set: the response writer owns them. */
const OWNED = new Set(['content-length', 'connection', 'transfer-encoding', 'date', 'server', 'keep-alive'])

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * The response a script builds: status, headers, body parts; sent once, whole, with an exact Content-Length
 * (scripts' output is buffered: nothing reaches the client before the handler ends).
 */
export class ScriptResponse {
  /** 0 until the script sets one: 200 then. */
  status = 0
  private readonly parts: string[] = []
  private size = 0
  /** Names as the script wrote them (`_` → `-`), with values; Content-Type is kept apart. */
  private headers: [string, string][] = []
  contentType: string | undefined = undefined
  /** The answer went out (or the connection was told to close). */
  sent = false

  get bodySize(): number {
    return this.size
  }

  write(s: string): void {
    if (this.sent || s.length === 0) return
    this.parts.push(s)
    this.size += s.length
  }

  /** Replaces every value of `name` (none: removes it). @returns false for a name that is not an HTTP token */
  setHeader(rawName: string, values: readonly string[]): boolean {
    const name = rawName.replace(/_/g, '-')
    if (!TOKEN.test(name)) return false
    const lower = name.toLowerCase()
    if (lower === 'content-type') {
      this.contentType = values.length === 0 ? undefined : clean(values[values.length - 1]!)
      return true
    }
    if (OWNED.has(lower)) return true
    this.headers = this.headers.filter(([n]) => n.toLowerCase() !== lower)
    const shown = lower === 'location' ? 'Location' : name
    for (const v of values) this.headers.push([shown, clean(v)])
    return true
  }

  getHeader(rawName: string): string[] {
    const lower = rawName.replace(/_/g, '-').toLowerCase()
    if (lower === 'content-type') return this.contentType === undefined ? [] : [this.contentType]
    const out: string[] = []
    for (const [n, v] of this.headers) if (n.toLowerCase() === lower) out.push(v)
    return out
  }

  /** Sends status (0: 200), headers and the body written so far. */
  send(c: Responder, status = this.status): void {
    if (this.sent) return
    this.sent = true
    const body = this.parts.length === 1 ? this.parts[0]! : this.parts.join('')
    c.sendLocal(status > 0 ? status : 200, body, this.headerList(c), this.contentType)
  }

  /**
   * Ends the request as `ngx.exit(status)` / `r.return(status)` without a body do: after output, with what was
   * written; a status of 300 and more with nothing written, nginx's page for it; otherwise an empty body.
   */
  exit(c: Responder, status: number): void {
    if (this.sent) return
    if (this.size > 0 || status < 200) return this.send(c, this.status)
    if (status < 300) return this.send(c, status)
    this.sent = true
    const headers = this.headerList(c)
    if (headers === null) c.finishLocal(status)
    else c.sendLocal(status, null, headers)
  }

  /** A failed script: nginx's page for `status`, whatever was written. */
  fail(c: Responder, status = 500): void {
    if (this.sent) return
    this.sent = true
    c.finishLocal(status)
  }

  private headerList(_c: Responder): [string, string][] | null {
    // A relative Location is made absolute by sendLocal (absolute_redirect on), as for `return`.
    return this.headers.length === 0 ? null : this.headers
  }
}

/** A header value cannot end the head early: CR and LF are sent escaped, as OpenResty does. */
function clean(v: string): string {
  return v.indexOf('\r') < 0 && v.indexOf('\n') < 0 ? v : v.replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}

/** `%XX` → the byte; `+` → space when `plus`; a `%` not followed by two hex digits stays as it is. */
export function unescapeUri(s: string, plus: boolean): string {
  if (s.indexOf('%') < 0 && (!plus || s.indexOf('+') < 0)) return s
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i)
    if (ch === 0x25 && i + 2 < s.length && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16))
      i += 2
    } else if (ch === 0x2b && plus) {
      out += ' '
    } else {
      out += s[i]
    }
  }
  return out
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}

/**
 * The query string as `[name, value]` pairs, decoded (`+` is a space); `value` is true for an argument without
 * `=`. Empty names are skipped; at most `max` pairs (0: no limit).
 */
export function parseArgs(args: string, max: number): Array<[string, string | true]> {
  const out: Array<[string, string | true]> = []
  if (args === '') return out
  for (const part of args.split('&')) {
    if (part === '') continue
    if (max > 0 && out.length >= max) break
    const eq = part.indexOf('=')
    if (eq === 0) continue
    if (eq < 0) out.push([unescapeUri(part, true), true])
    else out.push([unescapeUri(part.slice(0, eq), true), unescapeUri(part.slice(eq + 1), true)])
  }
  return out
}

/** The request's header fields as `[name, value]` pairs, in order, at most `max` (0: no limit). */
export function headerPairs(req: Pick<Request, 'headers'>, max: number): Array<[string, string]> {
  const h = req.headers
  const out: Array<[string, string]> = []
  for (let i = 0; i + 1 < h.length; i += 2) {
    if (max > 0 && out.length >= max) break
    out.push([h[i]!, h[i + 1]!])
  }
  return out
}

/** A request body as scripts see it: the bytes as a latin1 string, or null when there was none. */
export function bodyText(req: Pick<Request, 'body'>): string | null {
  return req.body === null ? null : req.body.toString('latin1')
}

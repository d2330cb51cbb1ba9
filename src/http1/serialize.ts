/**
 * Writing heads: status lines with nginx's reason phrases, header blocks from flat `[name, value, …]` arrays, whole
 * request and response heads as one latin1 string (write it with `socket.write(s, 'latin1')`, or headBuffer()).
 *
 * Status lines are byte-for-byte what nginx's header filter writes, reason spellings included ("302 Moved
 * Temporarily", "405 Not Allowed", "504 Gateway Time-out"); a code nginx has no text for gets "HTTP/1.1 NNN "
 * with an empty reason, as nginx sends it. nginx's internal codes 494–497 go out as 400.
 *
 * Nothing here validates: names and values come from the parsers (already checked) or from the configuration,
 * which checks them once with isToken() / isFieldValue() when it is loaded, not per request.
 */
import { FIELD_VALUE, TOKEN } from './chars.js'

/**
 * Reason phrases: nginx's ngx_http_status_lines, plus 100/101 (nginx writes those itself), plus nginx's own codes
 * with the titles of their error pages (494–497 are sent as 400; 499 is only logged, the client is gone).
 */
export const STATUS_TEXT: Readonly<Record<number, string>> = Object.freeze({
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Time-out',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Large',
  415: 'Unsupported Media Type',
  416: 'Requested Range Not Satisfiable',
  421: 'Misdirected Request',
  429: 'Too Many Requests',
  494: 'Request Header Or Cookie Too Large',
  495: 'The SSL certificate error',
  496: 'No required SSL certificate was sent',
  497: 'The plain HTTP request was sent to HTTPS port',
  499: 'Client Closed Request',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Time-out',
  505: 'HTTP Version Not Supported',
  507: 'Insufficient Storage',
})

/** The status sent on the wire for `status`: nginx answers its internal 494–497 with 400. */
export function wireStatus(status: number): number {
  return status >= 494 && status <= 497 ? 400 : status
}

/** "HTTP/1.1 NNN Reason\r\n" for 100–599, built once. */
const STATUS_LINES: string[] = []
for (let s = 100; s < 600; s++) {
  const w = wireStatus(s)
  STATUS_LINES[s] = `HTTP/1.1 ${w} ${STATUS_TEXT[w] ?? ''}\r\n`
}

/**
 * The status line with its CRLF.
 * @param status 100–999
 * @param reason overrides the table, e.g. a backend's own phrase; '' is allowed
 * @default reason from STATUS_TEXT, as nginx
 * @example statusLine(504) // 'HTTP/1.1 504 Gateway Time-out\r\n'
 */
export function statusLine(status: number, reason?: string): string {
  if (reason === undefined) {
    const s = STATUS_LINES[status]
    if (s !== undefined) return s
    return `HTTP/1.1 ${status} \r\n`
  }
  return `HTTP/1.1 ${status} ${reason}\r\n`
}

/** `Name: value\r\n` for each pair of a flat `[name, value, …]` array. */
export function formatHeaders(headers: readonly string[]): string {
  let s = ''
  for (let i = 0; i + 1 < headers.length; i += 2) s += headers[i] + ': ' + headers[i + 1] + '\r\n'
  return s
}

/**
 * A whole response head, blank line included.
 * @param headers flat `[name, value, …]`, written in order
 * @param reason see statusLine()
 */
export function formatResponseHead(status: number, headers: readonly string[], reason?: string): string {
  return statusLine(status, reason) + formatHeaders(headers) + '\r\n'
}

/**
 * A whole request head, blank line included: `METHOD target HTTP/1.x`, then the headers in order.
 * @param versionMinor 1 for HTTP/1.1 (keepalive to backends), 0 for HTTP/1.0 (nginx's proxy_http_version default)
 */
export function formatRequestHead(method: string, target: string, headers: readonly string[], versionMinor = 1): string {
  return method + ' ' + target + (versionMinor === 0 ? ' HTTP/1.0\r\n' : ' HTTP/1.1\r\n') + formatHeaders(headers) + '\r\n'
}

/** A head string as bytes, one byte per char. */
export function headBuffer(head: string): Buffer {
  return Buffer.from(head, 'latin1')
}

/** A non-empty token (RFC 9110 §5.6.2): what a header name or method must be. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 0xff || TOKEN[c] === 0) return false
  }
  return true
}

/**
 * A valid header value as latin1: field-vchar, SP, HTAB, obs-text; no CR, LF, NUL or other CTL (what would let a
 * value split the head). Leading or trailing whitespace is allowed here; the writer sends it as given.
 */
export function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 0xff || FIELD_VALUE[c] === 0) return false
  }
  return true
}

let dateSecond = -1
let dateText = ''

/**
 * The IMF-fixdate for the Date header (`Sun, 06 Nov 1994 08:49:37 GMT`), formatted once per second like nginx's
 * cached time.
 * @param ms milliseconds since the epoch
 * @default Date.now()
 */
export function httpDate(ms: number = Date.now()): string {
  const sec = Math.floor(ms / 1000)
  if (sec !== dateSecond) {
    dateSecond = sec
    dateText = new Date(sec * 1000).toUTCString()
  }
  return dateText
}

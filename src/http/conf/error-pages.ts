/**
 * nginx's built-in error and redirect pages, byte for byte (src/http/ngx_http_special_response.c), with dyups in
 * the signature line: `<hr><center>dyups/0.1.0</center>` with `server_tokens on`, `<hr><center>dyups</center>`
 * with `off`. nginx's MSIE padding (six comment lines for bodies sent to old IE) is never added.
 *
 * Every body is built once per {@link ErrorPages}; per request a page is one array read, no allocation.
 */

const CRLF = '\r\n'

/** Status → title, as nginx writes it in `<title>` and `<h1>`. */
const TITLES: Readonly<Record<number, string>> = {
  301: '301 Moved Permanently',
  302: '302 Found',
  303: '303 See Other',
  307: '307 Temporary Redirect',
  308: '308 Permanent Redirect',
  400: '400 Bad Request',
  401: '401 Authorization Required',
  402: '402 Payment Required',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Not Allowed',
  406: '406 Not Acceptable',
  408: '408 Request Time-out',
  409: '409 Conflict',
  410: '410 Gone',
  411: '411 Length Required',
  412: '412 Precondition Failed',
  413: '413 Request Entity Too Large',
  414: '414 Request-URI Too Large',
  415: '415 Unsupported Media Type',
  416: '416 Requested Range Not Satisfiable',
  421: '421 Misdirected Request',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  501: '501 Not Implemented',
  502: '502 Bad Gateway',
  503: '503 Service Temporarily Unavailable',
  504: '504 Gateway Time-out',
  505: '505 HTTP Version Not Supported',
  507: '507 Insufficient Storage',
}

/** nginx's own 49x codes: answered as 400 with an explanation line under the heading. */
const NGINX_400: Readonly<Record<number, string>> = {
  494: 'Request Header Or Cookie Too Large',
  495: 'The SSL certificate error',
  496: 'No required SSL certificate was sent',
  497: 'The plain HTTP request was sent to HTTPS port',
}

function head(status: number): string | null {
  const title = TITLES[status]
  if (title !== undefined) {
    return `<html>${CRLF}<head><title>${title}</title></head>${CRLF}<body>${CRLF}<center><h1>${title}</h1></center>${CRLF}`
  }
  const why = NGINX_400[status]
  if (why !== undefined) {
    return (
      `<html>${CRLF}<head><title>400 ${why}</title></head>${CRLF}<body>${CRLF}` +
      `<center><h1>400 Bad Request</h1></center>${CRLF}<center>${why}</center>${CRLF}`
    )
  }
  // 498 (request canceled) shows the 404 page, as in nginx.
  if (status === 498) return head(404)
  return null
}

/**
 * Whether nginx drops keep-alive after sending this special response (ngx_http_special_response_handler):
 * the request may be unread or malformed, so the connection cannot be trusted for another one.
 */
export function closesConnection(status: number): boolean {
  switch (status) {
    case 400:
    case 413:
    case 414:
    case 494:
    case 495:
    case 496:
    case 497:
    case 500:
    case 501:
      return true
    default:
      return false
  }
}

/** Built bodies for one product/version string; keep one per configuration. */
export class ErrorPages {
  // Indexed by status - 300; [0] = server_tokens off, [1] = on. null: no page (204, 304, 499, unknown codes).
  private readonly off: Array<Buffer | null> = new Array(300).fill(null)
  private readonly on: Array<Buffer | null> = new Array(300).fill(null)

  /**
   * @param version shown with `server_tokens on`, e.g. `0.1.0` → `dyups/0.1.0`
   * @param product the name in the signature line @default 'dyups'
   */
  constructor(version: string, product = 'dyups') {
    const tailOff = `<hr><center>${product}</center>${CRLF}</body>${CRLF}</html>${CRLF}`
    const tailOn = `<hr><center>${product}/${version}</center>${CRLF}</body>${CRLF}</html>${CRLF}`
    for (let s = 300; s < 600; s++) {
      const h = head(s)
      if (h === null) continue
      this.off[s - 300] = Buffer.from(h + tailOff, 'latin1')
      this.on[s - 300] = Buffer.from(h + tailOn, 'latin1')
    }
  }

  /**
   * The HTML body nginx sends for `status` (as the handler was asked to finalize with it, so 494 rather than 400).
   * Send it with `Content-Type: text/html` and the status from http1's `wireStatus` (494–497 go out as 400).
   * @returns a shared Buffer (do not modify), or null when nginx sends no body for this code (e.g. 204, 499).
   */
  body(status: number, serverTokens: boolean): Buffer | null {
    if (status < 300 || status >= 600) return null
    return (serverTokens ? this.on : this.off)[status - 300]
  }
}

/**
 * The request head sent to a backend, as nginx's proxy module builds it: the request line with
 * `proxy_http_version` (1.0 by default), then the `proxy_set_header` headers (the location's own first, then
 * nginx's defaults not overridden: `Host $proxy_host`, `Connection close`, the body length), empty values left out,
 * then every client header whose name is not among the set ones.
 */

/** Header sets precomputed per location: names lowercased once, so a request only compares strings. */
export class HeaderPlan {
  /** Lowercased names of every header the location sets (user's and defaults); client headers with these are dropped. */
  readonly skip: ReadonlySet<string>

  /**
   * @param names the set headers in send order (user's first, then defaults), as written
   */
  constructor(readonly names: readonly string[]) {
    this.skip = new Set(names.map((n) => n.toLowerCase()).concat(HOP_BY_HOP))
  }
}

/** bodyLength of buildRequestHead for a body of unknown length, sent chunked (proxy_request_buffering off). */
export const CHUNKED_BODY = -2

/** Always handled by the proxy itself, never copied from the client. */
const HOP_BY_HOP = ['content-length', 'transfer-encoding', 'te', 'keep-alive', 'expect', 'upgrade', 'connection', 'host']

/**
 * @param values the evaluated value of each `plan.names[i]`; '' leaves the header out
 * @param clientHeaders the client's headers, flat [name, value, …]
 * @param bodyLength the body sent, -1 for none, CHUNKED_BODY for a body streamed chunked
 */
export function buildRequestHead(
  method: string,
  uri: string,
  version: '1.0' | '1.1',
  plan: HeaderPlan,
  values: readonly string[],
  clientHeaders: readonly string[],
  bodyLength: number,
): string {
  let h = `${method} ${uri} HTTP/${version}\r\n`
  const names = plan.names
  for (let i = 0; i < names.length; i++) {
    const v = values[i]!
    if (v !== '') h += `${names[i]}: ${v}\r\n`
  }
  if (bodyLength >= 0) h += `Content-Length: ${bodyLength}\r\n`
  else if (bodyLength === CHUNKED_BODY) h += 'Transfer-Encoding: chunked\r\n'
  const skip = plan.skip
  for (let i = 0; i < clientHeaders.length; i += 2) {
    const name = clientHeaders[i]!
    if (skip.has(name.toLowerCase())) continue
    h += `${name}: ${clientHeaders[i + 1]}\r\n`
  }
  return h + '\r\n'
}

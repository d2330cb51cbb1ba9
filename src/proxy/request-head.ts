/**
 * The request head sent to a backend, as nginx's proxy module builds it: the request line with
 * `proxy_http_version` (1.0 by default), then the `proxy_set_header` headers (the location's own first, then
 * nginx's defaults not overridden: `Host $proxy_host`, `Connection close`, the body length), empty values left out,
 * then every client header whose name is not among the set ones.
 */

import type { MessageHead } from '../http1/index.js'

/** Header sets precomputed per location: names lowercased once, so a request only compares strings. */
export class HeaderPlan {
  /** Lowercased names of every header the location sets (user's and defaults); client headers with these are dropped. */
  readonly skip: ReadonlySet<string>
  /** The same names by length, to match a client's header in its head without cutting a string (see skips()). */
  private readonly byLen: Array<string[] | undefined> = []

  /**
   * @param names the set headers in send order (user's first, then defaults), as written
   */
  constructor(readonly names: readonly string[]) {
    this.skip = new Set(names.map((n) => n.toLowerCase()).concat(HOP_BY_HOP))
    for (const n of this.skip) (this.byLen[n.length] ??= []).push(n)
  }

  /** Whether the name raw[s, e) (any case) is one of `skip`. */
  skips(raw: string, s: number, e: number): boolean {
    const list = this.byLen[e - s]
    if (list === undefined) return false
    for (let k = 0; k < list.length; k++) {
      const name = list[k]!
      let j = 0
      for (; j < name.length; j++) {
        let c = raw.charCodeAt(s + j)
        if (c >= 0x41 && c <= 0x5a) c |= 0x20
        if (c !== name.charCodeAt(j)) break
      }
      if (j === name.length) return true
    }
    return false
  }
}

/** bodyLength of buildRequestHead for a body of unknown length, sent chunked (proxy_request_buffering off). */
export const CHUNKED_BODY = -2

/** Always handled by the proxy itself, never copied from the client. */
const HOP_BY_HOP = ['content-length', 'transfer-encoding', 'te', 'keep-alive', 'expect', 'upgrade', 'connection', 'host']

const CR = 0x0d
const SP = 0x20

/**
 * Hand-written for speed (it runs for every proxied request): the client's header lines that go on are cut from its
 * head in runs — consecutive lines already written `Name: value` CRLF as one slice — instead of name and value
 * strings joined again.
 * @param values the evaluated value of each `plan.names[i]`; '' leaves the header out
 * @param client the client's request head (its headers in order)
 * @param bodyLength the body sent, -1 for none, CHUNKED_BODY for a body streamed chunked
 * @param copyClient whether the client's header lines follow (proxy_pass_request_headers)
 */
export function buildRequestHead(
  method: string,
  uri: string,
  version: '1.0' | '1.1',
  plan: HeaderPlan,
  values: readonly string[],
  client: MessageHead,
  bodyLength: number,
  copyClient = true,
): string {
  let h = `${method} ${uri} HTTP/${version}\r\n`
  const names = plan.names
  for (let i = 0; i < names.length; i++) {
    const v = values[i]!
    if (v !== '') h += `${names[i]}: ${v}\r\n`
  }
  if (bodyLength >= 0) h += `Content-Length: ${bodyLength}\r\n`
  else if (bodyLength === CHUNKED_BODY) h += 'Transfer-Encoding: chunked\r\n'
  const raw = client.raw, offs = client.offsets, n = copyClient ? client.headerCount : 0
  // A run of lines copied as they are: raw[runStart, runEnd).
  let runStart = 0, runEnd = -1
  for (let i = 0; i < n; i++) {
    const k = i * 4
    const ls = offs[k]!, ne = offs[k + 1]!, vs = offs[k + 2]!, ve = offs[k + 3]!
    if (plan.skips(raw, ls, ne)) continue
    // The parser took the line up to its CRLF: one space after the colon and nothing after the value is `Name: value`.
    if (vs === ne + 2 && raw.charCodeAt(ne + 1) === SP && raw.charCodeAt(ve) === CR) {
      if (ls !== runEnd) {
        if (runEnd > 0) h += raw.slice(runStart, runEnd)
        runStart = ls
      }
      runEnd = ve + 2
      continue
    }
    if (runEnd > 0) {
      h += raw.slice(runStart, runEnd)
      runEnd = -1
    }
    h += `${raw.slice(ls, ne)}: ${raw.slice(vs, ve)}\r\n`
  }
  if (runEnd > 0) h += raw.slice(runStart, runEnd)
  return h + '\r\n'
}

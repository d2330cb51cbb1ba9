/**
 * One request's state: what variables read (VarSource), what the access log writes, and what handlers fill in.
 * One object per request; its fields are plain so V8 keeps one shape for all of them.
 */
import type { Balancer } from '../../balancer/index.js'
import type { RequestHead } from '../../http1/index.js'
import { VarSourceFields, type VarSource } from './variables.js'

/**
 * `Loc` and `Srv` are the compiled location and server configuration (conf/types.ts names the pair `HttpRequest`):
 * generic here so that a module can take the request without reaching the whole configuration.
 */
export class Request<Loc = unknown, Srv = unknown> extends VarSourceFields implements VarSource {
  head: RequestHead
  server: Srv | null = null
  loc: Loc | null = null
  keepAlive: boolean
  /** The response head went out: errors now end the connection instead of sending a page. */
  headerSent = false
  versionMinor: number
  /** A rewrite changed `$uri` since the location was last chosen (nginx's r->uri_changed). */
  uriChanged = false
  /** `$uri` is no longer the client's: the proxy sends it instead of the request line's target. */
  rewritten = false
  /** A rewrite `break` kept the request in its location: proxy_pass ignores its URI part (nginx's valid_location). */
  locationBypassed = false
  /** URI changes and internal redirects left (nginx's uri_changes, NGX_HTTP_MAX_URI_CHANGES + 1); none left is a 500. */
  uriChanges = 11
  /** nginx's r->err_status: the status an error page's answer goes out with (0: its own). */
  errStatus = 0
  /** An error page was followed (recursive_error_pages off): further errors get the standard page. */
  errorPage = false
  /** A `return` redirect's Location, kept for the error page that answers it instead. */
  location: string | null = null
  /** An intercepted 401's WWW-Authenticate, sent with the error page that replaces it (as nginx). */
  wwwAuthenticate: string | null = null
  /** Header lines an X-Accel-Redirect carried from the backend's answer into the response of its target. */
  carried = ''
  /** The backend's Content-Type an X-Accel-Redirect carried: the type of its target's answer unless that sets one. */
  carriedType: string | null = null
  /** try_files matched a file under the alias of a regex location: the alias gets `$uri` appended. */
  addUriToAlias = false
  /**
   * The group proxy_pass chose when the location was found, before the body was read: a group deleted or replaced
   * while the body comes in still serves this request (with its retries).
   */
  pinnedGroup: Balancer | null = null
  /** The proxy_pass that pinned it: another location's (after an error page's redirect) looks its own group up. */
  pinnedFor: object | null = null
  /** limit_conn: the zones and slots this request counts in until it ends (limit-conn.ts); null: none. */
  limitConnHeld: Array<object | number> | null = null
  /** See {@link answerTime}; -1 until it is first read. */
  private answerMs = -1

  constructor(head: RequestHead, slots: number) {
    super()
    this.head = head
    this.method = head.method
    this.versionMinor = head.versionMinor
    this.protocol = head.versionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1'
    this.host = head.host ?? ''
    this.keepAlive = head.keepAlive
    this.startMsec = Date.now()
    if (slots > 0) this.sets = new Array(slots)
  }

  /**
   * The time (ms since the epoch) the answer's head shows: read once, at the first call, so that Date and Expires
   * agree (Expires − Date is exactly the max-age), as they do in nginx, whose header filters read one cached time.
   */
  answerTime(): number {
    if (this.answerMs < 0) this.answerMs = Date.now()
    return this.answerMs
  }

  /** `$request`, made when first read (most requests are never logged with it). */
  private line: string | null = null

  get requestLine(): string {
    return (this.line ??= `${this.head.method} ${this.head.target} ${this.protocol}`)
  }

  /** A request refused before nginx would have its request line (an HTTP/2 header list): `$request` is empty. */
  set requestLine(v: string) {
    this.line = v
  }

  /** The client's headers, flat: cut from the head only when something reads them by name. */
  get headers(): readonly string[] {
    return this.head.headers
  }

  /** The next attempt starts another upstream (after an internal redirect): ` : ` before it, as nginx. */
  upstreamAgain = false

  /** `$upstream_*` so far (see upstreamAttempt). */
  private upAddr = ''
  private upStatus = ''
  private upConnect = ''
  private upResponse = ''
  private upHeader = ''
  private upReceived = ''
  private upSent = ''
  private upLength = ''
  /** The first attempt, kept as numbers until a variable reads it: formatting it costs more than most logs need. */
  private firstPending = false
  private firstAddr = ''
  private firstStatus = 0
  private firstConnectMs = 0
  private firstResponseMs = 0
  private firstHeaderMs = 0
  private firstReceived = 0
  private firstSent = 0
  private firstLength = 0

  get upstreamAddr(): string {
    if (this.firstPending) this.settle()
    return this.upAddr
  }

  get upstreamStatus(): string {
    if (this.firstPending) this.settle()
    return this.upStatus
  }

  get upstreamConnectTime(): string {
    if (this.firstPending) this.settle()
    return this.upConnect
  }

  get upstreamResponseTime(): string {
    if (this.firstPending) this.settle()
    return this.upResponse
  }

  get upstreamHeaderTime(): string {
    if (this.firstPending) this.settle()
    return this.upHeader
  }

  get upstreamBytesReceived(): string {
    if (this.firstPending) this.settle()
    return this.upReceived
  }

  get upstreamBytesSent(): string {
    if (this.firstPending) this.settle()
    return this.upSent
  }

  get upstreamResponseLength(): string {
    if (this.firstPending) this.settle()
    return this.upLength
  }

  /**
   * Adds one attempt to the $upstream_* lists, nginx's way: `, ` between attempts, ` : ` between upstreams.
   * `headerMs`: until its response head, -1 when none came; `received`, `sent`: bytes read from and written to the
   * server in the attempt; `length`: its response body's.
   */
  upstreamAttempt(addr: string, status: number, connectMs: number, responseMs: number, headerMs = -1, received = 0, sent = 0, length = 0): void {
    if (this.upAddr === '' && !this.firstPending) {
      this.firstPending = true
      this.firstAddr = addr
      this.firstStatus = status
      this.firstConnectMs = connectMs
      this.firstResponseMs = responseMs
      this.firstHeaderMs = headerMs
      this.firstReceived = received
      this.firstSent = sent
      this.firstLength = length
      this.upstreamAgain = false
      return
    }
    if (this.firstPending) this.settle()
    this.append(this.upstreamAgain ? ' : ' : ', ', addr, status, connectMs, responseMs, headerMs, received, sent, length)
    this.upstreamAgain = false
  }

  /** Formats the first attempt. */
  private settle(): void {
    this.firstPending = false
    this.append('', this.firstAddr, this.firstStatus, this.firstConnectMs, this.firstResponseMs, this.firstHeaderMs, this.firstReceived, this.firstSent, this.firstLength)
  }

  private append(sep: string, addr: string, status: number, connectMs: number, responseMs: number, headerMs: number, received: number, sent: number, length: number): void {
    this.upAddr += sep + addr
    this.upStatus += sep + (status > 0 ? String(status) : '-')
    this.upConnect += sep + (connectMs >= 0 ? (connectMs / 1000).toFixed(3) : '-')
    this.upResponse += sep + (responseMs >= 0 ? (responseMs / 1000).toFixed(3) : '-')
    this.upHeader += sep + (headerMs >= 0 ? (headerMs / 1000).toFixed(3) : '-')
    // nginx writes these three as numbers for every attempt, 0 for one that got nothing.
    this.upReceived += sep + String(received)
    this.upSent += sep + String(sent)
    this.upLength += sep + String(length)
  }
}

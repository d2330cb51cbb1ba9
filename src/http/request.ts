/**
 * One request's state: what variables read (VarSource), what the access log writes, and what handlers fill in.
 * One object per request; its fields are plain so V8 keeps one shape for all of them.
 */
import type { RequestHead } from '../http1/index.js'
import type { LocConf, ServerConf } from './conf.js'
import { BasicVarSource } from './variables.js'

export class Request extends BasicVarSource {
  head: RequestHead
  server: ServerConf | null = null
  loc: LocConf | null = null
  keepAlive: boolean
  /** The response head went out: errors now end the connection instead of sending a page. */
  headerSent = false
  /** The request body, read whole (null: none). */
  body: Buffer | null = null
  versionMinor: number
  /** Internal redirects left before nginx's "cycle" error (NGX_HTTP_MAX_URI_CHANGES + 1). */
  uriChanges = 11
  /** try_files matched a file under the alias of a regex location: the alias gets `$uri` appended. */
  addUriToAlias = false

  constructor(head: RequestHead, slots: number) {
    super()
    this.head = head
    this.method = head.method
    this.versionMinor = head.versionMinor
    this.protocol = head.versionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1'
    this.requestLine = `${head.method} ${head.target} ${this.protocol}`
    this.headers = head.headers
    this.host = head.host ?? ''
    this.keepAlive = head.keepAlive
    this.startMsec = Date.now()
    if (slots > 0) this.sets = new Array(slots)
  }

  /** Adds one attempt to the $upstream_* lists, nginx's way: `, ` between attempts. */
  upstreamAttempt(addr: string, status: number, connectMs: number, responseMs: number): void {
    const sep = this.upstreamAddr === '' ? '' : ', '
    this.upstreamAddr += sep + addr
    this.upstreamStatus += sep + (status > 0 ? String(status) : '-')
    this.upstreamConnectTime += sep + (connectMs >= 0 ? (connectMs / 1000).toFixed(3) : '-')
    this.upstreamResponseTime += sep + (responseMs >= 0 ? (responseMs / 1000).toFixed(3) : '-')
  }
}

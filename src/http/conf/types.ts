/**
 * The compiled request-path configuration: what a worker consults per request. Built once per configuration
 * (compile.ts), then read-only.
 */
import type { HeaderPlan, ProxySettings, TempPath } from '../../proxy/index.js'
import type { AccessRules } from '../modules/access.js'
import type { RealIp } from '../modules/realip.js'
import type { LimitReqConf } from '../modules/limit-req.js'
import type { LimitConnConf } from '../modules/limit-conn.js'
import type { AuthBasic } from '../modules/auth-basic.js'
import type { LocationTree } from './locations.js'
import type { MimeTypes } from './mime.js'
import type { Template, Variables } from '../lib/variables.js'
import type { RewriteOp } from '../modules/rewrite.js'
import type { AccessLog, LogFiles } from '../modules/access-log.js'
import type { VirtualHosts } from './vhosts.js'
import type { ErrorPages } from './error-pages.js'
import type { ErrorPages as ErrorPageList } from '../modules/error-page.js'
import type { ProxyCookies } from '../modules/proxy-cookie.js'
import type { ProxyRedirect } from '../modules/proxy-redirect.js'
import type { GzipConf } from '../filters/gzip.js'
import type { ExpiresSetting } from '../../config/index.js'
import type { StatusFormat } from '../../health/index.js'
import type { JsContent, JsModule, LuaScript } from '../modules/script/index.js'
import type { ProxyTls } from './proxy-tls.js'
import type { TlsPlan } from './tls.js'
import type { H2Plan, H2Settings } from './http2.js'
import type { Request } from '../lib/request.js'
import type { StaticSettings, TryFiles } from './static.js'

export interface ProxyPass {
  /** Evaluated per request when the URL has variables; else null and `host`/`uri` are fixed. */
  url: Template | null
  /** The host part as written (`host1`, `127.0.0.1:8088`): a group name or a literal address. */
  host: string
  /** URI part of proxy_pass (`/x/`), or null when it has none. */
  uri: string | null
  /** For a URI part: the location prefix it replaces (nginx's replacement rule). */
  locationPrefix: string
  version: '1.0' | '1.1'
  plan: HeaderPlan
  values: readonly Template[]
  settings: ProxySettings
  hide: ReadonlySet<string>
  /** proxy_ignore_headers, lowercased: backend headers whose meaning is not acted on (X-Accel-Redirect, …). */
  ignore: ReadonlySet<string>
  /** The URL is `https://` (for a URL with variables: as written, the scheme is read per request). */
  https: boolean
  /** proxy_ssl_* for an https URL or one with variables; null for a literal `http://` URL. */
  tls: ProxyTls | null
  /** proxy_cookie_domain and proxy_cookie_path; null: Set-Cookie passes unchanged. */
  cookies: ProxyCookies | null
  /** proxy_redirect rules; null: Location and Refresh pass unchanged. */
  redirect: ProxyRedirect | null
  /** proxy_request_buffering: read the whole body (memory, then temp file) before contacting the backend. */
  requestBuffering: boolean
  /** proxy_method; null: the client's. */
  method: Template | null
  /** proxy_set_body; null: the client's body (or none, `passBody` false). */
  setBody: Template | null
  /** proxy_pass_request_headers, proxy_pass_request_body. */
  passHeaders: boolean
  passBody: boolean
  /** Where a proxy_set_body body would spill (never: it is kept in memory whole). */
  bodyTemp: TempPath
}

/** `grpc_pass` and the grpc_* settings in force. */
export interface GrpcPass {
  /** A group name or a literal `host:port`. */
  host: string
  /** grpc_set_header: names lowercased, values evaluated per request ('' leaves it out). */
  headers: readonly { name: string; value: Template }[]
  connectTimeout: number
  readTimeout: number
  /** NEXT_* bits of grpc_next_upstream */
  nextUpstream: number
  nextTries: number
  /** grpc_hide_header, lowercased. */
  hide: ReadonlySet<string>
  interceptErrors: boolean
  /** `grpcs://`: the grpc_ssl_* settings; null for `grpc://`. */
  tls: ProxyTls | null
}

export type Handler =
  | { kind: 'proxy'; pass: ProxyPass }
  | { kind: 'grpc'; pass: GrpcPass }
  | { kind: 'echo'; parts: readonly Template[] }
  | { kind: 'dyups' }
  | { kind: 'check_status'; format: StatusFormat }
  | { kind: 'metrics' }
  | { kind: 'stub_status' }
  | { kind: 'dashboard' }
  | { kind: 'lua'; script: LuaScript }
  | { kind: 'js'; content: JsContent }
  /** nginx's default content handler: index files and static files under root/alias. */
  | { kind: 'static' }

export interface AddHeader {
  name: string
  value: Template
  always: boolean
}

/** Everything that applies to a request once its location is known (inherited http → server → location). */
export interface LocConf {
  handler: Handler
  /** set_real_ip_from and its settings in force; null: none (realip does nothing). */
  realip: RealIp | null
  /** limit_req in force; null: none. */
  limitReq: LimitReqConf | null
  /** limit_conn in force; null: none. */
  limitConn: LimitConnConf | null
  access: AccessRules | null
  /** `auth_basic` with a user file in force; null: none (or only one of the two directives). */
  auth: AuthBasic | null
  /** `satisfy any`. */
  satisfyAny: boolean
  /** The location's `limit_except`: requests of other methods are served with `conf`; null: none. */
  limitExcept: LimitExcept | null
  /** The location's rewrite directives (`set`, `rewrite`, `if`, `return`, `break`), in order. */
  rewrites: readonly RewriteOp<LocConf>[]
  /** `error_page` list in effect (null: none). */
  errorPages: ErrorPageList | null
  recursiveErrorPages: boolean
  /** proxy_intercept_errors */
  interceptErrors: boolean
  /** gzip settings when gzip is on, else null. */
  gzip: GzipConf | null
  addHeaders: readonly AddHeader[]
  /** Infinity for `client_max_body_size 0` (no limit). */
  clientMaxBodySize: number
  /** client_body_buffer_size: a proxied body larger than this goes to a temp file. */
  bodyBufferSize: number
  /** client_body_temp_path. */
  bodyTemp: TempPath
  keepaliveTimeout: number
  /** keepalive_timeout's second parameter, in seconds: the `Keep-Alive: timeout=N` header; 0: none. */
  keepaliveHeader: number
  keepaliveRequests: number
  /** limit_rate (bytes a second, variables allowed; null: none) and limit_rate_after (bytes). */
  limitRate: Template | null
  limitRateAfter: number
  /** absolute_redirect, port_in_redirect, server_name_in_redirect: how a relative Location is written. */
  absoluteRedirect: boolean
  portInRedirect: boolean
  serverNameInRedirect: boolean
  clientBodyTimeout: number
  sendTimeout: number
  defaultType: string
  types: MimeTypes
  serverTokens: boolean
  /** `; charset=NAME` from `charset` (charset.ts); null: off. */
  charset: string | null
  /** `expires`; null: off. */
  expires: ExpiresSetting | null
  /** null: access_log off. */
  accessLogs: readonly AccessLog[] | null
  /** root/alias, index, etag, if_modified_since, log_not_found, max_ranges. */
  files: StaticSettings
  /** The block's own try_files, run before the handler; null: none. */
  tryFiles: TryFiles | null
  /** `internal`: a client's own request answers 404; internal redirects get in. */
  internal: boolean
  /** http2_chunk_size: an HTTP/2 response body goes out in DATA frames of at most this size. */
  h2ChunkSize: number
}

/** A `limit_except` block (limit-except.ts). */
export interface LimitExcept {
  /** The methods listed (HEAD with GET): these keep the location's configuration. */
  allowed: ReadonlySet<string>
  /** The block's configuration: the location's, with the block's directives over it. */
  conf: LocConf
}

export interface ServerConf {
  index: number
  name: string
  locations: LocationTree
  /** Per location id. */
  locConfs: readonly LocConf[]
  /** For a URI no location matches. */
  serverConf: LocConf
  /** The server level's rewrite directives, run before a location is chosen. */
  rewrites: readonly RewriteOp<LocConf>[]
  clientHeaderTimeout: number
  /** `ssl_verify_client`: VERIFY_OFF, VERIFY_ON, VERIFY_OPTIONAL or VERIFY_OPTIONAL_NO_CA (tls.ts). */
  verifyClient: number
  /** The HTTP/2 connection settings this server gives the addresses it is the default server of. */
  h2: H2Settings
}

export interface Listener {
  /** `0.0.0.0:8080`, `[::]:8080`, `127.0.0.1:8080`, `unix:/path` — the address bound. */
  key: string
  host: string | null
  port: number
  path: string | null
  ipv6only: boolean
  /** Listen keys of servers sharing this socket: wildcard sockets pick the key per connection by local address. */
  wildcard: boolean
  backlog: number
}

export interface HttpConfig {
  listeners: readonly Listener[]
  /** The listen keys that are `ssl`, and how their connections are wrapped. */
  tls: TlsPlan
  /** The listen keys that speak HTTP/2, and how (http2.ts). */
  h2: H2Plan
  servers: readonly ServerConf[]
  vhosts: VirtualHosts
  errorPages: ErrorPages
  /** Variable slots `set` and `map` use, for the per-request array. */
  slots: number
  /** `resolver` addresses; empty: names that are no group answer 502 at once. */
  resolver: { servers: string[]; timeoutMs: number; validMs: number } | null
  /** http-level logs, for requests that never reached a location; null: off. */
  accessLogs: readonly AccessLog[] | null
  /** Every open log file, to flush, reopen (SIGUSR1) and close. */
  logFiles: LogFiles
  /** For templates met at run time (a posted group's `hash` key). */
  vars: Variables
  /** Every client_body_temp_path, created when a worker starts (as nginx creates its paths). */
  tempPaths: readonly TempPath[]
  /** `events { worker_connections }`: client connections one worker keeps open at most. */
  workerConnections: number
  /** The `js_import`ed modules: a worker with any starts its JavaScript engine with its listeners. */
  jsModules: readonly JsModule[]
  /** `$request_body` is used: a proxied body kept in memory stays readable until the request is logged. */
  keepsRequestBody: boolean
  /** `$upstream_http_*` or `$upstream_cookie_*` is used: a proxied answer's header fields are kept for them. */
  keepsUpstreamHeaders: boolean
}

/** A request as the request path sees it: with its server's and location's compiled configuration. */
export type HttpRequest = Request<LocConf, ServerConf>

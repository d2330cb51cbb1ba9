/**
 * The compiled request-path configuration: what a worker consults per request. Built once per configuration
 * (compile.ts), then read-only.
 */
import type { HeaderPlan, ProxySettings, TempPath } from '../proxy/index.js'
import type { AccessRules } from './access-rules.js'
import type { LocationTree } from './locations.js'
import type { MimeTypes } from './mime.js'
import type { Setter, Template, Variables } from './variables.js'
import type { AccessLog, LogFiles } from './access-log.js'
import type { VirtualHosts } from './vhosts.js'
import type { ErrorPages } from './error-pages.js'
import type { StatusFormat } from '../health/index.js'
import type { JsContent, LuaScript } from './script/index.js'

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
  /** proxy_request_buffering: read the whole body (memory, then temp file) before contacting the backend. */
  requestBuffering: boolean
}

export type Handler =
  | { kind: 'proxy'; pass: ProxyPass }
  | { kind: 'return'; code: number; text: Template | null }
  | { kind: 'echo'; parts: readonly Template[] }
  | { kind: 'dyups' }
  | { kind: 'check_status'; format: StatusFormat }
  | { kind: 'lua'; script: LuaScript }
  | { kind: 'js'; content: JsContent }
  | { kind: 'none' }

export interface SetOp {
  set: Setter
  value: Template
}

export interface AddHeader {
  name: string
  value: Template
  always: boolean
}

/** Everything that applies to a request once its location is known (inherited http → server → location). */
export interface LocConf {
  handler: Handler
  access: AccessRules | null
  /** `set` of the server level, then of the location, in order. */
  sets: readonly SetOp[]
  addHeaders: readonly AddHeader[]
  /** Infinity for `client_max_body_size 0` (no limit). */
  clientMaxBodySize: number
  /** client_body_buffer_size: a proxied body larger than this goes to a temp file. */
  bodyBufferSize: number
  /** client_body_temp_path. */
  bodyTemp: TempPath
  keepaliveTimeout: number
  keepaliveRequests: number
  clientBodyTimeout: number
  sendTimeout: number
  defaultType: string
  types: MimeTypes
  serverTokens: boolean
  /** null: access_log off. */
  accessLogs: readonly AccessLog[] | null
}

export interface ServerConf {
  index: number
  name: string
  locations: LocationTree
  /** Per location id. */
  locConfs: readonly LocConf[]
  /** For a URI no location matches. */
  serverConf: LocConf
  clientHeaderTimeout: number
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
}

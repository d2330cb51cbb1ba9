import type { Code } from '../errors.js'
import type { UpstreamGroup } from '../upstream/index.js'
import type { Change } from '../store/index.js'

/** A worker's current upstream table, read-only. */
export interface TableView {
  readonly version: number
  readonly size: number
  list(): Iterable<UpstreamGroup>
  get(name: string): UpstreamGroup | undefined
}

export interface Outcome {
  version: number
  error: { code: Code; message: string } | null
}

/** Who asked for a change, for the audit log (dyups_audit_log, docs/api.md#audit-log). */
export interface Actor {
  /** `interface` (a dyups_interface location), `script` (Lua's ngx.dyups, JS), `reload` (nginx.conf read again). */
  source: 'interface' | 'script' | 'reload'
  /** The client's address ($remote_addr; a script's: of the request that ran it); '' for a reload. */
  client: string
  /** The Basic authentication user name ($remote_user), or null. */
  user: string | null
  /** The request's method and target as sent (for a script: the call, e.g. `update`, and the group's name). */
  method: string
  target: string
}

/**
 * What a write waits for in a cluster (dyups_cluster_ack, `?ack=`): every live node (`all`) or etcd and this node
 * (`commit`); null: the configured default. Without a cluster a write always waits for every worker.
 */
export type Ack = 'all' | 'commit' | null

/**
 * Where changes go: the primary's coordinator, over IPC or in process. `actor`: who asked (the audit log, the error
 * log's line); `ack`: what a write waits for in a cluster.
 */
export interface ChangeSink {
  submit(change: Change, ifMatch: number | null, actor?: Actor, ack?: Ack): Promise<Outcome>
  /** Whether a change is being applied right now (for dyups_trylock's check order). */
  busy(): Promise<boolean>
  /**
   * Where there is one, parses a command body away from the request path and applies the group (see
   * PARSE_AWAY_BYTES): the outcome's error is E_COMMANDS when the body does not build a group, E_LOCKED when
   * dyups_trylock finds the table busy (checked before the body is parsed, as Tengine does).
   */
  update?(name: string, body: string, ifMatch: number | null, actor?: Actor, ack?: Ack): Promise<Outcome>
}

export interface Reply {
  status: number
  /** latin1 bytes; null: the standard HTML error page for `status`. */
  body: string | null
  etag: number | null
  /** Content-Type of `body`; text/plain when absent. */
  type?: string
  /** An `Allow` header (405 answers of the JSON interface). */
  allow?: string
}

/** One worker's state of one address (balancer/peers.ts's PeerState), as it crosses to the process that reads it. */
export interface PeerRow {
  addr: string
  /** Requests in flight to it. */
  active: number
  /** Attempts sent to it since the worker started. */
  requests: number
  /** Failures counted against max_fails. */
  fails: number
  /** Seconds (wall clock) since its fail_timeout window started; with `fails`, whether it is unavailable. */
  checkedAgo: number
  /** Active health checks hold it down. */
  checkDown: boolean
  /** Responses by status class, [1xx … 5xx]. */
  responses: number[]
  /** Failed attempts by kind (balancer/peers.ts's FAIL_KINDS order). */
  failures: number[]
  /** Bytes read from the server, and written to it. */
  bytesIn: number
  bytesOut: number
  /** Responses per response-time bucket (balancer/peers.ts's LATENCY_BOUNDS_MS, then the slower), and their sum in ms. */
  latency: number[]
  latencySum: number
}

/** One worker's client connection counters (http/lib/conn-stats.ts), or their sum; `waiting` is the rest of `active`. */
export interface ConnCounts {
  accepted: number
  handled: number
  requests: number
  active: number
  reading: number
  writing: number
}

/** One process of dyups as its metrics show it. */
export interface ProcStat {
  pid: number
  role: 'primary' | 'worker' | 'single'
  /** CPU time, user and system, in seconds. */
  cpu: number
  /** Resident memory and V8's used heap, in bytes. */
  rss: number
  heap: number
  /** When it started, in seconds since the epoch. */
  start: number
}

/** The live state of the table, gathered from every worker when it is read. */
export interface LiveReport {
  /** Workers that answered. */
  workers: number
  /** Names (group keys) of the groups nginx.conf defines, or null where unknown (a worker whose primary is gone). */
  statics: string[] | null
  /** One array of rows per worker that answered. */
  rows: PeerRow[][]
  /** One entry per worker that answered: its client connections (absent: none reported, as in the interface's tests). */
  conns?: ConnCounts[]
  /** One entry per worker that answered: its connections per listening address. */
  listeners?: Record<string, ConnCounts>[]
  /** Every process that answered, the primary included (absent: not gathered). */
  processes?: ProcStat[]
  /** Changes applied to the table since the primary started (absent: unknown, as in a worker whose primary is gone). */
  changes?: number
  /** The active health checks' state of every checked server (absent: not known here, as in an orphaned worker). */
  health?: HealthRow[]
}

/** One server of a group with a `check` line, as the process that probes it sees it. */
export interface HealthRow {
  upstream: string
  /** The server's address. */
  name: string
  down: boolean
  rise: number
  fall: number
  /** When its last check ended (ms since the epoch); 0: not checked yet. */
  checked: number
  /** Why its last check failed; '' when it passed. */
  reason: string
}

/** Where the JSON interface reads live state from. */
export interface LiveSource {
  report(): Promise<LiveReport>
}

/** Where GET /api/cluster reads the fleet's nodes from (dyups_cluster); null: this instance is in no cluster. */
export interface ClusterSource {
  report(): Promise<object | null>
}

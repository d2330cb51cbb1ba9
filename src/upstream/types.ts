/**
 * The upstream model: immutable groups of servers. Built once, deep-frozen, never edited.
 * Everything here is plain JSON data (strings, numbers, booleans, arrays), so a group crosses a process boundary
 * with JSON.stringify / JSON.parse unchanged.
 */

export type PolicyName = 'round_robin' | 'ip_hash' | 'least_conn' | 'hash' | 'random' | 'consistent_hash'

export interface Policy {
  readonly name: PolicyName
  /** `hash KEY [consistent]`, Tengine's `consistent_hash KEY`: the key as written (may hold variables). */
  readonly key?: string
  /** `hash KEY consistent`. Present only for `hash`. */
  readonly consistent?: boolean
  /** `random two [least_conn]`. Present only for `random`. */
  readonly two?: boolean
}

export interface Server {
  /** Canonical address: `127.0.0.1:8088`, `[::1]:8088`, `unix:/path`. Peer state is keyed by it. */
  readonly addr: string
  /**
   * The address as written in the server line (`localhost:8088`, `127.0.0.1`): nginx's `peer->server`, from which
   * `hash ... consistent` computes its points. Every peer resolved from one server line has the same name.
   */
  readonly name: string
  /** IP host (without brackets) or unix socket path (latin1 bytes, as written). */
  readonly host: string
  /** 0 for unix sockets. */
  readonly port: number
  readonly unix: boolean
  /**
   * Index of the `server` directive this peer came from (0, 1, 2, ...). A host name that resolves to several
   * addresses gives several peers with the same `entry`; `/detail` shows one line per entry (its first address).
   */
  readonly entry: number
  readonly weight: number
  readonly maxFails: number
  /** Seconds. */
  readonly failTimeout: number
  readonly maxConns: number
  readonly backup: boolean
  readonly down: boolean
  /**
   * Seconds; 0 = off. In a group with a `check` line, round robin and least_conn ramp the weight up over this time
   * after active health checks bring the server back (balancer/peer.ts). Not shown in `/detail`.
   */
  readonly slowStart: number
  /**
   * Stable within its group (upstream/ids.ts): the JSON interface's server id. -1 in a group just built from text,
   * until the table settles it.
   */
  readonly id: number
  /**
   * NGINX Plus's `drain`: no new requests, those in flight finish, its idle keepalive connections close. Set through
   * the JSON interface; persisted as a `# dyups: drain` marker (upstream/markers.ts).
   */
  readonly drain: boolean
}

export interface Keepalive {
  /** `keepalive N`: idle connections cached per worker; 0 = no keepalive directive. */
  readonly connections: number
  /** `keepalive_timeout`, ms (default 60000). */
  readonly timeout: number
  /** `keepalive_requests` (default 1000). */
  readonly requests: number
  /** `keepalive_time`, ms (default 3600000). */
  readonly time: number
}

export type CheckType = 'tcp' | 'http' | 'fastcgi' | 'ssl_hello' | 'mysql' | 'ajp'

export type CheckStatusClass = 'http_1xx' | 'http_2xx' | 'http_3xx' | 'http_4xx' | 'http_5xx'

/**
 * Tengine's active health check (`check ...;` and the `check_*` directives of ngx_http_upstream_check_module),
 * with Tengine's defaults filled in.
 */
export interface CheckSpec {
  readonly type: CheckType
  /** ms (default 30000). */
  readonly interval: number
  /** ms (default 1000). */
  readonly timeout: number
  /** Successes that bring a server up (default 2). */
  readonly rise: number
  /** Failures that take a server down (default 5). */
  readonly fall: number
  /** Servers start down until checked (default true). */
  readonly defaultDown: boolean
  readonly unique: boolean
  /** Port to probe; 0 = the server's own port. */
  readonly port: number
  /** `check_http_send` (latin1 bytes); for `type=http` it defaults to `GET / HTTP/1.0\r\n\r\n`, otherwise ''. */
  readonly send: string
  /** `check_http_expect_alive`, in 1xx..5xx order; `type=http` defaults to 2xx and 3xx, other types to none. */
  readonly expectAlive: readonly CheckStatusClass[]
  /** `check_keepalive_requests` (default 1). */
  readonly keepaliveRequests: number
  /** `check_fastcgi_param NAME VALUE` pairs, in order. */
  readonly fastcgiParams: readonly (readonly [string, string])[]
}

export interface UpstreamGroup {
  readonly name: string
  readonly policy: Policy
  readonly keepalive: Keepalive
  /** Tengine's `check ...` line; null when the group has none. */
  readonly check: CheckSpec | null
  /** One entry per peer: every address a server line resolved to, in configuration order (IPv4 first). */
  readonly servers: readonly Server[]
  /** The id the next new server gets (upstream/ids.ts); absent until the table settles the group's ids. */
  readonly nextId?: number
}

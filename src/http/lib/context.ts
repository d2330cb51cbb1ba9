/**
 * What a module sees of the request path: the calls that answer the request it handles (`Responder`, nginx's
 * finalize and redirect calls) and what the worker shares with every request (`Services`). Modules get these two
 * and their own configuration, never the connection or the worker, so no import runs from a module back to core/.
 */
import type { Readable } from 'node:stream'
import type { Balancer } from '../../balancer/index.js'
import type { ChangeSink, ClusterSource, LiveSource } from '../../dyups/index.js'
import type { StatusRow } from '../../health/index.js'
import type { BodySpool, Downstream, Exchange, H2Pool, Pools } from '../../proxy/index.js'
import type { ClientHttp2Stream } from 'node:http2'
import type { NameResolver } from './names.js'
import type { RoutingTable } from './routing-table.js'
import type { Template, Variables } from './variables.js'

export interface Responder {
  /** The client has gone: whatever was being prepared for it is dropped. */
  readonly gone: boolean
  /**
   * A response made here (return, echo, the dyups interface, error pages). `body` null: the standard page of
   * `status` (if it has one). Headers: extra `[name, value]` pairs, after the standard ones.
   */
  sendLocal(status: number, body: string | Buffer | null, headers: [string, string][] | null, contentType?: string): void
  /** An error status: the location's error_page for it, else the standard page. */
  finishLocal(status: number): void
  /**
   * A response whose body is `length` bytes read from `body`, with backpressure. `before`: header lines before
   * `Connection:`, `after`: those after it, `last`: lines after add_header's; all CRLF-terminated. `body` null: the
   * head alone; a Buffer: a small body written with the head in one go.
   */
  sendStream(status: number, before: string, after: string, body: Readable | Buffer | null, length: number, path?: string, last?: string): void
  /** nginx's internal redirect: `$uri` and `$args` change and the request starts over at the server's rewrites. */
  internalRedirect(uri: string, args: string): void
  /** nginx's named location (`@name`): its rewrites and handler, the URI unchanged. */
  namedLocation(name: string): void
  /** Closes the connection without (the rest of) an answer: `return 444`, a body that cannot be completed. */
  abort(): void
}

/** A responder that can also be the client side of a proxied exchange. */
export interface ProxyResponder extends Responder, Downstream {
  /** How the request body goes to the backend (BODY_OUT_*). */
  readonly bodyOutMode: number
  /** The spooled body (BODY_OUT_SPOOL), else null. */
  readonly bodySpool: BodySpool | null
  /** The Content-Length the backend gets: -1 none, CHUNKED_BODY for a body streamed chunked. */
  readonly bodyOutLength: number
  startProxy(ex: Exchange): void
}

/** How a gRPC relay went, for the access log and the balancer. */
export interface GrpcOutcome {
  /** The backend's :status, 0 when none came. */
  status: number
  /** The backend did its part (an answer came, whatever its grpc-status). */
  ok: boolean
}

/** The HTTP/2 client side of a gRPC request (grpc_pass). */
export interface GrpcSide {
  /**
   * Relays the request body into `up` and `up`'s answer — head, DATA, trailers — back, with flow control both
   * ways; `done` once it is over. `intercept` (grpc_intercept_errors): an answer of 300 or more that the location
   * has an error_page for is replaced by it. Returns false if the client is gone already.
   */
  relay(up: ClientHttp2Stream, hide: ReadonlySet<string>, readTimeout: number, intercept: boolean, done: (o: GrpcOutcome) => void): boolean
  /** The request's headers as the client sent them, `[name, value, …]` (lowercase names, pseudo-headers out). */
  readonly fields: readonly string[]
}

/** A responder that may carry a gRPC request. */
export interface GrpcResponder extends Responder {
  /** The HTTP/2 side, null for an HTTP/1.x request (gRPC needs HTTP/2). */
  readonly grpc: GrpcSide | null
  /** One attempt ended (ProxyResponder's; gRPC reports no header time, bytes or length: -1, 0, 0, 0). */
  attempt(addr: string, status: number, connectMs: number, responseMs: number, headerMs: number, received: number, sent: number, length: number): void
}

/** Where a worker reads the health-check status from (the prober, in this process or the primary). */
export interface HealthSource {
  status(): Promise<readonly StatusRow[]>
}

/** What the process gives a worker's request path. */
export interface WorkerDeps {
  table: RoutingTable
  sink: ChangeSink
  trylock: boolean
  readMsgLog: boolean
  /** Where check_status reads from; absent: an empty page. */
  health?: HealthSource
  /** Where the JSON interface reads servers' live state from (every worker's); absent: none. */
  live?: LiveSource
  /** Where GET /api/cluster reads the fleet's nodes from; absent: none. */
  cluster?: ClusterSource
}

/** What a worker shares with every request it serves. */
export interface Services {
  readonly deps: WorkerDeps
  readonly pools: Pools
  /** HTTP/2 connections to gRPC backends. */
  readonly h2pool: H2Pool
  /** Implicit upstreams of literal addresses in proxy_pass. */
  readonly literals: Map<string, Balancer>
  /** DNS for proxy_pass hosts that are no group, when a `resolver` is configured. */
  readonly names: NameResolver | null
  readonly vars: Variables
  /** A compiled template for a string that reaches us at run time (a `hash` key of a posted group). */
  template(text: string): Template
}

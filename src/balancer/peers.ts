/**
 * Per-worker state of upstream servers, keyed by canonical address (`10.0.0.1:80`), like Caddy's host pool:
 * failure counts, the probe clock and active connections survive a group replacement, so a replaced group whose
 * server remains keeps its failure state and its connection count.
 *
 * Every group that names an address shares its state (a dead server is dead for all of them), and so do
 * duplicate server lines in one group: `max_conns` and `least_conn` count connections per address and worker.
 */
import type { UpstreamGroup } from '../upstream/index.js'

/**
 * Upper bounds (ms) of the response-time buckets, Prometheus' default buckets (5 ms … 10 s); a last bucket holds
 * the slower ones.
 */
export const LATENCY_BOUNDS_MS: readonly number[] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]

/** Why an attempt on a server failed before a usable answer, the `kind` label of the failure counters. */
export const FAIL_KINDS = ['refused', 'connect', 'timeout', 'closed', 'invalid_header', 'tls', 'interrupted', 'other'] as const
export const FAIL_REFUSED = 0
/** connect() failed otherwise: unreachable, reset while connecting. */
export const FAIL_CONNECT = 1
/** proxy_connect_timeout, proxy_send_timeout or proxy_read_timeout before the head. */
export const FAIL_TIMEOUT = 2
/** The server closed the connection, or reading from it failed, before the response head was complete. */
export const FAIL_CLOSED = 3
export const FAIL_INVALID_HEADER = 4
/** The TLS handshake with it failed. */
export const FAIL_TLS = 5
/** The response was cut short after its head went to the client (closed, timed out or bad framing mid-body). */
export const FAIL_INTERRUPTED = 6
export const FAIL_OTHER = 7

export class PeerState {
  /** Failures counted against max_fails (nginx's peer->fails). */
  fails = 0
  /** Seconds: when the last failure happened (peer->accessed). */
  accessed = 0
  /** Seconds: start of the current fail_timeout window, or of the last probe (peer->checked). */
  checked = 0
  /** Requests between `next()` and `done()` on this address (peer->conns). */
  conns = 0
  /** Attempts sent to this address since the worker started (the JSON interface's `requests`). */
  requests = 0
  /** Set by active health checks (Tengine's `check`); honoured by groups that have a `check` line. */
  checkDown = false
  /** Seconds: when active health checks last brought the address back up (slow_start ramps from it); 0: never. */
  recoveredAt = 0
  /** Balancers that use this address. */
  refs = 0
  /** Responses the server gave, by status class: [1xx, 2xx, 3xx, 4xx, 5xx]. */
  readonly responses = [0, 0, 0, 0, 0]
  /** Attempts that failed, by FAIL_* kind. */
  readonly failures = [0, 0, 0, 0, 0, 0, 0, 0]
  /** Bytes read from the server. */
  bytesIn = 0
  /** Bytes written to it (request heads and bodies). */
  bytesOut = 0
  /** Responses per response-time bucket (LATENCY_BOUNDS_MS, then the slower ones), not cumulative. */
  readonly latency = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
  /** The sum of those response times, ms. */
  latencySum = 0

  constructor(readonly addr: string) {}

  /**
   * An attempt got a response with `status` after `ms` (nginx's $upstream_response_time): its class and time are
   * counted. A few integer updates, no allocation: this runs for every proxied request.
   */
  answered(status: number, ms: number): void {
    const c = (status / 100) | 0
    if (c >= 1 && c <= 5) this.responses[c - 1]!++
    let i = 0
    while (i < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[i]!) i++
    this.latency[i]!++
    this.latencySum += ms
  }

  /** An attempt failed (FAIL_*). */
  failed(kind: number): void {
    this.failures[kind]!++
  }
}

/** The registry of one worker. */
export class PeerStates {
  readonly #map = new Map<string, PeerState>()
  /** Released addresses that still had requests in flight when their last balancer went. */
  readonly #draining = new Set<PeerState>()

  /** The state of `addr`, created on first use. */
  get(addr: string): PeerState {
    let s = this.#map.get(addr)
    if (s === undefined) {
      s = new PeerState(addr)
      this.#map.set(addr, s)
    }
    return s
  }

  /** The state of `addr` if it exists. */
  peek(addr: string): PeerState | undefined {
    return this.#map.get(addr)
  }

  get size(): number {
    return this.#map.size
  }

  [Symbol.iterator](): IterableIterator<PeerState> {
    return this.#map.values()
  }

  /** Takes a reference for a new balancer (createBalancer does this). */
  acquire(addr: string): PeerState {
    const s = this.get(addr)
    s.refs++
    this.#draining.delete(s)
    return s
  }

  /**
   * Drops a balancer's reference (Balancer.release does this). An address no balancer uses is forgotten once its
   * last request is done; the cost is proportional to the released group, not to the table.
   */
  release(addr: string): void {
    const s = this.#map.get(addr)
    if (s === undefined || s.refs === 0) return
    s.refs--
    if (s.refs === 0) this.#draining.add(s)
    for (const d of this.#draining) {
      if (d.refs > 0) this.#draining.delete(d)
      else if (d.conns <= 0) {
        this.#draining.delete(d)
        if (this.#map.get(d.addr) === d) this.#map.delete(d.addr)
      }
    }
  }

  /**
   * Forgets every address that none of `groups` names and that has no request in flight: a whole-table sweep,
   * for callers that do not pair createBalancer with release. Returns how many were dropped.
   */
  retain(groups: Iterable<UpstreamGroup>): number {
    const live = new Set<string>()
    for (const g of groups) for (const s of g.servers) live.add(s.addr)
    let dropped = 0
    for (const [addr, s] of this.#map) {
      if (!live.has(addr) && s.conns <= 0) {
        this.#map.delete(addr)
        this.#draining.delete(s)
        dropped++
      }
    }
    return dropped
  }
}

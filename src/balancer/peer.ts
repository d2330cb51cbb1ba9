/**
 * The balancer's view of a group, built once per installed group: peers with nginx's per-peer weights, in two
 * tiers (primaries, then backups: nginx's `peers->next`), and the per-request selection record.
 */
import type { Server } from '../upstream/index.js'
import type { PeerState } from './peers.js'

/** A server as the request path sees it: where to connect, and its shared state. */
export interface Peer {
  readonly server: Server
  readonly state: PeerState
  readonly backup: boolean
}

/** ngx_http_upstream_rr_peer_t: one server line's address within one balancer. */
export class RrPeer implements Peer {
  readonly weight: number
  readonly maxFails: number
  readonly failTimeout: number
  readonly maxConns: number
  readonly down: boolean
  /** Smooth weighted round robin: the running score and the weight it grows by (lowered by failures). */
  currentWeight = 0
  effectiveWeight: number
  /** `hash ... consistent`: which distinct server name (as written) this peer has. */
  nameId = 0

  constructor(
    readonly server: Server,
    readonly state: PeerState,
    readonly backup: boolean,
  ) {
    this.weight = server.weight
    this.maxFails = server.maxFails
    this.failTimeout = server.failTimeout
    this.maxConns = server.maxConns
    // A draining server (NGINX Plus's `drain`) takes no new request, as one marked down; dyups has no session
    // stickiness that could still bind a request to it. Requests in flight finish on their own.
    this.down = server.down || server.drain
    this.effectiveWeight = server.weight
  }
}

/** ngx_http_upstream_rr_peers_t: the primaries or the backups of a group. */
export class Tier {
  readonly number: number
  readonly totalWeight: number
  /** Peers not marked down: how many attempts this tier adds to a request (peers->tries). */
  readonly tries: number
  /** One primary and no backups: nginx's fast path, which ignores max_fails. */
  single = false
  next: Tier | null = null

  constructor(readonly peers: readonly RrPeer[]) {
    let w = 0
    let t = 0
    for (const p of peers) {
      w += p.weight
      if (!p.down) t++
    }
    this.number = peers.length
    this.totalWeight = w
    this.tries = t
  }
}

/**
 * Whether a peer cannot take this request: down, failed within fail_timeout, at max_conns, or (for a group with
 * a `check` line) reported down by the active health check.
 */
export function unusable(p: RrPeer, now: number, check: boolean): boolean {
  if (p.down) return true
  const st = p.state
  if (check && st.checkDown) return true
  if (p.maxFails !== 0 && st.fails >= p.maxFails && now - st.checked <= p.failTimeout) return true
  return p.maxConns !== 0 && st.conns >= p.maxConns
}

/**
 * The weight a peer adds per pick. With `slow_start=T` (NGINX Plus) in a group with a `check` line, a server that
 * active health checks brought back up ramps linearly from 0 to its weight over T seconds. `now`: seconds.
 */
export function slowStartWeight(p: RrPeer, now: number): number {
  const w = p.effectiveWeight
  const t = p.server.slowStart
  if (t === 0) return w
  const since = now - p.state.recoveredAt
  return since >= t ? w : since <= 0 ? 0 : (w * since) / t
}

/** What the selection code needs from its balancer. */
export interface BalancerCore {
  readonly primary: Tier
  /** Whether the group has a `check` line (then PeerState.checkDown counts). */
  readonly check: boolean
}

/**
 * The per-request record (ngx_http_upstream_rr_peer_data_t plus the method's fields): the tier being tried, the
 * peer in use, the tried bitmap, the attempts left. The only allocation per request (plus a bitmap array for
 * tiers of more than 32 peers).
 */
export class Selection {
  /** nginx's pc->tries: attempts left, counting both tiers. */
  tries: number
  tier: Tier
  current: RrPeer | null = null
  /** Seconds (ngx_time()). */
  now: number
  started = false
  /** Method state: ip_hash/hash running hash, consistent-hash point, retries within the method. */
  hash = 0
  rehash = 0
  hashTries = 0
  /** ip_hash: the client address bytes packed (3 bytes of IPv4 in a0, or 16 bytes of IPv6 in a0..a3). */
  addrLen = 3
  a0 = 0
  a1 = 0
  a2 = 0
  a3 = 0
  key = ''
  #t0 = 0
  #tn: Uint32Array | null

  constructor(
    readonly core: BalancerCore,
    nowMs: number,
  ) {
    const primary = core.primary
    this.tier = primary
    this.tries = primary.tries + (primary.next !== null ? primary.next.tries : 0)
    this.now = Math.floor(nowMs / 1000)
    const n = primary.next !== null && primary.next.number > primary.number ? primary.next.number : primary.number
    this.#tn = n > 32 ? new Uint32Array((n + 31) >>> 5) : null
  }

  isTried(i: number): boolean {
    return this.#tn === null ? ((this.#t0 >>> i) & 1) !== 0 : ((this.#tn[i >>> 5]! >>> (i & 31)) & 1) !== 0
  }

  setTried(i: number): void {
    if (this.#tn === null) this.#t0 |= 1 << i
    else this.#tn[i >>> 5]! |= 1 << (i & 31)
  }

  /**
   * The chosen peer of a hashing, least_conn or random search (peer `i` of the current tier): it becomes the current
   * one, counts a connection, starts a new fail_timeout window if the last one is over, and is not tried again.
   */
  take(peer: RrPeer, i: number): RrPeer {
    this.current = peer
    if (this.now - peer.state.checked > peer.failTimeout) peer.state.checked = this.now
    peer.state.conns++
    peer.state.requests++
    this.setTried(i)
    return peer
  }

  clearTried(): void {
    this.#t0 = 0
    if (this.#tn !== null) this.#tn.fill(0)
  }
}

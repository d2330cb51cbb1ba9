/**
 * One balancer per installed group, built once (tiers, weights, the consistent-hash ring, random ranges); per
 * request `begin()` makes one small selection record, `next()` picks a peer for each attempt (a retry excludes
 * the peers already tried) and `done()` ends the attempt, as nginx's peer.get / peer.free do.
 *
 * @example
 *   const b = createBalancer(group, states)
 *   const sel = b.begin({ clientAddr: '10.1.2.3', now: Date.now() })
 *   for (let peer = sel.next(); peer !== null; peer = sel.next()) {
 *     const ok = await tryOnce(peer.server)
 *     sel.done(peer, ok)
 *     if (ok) break
 *   }
 */
import type { UpstreamGroup } from '../upstream/index.js'
import { ChashRing, getChashPeer, initChash } from './consistent-hash.js'
import { getTengineChashPeer, initTengineChash, TengineRing } from './tengine-chash.js'
import { getHashPeer, initHash } from './hash.js'
import { getIpHashPeer, initIpHash } from './ip-hash.js'
import { getLeastConnPeer } from './least-conn.js'
import { RrPeer, Selection, Tier, type BalancerCore, type Peer } from './peer.js'
import type { PeerStates } from './peers.js'
import { getRandom2Peer, getRandomPeer, weightRanges } from './random.js'
import { freePeer, getRoundRobinPeer } from './smooth-wrr.js'

/** What a request tells the balancer. */
export interface RequestContext {
  /** The client's IP address as Node reports it (`10.1.2.3`, `::1`, `::ffff:10.1.2.3`); '' for unix sockets. */
  readonly clientAddr: string
  /** The evaluated `hash` key (the group's `policy.key` with its variables substituted); '' or absent: none. */
  readonly hashKey?: string
  /** Milliseconds (Date.now()); nginx works in whole seconds, and so does the balancer. */
  readonly now: number
}

export interface BalancerOptions {
  /** `random`'s source of numbers in [0, 1). @default Math.random */
  readonly random?: () => number
}

/** One request's walk through the peers. */
export interface PeerSelection {
  /**
   * The peer for the next attempt, or null when none is left: every peer tried, down, failed or full (nginx's
   * "no live upstreams": answer 502), or the attempts are used up. Its connection count is raised until `done`.
   * @param now ms; @default the request's `now`
   */
  next(now?: number): Peer | null
  /**
   * Ends the attempt on `peer`. `ok: false` is nginx's NGX_PEER_FAILED (connect error, timeout, 5xx under
   * proxy_next_upstream): it counts against max_fails within fail_timeout and lowers the peer's weight.
   * A second `done` for the same attempt does nothing.
   */
  done(peer: Peer, ok: boolean, now?: number): void
  /** Attempts left (nginx's pc->tries): every usable primary and backup once. */
  readonly tries: number
  /** The group's name: what nginx writes in $upstream_addr when no server is left ("no live upstreams"). */
  readonly name: string
}

export interface Balancer {
  readonly group: UpstreamGroup
  /** Primaries, then backups, each in configuration order. */
  readonly peers: readonly Peer[]
  begin(ctx: RequestContext): PeerSelection
  /** The group is no longer installed: its addresses' states may be forgotten once their requests end. */
  release(): void
}

const RR = 0
const IP_HASH = 1
const LEAST_CONN = 2
const HASH = 3
const CHASH = 4
const RANDOM = 5
const RANDOM2 = 6
const TENGINE_CHASH = 7

class BalancerImpl implements Balancer, BalancerCore {
  readonly primary: Tier
  readonly check: boolean
  readonly peers: readonly Peer[]
  readonly method: number
  readonly ring: ChashRing | null = null
  /** Tengine's consistent_hash points. */
  readonly tring: TengineRing | null = null
  readonly ranges: Float64Array | null = null
  readonly random: () => number
  #released = false

  constructor(
    readonly group: UpstreamGroup,
    private readonly states: PeerStates,
    opts: BalancerOptions,
  ) {
    const primaries: RrPeer[] = []
    const backups: RrPeer[] = []
    for (const s of group.servers) {
      const peer = new RrPeer(s, states.acquire(s.addr), s.backup)
      ;(s.backup ? backups : primaries).push(peer)
    }
    this.primary = new Tier(primaries)
    if (backups.length > 0) this.primary.next = new Tier(backups)
    this.primary.single = primaries.length === 1 && backups.length === 0
    this.peers = (primaries as Peer[]).concat(backups)
    this.check = group.check !== null
    this.random = opts.random ?? Math.random

    const p = group.policy
    switch (p.name) {
      case 'ip_hash':
        this.method = IP_HASH
        break
      case 'least_conn':
        this.method = LEAST_CONN
        break
      case 'hash':
        this.method = p.consistent ? CHASH : HASH
        if (p.consistent) this.ring = new ChashRing(primaries)
        break
      case 'consistent_hash':
        this.method = TENGINE_CHASH
        this.tring = new TengineRing(primaries)
        break
      case 'random':
        this.method = p.two ? RANDOM2 : RANDOM
        this.ranges = weightRanges(this.primary)
        break
      default:
        this.method = RR
    }
  }

  begin(ctx: RequestContext): PeerSelection {
    const sel = new RequestSelection(this, ctx.now)
    switch (this.method) {
      case IP_HASH:
        initIpHash(sel, ctx.clientAddr)
        break
      case HASH:
        initHash(sel, ctx.hashKey ?? '')
        break
      case CHASH:
        initChash(sel, this.ring!, ctx.hashKey ?? '')
        break
      case TENGINE_CHASH:
        initTengineChash(sel, ctx.hashKey ?? '')
        break
    }
    return sel
  }

  release(): void {
    if (this.#released) return
    this.#released = true
    for (const p of this.peers) this.states.release(p.state.addr)
  }
}

class RequestSelection extends Selection implements PeerSelection {
  declare readonly core: BalancerImpl

  get name(): string {
    return this.core.group.name
  }

  next(now?: number): Peer | null {
    if (now !== undefined) this.now = Math.floor(now / 1000)
    // nginx stops retrying when the attempts are used up; the first attempt is always made.
    if (this.started && this.tries === 0) return null
    this.started = true
    const b = this.core
    switch (b.method) {
      case IP_HASH:
        return getIpHashPeer(this)
      case LEAST_CONN:
        return getLeastConnPeer(this)
      case HASH:
        return getHashPeer(this)
      case CHASH:
        return getChashPeer(this, b.ring!)
      case TENGINE_CHASH:
        return getTengineChashPeer(this, b.tring!)
      case RANDOM:
        return getRandomPeer(this, b.ranges!, b.random)
      case RANDOM2:
        return getRandom2Peer(this, b.ranges!, b.random)
      default:
        return getRoundRobinPeer(this)
    }
  }

  done(peer: Peer, ok: boolean, now?: number): void {
    if (peer !== this.current) return
    if (now !== undefined) this.now = Math.floor(now / 1000)
    this.current = null
    freePeer(this, peer as RrPeer, !ok)
  }
}

/**
 * Builds the balancer of `group`, taking a reference on each of its addresses in `states` (see release()).
 * @throws nothing: every group that buildGroup accepts can be balanced.
 */
export function createBalancer(group: UpstreamGroup, states: PeerStates, opts: BalancerOptions = {}): Balancer {
  return new BalancerImpl(group, states, opts)
}

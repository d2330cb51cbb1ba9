/**
 * A worker's upstream table: the store's Replica (groups in /list order, kept current by deltas) plus one balancer
 * per group. Balancers are built on a group's first request, so a table of 100 000 groups costs nothing until
 * traffic reaches them; a replaced group's new balancer is built before the old one is released, so the servers it
 * keeps also keep their passive-health state and connection counts.
 */
import { createBalancer, PeerStates, type Balancer } from '../../balancer/index.js'
import { Replica, packDelta, type Delta, type PackedDelta, type Snapshot } from '../../store/index.js'
import { groupKey, packedDrains, unpackGroup, type UpstreamGroup } from '../../upstream/index.js'
import type { PeerRow, TableView } from '../../dyups/index.js'

export class RoutingTable implements TableView {
  readonly states = new PeerStates()
  private replica = new Replica({ version: 0, packed: "" })
  private readonly balancers = new Map<string, Balancer>()
  /** Addresses some group drains, for the connection pools (a few at a time: servers being taken out). */
  readonly drained = new Set<string>()
  /** Per group key with a draining server, the addresses it drains. */
  private readonly drainBy = new Map<string, string[]>()
  /** Hears of addresses that start draining (the worker closes their idle connections). */
  onDrain: ((addrs: ReadonlySet<string>) => void) | null = null

  /** `earlier`: the snapshot's first lines, when it came in pieces (see Replica). */
  init(snapshot: Snapshot, earlier: readonly string[] = []): void {
    for (const b of this.balancers.values()) b.release()
    this.balancers.clear()
    this.replica = new Replica(snapshot, earlier)
    this.drainBy.clear()
    // Most tables drain nothing: one search of the text, not a look at every group.
    if (snapshot.packed.includes(',"drain"]') || earlier.some((e) => e.includes(',"drain"]'))) {
      for (const part of [...earlier, snapshot.packed]) {
        for (const line of part.split('\n')) if (packedDrains(line)) this.#noteDrains(line)
      }
    }
    this.#drainedChanged()
  }

  /** Records the addresses the group of `line` drains. */
  #noteDrains(line: string): void {
    const g = unpackGroup(line)
    const addrs: string[] = []
    for (const s of g.servers) if (s.drain) addrs.push(s.addr)
    if (addrs.length > 0) this.drainBy.set(groupKey(g.name), addrs)
    else this.drainBy.delete(groupKey(g.name))
  }

  #drainedChanged(): void {
    const fresh = new Set<string>()
    for (const addrs of this.drainBy.values()) for (const a of addrs) fresh.add(a)
    const started = new Set<string>()
    for (const a of fresh) if (!this.drained.has(a)) started.add(a)
    this.drained.clear()
    for (const a of fresh) this.drained.add(a)
    if (started.size > 0) this.onDrain?.(started)
  }

  apply(delta: Delta): void {
    this.applyPacked(packDelta(delta))
  }

  /** apply() for a delta in its packed form, as the primary sends it. */
  applyPacked(delta: PackedDelta): void {
    // A worker initialised while this delta was on its way already has it in its snapshot. A delta that keeps the
    // version (a cluster node taking etcd's table at the version it already had: Store.replace()) applies even so:
    // its deletes and puts leave a table that already has them as it is.
    if (delta.version < this.replica.version || (delta.version === this.replica.version && delta.from !== delta.version)) return
    const keys = this.replica.applyPacked(delta)
    let drains = false
    for (let i = 0; i < keys.length; i++) {
      const c = delta.changes[i]!
      const put = c.charCodeAt(0) === 0x5b
      if (put && packedDrains(c)) this.#noteDrains(c)
      else if (!this.drainBy.delete(keys[i]!)) continue
      drains = true
    }
    if (drains) this.#drainedChanged()
    if (this.balancers.size === 0) return
    for (const key of keys) {
      const old = this.balancers.get(key)
      if (old === undefined) continue
      const now = this.replica.get(key)
      if (now !== undefined) this.balancers.set(key, createBalancer(now, this.states))
      else this.balancers.delete(key)
      old.release()
    }
  }

  /**
   * The balancer of the group named `name` (case-insensitive), or undefined. `$host` is already lowercase, so the
   * common case is one Map lookup.
   */
  route(name: string): Balancer | undefined {
    let b = this.balancers.get(name)
    if (b !== undefined) return b
    const key = groupKey(name)
    b = this.balancers.get(key)
    if (b !== undefined) return b
    const g = this.replica.get(key)
    if (g === undefined) return undefined
    b = createBalancer(g, this.states)
    this.balancers.set(key, b)
    return b
  }

  get version(): number {
    return this.replica.version
  }

  /** This worker's state of every address it knows, for the JSON interface. `nowMs`: the wall clock. */
  peerRows(nowMs: number = Date.now()): PeerRow[] {
    const now = Math.floor(nowMs / 1000)
    const rows: PeerRow[] = []
    for (const s of this.states) {
      rows.push({
        addr: s.addr, active: s.conns, requests: s.requests, fails: s.fails, checkedAgo: now - s.checked, checkDown: s.checkDown,
        responses: s.responses.slice(), failures: s.failures.slice(), bytesIn: s.bytesIn, bytesOut: s.bytesOut,
        latency: s.latency.slice(), latencySum: s.latencySum,
      })
    }
    return rows
  }

  get size(): number {
    return this.replica.size
  }

  list(): Iterable<UpstreamGroup> {
    return this.replica.list()
  }

  get(name: string): UpstreamGroup | undefined {
    return this.replica.get(name)
  }
}

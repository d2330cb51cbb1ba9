/**
 * A worker's upstream table: the store's Replica (groups in /list order, kept current by deltas) plus one balancer
 * per group. Balancers are built on a group's first request, so a table of 100 000 groups costs nothing until
 * traffic reaches them; a replaced group's new balancer is built before the old one is released, so the servers it
 * keeps also keep their passive-health state and connection counts.
 */
import { createBalancer, PeerStates, type Balancer } from '../../balancer/index.js'
import { Replica, packDelta, type Delta, type PackedDelta, type Snapshot } from '../../store/index.js'
import { groupKey, type UpstreamGroup } from '../../upstream/index.js'
import type { PeerRow, TableView } from '../../dyups/index.js'

export class RoutingTable implements TableView {
  readonly states = new PeerStates()
  private replica = new Replica({ version: 0, packed: "" })
  private readonly balancers = new Map<string, Balancer>()

  /** `earlier`: the snapshot's first lines, when it came in pieces (see Replica). */
  init(snapshot: Snapshot, earlier: readonly string[] = []): void {
    for (const b of this.balancers.values()) b.release()
    this.balancers.clear()
    this.replica = new Replica(snapshot, earlier)
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
      rows.push({ addr: s.addr, active: s.conns, requests: s.requests, fails: s.fails, checkedAgo: now - s.checked, checkDown: s.checkDown })
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

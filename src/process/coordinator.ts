/**
 * The primary's single writer. Changes arrive from workers (or from the in-process worker), are applied to the Store
 * one batch at a time, made durable, broadcast to every live worker, and answered only when each of those workers has
 * acknowledged the new version. So a `200 success` means every worker already routes by the change.
 *
 * dyups_trylock off: changes that arrive while a batch is in flight wait and form the next batch, in arrival order;
 * the whole batch shares one journal fsync (group commit) and one broadcast.
 * dyups_trylock on: a change that arrives while another is being applied fails at once with E_LOCKED (409).
 *
 * A reload's new static groups take their turn in the same queue: changes taken before it apply to the old
 * table, changes taken after it to the reloaded one, and it completes once every worker routes by it.
 */
import { DyupsError } from '../errors.js'
import type { UpstreamGroup } from '../upstream/index.js'
import type { Change, Delta, Store } from '../store/index.js'

export interface Outcome {
  version: number
  error: DyupsError | null
}

/** Sends a delta to every live worker; resolves when all of them (that stay alive) acknowledged `version`. */
export type Broadcast = (delta: Delta) => Promise<void>

interface Pending {
  change: Change
  ifMatch: number | null
  resolve: (o: Outcome) => void
}

interface PendingReload {
  staticGroups: readonly UpstreamGroup[]
  resolve: (o: ReloadOutcome) => void
}

/** The outcome of a reload of the static groups. */
export interface ReloadOutcome extends Outcome {
  /** Changes the workers applied (0 when nothing they hold changed). */
  changes: number
}

export class Coordinator {
  private queue: (Pending | PendingReload)[] = []
  private inFlight = false

  /** `trylock`: dyups_trylock; a reload may change it. */
  constructor(
    private readonly store: Store,
    private readonly broadcast: Broadcast,
    public trylock: boolean,
  ) {}

  /** A change is being applied: taken, and not yet durable and acknowledged by every worker. */
  get busy(): boolean {
    return this.inFlight
  }

  submit(change: Change, ifMatch: number | null): Promise<Outcome> {
    if (this.trylock && this.inFlight) {
      return Promise.resolve({ version: this.store.version, error: new DyupsError('E_LOCKED', 'another change is being applied') })
    }
    return new Promise((resolve) => {
      this.queue.push({ change, ifMatch, resolve })
      if (!this.inFlight) void this.drain()
    })
  }

  /**
   * Applies nginx.conf's new static groups (Store.reload()) in turn with changes, and resolves once the result is
   * durable and every live worker acknowledged it. Never refused by dyups_trylock: it waits for its turn. On
   * error (E_PERSIST) nothing changed anywhere.
   */
  reload(staticGroups: readonly UpstreamGroup[]): Promise<ReloadOutcome> {
    return new Promise((resolve) => {
      this.queue.push({ staticGroups, resolve })
      if (!this.inFlight) void this.drain()
    })
  }

  private async drain(): Promise<void> {
    this.inFlight = true
    try {
      while (this.queue.length > 0) {
        const batch = this.queue
        this.queue = []
        await this.run(batch)
      }
    } finally {
      this.inFlight = false
    }
  }

  private async run(batch: (Pending | PendingReload)[]): Promise<void> {
    // If-Match is checked against the exact version the change would apply to, so a conditional change starts a new
    // sub-batch: everything before it is applied first. So does a reload.
    let group: Pending[] = []
    for (const p of batch) {
      if ('staticGroups' in p) {
        if (group.length > 0) await this.commit(group)
        group = []
        await this.applyReload(p)
        continue
      }
      if (p.ifMatch !== null && group.length > 0) {
        await this.commit(group)
        group = []
      }
      if (p.ifMatch !== null && p.ifMatch !== this.store.version) {
        const v = this.store.version
        p.resolve({ version: v, error: new DyupsError('E_PRECONDITION', `table version is ${v}, not ${p.ifMatch}`) })
        continue
      }
      group.push(p)
    }
    if (group.length > 0) await this.commit(group)
  }

  private async applyReload(p: PendingReload): Promise<void> {
    let r
    try {
      r = await this.store.reload(p.staticGroups)
    } catch (e) {
      const error = e instanceof DyupsError ? e : new DyupsError('E_INTERNAL', String((e as Error)?.message ?? e))
      p.resolve({ version: this.store.version, error, changes: 0 })
      return
    }
    if (r.delta.changes.length > 0) await this.broadcast(r.delta)
    p.resolve({ version: r.delta.version, error: r.error, changes: r.delta.changes.length })
  }

  private async commit(group: Pending[]): Promise<void> {
    let results
    try {
      results = await this.store.applyBatch(group.map((p) => p.change))
    } catch (e) {
      const error = e instanceof DyupsError ? e : new DyupsError('E_INTERNAL', String((e as Error)?.message ?? e))
      for (const p of group) p.resolve({ version: this.store.version, error })
      return
    }
    if (results.delta.changes.length > 0) await this.broadcast(results.delta)
    for (let i = 0; i < group.length; i++) {
      const r = results[i]!
      group[i]!.resolve({ version: r.version, error: r.error })
    }
  }
}

/**
 * The primary's single writer. Changes arrive from workers (or from the in-process worker), are applied to the Store
 * one batch at a time, made durable, broadcast to every live worker, and answered only when each of those workers has
 * acknowledged the new version. So a `200 success` means every worker already routes by the change.
 *
 * dyups_trylock off: changes that arrive while a batch is in flight wait and form the next batch, in arrival order;
 * the whole batch shares one journal fsync (group commit) and one broadcast. The next batch is written to the
 * journal while workers acknowledge the previous one, and broadcast once the previous one is answered: changes
 * that arrive meanwhile join it, so a batch's broadcast, acknowledgements and answers are shared by as many
 * changes as arrived during one round trip (each worker applies deltas in the order they are sent, so an answer
 * still waits for its own batch to be durable and applied everywhere).
 * dyups_trylock on: a change that arrives while another is being applied fails at once with E_LOCKED (409).
 *
 * A reload's new static groups take their turn in the same queue: changes taken before it apply to the old
 * table, changes taken after it to the reloaded one, and it completes once every worker routes by it.
 *
 * In a cluster (dyups_cluster, src/cluster/) the table's truth is elsewhere: a change goes to the `remote` writer
 * (one etcd transaction), and what the fleet committed comes back through applyRemote()/replace(), which take
 * their turn in the same queue and the same way to the workers as a local change.
 */
import { DyupsError, formatError, isDyupsError } from '../errors.js'
import { log } from '../log.js'
import { logAddFailed, type Actor, type AppliedChange, type AuditEntry } from '../dyups/index.js'
import { groupKey, parseCommands, type UpstreamGroup } from '../upstream/index.js'
import type { Change, Delta, GroupChange, Store } from '../store/index.js'

export interface Outcome {
  version: number
  error: DyupsError | null
}

/**
 * Sends a delta to every live worker; resolves when all of them (that stay alive) acknowledged `version`.
 * `answerable(w)`, when given, may be called (synchronously too) once every live worker other than `w` has
 * acknowledged: `w` itself applies the delta before it reads anything sent after it, so `w`'s changes may be
 * answered to `w` from then on. `soleOrigin`: the one worker whose changes the delta answers, when there is one;
 * no answer waits for its acknowledgement, so it may send it late (the promise resolves only once it has).
 */
export type Broadcast = (delta: Delta, answerable?: (worker: number) => void, soleOrigin?: number | null) => Promise<void>

interface Pending {
  change: Change
  ifMatch: number | null
  /** The worker that asked (see Broadcast), or null. */
  origin: number | null
  actor: Actor | undefined
  resolve: (o: Outcome) => void
}

interface PendingReload {
  staticGroups: readonly UpstreamGroup[]
  resolve: (o: ReloadOutcome) => void
}

/** Changes another copy of the table committed (a cluster's), to apply as they are, reaching `version`. */
interface PendingRemote {
  remote: readonly Change[]
  version: number
  resolve: (applied: boolean) => void
}

/** The whole table another copy holds, at `version` (a cluster's full resync). */
interface PendingReplace {
  replace: readonly UpstreamGroup[]
  version: number
  resolve: (applied: boolean) => void
}

/** Where changes go when the table's truth is elsewhere (a cluster): the outcome once it is committed there. */
export interface RemoteWriter {
  /** `ack`: what the write waits for (`?ack=`); null: the configured default. */
  write(change: Change, ifMatch: number | null, ack: 'all' | 'commit' | null): Promise<Outcome>
}

/** The outcome of a reload of the static groups. */
export interface ReloadOutcome extends Outcome {
  /** Changes the workers applied (0 when nothing they hold changed). */
  changes: number
}

export class Coordinator {
  private queue: (Pending | PendingReload | PendingRemote | PendingReplace)[] = []
  /** Set in a cluster: changes are committed there, and come back through applyRemote(). */
  remote: RemoteWriter | null = null
  private inFlight = false
  /** Changes and reloads taken and not answered yet. */
  private open = 0
  /** Changes applied since this coordinator started (dyups_table_changes_total). */
  applied = 0
  /** Resolves when every change of the last broadcast batch is answered. */
  private answering: Promise<void> = Promise.resolve()
  /** Hears of every applied change once it is durable (dyups_audit_log); null: nobody listens. */
  onApplied: ((e: AuditEntry) => void) | null = null

  /** `trylock`: dyups_trylock; a reload may change it. */
  constructor(
    private readonly store: Store,
    private readonly broadcast: Broadcast,
    public trylock: boolean,
  ) {}

  /**
   * A change is being applied: taken and not answered yet (an answered change may still wait for its own
   * worker's acknowledgement, which that worker sent before anything else it sends), or a reload is.
   */
  get busy(): boolean {
    return this.open > 0
  }

  /**
   * Applies `change` in turn. `origin`: the worker that asked, which may be answered as soon as every other worker
   * acknowledged (it applies the delta before it reads the answer); null waits for every worker.
   */
  submit(change: Change, ifMatch: number | null, origin: number | null = null, actor?: Actor, ack: 'all' | 'commit' | null = null): Promise<Outcome> {
    if (this.trylock && this.busy) {
      return Promise.resolve({ version: this.store.version, error: new DyupsError('E_LOCKED', 'another change is being applied') })
    }
    this.open++
    if (this.remote !== null) {
      return this.remote.write(change, ifMatch, ack).then(
        (o) => {
          this.open--
          return o
        },
        (e) => {
          this.open--
          return { version: this.store.version, error: new DyupsError('E_INTERNAL', formatError(e)) }
        },
      )
    }
    return new Promise((resolve) => {
      const done = (o: Outcome): void => {
        this.open--
        resolve(o)
      }
      this.queue.push({ change, ifMatch, origin, actor, resolve: done })
      if (!this.inFlight) void this.drain()
    })
  }

  /**
   * Parses a command body and applies the group it builds, as submit() does: a large body is parsed here, in the
   * primary, so that no worker's connections wait while it is. dyups_trylock's check comes first, as Tengine's
   * lock is taken before it parses. A body that builds no group fails with E_COMMANDS, logged as Tengine logs it.
   */
  async update(name: string, body: string, ifMatch: number | null, origin: number | null = null, actor?: Actor, ack: 'all' | 'commit' | null = null): Promise<Outcome> {
    if (this.trylock && this.busy) return { version: this.store.version, error: new DyupsError('E_LOCKED', 'another change is being applied') }
    let group: UpstreamGroup
    try {
      group = await parseCommands(name, body)
    } catch (e) {
      if (!isDyupsError(e)) throw e
      logAddFailed(name, e)
      // The position goes with the reason, as the worker gives it for a body it parsed itself.
      return { version: this.store.version, error: new DyupsError('E_COMMANDS', formatError(e)) }
    }
    return this.submit({ op: 'put', group }, ifMatch, origin, actor, ack)
  }

  /**
   * Applies nginx.conf's new static groups (Store.reload()) in turn with changes, and resolves once the result is
   * durable and every live worker acknowledged it. Never refused by dyups_trylock: it waits for its turn. On
   * error (E_PERSIST) nothing changed anywhere.
   */
  reload(staticGroups: readonly UpstreamGroup[]): Promise<ReloadOutcome> {
    this.open++
    return new Promise((resolve) => {
      const done = (o: ReloadOutcome): void => {
        this.open--
        resolve(o)
      }
      this.queue.push({ staticGroups, resolve: done })
      if (!this.inFlight) void this.drain()
    })
  }

  /**
   * Applies changes another copy of the table committed, in turn with everything else, and resolves once every
   * live worker routes by them: true, or false when they do not follow this table's version (`version` is not
   * the version after them), and nothing was applied; the caller then replaces the table whole.
   */
  applyRemote(changes: readonly Change[], version: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.queue.push({ remote: changes, version, resolve })
      if (!this.inFlight) void this.drain()
    })
  }

  /** Makes the table exactly `groups` at `version` (Store.replace()), in turn; true once every live worker has it. */
  replace(groups: readonly UpstreamGroup[], version: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.queue.push({ replace: groups, version, resolve })
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

  private async run(batch: (Pending | PendingReload | PendingRemote | PendingReplace)[]): Promise<void> {
    // If-Match is checked against the exact version the change would apply to, so a conditional change starts a new
    // sub-batch: everything before it is applied first. So does a reload.
    let group: Pending[] = []
    for (const p of batch) {
      if ('remote' in p || 'replace' in p) {
        if (group.length > 0) await this.commit(group)
        group = []
        await ('remote' in p ? this.applyCommitted(p) : this.applyReplace(p))
        continue
      }
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

  private async applyCommitted(p: PendingRemote): Promise<void> {
    // One change, one version (src/cluster/ commits one change per transaction): anything else is out of line.
    if (this.store.version + p.remote.length !== p.version) return p.resolve(false)
    const results = await this.store.applyBatch(p.remote)
    // Out of line as well: a delete found nothing here, or the journal failed (then nothing applied).
    if (results.some((r) => r.error !== null)) {
      if (results.delta.changes.length > 0) await this.broadcast(results.delta)
      return p.resolve(false)
    }
    // The error log's line for each, as for a local change; who asked is known to the node that wrote it.
    p.remote.forEach((c, i) => logApplied(c as GroupChange, p.version - p.remote.length + i + 1, 'cluster'))
    this.applied += p.remote.length
    if (results.delta.changes.length > 0) await this.broadcast(results.delta)
    p.resolve(true)
  }

  private async applyReplace(p: PendingReplace): Promise<void> {
    const r = await this.store.replace(p.replace, p.version)
    if (r.error !== null) return p.resolve(false)
    if (r.delta.changes.length > 0 || r.delta.version !== r.delta.from) await this.broadcast(r.delta)
    p.resolve(true)
  }

  private async applyReload(p: PendingReload): Promise<void> {
    let r
    const before = this.onApplied === null ? null : new Map(this.store.list().map((e) => [groupKey(e.group.name), e.group] as const))
    try {
      r = await this.store.reload(p.staticGroups)
    } catch (e) {
      const error = e instanceof DyupsError ? e : new DyupsError('E_INTERNAL', String((e as Error)?.message ?? e))
      p.resolve({ version: this.store.version, error, changes: 0 })
      return
    }
    if (before !== null && r.error === null && r.delta.changes.length > 0) {
      this.onApplied!({
        actor: { source: 'reload', client: '', user: null, method: '', target: '' },
        versionBefore: r.delta.from,
        versionAfter: r.delta.version,
        changes: applied(r.delta.changes, before),
      })
    }
    // A reload's changes make one version together.
    for (const c of r.delta.changes) logApplied(c, r.delta.version, 'reload')
    this.applied += r.delta.changes.length
    if (r.delta.changes.length > 0) await this.broadcast(r.delta)
    p.resolve({ version: r.delta.version, error: r.error, changes: r.delta.changes.length })
  }

  private async commit(group: Pending[]): Promise<void> {
    let results
    // The groups the changes replace, for the audit log's diffs: read before the store applies them.
    let before: Map<string, UpstreamGroup | undefined> | null = null
    if (this.onApplied !== null) {
      before = new Map()
      for (const p of group) {
        for (const c of p.change.op === 'batch' ? p.change.changes : [p.change]) {
          const name = c.op === 'put' ? c.group.name : c.name
          const key = groupKey(name)
          if (!before.has(key)) before.set(key, this.store.get(name)?.group)
        }
      }
    }
    try {
      results = await this.store.applyBatch(group.map((p) => p.change))
    } catch (e) {
      const error = e instanceof DyupsError ? e : new DyupsError('E_INTERNAL', String((e as Error)?.message ?? e))
      for (const p of group) p.resolve({ version: this.store.version, error })
      return
    }
    if (before !== null) {
      let at = 0
      for (let i = 0; i < group.length; i++) {
        const r = results[i]!
        if (r.error !== null) continue
        const c = group[i]!.change
        const n = c.op === 'batch' ? c.changes.length : 1
        this.onApplied!({ actor: group[i]!.actor, versionBefore: r.version - 1, versionAfter: r.version, changes: applied(results.delta.changes.slice(at, at + n), before) })
        at += n
      }
    }
    for (let i = 0; i < group.length; i++) {
      const r = results[i]!
      if (r.error !== null) continue
      const c = group[i]!.change
      const source = sourceText(group[i]!.actor)
      for (const g of c.op === 'batch' ? c.changes : [c]) {
        logApplied(g, r.version, source)
        this.applied++
      }
    }
    // Durable now; the previous batch may still be waiting for acknowledgements.
    await this.answering
    let allAnswered!: () => void
    const answering = new Promise<void>((resolve) => (allAnswered = resolve))
    const answered: boolean[] = new Array(group.length).fill(false)
    let left = group.length
    const answer = (i: number): void => {
      if (answered[i]) return
      answered[i] = true
      const r = results[i]!
      group[i]!.resolve({ version: r.version, error: r.error })
      if (--left === 0) allAnswered()
    }
    const answerAll = (): void => {
      for (let i = 0; i < group.length; i++) answer(i)
    }
    if (results.delta.changes.length === 0) return answerAll()
    let sole: number | null | undefined
    for (const p of group) {
      if (p.origin === null || (sole !== undefined && sole !== p.origin)) {
        sole = null
        break
      }
      sole = p.origin
    }
    // Not awaited: the next batch may go to the disk while workers acknowledge this one.
    this.answering = answering
    void this.broadcast(results.delta, (worker) => {
      for (let i = 0; i < group.length; i++) if (group[i]!.origin === worker) answer(i)
    }, sole ?? null).then(answerAll)
  }
}

/**
 * The error log's `info` line for every applied change: the version it made, what it did and who asked (Tengine
 * logs nothing of the kind; an operator reading the log after an incident wants to know what changed when).
 */
function logApplied(change: GroupChange, version: number, source: string): void {
  const what = change.op === 'put'
    ? `upstream "${change.group.name}" set (${change.group.servers.length} server${change.group.servers.length === 1 ? '' : 's'})`
    : `upstream "${change.name}" deleted`
  log('info', `[dyups] table version ${version}: ${what}, source: ${source}`)
}

/** Who asked, as the change's log line names it: `POST /upstream/NAME, client: ADDR`, `reload`. */
function sourceText(a: Actor | undefined): string {
  if (a === undefined) return 'unknown'
  if (a.source === 'reload') return 'reload'
  // The target as sent, bounded and without control bytes: a log line stays one line.
  const target = (a.target.length > 200 ? a.target.slice(0, 200) + '...' : a.target).replace(/[\x00-\x1f\x7f]/g, '?')
  return `${a.source === 'script' ? 'script ' : ''}${a.method} ${target}, client: ${a.client}`
}

/** Group changes as applied, each with the group it replaced; `before` (by key) follows them. */
function applied(changes: readonly GroupChange[], before: Map<string, UpstreamGroup | undefined>): AppliedChange[] {
  return changes.map((c) => {
    const name = c.op === 'put' ? c.group.name : c.name
    const key = groupKey(name)
    const after = c.op === 'put' ? c.group : undefined
    const was = before.get(key)
    before.set(key, after)
    return { name: was?.name ?? name, before: was, after }
  })
}

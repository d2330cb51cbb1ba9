/**
 * The Store: the primary's authoritative upstream table, its durable application of changes and its restore.
 *
 * Changes are applied one group commit at a time: every batch that arrives while a commit is being written joins
 * the next one, which is a single journal record and a single fsync. A commit's changes reach the in-memory
 * table only after they are durable, all at once, so a read never sees a change that could still be lost, and a
 * failed write leaves the table as it was.
 */
import { isAbsolute } from 'node:path'
import { DyupsError } from '../errors.js'
import { assignIds, groupKey, type Resolver, type UpstreamGroup } from '../upstream/index.js'
import { encodeChanges, Persistence } from './persistence.js'
import { encodeRecord } from './record.js'
import { reloadTable, replaceTable } from './reload.js'
import { Table } from './table.js'
import type {
  BatchResult,
  Change,
  ChangeResult,
  GroupChange,
  PersistStats,
  ReloadResult,
  Snapshot,
  TableCounts,
  TableEntry,
} from './types.js'

export interface StoreOptions {
  /** Groups of nginx.conf outside PATH, in configuration order (see upstreamConfMatcher()). */
  readonly staticGroups: readonly UpstreamGroup[]
  /** `dyups_upstream_conf`, absolute. Without it the table lives in memory only. */
  readonly path?: string | undefined
  /** Resolves host names of `server` lines in PATH (our own PATH holds addresses only). */
  readonly resolve?: Resolver | undefined
  /**
   * Journal size that starts a background rewrite of PATH.
   * @default 4 MiB (a rewrite of 100 000 groups writes about 5 MB, so rewrites cost about as much as appends)
   */
  readonly compactBytes?: number | undefined
  /**
   * Journal records that start a background rewrite of PATH (bounds replay work at start-up).
   * @default 10000
   */
  readonly compactRecords?: number | undefined
  /** Receives failures of background rewrites of PATH, for the error log. Nothing is lost by them. */
  readonly onError?: ((e: DyupsError) => void) | undefined
}

interface Pending {
  readonly changes: readonly Change[]
  readonly resolve: (r: BatchResult) => void
}

/**
 * A reload waits in the same queue as changes and commits alone, between two group commits. So does a replace
 * (`replace` set: the whole table, at that version).
 */
interface PendingReload {
  readonly staticGroups: readonly UpstreamGroup[]
  readonly replace?: { readonly version: number }
  readonly resolve: (r: ReloadResult) => void
}

type Queued = Pending | PendingReload

const isReload = (q: Queued): q is PendingReload => 'staticGroups' in q

const NOT_FOUND = 'not found uptream' // sic: Tengine's body for 404

const batchResult = (results: ChangeResult[], from: number, version: number, changes: readonly GroupChange[]): BatchResult =>
  Object.assign(results, { delta: { from, version, changes } })

export class Store {
  /** Replaced whole by a reload; changes edit it in place. */
  #table: Table
  readonly #persist: Persistence | null
  #queue: Queued[] = []
  #running = false
  #run: Promise<void> = Promise.resolve()
  #closing = false

  private constructor(table: Table, persist: Persistence | null) {
    this.#table = table
    this.#persist = persist
  }

  /**
   * Builds the table from the static groups, then PATH, then the journal: the table of the last acknowledged
   * change, version included. A PATH that does not exist is an empty one (and is created).
   * @throws RangeError for a relative `path` or a bad threshold.
   * @throws DyupsError E_CONFIG (with file and line when known) for bad content of PATH or its journal;
   *   E_PERSIST when the files cannot be opened or created.
   */
  static async open(opts: StoreOptions): Promise<Store> {
    const compactBytes = opts.compactBytes ?? 4 * 1024 * 1024
    const compactRecords = opts.compactRecords ?? 10000
    if (!Number.isSafeInteger(compactBytes) || compactBytes < 1) {
      throw new RangeError(`compactBytes must be a positive integer, got ${compactBytes}`)
    }
    if (!Number.isSafeInteger(compactRecords) || compactRecords < 1) {
      throw new RangeError(`compactRecords must be a positive integer, got ${compactRecords}`)
    }
    if (opts.path !== undefined && !isAbsolute(opts.path)) {
      throw new RangeError(`path must be absolute, got "${opts.path}"`)
    }
    const table = new Table(opts.staticGroups)
    const persist = opts.path === undefined ? null
      : await Persistence.load(table, opts.path, opts.resolve, { compactBytes, compactRecords, onError: opts.onError })
    return new Store(table, persist)
  }

  /** +1 per applied change; continues across restarts when persistent. */
  get version(): number {
    return this.#table.version
  }

  get size(): number {
    return this.#table.size
  }

  /** The group named `name` (case-insensitive), with its static flag. */
  get(name: string): TableEntry | undefined {
    return this.#table.get(name)
  }

  /** All groups in /list order: static ones in configuration order, then created ones in creation order. */
  list(): TableEntry[] {
    return this.#table.list()
  }

  counts(): TableCounts {
    return this.#table.counts()
  }

  /** The whole table, for a worker that starts; afterwards it follows the deltas of applyBatch(). */
  snapshot(): Snapshot {
    return this.#table.snapshot()
  }

  /** Persistence counters; null without a PATH. */
  get persistStats(): PersistStats | null {
    return this.#persist?.stats ?? null
  }

  /**
   * Applies `changes` in order and resolves with one result per change (`error` null when it applied, `version`
   * the table version right after it) plus the batch's `delta` for workers. A delete of an unknown name fails
   * alone (E_NO_GROUP, "not found uptream") and the others still apply. Resolves once every successful change is
   * durable; calls made while a journal write is in flight share the next write and fsync (group commit). If that
   * write fails, nothing of the batch is applied and each of its changes fails with E_PERSIST. Never rejects.
   * @example
   * const r = await store.applyBatch([{ op: 'put', group }, { op: 'delete', name: 'old' }])
   * if (r[0].error === null) broadcast(r.delta)
   */
  applyBatch(changes: readonly Change[]): Promise<BatchResult> {
    if (this.#closing) {
      const v = this.#table.version
      const error = new DyupsError('E_INTERNAL', 'upstream table is closed')
      return Promise.resolve(batchResult(changes.map(() => ({ version: v, error })), v, v, []))
    }
    return new Promise((resolve) => {
      this.#enqueue({ changes, resolve })
    })
  }

  /**
   * Applies nginx.conf's new static groups (outside PATH, in configuration order) to the table, as a restart
   * with the new nginx.conf would: a static group never changed through the interface takes its new definition
   * or goes away with it; a replaced one keeps the interface's version (and is a created group once nginx.conf
   * drops it); a deleted one stays deleted while nginx.conf still defines it; new names appear among the static
   * groups in configuration order; created groups keep their place after them (reload.ts).
   *
   * It takes its turn among applyBatch() calls: changes taken earlier are applied first and later ones apply to
   * the reloaded table. The reloaded table is made durable by rewriting PATH (the journal's records were written
   * against the old static groups), so a restart reproduces it. Resolves with the delta that takes workers to
   * it (`version` the table version after it), or with E_PERSIST and nothing changed. Never rejects.
   */
  reload(staticGroups: readonly UpstreamGroup[]): Promise<ReloadResult> {
    if (this.#closing) {
      const v = this.#table.version
      return Promise.resolve({
        error: new DyupsError('E_INTERNAL', 'upstream table is closed'),
        delta: { from: v, version: v, changes: [] },
      })
    }
    return new Promise((resolve) => {
      this.#enqueue({ staticGroups, resolve })
    })
  }

  /**
   * Makes the table hold exactly `groups`, in that order, at `version`: another copy of the table (a cluster's
   * etcd, src/cluster/) is the truth and this one follows it. Groups nginx.conf defines keep their static flag and
   * place; the rest follow in the order given. Durable as a reload is (PATH rewritten); resolves with the delta
   * that takes workers there, or with E_PERSIST and nothing changed. Never rejects.
   */
  replace(groups: readonly UpstreamGroup[], version: number): Promise<ReloadResult> {
    if (this.#closing) {
      const v = this.#table.version
      return Promise.resolve({
        error: new DyupsError('E_INTERNAL', 'upstream table is closed'),
        delta: { from: v, version: v, changes: [] },
      })
    }
    return new Promise((resolve) => {
      this.#enqueue({ staticGroups: groups, replace: { version }, resolve })
    })
  }

  #enqueue(q: Queued): void {
    this.#queue.push(q)
    if (!this.#running) {
      this.#running = true
      this.#run = this.#drain()
    }
  }

  /** Resolves when no commit and no background rewrite of PATH is in progress. */
  async idle(): Promise<void> {
    for (;;) {
      if (this.#running) await this.#run
      else if (this.#persist !== null && this.#persist.busy) await this.#persist.settle()
      else return
    }
  }

  /**
   * Stops taking changes, finishes those already taken, writes PATH at the final version and removes the
   * journal (PATH being durable first).
   * @throws DyupsError E_PERSIST if PATH cannot be written; the journal then stays for the next start.
   */
  async close(): Promise<void> {
    this.#closing = true
    while (this.#running) await this.#run
    await this.#persist?.close(this.#table)
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const head = this.#queue[0]!
        if (isReload(head)) {
          this.#queue.shift()
          try {
            await this.#reload(head)
          } catch (e) {
            const v = this.#table.version
            const error = new DyupsError('E_INTERNAL', e instanceof Error ? e.message : String(e))
            head.resolve({ error, delta: { from: v, version: v, changes: [] } })
          }
          continue
        }
        // Every batch up to the next reload shares one commit.
        let n = this.#queue.findIndex(isReload)
        if (n === -1) n = this.#queue.length
        const group = this.#queue.slice(0, n) as Pending[]
        this.#queue = this.#queue.slice(n)
        try {
          await this.#commit(group)
        } catch (e) {
          // A bug, not a disk error (those are handled inside): answer instead of leaving callers hanging.
          const v = this.#table.version
          const error = new DyupsError('E_INTERNAL', e instanceof Error ? e.message : String(e))
          for (const p of group) {
            p.resolve(batchResult(p.changes.map(() => ({ version: v, error })), v, v, []))
          }
          continue
        }
        if (this.#persist !== null) await this.#persist.maybeRewrite(this.#table)
      }
    } finally {
      this.#running = false
    }
  }

  async #reload(p: PendingReload): Promise<void> {
    const base = this.#table.version
    const { table, changes, changed } = p.replace === undefined
      ? reloadTable(this.#table, p.staticGroups)
      : replaceTable(this.#table, p.staticGroups, p.replace.version)
    if (changed && this.#persist !== null) {
      try {
        await this.#persist.checkpoint(table)
      } catch (e) {
        p.resolve({ error: e as DyupsError, delta: { from: base, version: base, changes: [] } })
        return
      }
    }
    this.#table = table
    p.resolve({ error: null, delta: { from: base, version: table.version, changes } })
  }

  async #commit(group: readonly Pending[]): Promise<void> {
    const table = this.#table
    const base = table.version
    // Each touched key's group once the earlier changes of this commit apply (null: deleted).
    const exists = new Map<string, UpstreamGroup | null>()
    const planned: Change[] = []
    const outs: { results: ChangeResult[]; changes: GroupChange[]; from: number; version: number }[] = []
    // A group change settled against `seen` (the commit's state so far, over the table), or an error.
    const settle = (c: GroupChange, seen: Map<string, UpstreamGroup | null>): GroupChange | DyupsError => {
      const look = (key: string, name: string): UpstreamGroup | undefined =>
        seen.has(key) ? seen.get(key) ?? undefined : exists.has(key) ? exists.get(key) ?? undefined : table.get(name)?.group
      if (c.op === 'put') {
        const key = groupKey(c.group.name)
        // Ids are settled here, in the single writer, so the journal and every worker hold the same ones.
        const group = assignIds(look(key, c.group.name), c.group)
        seen.set(key, group)
        return { op: 'put', group }
      }
      const key = groupKey(c.name)
      if (look(key, c.name) === undefined) return new DyupsError('E_NO_GROUP', NOT_FOUND)
      seen.set(key, null)
      return { op: 'delete', name: c.name }
    }
    let v = base
    for (const p of group) {
      const from = v
      const results: ChangeResult[] = []
      const changes: GroupChange[] = []
      for (const c of p.changes) {
        let change: Change
        if (c.op === 'batch') {
          // All or nothing: settled on a scratch map, merged only when every change of it applies.
          const scratch = new Map<string, UpstreamGroup | null>()
          const settled: GroupChange[] = []
          let failed: DyupsError | null = null
          for (const sub of c.changes) {
            const r = settle(sub, scratch)
            if (r instanceof DyupsError) {
              failed = r
              break
            }
            settled.push(r)
          }
          if (failed !== null) {
            results.push({ version: v, error: failed })
            continue
          }
          for (const [k, g] of scratch) exists.set(k, g)
          change = { op: 'batch', changes: settled }
          changes.push(...settled)
        } else {
          const r = settle(c, exists)
          if (r instanceof DyupsError) {
            results.push({ version: v, error: r })
            continue
          }
          change = r
          changes.push(r)
        }
        v++
        planned.push(change)
        results.push({ version: v, error: null })
      }
      outs.push({ results, changes, from, version: v })
    }

    if (planned.length > 0 && this.#persist !== null) {
      try {
        await this.#persist.append(encodeRecord(encodeChanges(base + 1, planned)), table)
      } catch (e) {
        const error = e as DyupsError
        for (let i = 0; i < group.length; i++) {
          const results = outs[i]!.results.map((r) => ({ version: base, error: r.error ?? error }))
          group[i]!.resolve(batchResult(results, base, base, []))
        }
        return
      }
    }

    for (const c of planned) table.apply(c)
    for (let i = 0; i < group.length; i++) {
      const o = outs[i]!
      group[i]!.resolve(batchResult(o.results, o.from, o.version, o.changes))
    }
  }
}

/** The shapes the store exchanges with its callers: changes in, results and deltas out. */
import type { UpstreamGroup } from '../upstream/index.js'
import type { DyupsError } from '../errors.js'

/** A change to one group: `put` creates or replaces the group named `group.name`; `delete` removes `name`. */
export type GroupChange =
  | { readonly op: 'put'; readonly group: UpstreamGroup }
  | { readonly op: 'delete'; readonly name: string }

/**
 * One change to the table: a group change, or `batch`, several applied as one (POST /api/batch): all or none of
 * them, one version, one journal record. Workers receive a batch's group changes, flattened, in one delta.
 */
export type Change = GroupChange | { readonly op: 'batch'; readonly changes: readonly GroupChange[] }

/** The outcome of one change. `version` is the table version right after it (unchanged when it failed). */
export interface ChangeResult {
  readonly version: number
  /** null when the change applied. */
  readonly error: DyupsError | null
}

/**
 * What a worker needs to follow one batch: the successful changes, in order, taking its table from version `from`
 * to `version`. Workers receive only changed groups, never the table.
 */
export interface Delta {
  readonly from: number
  readonly version: number
  readonly changes: readonly GroupChange[]
}

/**
 * One result per change of the batch, in order, plus the batch's delta (`changes` empty and `from === version`
 * when nothing applied).
 */
export type BatchResult = ChangeResult[] & { readonly delta: Delta }

/**
 * A Delta as it crosses to workers: each change is one string, a put as the group's packGroup() line (which always
 * starts with `[`), a delete as `-` followed by the name. Cheaper to send, parse and keep than group objects, and
 * the worker stores a put's line as it is.
 */
export interface PackedDelta {
  readonly from: number
  readonly version: number
  readonly changes: readonly string[]
}

/** The outcome of Store.reload(). */
export interface ReloadResult {
  /** null when the new static groups applied; otherwise nothing changed (E_PERSIST: PATH could not be written). */
  readonly error: DyupsError | null
  /** What workers apply to follow it; `changes` empty when nothing they hold changed (or on error). */
  readonly delta: Delta
}

/** One group of the table. `static`: it sits where `nginx.conf` (outside PATH) defines it. */
export interface TableEntry {
  readonly group: UpstreamGroup
  readonly static: boolean
}

/**
 * The whole table at one version, for a worker that starts (or restarts) and must catch up: one packGroup() line per
 * group, in /list order, so 100 000 groups cross IPC as one string and stay compact in the worker.
 */
export interface Snapshot {
  readonly version: number
  readonly packed: string
}

/** Sizes for the `[dyups] has N upstreams, N static, N deleted` log line. */
export interface TableCounts {
  readonly groups: number
  readonly static: number
  /** Static groups that were deleted (they are remembered so a restart does not bring them back). */
  readonly deleted: number
}

/** Counters of the persistence layer, for tests and status pages. */
export interface PersistStats {
  /** Journal fsyncs (one per group commit). */
  readonly syncs: number
  /** Journal records written (one per group commit). */
  readonly records: number
  /** Bytes in the journal files not yet folded into PATH. */
  readonly journalBytes: number
  /** Completed rewrites of PATH. */
  readonly rewrites: number
  /** The version PATH reflects on disk. */
  readonly pathVersion: number
}

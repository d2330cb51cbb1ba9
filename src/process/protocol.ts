/**
 * Messages between the primary and its workers (the IPC channel of child_process.fork, V8-serialized). Changes go up as validated groups, come back
 * down as versioned deltas that carry only what changed, and are acknowledged by version. Groups cross packed
 * (PackedDelta's encoding: a packGroup() line for a put, `-NAME` for a delete): a third of the bytes of the
 * objects, and what the worker's table keeps anyway.
 */
import type { Change, PackedDelta, Snapshot, TableCounts } from '../store/index.js'
import { packGroup } from '../upstream/index.js'
import type { Directive } from '../config/index.js'
import type { Code } from '../errors.js'
import type { HealthChange, StatusRow } from '../health/index.js'
import type { Actor, ConnCounts, LiveReport, PeerRow, ProcStat } from '../dyups/index.js'

export interface Boot {
  prefix: string
  confFile: string
  /** The configuration tree, `upstream` blocks of the persistence file left out (the table carries them). */
  tree: readonly Directive[]
}

export type ToWorker =
  /**
   * `down`: the addresses active health checks hold down right now. A large table's snapshot comes in pieces:
   * `part` messages with its first lines, then the init with the rest. `hold`: the sockets are not bound yet
   * (orphaned workers of a dead primary still hold them): build everything, answer `built`, and listen at `serve`.
   */
  | { t: 'init'; boot: Boot; snapshot: Snapshot; down?: string[]; hold?: true }
  | { t: 'part'; packed: string }
  /**
   * A listening socket for the listener `key`, its bound handle passed with the message (the second argument of
   * `send`); every one comes before the init. The worker listens on it and accepts from it; the primary keeps it.
   */
  | { t: 'listen'; key: string }
  /** Active health checks: addresses that went down or came back, in order. */
  | { t: 'health'; changes: HealthChange[] }
  /** The answer to a checkStatus request: the prober's rows. */
  | { t: 'checkStatus'; id: number; rows: StatusRow[] }
  /**
   * `counts` after the delta, for dyups_read_msg_log. `lazy`: no answer waits for this worker's acknowledgement
   * (it asked for every change of the delta), so it may send it with its next change or a little later.
   * `r`: answers for this worker, readable once the delta is applied.
   */
  | { t: 'apply'; delta: PackedDelta; counts: TableCounts; lazy?: true; r?: Answer[] }
  /** Outcomes of changes this worker sent, all of them answerable now (see Coordinator). */
  | { t: 'results'; r: Answer[] }
  /** After a held init: the sockets have come (`listen` messages), listen on them now. */
  | { t: 'serve' }
  | { t: 'stop'; graceful: boolean }
  | { t: 'reopen' }
  /** The JSON interface reads live state: this worker's rows of every address (answered with `peers`). */
  | { t: 'peers'; id: number }
  /** The answer to `live`: every worker's rows, gathered by the primary. */
  | { t: 'live'; id: number; report: LiveReport }
  | { t: 'busy'; id: number; busy: boolean }
  /** The answer to `cluster`: GET /api/cluster's report, null without dyups_cluster. */
  | { t: 'cluster'; id: number; report: object | null }

export type ToPrimary =
  /** The worker listens for messages (anything sent earlier, e.g. at 'online', would be lost while ESM loads). */
  | { t: 'hello' }
  | { t: 'ready' }
  /** A held init is done: the worker listens as soon as it hears `serve`. */
  | { t: 'built' }
  | { t: 'ack'; version: number }
  /** `change`: one change in PackedDelta's encoding; `acked`: a late acknowledgement (see apply's `lazy`). */
  | { t: 'change'; id: number; change: string; ifMatch: number | null; acked?: number; actor?: Actor; ack?: 'all' | 'commit' }
  /** A command body too large to parse in the worker (PARSE_AWAY_BYTES): the primary parses and applies it. */
  | { t: 'update'; id: number; name: string; body: string; ifMatch: number | null; acked?: number; actor?: Actor; ack?: 'all' | 'commit' }
  | { t: 'busy'; id: number }
  | { t: 'fatal'; message: string }
  /** A check_status page asks for the prober's rows. */
  | { t: 'checkStatus'; id: number }
  /** The JSON interface asks for every worker's live state of the servers. */
  | { t: 'live'; id: number }
  /** GET /api/cluster asks for the fleet's nodes. */
  | { t: 'cluster'; id: number }
  /** This worker's answer to `peers`. */
  | { t: 'peers'; id: number; rows: PeerRow[]; conns: ConnCounts; listeners: Record<string, ConnCounts>; proc: ProcStat }

/** The outcome of one change: [id, table version after it] or, when it failed, [id, version, code, message]. */
export type Answer = [number, number] | [number, number, Code, string]

/**
 * A change as a worker sends it: a put as its packGroup() line (`[…`), a delete as `-NAME`, a batch as `*` and the
 * JSON array of its changes' own forms.
 */
export function packChange(c: Change): string {
  if (c.op === 'put') return packGroup(c.group)
  if (c.op === 'delete') return '-' + c.name
  return '*' + JSON.stringify(c.changes.map(packChange))
}

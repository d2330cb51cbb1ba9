/**
 * Messages between the primary and its workers (node:cluster IPC, JSON). Changes go up as validated groups, come back
 * down as versioned deltas that carry only what changed, and are acknowledged by version.
 */
import type { Change, Delta, Snapshot, TableCounts } from '../store/index.js'
import type { Directive } from '../config/index.js'
import type { Code } from '../errors.js'
import type { HealthChange, StatusRow } from '../health/index.js'

export interface Boot {
  prefix: string
  confFile: string
  /** The configuration tree, `upstream` blocks of the persistence file left out (the table carries them). */
  tree: readonly Directive[]
}

export type ToWorker =
  /** `down`: the addresses active health checks hold down right now. */
  | { t: 'init'; boot: Boot; snapshot: Snapshot; down?: string[] }
  /** Active health checks: addresses that went down or came back, in order. */
  | { t: 'health'; changes: HealthChange[] }
  /** The answer to a checkStatus request: the prober's rows. */
  | { t: 'checkStatus'; id: number; rows: StatusRow[] }
  /** `counts` after the delta, for dyups_read_msg_log. */
  | { t: 'apply'; delta: Delta; counts: TableCounts }
  /** The outcome of one change: the table version after it, or the error that stopped it. */
  | { t: 'result'; id: number; version: number; error: { code: Code; message: string } | null }
  | { t: 'stop'; graceful: boolean }
  | { t: 'reopen' }
  | { t: 'busy'; id: number; busy: boolean }

export type ToPrimary =
  /** The worker listens for messages (anything sent earlier, e.g. at 'online', would be lost while ESM loads). */
  | { t: 'hello' }
  | { t: 'ready' }
  | { t: 'ack'; version: number }
  | { t: 'change'; id: number; change: Change; ifMatch: number | null }
  | { t: 'busy'; id: number }
  | { t: 'fatal'; message: string }
  /** A check_status page asks for the prober's rows. */
  | { t: 'checkStatus'; id: number }

/**
 * store/: the primary's versioned upstream table and its persistence (`dyups_upstream_conf`), and the replica
 * a worker keeps from snapshots and deltas.
 *
 * Start-up, in the primary: parse nginx.conf; build `staticGroups` from its `upstream` blocks in configuration
 * order, leaving out those whose `Directive.file` is PATH (upstreamConfMatcher(path)); then Store.open().
 * On reload, the same list built from the new nginx.conf goes to Store.reload().
 */
export { Store, type StoreOptions } from './store.js'
export { Replica, packDelta } from './replica.js'
export { checkWritable, upstreamConfMatcher } from './check.js'
export type {
  BatchResult,
  Change,
  GroupChange,
  ChangeResult,
  Delta,
  PackedDelta,
  PersistStats,
  ReloadResult,
  Snapshot,
  TableCounts,
  TableEntry,
} from './types.js'

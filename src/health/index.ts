/**
 * health/: Tengine's active health checks (`check …` lines), probed once for all workers. The Prober runs in the
 * one process that follows the upstream table (the primary, or the only process with `master_process off`) and
 * reports per-address up/down changes; each worker applies them with a HealthView; check_status pages are
 * rendered from the prober's rows.
 */
export { Prober, type ProberOptions } from './prober.js'
export { HealthView } from './view.js'
export { renderStatus, parseStatusQuery, queryArg, STATUS_DOWN, STATUS_UP, STATUS_FORMATS, type StatusFormat, type StatusQuery } from './status.js'
export type { GroupChange, HealthChange, StatusRow } from './types.js'

/** dyups/: the interface (REST handler) and the operations the scripting APIs share. */
export { handleInterface, type InterfaceRequest, type InterfaceDeps } from './rest.js'
export { update, remove, reply, logAddFailed, LOCKED_BODY, PARSE_AWAY_BYTES } from './api.js'
export type { TableView, ChangeSink, Outcome, Reply, LiveSource, LiveReport, PeerRow, ConnCounts, ProcStat, Actor, ClusterSource, Ack, HealthRow } from './types.js'
export { AuditLog, auditLine, type AuditEntry, type AppliedChange } from './audit.js'
export { renderMetrics, sumConns, wantsOpenMetrics, METRICS_TYPE, OPENMETRICS_TYPE } from './metrics.js'
export { dashboardData } from './dashboard-data.js'
export { DASHBOARD_HTML } from './dashboard-page.js'

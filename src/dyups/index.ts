/** dyups/: the interface (REST handler) and the operations the scripting APIs share. */
export { handleInterface, type InterfaceRequest, type InterfaceDeps } from './rest.js'
export { update, remove, reply, logAddFailed, LOCKED_BODY, PARSE_AWAY_BYTES } from './api.js'
export type { TableView, ChangeSink, Outcome, Reply, LiveSource, LiveReport, PeerRow, ClusterSource, Ack } from './types.js'
export { renderMetrics, METRICS_TYPE } from './metrics.js'

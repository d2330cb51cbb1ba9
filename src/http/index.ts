/**
 * http/: the request path: listeners, virtual servers, locations, variables, handlers, error pages, access log.
 */
export { compileHttp, type HttpSource } from './conf/compile.js'
export { removeZoneObjects, sharedZonesUnavailable } from './lib/shm-zone.js'
export { HttpWorker } from './core/worker.js'
export type { HealthSource, WorkerDeps } from './lib/context.js'
export { RoutingTable } from './lib/routing-table.js'
export { connStats, listenerCounts } from './lib/conn-stats.js'
export type { HttpConfig } from './conf/types.js'

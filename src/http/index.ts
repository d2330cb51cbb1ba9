/**
 * http/: the request path: listeners, virtual servers, locations, variables, handlers, error pages, access log.
 */
export { compileHttp, type HttpSource } from './conf/compile.js'
export { HttpWorker, type WorkerDeps } from './core/worker.js'
export { RoutingTable } from './lib/routing-table.js'
export type { HealthSource } from './modules/check-status.js'
export type { HttpConfig } from './conf/types.js'

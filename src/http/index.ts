/**
 * http/: the request path: listeners, virtual servers, locations, variables, handlers, error pages, access log.
 */
export { compileHttp, type HttpSource } from './compile.js'
export { HttpWorker, type WorkerDeps } from './worker.js'
export { RoutingTable } from './routing-table.js'
export type { HealthSource } from './check-status.js'
export type { HttpConfig } from './conf.js'

// A worker compiles the same modules at every start (a respawn, each generation of a reload): V8's compile cache,
// kept by Node in its usual place (NODE_COMPILE_CACHE, or node-compile-cache under the temp directory), roughly
// halves that. Enabled before the rest is imported, which a static import would not allow.
import { enableCompileCache } from 'node:module'

enableCompileCache()
const { startWorker } = await import('./worker.js')
startWorker()

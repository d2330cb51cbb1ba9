import { startWorker } from './worker.js'

startWorker()

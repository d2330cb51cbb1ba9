/** The live state status pages read: every worker's (through the primary), or this worker's alone without one. */
import type { LiveReport } from '../../dyups/index.js'
import { connStats, listenerCounts } from '../lib/conn-stats.js'
import type { Services } from '../lib/context.js'

export function liveReport(w: Services): Promise<LiveReport> {
  if (w.deps.live !== undefined) return w.deps.live.report()
  return Promise.resolve({ workers: 1, statics: null, rows: [w.deps.table.peerRows()], conns: [connStats.counts()], listeners: [listenerCounts()] })
}

/**
 * dyups_cluster in the process that owns the Store and the Coordinator: the Cluster (src/cluster/) is the
 * Coordinator's remote writer, and applies what etcd commits through the Coordinator, as local changes are.
 */
import { dirname, join } from 'node:path'
import { Cluster, nodeName } from '../cluster/index.js'
import type { Store } from '../store/index.js'
import type { Coordinator } from './coordinator.js'
import type { Settings } from './settings.js'

/** The Cluster for `settings.cluster` (not started yet), set as the Coordinator's writer; null without it. */
export function joinCluster(settings: Settings, store: Store, coordinator: Coordinator): Cluster | null {
  const c = settings.cluster
  if (c === null) return null
  const cluster = new Cluster({
    ...c,
    // Beside the pid file: one per instance, kept across restarts.
    nodeName: c.node ?? nodeName(join(dirname(settings.pidPath), 'dyups.node')),
    ack: settings.clusterAck,
    ackTimeout: settings.clusterAckTimeout,
  }, {
    get version() {
      return store.version
    },
    get: (name) => store.get(name),
    list: () => store.list(),
    applyRemote: (changes, version) => coordinator.applyRemote(changes, version),
    replace: (groups, version) => coordinator.replace(groups, version),
    get trylock() {
      return coordinator.trylock
    },
  })
  coordinator.remote = cluster
  return cluster
}

/**
 * `master_process off`: the Store, the Coordinator and one worker in one process, joined by direct calls instead of
 * IPC. The same code paths as with workers, so tests of either mode cover both.
 */
import { formatError } from '../errors.js'
import { configureLog, log, reopenLog } from '../log.js'
import { Store } from '../store/index.js'
import { HttpWorker, RoutingTable, compileHttp, connStats, listenerCounts } from '../http/index.js'
import { HealthView, Prober } from '../health/index.js'
import type { Booted } from './boot.js'
import { Coordinator } from './coordinator.js'
import { joinCluster } from './cluster.js'
import { bindAll, closeAll, removeSocketFiles, type Bound } from './listeners.js'
import { bindWhenFree, findOrphans, removeWorkerPids, signalOrphans } from './orphans.js'
import { removePid, writePid } from './pidfile.js'
import { logCounts } from './settings.js'
import { procStat } from './procstat.js'
import { healthRows } from './health-rows.js'
import { groupKey } from '../upstream/index.js'
import { AuditLog } from '../dyups/index.js'

export async function runSingle(booted: Booted, onReady: () => void): Promise<void> {
  const { settings, boot } = booted
  configureLog(settings.errorLogs)
  for (const w of booted.warnings) log('warn', w)
  // As the primary's: the sockets before the persistence files, the pid file once they accept; and as the
  // primary's, workers that outlived the last primary on this pid file are replaced: everything is built before
  // they are told to stop, and the sockets are bound as they release them (process/primary.ts, takeOver).
  const orphans = findOrphans(settings.pidPath)
  let listening = orphans.pids.length === 0 ? await bindAll(booted.listeners) : new Map<string, Bound>()
  let store: Store
  try {
    store = await Store.open({ staticGroups: booted.staticGroups, path: settings.upstreamConf ?? undefined })
  } catch (e) {
    closeAll(listening)
    throw e
  }
  const table = new RoutingTable()
  table.init(store.snapshot())
  const health = new HealthView(table.states)
  const prober = new Prober({ onChange: (changes) => health.apply(changes) })
  prober.load(store.list().map((e) => e.group))
  const coordinator = new Coordinator(
    store,
    async (delta) => {
      prober.apply(delta.changes)
      table.apply(delta)
      if (settings.readMsgLog) logCounts(store.counts())
    },
    settings.trylock,
  )
  const audit = settings.auditLog === null ? null : new AuditLog(settings.auditLog)
  if (audit !== null) coordinator.onApplied = (e) => audit.write(e)
  // dyups_cluster: as the primary's (process/primary.ts), caught up with the fleet before it serves.
  const cluster = joinCluster(settings, store, coordinator)
  if (cluster !== null) await cluster.start(3000)
  const http = new HttpWorker(compileHttp(boot), {
    table,
    sink: {
      submit: async (change, ifMatch, actor, ack) => {
        const o = await coordinator.submit(change, ifMatch, null, actor, ack ?? null)
        return { version: o.version, error: o.error && { code: o.error.code, message: o.error.message } }
      },
      busy: async () => coordinator.busy,
    },
    trylock: settings.trylock,
    readMsgLog: settings.readMsgLog,
    health: { status: async () => prober.status() },
    live: {
      report: async () => ({
        workers: 1,
        statics: store.list().filter((e) => e.static).map((e) => groupKey(e.group.name)),
        rows: [table.peerRows()],
        conns: [connStats.counts()],
        listeners: [listenerCounts()],
        processes: [procStat('single')],
        health: healthRows(prober.status()),
        changes: coordinator.applied,
      }),
    },
    cluster: { report: async () => cluster?.report() ?? null },
  })
  if (orphans.pids.length > 0) {
    const told = signalOrphans(settings.pidPath, orphans, 'SIGQUIT')
    log('notice', `sent QUIT to worker process(es) ${told.join(', ') || 'none'} (orphaned), binding the sockets they release`)
    try {
      listening = await bindWhenFree(booted.listeners, orphans.pids, 35_000)
    } catch (e) {
      prober.close()
      await store.close().catch(() => undefined)
      throw e
    }
    removeWorkerPids(settings.pidPath, orphans.primary)
  }
  await http.listen(new Map([...listening].map(([key, b]) => [key, b.handle])))
  writePid(settings.pidPath)

  let exiting = false
  const stop = async (graceful: boolean): Promise<void> => {
    if (exiting) return
    exiting = true
    prober.close()
    // The servers own the sockets now: they close them (graceful) or the exit does; the socket files go here.
    const closing = graceful ? http.close(settings.shutdownTimeout) : null
    removeSocketFiles(listening)
    if (closing !== null) await closing
    await cluster?.close()
    try {
      await store.close()
    } catch (e) {
      log('alert', `persistence close failed: ${formatError(e)}`)
    }
    removePid(settings.pidPath)
    process.exit(0)
  }
  process.on('SIGQUIT', () => void stop(true))
  process.on('SIGTERM', () => void stop(false))
  process.on('SIGINT', () => void stop(false))
  process.on('SIGUSR1', () => {
    reopenLog()
    audit?.reopen()
    http.reopenLogs()
  })
  process.on('SIGHUP', () => log('warn', 'reload is not supported with "master_process off"; restart instead'))
  onReady()
}

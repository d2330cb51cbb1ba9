/**
 * A worker process: builds the request path from the configuration the primary sends, keeps its copy of the upstream
 * table current by applying versioned deltas (and acknowledging each), and sends dyups changes up to the primary.
 *
 * A worker outlives its primary, as nginx's do: when the IPC channel closes without a stop (the primary was killed
 * with -9, or crashed), it keeps serving with the table it has. Reads of the interface still answer; changes answer
 * 503 (E_PRIMARY_GONE), applied nowhere; health checks, which the primary ran, stay as they last were. It stops on
 * QUIT (gracefully, as a `dyups` started again on the same pid file asks: see orphans.ts) or TERM, and reopens its
 * logs on USR1.
 */
import { DyupsError, formatError } from '../errors.js'
import { configureLog, log, reopenLog, setLogIdent } from '../log.js'
import type { ChangeSink, ClusterSource, LiveReport, LiveSource, Outcome } from '../dyups/index.js'
import { HttpWorker, RoutingTable, compileHttp, connStats, listenerCounts, type HealthSource } from '../http/index.js'
import { HealthView, type StatusRow } from '../health/index.js'
import { packChange } from './protocol.js'
import { logCounts, readSettings, SHUTDOWN_TIMEOUT_MS } from './settings.js'
import type { Answer, ToPrimary, ToWorker } from './protocol.js'
import { procStat } from './procstat.js'

/**
 * How long a late acknowledgement may wait for a change to ride with. Answers to other workers' changes never wait
 * for it (the primary asks for it at once then); only the primary's bookkeeping does.
 */
const LATE_ACK_MS = 5

/** The answer to a change asked for once the primary is gone: nothing was sent, nothing is applied anywhere. */
export const REFUSED = 'the primary process is gone; changes are refused until dyups is started again'
/**
 * The answer to a change the primary took and died before answering: it may have reached the journal (and some
 * workers) or not, which only the table after the next start tells.
 */
export const UNANSWERED = 'the primary process is gone before it answered; the change may or may not have been applied: read the table once dyups is started again'

export function startWorker(): void {
  setLogIdent(process.pid)
  /**
   * `onFailed`: the message never left (the channel is closing). Without a callback such a failure is an 'error'
   * event on `process`, which the listener below notes.
   */
  const send = (m: ToPrimary, onFailed?: () => void): void => {
    if (!process.connected) return onFailed?.()
    if (onFailed === undefined) process.send!(m)
    else process.send!(m, undefined, undefined, (e) => void (e && onFailed()))
  }
  const table = new RoutingTable()
  const health = new HealthView(table.states)
  let nextId = 0
  // The primary is gone (see the 'disconnect' listener): the worker serves on, alone.
  let orphaned = false
  // Told to stop (by the primary, or QUIT): a closing channel is then part of the end, not an orphaning.
  let stopping = false
  const gone = (message: string): Outcome => ({ version: table.version, error: { code: 'E_PRIMARY_GONE', message } })
  const results = new Map<number, (o: Outcome) => void>()
  const busyAnswers = new Map<number, (b: boolean) => void>()
  const statusAnswers = new Map<number, { resolve: (rows: StatusRow[]) => void; reject: (e: Error) => void }>()
  const liveAnswers = new Map<number, (r: LiveReport) => void>()
  const clusterAnswers = new Map<number, (r: object | null) => void>()
  // The cluster's state lives in the primary; without one there is nobody to ask.
  const clusterSource: ClusterSource = {
    report: () =>
      new Promise((resolve) => {
        if (orphaned) return resolve(null)
        const id = ++nextId
        clusterAnswers.set(id, resolve)
        send({ t: 'cluster', id }, () => {
          if (clusterAnswers.delete(id)) resolve(null)
        })
      }),
  }
  // The JSON interface's live state: every worker's, gathered by the primary; this worker's alone without one.
  const ownReport = (): LiveReport => ({ workers: 1, statics: null, rows: [table.peerRows()], conns: [connStats.counts()], listeners: [listenerCounts()], processes: [procStat('worker')] })
  const liveSource: LiveSource = {
    report: () =>
      new Promise((resolve) => {
        if (orphaned) return resolve(ownReport())
        const id = ++nextId
        liveAnswers.set(id, resolve)
        send({ t: 'live', id }, () => {
          if (liveAnswers.delete(id)) resolve(ownReport())
        })
      }),
  }
  const noProber = (): DyupsError => new DyupsError('E_PRIMARY_GONE', 'the primary process is gone; health checks do not run until dyups is started again')
  // The prober lives in the primary: a status page asks it.
  const healthSource: HealthSource = {
    status: () =>
      new Promise((resolve, reject) => {
        if (orphaned) return reject(noProber())
        const id = ++nextId
        statusAnswers.set(id, { resolve, reject })
        send({ t: 'checkStatus', id })
      }),
  }
  /** Sends a change (packed, or a command body for the primary to parse) and resolves with its outcome. */
  const ask = (make: (id: number) => ToPrimary & { acked?: number }): Promise<Outcome> =>
    new Promise((resolve) => {
      if (orphaned) return resolve(gone(REFUSED))
      const id = ++nextId
      results.set(id, resolve)
      // A change that could not be sent was not taken: refused, not unknown.
      const unsent = (): void => {
        if (results.delete(id)) resolve(gone(REFUSED))
      }
      const m = make(id)
      if (lateAck !== -1) m.acked = lateAck
      send(m, unsent)
      lateAck = -1
    })
  const sink: ChangeSink = {
    submit: (change, ifMatch, actor, ack) =>
      ask((id) => ({ t: 'change', id, change: packChange(change), ifMatch, ...(actor === undefined ? {} : { actor }), ...(ack ? { ack } : {}) })),
    update: (name, body, ifMatch, actor, ack) =>
      ask((id) => ({ t: 'update', id, name, body, ifMatch, ...(actor === undefined ? {} : { actor }), ...(ack ? { ack } : {}) })),
    busy: () =>
      new Promise((resolve) => {
        // No primary, no change in progress: dyups_trylock has nothing to wait for.
        if (orphaned) return resolve(false)
        const id = ++nextId
        busyAnswers.set(id, resolve)
        send({ t: 'busy', id })
      }),
  }
  // A `lazy` delta's acknowledgement, not sent yet: it goes with the next change, or alone after LATE_ACK_MS.
  let lateAck = -1
  let lateTimer: NodeJS.Timeout | null = null
  const sendLateAck = (): void => {
    lateTimer = null
    if (lateAck !== -1) send({ t: 'ack', version: lateAck })
    lateAck = -1
  }
  // The first lines of the snapshot, when it comes in pieces before the init.
  const parts: string[] = []
  // The listening sockets the primary passed, by listener key. Kept for the worker's life: a unix socket's handle
  // is adopted by its server through the descriptor, and this handle must not be collected and closed meanwhile.
  const handles = new Map<string, object>()
  let http: HttpWorker | null = null
  // Listening: from then on the worker is worth keeping when its primary dies.
  let serving = false
  let readMsgLog = false
  let shutdownTimeout = SHUTDOWN_TIMEOUT_MS
  const listen = (w: HttpWorker): void => {
    w.listen(handles).then(
      () => {
        serving = true
        send({ t: 'ready' })
      },
      (e) => send({ t: 'fatal', message: formatError(e) }),
    )
  }
  const stop = (graceful: boolean): void => {
    if (!graceful || http === null) process.exit(0)
    if (stopping) return
    stopping = true
    void http.close(shutdownTimeout).then(() => process.exit(0))
  }

  const answered = (answers: Answer[]): void => {
    for (const a of answers) {
      const r = results.get(a[0])
      results.delete(a[0])
      r?.({ version: a[1], error: a.length === 2 ? null : { code: a[2], message: a[3] } })
    }
  }

  process.on('message', (msg: ToWorker, handle?: object) => {
    switch (msg.t) {
      case 'listen':
        if (handle !== undefined) handles.set(msg.key, handle)
        break
      case 'part':
        parts.push(msg.packed)
        break
      case 'init': {
        try {
          const settings = readSettings(msg.boot.tree, msg.boot.prefix)
          configureLog(settings.errorLogs)
          readMsgLog = settings.readMsgLog
          shutdownTimeout = settings.shutdownTimeout
          table.init(msg.snapshot, parts)
          parts.length = 0
          health.reset(msg.down ?? [])
          http = new HttpWorker(compileHttp({ ...msg.boot, shm: `/dyups-${process.ppid}` }), { table, sink, trylock: settings.trylock, readMsgLog: settings.readMsgLog, health: healthSource, live: liveSource, cluster: clusterSource })
          if (msg.hold) send({ t: 'built' })
          else listen(http)
        } catch (e) {
          send({ t: 'fatal', message: formatError(e) })
        }
        break
      }
      case 'apply':
        table.applyPacked(msg.delta)
        if (msg.lazy) {
          lateAck = msg.delta.version
          lateTimer ??= setTimeout(sendLateAck, LATE_ACK_MS)
        } else {
          // Acknowledgements are cumulative: this one covers a late one.
          lateAck = -1
          send({ t: 'ack', version: msg.delta.version })
        }
        if (readMsgLog) logCounts(msg.counts)
        if (msg.r !== undefined) answered(msg.r)
        break
      case 'results':
        answered(msg.r)
        break
      case 'health':
        health.apply(msg.changes)
        break
      case 'peers':
        send({ t: 'peers', id: msg.id, rows: table.peerRows(), conns: connStats.counts(), listeners: listenerCounts(), proc: procStat('worker') })
        break
      case 'live': {
        const r = liveAnswers.get(msg.id)
        liveAnswers.delete(msg.id)
        r?.(msg.report)
        break
      }
      case 'cluster': {
        const r = clusterAnswers.get(msg.id)
        clusterAnswers.delete(msg.id)
        r?.(msg.report)
        break
      }
      case 'checkStatus': {
        const r = statusAnswers.get(msg.id)
        statusAnswers.delete(msg.id)
        r?.resolve(msg.rows)
        break
      }
      case 'busy': {
        const r = busyAnswers.get(msg.id)
        busyAnswers.delete(msg.id)
        r?.(msg.busy)
        break
      }
      case 'serve':
        if (http !== null) listen(http)
        break
      case 'stop':
        stop(msg.graceful)
        break
      case 'reopen':
        reopenLog()
        http?.reopenLogs()
        break
    }
  })
  send({ t: 'hello' })
  process.on('disconnect', () => {
    if (stopping) return
    // Not serving yet: there is nothing to keep, and no primary to finish the start.
    if (!serving) process.exit(0)
    // The primary is gone without a stop (kill -9, a crash). As nginx's workers, this one serves on with the table
    // it has rather than leave the port without anyone accepting; it only cannot change it any more.
    orphaned = true
    if (lateTimer !== null) clearTimeout(lateTimer)
    lateAck = -1
    log('alert', `the primary process is gone: worker process ${process.pid} serves on with the upstream table at ` +
      `version ${table.version}, refuses changes, and stops on QUIT or when dyups is started again`)
    // Every question the primary took and will never answer is answered here, so no request waits for ever.
    for (const r of results.values()) r(gone(UNANSWERED))
    results.clear()
    for (const r of busyAnswers.values()) r(false)
    busyAnswers.clear()
    for (const r of statusAnswers.values()) r.reject(noProber())
    statusAnswers.clear()
    for (const r of liveAnswers.values()) r(ownReport())
    liveAnswers.clear()
    for (const r of clusterAnswers.values()) r(null)
    clusterAnswers.clear()
  })
  // A message written as the channel closes fails with EPIPE; 'disconnect' follows and handles what matters.
  process.on('error', (e) => log('info', `worker process ${process.pid}: ${formatError(e)}`))
  // QUIT, as nginx's workers: stop accepting (the listening sockets close here at once), finish the requests in
  // flight, exit. This is how a new start ends orphaned workers; with a primary, it respawns the worker.
  process.on('SIGQUIT', () => stop(true))
  // USR1, as nginx's workers: reopen the logs (an orphan has no primary to relay `-s reopen`). Without a listener
  // Node would open its inspector on this signal.
  process.on('SIGUSR1', () => {
    try {
      reopenLog()
      http?.reopenLogs()
    } catch (e) {
      // A log that cannot be reopened (its directory gone) must not end a worker that serves alone.
      log('alert', `reopen failed: ${formatError(e)}`)
    }
  })
  process.on('uncaughtException', (e) => {
    log('alert', `worker process ${process.pid} failed: ${e.stack ?? e}`)
    process.exit(2)
  })
}

/**
 * A worker process: builds the request path from the configuration the primary sends, keeps its copy of the upstream
 * table current by applying versioned deltas (and acknowledging each), and sends dyups changes up to the primary.
 */
import { formatError } from '../errors.js'
import { configureLog, log, reopenLog, setLogIdent } from '../log.js'
import type { ChangeSink, Outcome } from '../dyups/index.js'
import { HttpWorker, RoutingTable, compileHttp, type HealthSource } from '../http/index.js'
import { HealthView, type StatusRow } from '../health/index.js'
import { packGroup } from '../upstream/index.js'
import { logCounts, readSettings, SHUTDOWN_TIMEOUT_MS } from './settings.js'
import type { Answer, ToPrimary, ToWorker } from './protocol.js'

/**
 * How long a late acknowledgement may wait for a change to ride with. Answers to other workers' changes never wait
 * for it (the primary asks for it at once then); only the primary's bookkeeping does.
 */
const LATE_ACK_MS = 5

export function startWorker(): void {
  setLogIdent(process.pid)
  const send = (m: ToPrimary): void => {
    if (process.connected) process.send!(m)
  }
  const table = new RoutingTable()
  const health = new HealthView(table.states)
  let nextId = 0
  const results = new Map<number, (o: Outcome) => void>()
  const busyAnswers = new Map<number, (b: boolean) => void>()
  const statusAnswers = new Map<number, (rows: StatusRow[]) => void>()
  // The prober lives in the primary: a status page asks it.
  const healthSource: HealthSource = {
    status: () =>
      new Promise((resolve) => {
        const id = ++nextId
        statusAnswers.set(id, resolve)
        send({ t: 'checkStatus', id })
      }),
  }
  const sink: ChangeSink = {
    submit: (change, ifMatch) =>
      new Promise((resolve) => {
        const id = ++nextId
        results.set(id, resolve)
        const packed = change.op === 'put' ? packGroup(change.group) : '-' + change.name
        if (lateAck === -1) send({ t: 'change', id, change: packed, ifMatch })
        else send({ t: 'change', id, change: packed, ifMatch, acked: lateAck })
        lateAck = -1
      }),
    update: (name, body, ifMatch) =>
      new Promise((resolve) => {
        const id = ++nextId
        results.set(id, resolve)
        if (lateAck === -1) send({ t: 'update', id, name, body, ifMatch })
        else send({ t: 'update', id, name, body, ifMatch, acked: lateAck })
        lateAck = -1
      }),
    busy: () =>
      new Promise((resolve) => {
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
  let readMsgLog = false
  let shutdownTimeout = SHUTDOWN_TIMEOUT_MS

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
          http = new HttpWorker(compileHttp(msg.boot), { table, sink, trylock: settings.trylock, readMsgLog: settings.readMsgLog, health: healthSource })
          http.listen(handles).then(
            () => send({ t: 'ready' }),
            (e) => send({ t: 'fatal', message: formatError(e) }),
          )
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
      case 'checkStatus': {
        const r = statusAnswers.get(msg.id)
        statusAnswers.delete(msg.id)
        r?.(msg.rows)
        break
      }
      case 'busy': {
        const r = busyAnswers.get(msg.id)
        busyAnswers.delete(msg.id)
        r?.(msg.busy)
        break
      }
      case 'stop':
        if (!msg.graceful || http === null) process.exit(0)
        void http.close(shutdownTimeout).then(() => process.exit(0))
        break
      case 'reopen':
        reopenLog()
        http?.reopenLogs()
        break
    }
  })
  send({ t: 'hello' })
  // The primary is gone (crash or kill -9): a worker without it cannot apply changes, so it must not serve.
  process.on('disconnect', () => process.exit(0))
  process.on('uncaughtException', (e) => {
    log('alert', `worker process ${process.pid} failed: ${e.stack ?? e}`)
    process.exit(2)
  })
}

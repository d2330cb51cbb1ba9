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
import { logCounts, readSettings } from './settings.js'
import type { ToPrimary, ToWorker } from './protocol.js'

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
        send({ t: 'change', id, change: change.op === 'put' ? packGroup(change.group) : '-' + change.name, ifMatch })
      }),
    busy: () =>
      new Promise((resolve) => {
        const id = ++nextId
        busyAnswers.set(id, resolve)
        send({ t: 'busy', id })
      }),
  }
  let http: HttpWorker | null = null
  let readMsgLog = false

  process.on('message', (msg: ToWorker) => {
    switch (msg.t) {
      case 'init': {
        try {
          const settings = readSettings(msg.boot.tree, msg.boot.prefix)
          configureLog(settings.errorLogs)
          readMsgLog = settings.readMsgLog
          table.init(msg.snapshot)
          health.reset(msg.down ?? [])
          http = new HttpWorker(compileHttp(msg.boot), { table, sink, trylock: settings.trylock, readMsgLog: settings.readMsgLog, health: healthSource })
          http.listen().then(
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
        send({ t: 'ack', version: msg.delta.version })
        if (readMsgLog) logCounts(msg.counts)
        break
      case 'results':
        for (const a of msg.r) {
          const r = results.get(a[0])
          results.delete(a[0])
          r?.({ version: a[1], error: a.length === 2 ? null : { code: a[2], message: a[3] } })
        }
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
        void http.close().then(() => process.exit(0))
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

/**
 * The primary (master) process: binds the listening sockets and keeps them, owns the Store and the Coordinator,
 * forks `worker_processes` workers and passes them the sockets, respawns a worker that dies, and handles signals as
 * nginx's master does: HUP reload (nginx.conf's upstream blocks applied to the live table, then new workers), QUIT
 * graceful stop, TERM/INT fast stop, USR1 reopen logs.
 *
 * Its workers are listed beside the pid file (orphans.ts). Started where a primary was killed and its workers serve
 * on without it, it takes their place: its workers are built first, holding (no sockets), then the orphans are told
 * to stop (QUIT), and each socket is bound as soon as they release it and handed to the waiting workers at once.
 */
import { fork, type ChildProcess, type SendHandle } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { formatError } from '../errors.js'
import { configureLog, log, reopenLog } from '../log.js'
import { Store, packDelta, type Change, type Delta } from '../store/index.js'
import { groupKey, packGroup, unpackGroup, type UpstreamGroup } from '../upstream/index.js'
import { AuditLog, type ConnCounts, type PeerRow, type ProcStat } from '../dyups/index.js'
import { procStat } from './procstat.js'
import { healthRows } from './health-rows.js'
import { Prober } from '../health/index.js'
import { removeZoneObjects } from '../http/index.js'
import { Cluster } from '../cluster/index.js'
import { joinCluster } from './cluster.js'
import { bootConfig, type Booted, type BootOptions } from './boot.js'
import { coalesced } from './coalesce.js'
import { Coordinator } from './coordinator.js'
import { bindAll, closeAll, type Bound } from './listeners.js'
import { bindWhenFree, findOrphans, PID_PATH_ENV, removeWorkerPids, signalOrphans, workersPath, writeWorkerPids } from './orphans.js'
import { removePid, writePid } from './pidfile.js'
import type { Answer, Boot, ToPrimary, ToWorker } from './protocol.js'

/** Snapshot characters per IPC message to a starting worker. */
const PART_CHARS = 256 * 1024

/** How long the JSON interface waits for a worker's live state before it answers without it. */
const LIVE_WAIT_MS = 1000

/** A worker that has not acknowledged a change after this long is hung: it is killed and respawned. */
const ACK_TIMEOUT_MS = 10_000

/** A worker that dies sooner than this after it was started is respawned after a pause, not at once. */
const SPIN_MS = 1000

/**
 * How long a start waits for orphaned workers to release the addresses: they close their listening sockets as
 * soon as they hear QUIT, and this bounds a worker that does not (their graceful stop takes 30 s at most).
 */
const TAKEOVER_MS = 35_000

/** How long a start waits to reach etcd and catch up before it serves its local copy of the table. */
const CLUSTER_START_MS = 3000

const WORKER_MAIN = fileURLToPath(new URL('./worker-main.js', import.meta.url))

interface Member {
  /** The primary's number for it: the Coordinator's `origin`. */
  id: number
  child: ChildProcess
  started: number
  generation: number
  ready: boolean
  /** Highest version it acknowledged. */
  acked: number
  stopping: boolean
  /** It answered a held init: it listens once it gets the sockets (see `holding`). */
  built: boolean
}

interface Waiter {
  version: number
  pending: Set<number>
  done: () => void
  /** Told the one worker left to acknowledge, if any (Broadcast's `answerable`). */
  answerable: ((worker: number) => void) | undefined
  timer: NodeJS.Timeout
}

export async function runPrimary(opts: BootOptions, booted: Booted, onReady: () => void): Promise<void> {
  let { settings, boot } = booted
  configureLog(settings.errorLogs)
  for (const w of booted.warnings) log('warn', w)
  // Zones of primaries that died without removing them.
  removeZoneObjects()
  // Where the workers are listed, and what they are told: the pid file of the start (a reload does not move them).
  const pidPath = settings.pidPath
  // Workers of a primary that died on this pid file, still serving: this start replaces them (see takeOver below).
  const orphans = findOrphans(pidPath)
  // The sockets first: a dyups already serving on them fails this one here, before it opens the persistence files.
  // Kept open for the primary's whole life, whatever its workers do (a reload may add and drop some). With
  // orphans, they hold the addresses until they stop, which waits until this start's workers are ready; the
  // persistence files are this start's meanwhile (the dead primary was their only writer, orphans never write).
  let listening = orphans.pids.length === 0 ? await bindAll(booted.listeners) : new Map<string, Bound>()
  if (orphans.pids.length > 0) {
    log('notice', `worker process(es) ${orphans.pids.join(', ')} outlived their primary ${orphans.primary}: taking over from them`)
  }
  let store: Store
  try {
    store = await Store.open({ staticGroups: booted.staticGroups, path: settings.upstreamConf ?? undefined })
  } catch (e) {
    closeAll(listening)
    throw e
  }

  const members = new Map<number, Member>()
  const waiters = new Set<Waiter>()
  let generation = 0
  let stopping = false
  let nextId = 0
  // The sockets are not bound yet (orphans hold them): a starting worker is built, then waits for them.
  let holding = orphans.pids.length > 0

  // The workers' list beside the pid file, so the next start finds them if this primary dies (orphans.ts).
  let listFailed = false
  // Until the orphans are told to stop, the list keeps naming them: a start that fails before (or is killed)
  // leaves them findable by the next one.
  let listOwned = !holding
  const recordWorkers = (): void => {
    if (!listOwned) return
    try {
      writeWorkerPids(pidPath, process.pid, [...members.values()].flatMap((m) => (m.child.pid === undefined ? [] : [m.child.pid])))
      listFailed = false
    } catch (e) {
      // Serving goes on; only a later start could not find this primary's workers if it died. Said once.
      if (!listFailed) log('alert', `the worker processes cannot be listed in "${workersPath(pidPath)}": ${formatError(e)}`)
      listFailed = true
    }
  }

  const write = (m: Member, msg: ToWorker): void => {
    if (m.child.connected) m.child.send(msg)
  }

  // Deltas and answers go out once per worker per turn of the event loop, in order: a group commit answers many
  // changes with one message, and with one worker its answers ride with the delta itself.
  type Queued = Extract<ToWorker, { t: 'apply' | 'results' }>
  const outbox = new Map<Member, Queued[]>()
  const flush = (): void => {
    for (const [m, q] of outbox) for (const msg of q) write(m, msg)
    outbox.clear()
  }
  const enqueue = (m: Member, msg: Queued): void => {
    const q = outbox.get(m)
    if (q !== undefined) return void q.push(msg)
    if (outbox.size === 0) process.nextTick(flush)
    outbox.set(m, [msg])
  }
  /** Sends at once, after whatever is queued for `m`, so a worker hears everything in the order it was sent. */
  const send = (m: Member, msg: ToWorker): void => {
    const q = outbox.get(m)
    if (q !== undefined) {
      outbox.delete(m)
      for (const queued of q) write(m, queued)
    }
    write(m, msg)
  }

  // Active health checks probe from here, once for all workers. Every worker that has its table hears each change;
  // one that has not yet gets the down set with its init.
  const prober = new Prober({
    onChange: (changes) => {
      for (const m of members.values()) if (m.acked !== -1) send(m, { t: 'health', changes })
    },
  })
  prober.load(store.list().map((e) => e.group))

  // The packed line a worker sent for a group, so the broadcast forwards it instead of packing the group again.
  const packedLines = new WeakMap<UpstreamGroup, string>()
  const packedLine = (g: UpstreamGroup): string => packedLines.get(g) ?? packGroup(g)
  const unpackChange = (c: string): Change => {
    if (c.charCodeAt(0) === 0x2a) {
      const changes = (JSON.parse(c.slice(1)) as string[]).map(unpackChange)
      return { op: 'batch', changes: changes.filter((x) => x.op !== 'batch') }
    }
    if (c.charCodeAt(0) !== 0x5b) return { op: 'delete', name: c.slice(1) }
    const group = unpackGroup(c)
    packedLines.set(group, c)
    return { op: 'put', group }
  }

  const answer = (m: Member, a: Answer): void => {
    const last = outbox.get(m)?.at(-1)
    if (last === undefined) return enqueue(m, { t: 'results', r: [a] })
    ;(last.r ??= []).push(a)
  }
  const acked = (m: Member, version: number): void => {
    m.acked = Math.max(m.acked, version)
    for (const w of [...waiters]) if (w.version <= m.acked && w.pending.has(m.id)) settle(w, m.id)
  }

  const settle = (w: Waiter, id: number): void => {
    w.pending.delete(id)
    if (w.pending.size === 0) {
      clearTimeout(w.timer)
      waiters.delete(w)
      w.done()
    } else if (w.pending.size === 1 && w.answerable !== undefined) {
      for (const last of w.pending) w.answerable(last)
    }
  }

  const broadcast = (delta: Delta, answerable?: (worker: number) => void, soleOrigin: number | null = null): Promise<void> =>
    new Promise((done) => {
      // New servers' health goes out before the change itself, so no worker routes to one that starts down.
      prober.apply(delta.changes)
      const version = delta.version
      const counts = store.counts()
      const w: Waiter = { version, pending: new Set(), done, answerable, timer: undefined as unknown as NodeJS.Timeout }
      const packed = packDelta(delta, packedLine)
      for (const m of members.values()) {
        // A worker that is not initialised yet gets the whole current table in its init, which includes this change.
        if (!m.ready && m.acked === -1) continue
        w.pending.add(m.id)
        enqueue(m, m.id === soleOrigin ? { t: 'apply', delta: packed, counts, lazy: true } : { t: 'apply', delta: packed, counts })
      }
      if (w.pending.size === 0) return done()
      waiters.add(w)
      // One worker only: it applies the delta before it reads its answers, which may follow at once.
      if (w.pending.size === 1 && answerable !== undefined) for (const only of w.pending) answerable(only)
      w.timer = setTimeout(() => {
        for (const id of w.pending) {
          const m = members.get(id)
          log('alert', `worker process ${m?.child.pid} did not apply version ${version} in ${ACK_TIMEOUT_MS} ms, killing it`)
          m?.child.kill('SIGKILL')
        }
      }, ACK_TIMEOUT_MS)
    })

  const coordinator = new Coordinator(store, broadcast, settings.trylock)
  let audit = settings.auditLog === null ? null : new AuditLog(settings.auditLog)
  const setAudit = (): void => {
    coordinator.onApplied = audit === null ? null : (e) => audit!.write(e)
  }
  setAudit()
  // dyups_cluster: the table's truth is etcd; changes go there and come back through the coordinator.
  const cluster: Cluster | null = joinCluster(settings, store, coordinator)

  const spawn = (b: Boot, gen: number): Member => {
    // The worker's stdio are the primary's; its IPC channel carries the protocol and the listening sockets.
    // Its environment names the pid file: how a later start tells this worker, orphaned, from a process that got
    // its pid since (/proc/PID/environ is what the process was started with). 'advanced' (V8's serializer,
    // length-framed): a 1 MB delta or command body crosses as one copy; the default JSON framing scans and parses
    // it on the receiving side, which held a worker's event loop for 50-100 ms.
    const child = fork(WORKER_MAIN, [], {
      env: { ...process.env, DYUPS_WORKER: '1', [PID_PATH_ENV]: pidPath },
      stdio: [0, 1, 2, 'ipc'],
      serialization: 'advanced',
    })
    const m: Member = { id: ++nextId, child, started: Date.now(), generation: gen, ready: false, acked: -1, stopping: false, built: false }
    // The sockets of its generation: a worker respawned after a reload gets the reloaded ones.
    const sockets = listening
    members.set(m.id, m)
    recordWorkers()
    // A message to a worker that just died fails with EPIPE: its exit is handled below, the error is only noted.
    child.on('error', (e) => log('info', `worker process ${child.pid}: ${formatError(e)}`))
    child.on('exit', (code, signal) => onExit(m, code, signal))
    child.on('message', (msg: ToPrimary) => {
      if (msg.t !== 'hello') return onMessage(m, msg)
      // A stop that came before the worker could hear it: it never gets a table, it just ends.
      if (m.stopping) return send(m, { t: 'stop', graceful: false })
      // The sockets go first, each with its handle: the worker listens on them once it has its table. While
      // holding there are none yet: they follow its `built`.
      const held = holding
      if (!held) sendSockets(m, sockets)
      m.acked = store.version
      const snapshot = store.snapshot()
      const { packed } = snapshot
      // Pieces of at most about PART_CHARS: one message of 100 000 groups (15 MB) costs a worker several times its
      // size while it is read and parsed, and its heap keeps that size long after.
      let at = 0
      while (packed.length - at > PART_CHARS) {
        const nl = packed.indexOf('\n', at + PART_CHARS)
        if (nl === -1) break
        send(m, { t: 'part', packed: packed.slice(at, nl) })
        at = nl + 1
      }
      const init: ToWorker = { t: 'init', boot: b, snapshot: at === 0 ? snapshot : { version: snapshot.version, packed: packed.slice(at) }, down: prober.downAddresses() }
      send(m, held ? { ...init, hold: true } : init)
    })
    return m
  }

  const sendSockets = (m: Member, sockets: ReadonlyMap<string, Bound>): void => {
    for (const [key, bound] of sockets) if (m.child.connected) m.child.send({ t: 'listen', key } satisfies ToWorker, bound.handle as SendHandle)
  }
  /** A held worker gets the sockets, bound now, and listens. */
  const release = (m: Member): void => {
    sendSockets(m, listening)
    send(m, { t: 'serve' })
  }
  let builtResolve: (() => void) | null = null

  // As nginx's, the pid file names the primary once its sockets accept: when the first worker listens on all of
  // them (the sockets are shared, so they are in the LISTEN state for every worker from then on).
  let pidWritten = false
  const writePidOnce = (): void => {
    pidWritten = true
    try {
      writePid(settings.pidPath)
    } catch (e) {
      log('emerg', formatError(e))
      process.stderr.write(`dyups: [emerg] ${formatError(e)}\n`)
      void stop(false, 1)
    }
  }

  let readyResolve: (() => void) | null = null
  const onMessage = (m: Member, msg: ToPrimary): void => {
    switch (msg.t) {
      case 'hello':
        break
      case 'ready':
        m.ready = true
        if (!pidWritten) writePidOnce()
        if (readyResolve && [...members.values()].every((x) => x.ready || x.generation !== generation)) {
          const r = readyResolve
          readyResolve = null
          r()
        }
        break
      case 'built':
        m.built = true
        if (!holding) release(m)
        else if (builtResolve && [...members.values()].every((x) => x.built || x.generation !== generation)) {
          const r = builtResolve
          builtResolve = null
          r()
        }
        break
      case 'ack':
        acked(m, msg.version)
        break
      case 'change':
        if (msg.acked !== undefined) acked(m, msg.acked)
        void coordinator.submit(unpackChange(msg.change), msg.ifMatch, m.id, msg.actor, msg.ack ?? null).then((o) => {
          answer(m, o.error === null ? [msg.id, o.version] : [msg.id, o.version, o.error.code, o.error.message])
        })
        break
      case 'update':
        if (msg.acked !== undefined) acked(m, msg.acked)
        void coordinator.update(msg.name, msg.body, msg.ifMatch, m.id, msg.actor, msg.ack ?? null).then(
          (o) => answer(m, o.error === null ? [msg.id, o.version] : [msg.id, o.version, o.error.code, o.error.message]),
          (e) => answer(m, [msg.id, store.version, 'E_INTERNAL', formatError(e)]),
        )
        break
      case 'busy':
        send(m, { t: 'busy', id: msg.id, busy: coordinator.busy })
        break
      case 'checkStatus':
        send(m, { t: 'checkStatus', id: msg.id, rows: prober.status() })
        break
      case 'cluster':
        send(m, { t: 'cluster', id: msg.id, report: cluster?.report() ?? null })
        break
      case 'live':
        gatherLive(m, msg.id)
        break
      case 'peers': {
        const g = gathers.get(msg.id)
        if (g !== undefined && g.want.delete(m.id)) {
          g.rows.push(msg.rows)
          g.conns.push(msg.conns)
          g.listeners.push(msg.listeners)
          g.procs.push(msg.proc)
          if (g.want.size === 0) g.finish()
        }
        break
      }
      case 'fatal':
        log('emerg', msg.message)
        if (!m.ready && m.generation === 0) {
          process.stderr.write(`dyups: [emerg] ${msg.message}\n`)
          void stop(false, 1)
        }
        break
    }
  }

  // The JSON interface's live state: every serving worker's rows, asked for when it is read. A worker that does
  // not answer within LIVE_WAIT_MS (hung, or gone meanwhile) is left out; `workers` says how many answered.
  const gathers = new Map<number, { want: Set<number>; rows: PeerRow[][]; conns: ConnCounts[]; listeners: Record<string, ConnCounts>[]; procs: ProcStat[]; finish: () => void }>()
  let gatherSeq = 0
  const gatherLive = (asker: Member, askId: number): void => {
    const id = ++gatherSeq
    const serving = [...members.values()].filter((x) => x.ready && !x.stopping)
    const g = { want: new Set(serving.map((x) => x.id)), rows: [] as PeerRow[][], conns: [] as ConnCounts[], listeners: [] as Record<string, ConnCounts>[], procs: [procStat('primary')], finish: () => {} }
    const timer = setTimeout(() => g.finish(), LIVE_WAIT_MS)
    g.finish = () => {
      clearTimeout(timer)
      gathers.delete(id)
      const statics = store.list().filter((e) => e.static).map((e) => groupKey(e.group.name))
      send(asker, { t: 'live', id: askId, report: { workers: g.rows.length, statics, rows: g.rows, conns: g.conns, listeners: g.listeners, processes: g.procs, changes: coordinator.applied, health: healthRows(prober.status()) } })
    }
    gathers.set(id, g)
    if (g.want.size === 0) return g.finish()
    for (const x of serving) send(x, { t: 'peers', id })
  }

  const onExit = (m: Member, code: number | null, signal: NodeJS.Signals | null): void => {
    members.delete(m.id)
    for (const g of [...gathers.values()]) if (g.want.delete(m.id) && g.want.size === 0) g.finish()
    recordWorkers()
    for (const w of [...waiters]) if (w.pending.has(m.id)) settle(w, m.id)
    if (stopping || m.stopping || m.generation !== generation) return
    log('alert', `worker process ${m.child.pid} exited ${signal ? `on signal ${signal}` : `with code ${code}`}`)
    // Respawn at once, but do not spin if the worker died right at its start-up. Meanwhile connections wait in
    // the sockets' queues: the primary holds the sockets, so none is refused.
    const delay = Date.now() - m.started < SPIN_MS ? 500 : 0
    setTimeout(() => {
      if (!stopping && m.generation === generation) spawn(boot, generation)
    }, delay)
  }

  const startGeneration = (b: Boot, n: number): Promise<void> =>
    new Promise((resolve) => {
      readyResolve = resolve
      for (let i = 0; i < n; i++) spawn(b, generation)
    })

  let exiting: Promise<void> | null = null
  const stop = (graceful: boolean, code = 0): Promise<void> =>
    (exiting ??= (async () => {
      stopping = true
      prober.close()
      for (const m of members.values()) {
        m.stopping = true
        send(m, { t: 'stop', graceful })
        if (!graceful) m.child.kill('SIGKILL')
      }
      // As nginx's master on quit: the sockets close now (each worker closes its own as it is told to stop), so a
      // new connection is refused rather than left waiting in a queue nobody accepts from; unix socket files go.
      closeAll(listening)
      // A worker ends its own connections at worker_shutdown_timeout; one that is still there after a grace is killed.
      await waitExit([...members.values()].map((m) => m.child), graceful ? settings.shutdownTimeout + 5_000 : 2_000)
      await cluster?.close()
      try {
        await store.close()
      } catch (e) {
        log('alert', `persistence close failed: ${formatError(e)}`)
      }
      removeWorkerPids(pidPath, process.pid)
      removePid(settings.pidPath)
      // The limit_req/limit_conn zones' shared memory outlives workers and reloads, not the primary.
      removeZoneObjects(process.pid)
      process.exit(code)
    })())

  /**
   * Reads nginx.conf and applies its upstream blocks to the table through the single writer, in turn with
   * changes: once this resolves they are durable and every worker routes by them.
   * @returns the new configuration, or null when it is refused (logged).
   */
  const reconfigure = async (): Promise<{ next: Booted; bound: Map<string, Bound> } | null> => {
    let next: Booted
    try {
      next = await bootConfig(opts)
    } catch (e) {
      log('emerg', formatError(e))
      return null
    }
    if (next.settings.upstreamConf !== settings.upstreamConf) {
      // The Store holds the old PATH open, and which groups are static depends on it.
      const q = (p: string | null): string => (p === null ? 'none' : `"${p}"`)
      log('emerg', `dyups_upstream_conf cannot change on reload (${q(settings.upstreamConf)} in use, ` +
        `${q(next.settings.upstreamConf)} configured), restart instead`)
      return null
    }
    if (stopping) return null
    // The new configuration's sockets: an address it keeps keeps its socket, a new one is bound now, before the
    // table changes, so a reload that cannot bind changes nothing (nginx's too).
    let bound: Map<string, Bound>
    try {
      bound = await bindAll(next.listeners, listening)
    } catch (e) {
      log('emerg', formatError(e))
      return null
    }
    log('notice', 'signal process started; reconfiguring')
    for (const w of next.warnings) log('warn', w)
    if (cluster !== null) {
      // The fleet's table lives in etcd: nginx.conf's upstream blocks only seeded it.
      log('notice', 'dyups_cluster: the upstream table lives in etcd, nginx.conf\'s upstream blocks are not applied on reload')
      if (JSON.stringify(next.settings.cluster) !== JSON.stringify(settings.cluster)) {
        log('warn', 'dyups_cluster cannot change on reload, restart instead; the running one is kept')
      }
      return { next: { ...next, settings: { ...next.settings, cluster: settings.cluster } }, bound }
    }
    const r = await coordinator.reload(next.staticGroups)
    if (r.error !== null || stopping) {
      closeAll(bound, listening)
      if (!stopping) log('alert', `upstream table not reloaded, configuration kept: ${formatError(r.error)}`)
      return null
    }
    log('info', `upstream table reloaded: ${r.changes} change(s) to workers, version ${r.version}`)
    return { next, bound }
  }

  // One reload runs at a time. Signals that come while it runs are merged into one more reload after it, which
  // reads nginx.conf when it starts: the last signal's configuration is the one the table ends with, and a storm
  // of signals starts a generation of workers per reload that runs, not one per signal.
  const reloadOnce = async (): Promise<void> => {
    const done = await reconfigure()
    if (done === null) return
    const { next, bound } = done
    if (next.settings.auditLog !== settings.auditLog) {
      audit?.close()
      audit = next.settings.auditLog === null ? null : new AuditLog(next.settings.auditLog)
      setAudit()
    }
    settings = next.settings
    boot = next.boot
    configureLog(settings.errorLogs)
    coordinator.trylock = settings.trylock
    // The new workers start from the reloaded table (their init carries a snapshot) on the new sockets.
    const old = [...members.values()]
    const oldSockets = listening
    listening = bound
    generation++
    await startGeneration(boot, settings.workers)
    for (const m of old) {
      m.stopping = true
      send(m, { t: 'stop', graceful: true })
    }
    // Addresses the configuration no longer has: the old workers close their copies as they stop.
    if (!stopping) closeAll(oldSockets, listening)
  }

  const reload = coalesced(reloadOnce, (e) => log('alert', `reload failed: ${formatError(e)}`), () => stopping)
  process.on('SIGHUP', () => {
    log('notice', 'signal 1 (SIGHUP) received, reconfiguring')
    void reload()
  })
  process.on('SIGQUIT', () => void stop(true))
  process.on('SIGTERM', () => void stop(false))
  process.on('SIGINT', () => void stop(false))
  process.on('SIGUSR1', () => {
    reopenLog()
    audit?.reopen()
    for (const m of members.values()) send(m, { t: 'reopen' })
  })

  // A node catches up with the fleet before it serves (bounded: with etcd down it serves its local copy).
  if (cluster !== null) await cluster.start(CLUSTER_START_MS)
  if (stopping) return
  if (holding) await takeOver()
  else await startGeneration(boot, settings.workers)
  if (stopping) return
  log('notice', `dyups started, ${settings.workers} worker process(es)`)
  onReady()

  /**
   * Replaces the orphans with as short a gap as they allow. The addresses cannot be shared (they were bound
   * without SO_REUSEPORT, and must stay so: with it a second dyups on another prefix would bind them silently and
   * split the traffic), so for a moment nobody listens: from the orphans' close to this start's first listen().
   * Everything that can be done before is: the workers are forked and built (a configuration they refuse ends
   * this start here, the orphans untouched), then the orphans hear QUIT and close their listening sockets at once
   * (finishing their requests in flight meanwhile), each address is bound as soon as it is free, and the waiting
   * workers listen on it.
   */
  async function takeOver(): Promise<void> {
    const ready = startGeneration(boot, settings.workers)
    await new Promise<void>((resolve) => (builtResolve = resolve))
    if (stopping) return
    const told = signalOrphans(pidPath, orphans, 'SIGQUIT')
    const quitAt = Date.now()
    listOwned = true
    recordWorkers()
    log('notice', `sent QUIT to worker process(es) ${told.join(', ') || 'none'} (orphaned), binding the sockets they release`)
    try {
      listening = await bindWhenFree(booted.listeners, orphans.pids, TAKEOVER_MS)
    } catch (e) {
      log('emerg', formatError(e))
      process.stderr.write(`dyups: [emerg] ${formatError(e)}\n`)
      return stop(false, 1)
    }
    const boundAt = Date.now()
    holding = false
    for (const m of members.values()) if (m.built) release(m)
    await ready
    // The gap new connections saw, give or take the kernel's: from the QUIT to the bind, and to every worker listening.
    log('info', `took over from the orphans: sockets bound ${boundAt - quitAt} ms after the QUIT, every worker listening after ${Date.now() - quitAt} ms`)
  }
}

const isDead = (c: ChildProcess): boolean => c.exitCode !== null || c.signalCode !== null

function waitExit(children: ChildProcess[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    let left = children.filter((c) => !isDead(c)).length
    if (left === 0) return resolve()
    const timer = setTimeout(() => {
      for (const c of children) if (!isDead(c)) c.kill('SIGKILL')
      resolve()
    }, ms)
    for (const c of children) {
      if (isDead(c)) continue
      c.once('exit', () => {
        if (--left === 0) {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  })
}

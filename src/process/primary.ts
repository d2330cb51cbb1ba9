/**
 * The primary (master) process: owns the Store and the Coordinator, forks `worker_processes` workers that share the
 * listening sockets, respawns a worker that dies, and handles signals as nginx's master does:
 * HUP reload (nginx.conf's upstream blocks applied to the live table, then new workers), QUIT graceful stop,
 * TERM/INT fast stop, USR1 reopen logs.
 */
import cluster, { type Worker } from 'node:cluster'
import { existsSync, unlinkSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { formatError } from '../errors.js'
import { configureLog, log, reopenLog } from '../log.js'
import { Store, packDelta, type Change, type Delta } from '../store/index.js'
import { packGroup, unpackGroup, type UpstreamGroup } from '../upstream/index.js'
import { Prober } from '../health/index.js'
import { bootConfig, type Booted, type BootOptions } from './boot.js'
import { Coordinator } from './coordinator.js'
import { removePid, writePid } from './pidfile.js'
import type { Answer, Boot, ToPrimary, ToWorker } from './protocol.js'

/** Snapshot characters per IPC message to a starting worker. */
const PART_CHARS = 256 * 1024

/** A worker that has not acknowledged a change after this long is hung: it is killed and respawned. */
const ACK_TIMEOUT_MS = 10_000

interface Member {
  worker: Worker
  generation: number
  ready: boolean
  /** Highest version it acknowledged. */
  acked: number
  stopping: boolean
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
  const store = await Store.open({ staticGroups: booted.staticGroups, path: settings.upstreamConf ?? undefined })
  writePid(settings.pidPath)

  const members = new Map<number, Member>()
  const waiters = new Set<Waiter>()
  let generation = 0
  let stopping = false
  let lastSpawn = 0

  const write = (m: Member, msg: ToWorker): void => {
    if (m.worker.isConnected()) m.worker.send(msg)
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
    for (const w of [...waiters]) if (w.version <= m.acked && w.pending.has(m.worker.id)) settle(w, m.worker.id)
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
        w.pending.add(m.worker.id)
        enqueue(m, m.worker.id === soleOrigin ? { t: 'apply', delta: packed, counts, lazy: true } : { t: 'apply', delta: packed, counts })
      }
      if (w.pending.size === 0) return done()
      waiters.add(w)
      // One worker only: it applies the delta before it reads its answers, which may follow at once.
      if (w.pending.size === 1 && answerable !== undefined) for (const only of w.pending) answerable(only)
      w.timer = setTimeout(() => {
        for (const id of w.pending) {
          const m = members.get(id)
          log('alert', `worker process ${m?.worker.process.pid} did not apply version ${version} in ${ACK_TIMEOUT_MS} ms, killing it`)
          m?.worker.process.kill('SIGKILL')
        }
      }, ACK_TIMEOUT_MS)
    })

  const coordinator = new Coordinator(store, broadcast, settings.trylock)

  cluster.schedulingPolicy = cluster.SCHED_NONE
  cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)), args: [], silent: false })

  const spawn = (b: Boot, gen: number): Member => {
    lastSpawn = Date.now()
    const worker = cluster.fork({ DYUPS_WORKER: '1' })
    const m: Member = { worker, generation: gen, ready: false, acked: -1, stopping: false }
    members.set(worker.id, m)
    worker.on('message', (msg: ToPrimary) => {
      if (msg.t !== 'hello') return onMessage(m, msg)
      // A stop that came before the worker could hear it: it never gets a table, it just ends.
      if (m.stopping) return send(m, { t: 'stop', graceful: false })
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
      send(m, { t: 'init', boot: b, snapshot: at === 0 ? snapshot : { version: snapshot.version, packed: packed.slice(at) }, down: prober.downAddresses() })
    })
    return m
  }

  let readyResolve: (() => void) | null = null
  const onMessage = (m: Member, msg: ToPrimary): void => {
    switch (msg.t) {
      case 'hello':
        break
      case 'ready':
        m.ready = true
        if (readyResolve && [...members.values()].every((x) => x.ready || x.generation !== generation)) {
          const r = readyResolve
          readyResolve = null
          r()
        }
        break
      case 'ack':
        acked(m, msg.version)
        break
      case 'change':
        if (msg.acked !== undefined) acked(m, msg.acked)
        void coordinator.submit(unpackChange(msg.change), msg.ifMatch, m.worker.id).then((o) => {
          answer(m, o.error === null ? [msg.id, o.version] : [msg.id, o.version, o.error.code, o.error.message])
        })
        break
      case 'busy':
        send(m, { t: 'busy', id: msg.id, busy: coordinator.busy })
        break
      case 'checkStatus':
        send(m, { t: 'checkStatus', id: msg.id, rows: prober.status() })
        break
      case 'fatal':
        log('emerg', msg.message)
        if (!m.ready && m.generation === 0) {
          process.stderr.write(`dyups: [emerg] ${msg.message}\n`)
          void stop(false, 1)
        }
        break
    }
  }

  cluster.on('exit', (worker, code, signal) => {
    const m = members.get(worker.id)
    members.delete(worker.id)
    for (const w of [...waiters]) if (w.pending.has(worker.id)) settle(w, worker.id)
    if (!m || stopping || m.stopping || m.generation !== generation) return
    log('alert', `worker process ${worker.process.pid} exited ${signal ? `on signal ${signal}` : `with code ${code}`}`)
    // Respawn at once, but do not spin if the worker dies right at start-up.
    const delay = Date.now() - lastSpawn < 1000 ? 500 : 0
    setTimeout(() => {
      if (!stopping && m.generation === generation) spawn(boot, generation)
    }, delay)
  })

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
        if (!graceful) m.worker.process.kill('SIGKILL')
      }
      await waitExit([...members.values()].map((m) => m.worker), graceful ? 30_000 : 2_000)
      try {
        await store.close()
      } catch (e) {
        log('alert', `persistence close failed: ${formatError(e)}`)
      }
      removePid(settings.pidPath)
      process.exit(code)
    })())

  /**
   * Reads nginx.conf and applies its upstream blocks to the table through the single writer, in turn with
   * changes: once this resolves they are durable and every worker routes by them.
   * @returns the new configuration, or null when it is refused (logged).
   */
  const reconfigure = async (): Promise<Booted | null> => {
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
    log('notice', 'signal process started; reconfiguring')
    for (const w of next.warnings) log('warn', w)
    const r = await coordinator.reload(next.staticGroups)
    if (r.error !== null) {
      if (!stopping) log('alert', `upstream table not reloaded, configuration kept: ${formatError(r.error)}`)
      return null
    }
    log('info', `upstream table reloaded: ${r.changes} change(s) to workers, version ${r.version}`)
    return stopping ? null : next
  }

  // Reloads read nginx.conf and apply its groups one at a time, in signal order, so the last signal's
  // configuration is the one the table ends with.
  let turn: Promise<unknown> = Promise.resolve()
  const reload = async (): Promise<void> => {
    const mine = turn.then(reconfigure)
    turn = mine.catch(() => null)
    const next = await mine
    if (next === null) return
    settings = next.settings
    boot = next.boot
    configureLog(settings.errorLogs)
    coordinator.trylock = settings.trylock
    // The new workers start from the reloaded table (their init carries a snapshot).
    const old = [...members.values()]
    generation++
    await startGeneration(boot, settings.workers)
    for (const m of old) {
      m.stopping = true
      send(m, { t: 'stop', graceful: true })
    }
  }

  process.on('SIGHUP', () => {
    reload().catch((e) => log('alert', `reload failed: ${formatError(e)}`))
  })
  process.on('SIGQUIT', () => void stop(true))
  process.on('SIGTERM', () => void stop(false))
  process.on('SIGINT', () => void stop(false))
  process.on('SIGUSR1', () => {
    reopenLog()
    for (const m of members.values()) send(m, { t: 'reopen' })
  })

  // A socket file left by an earlier run would fail the bind; workers never remove it (they share the primary's).
  for (const path of booted.unixListeners) if (existsSync(path)) unlinkSync(path)
  await startGeneration(boot, settings.workers)
  log('notice', `dyups started, ${settings.workers} worker process(es)`)
  onReady()
}

function waitExit(workers: Worker[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    let left = workers.filter((w) => !w.isDead()).length
    if (left === 0) return resolve()
    const timer = setTimeout(() => {
      for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL')
      resolve()
    }, ms)
    for (const w of workers) {
      if (w.isDead()) continue
      w.once('exit', () => {
        if (--left === 0) {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  })
}

/**
 * Cluster mode (dyups_cluster): many dyups nodes share one upstream table kept in etcd v3 (keys.ts).
 *
 * - A write through any node is one etcd transaction that compares the table version it was based on and bumps
 *   it with the change; a node whose copy was behind loses the comparison, catches up and tries again (If-Match:
 *   412; dyups_trylock: 409), so If-Match and trylock hold fleet-wide.
 * - Every node watches the prefix and applies each committed change through its Coordinator, the same way a local
 *   change reaches its workers, in revision order; the writer's own change comes back the same way.
 * - Each node registers under a lease and publishes the version its workers all route by; a write answers once
 *   every live node published it (`ack all`) or once this node applied it (`ack commit`), else 504 naming the
 *   nodes that lag (the change is committed).
 * - etcd unreachable: the node serves on with its table (its journal/PATH is the local copy it starts from),
 *   writes answer 503 with the reason, and it catches up when etcd is back; a watch whose revision was compacted
 *   away, or a change that does not follow this node's version, is followed by a full resync.
 *
 * The client is `etcd3` (gRPC, watches that resume where they stopped, leases with keep-alive): see docs/cluster.md.
 */
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { ExponentialBackoff, noop } from 'cockatiel'
import { Etcd3, type IKeyValue, type IOptions, type Lease, type Watcher } from 'etcd3'
import { DyupsError, formatError } from '../errors.js'
import { log } from '../log.js'
import { groupKey, packGroup, type UpstreamGroup } from '../upstream/index.js'
import type { Change, GroupChange, TableEntry } from '../store/index.js'
import type { ClusterOptions } from '../config/index.js'
import { groupValue, Keys, keyName, parseGroupValue, type NodeRecord } from './keys.js'

/** What the cluster needs of the node it runs in: its table and the one way changes reach its workers. */
export interface ClusterHost {
  readonly version: number
  get(name: string): TableEntry | undefined
  list(): readonly TableEntry[]
  /** Applies committed changes reaching `version`; false when they do not follow the local version (nothing applied). */
  applyRemote(changes: readonly Change[], version: number): Promise<boolean>
  /** Makes the table exactly `groups` at `version`; false when it could not be written. */
  replace(groups: readonly UpstreamGroup[], version: number): Promise<boolean>
  /** dyups_trylock: a write that loses the race answers 409 instead of trying again. */
  readonly trylock: boolean
}

export interface ClusterSettings extends ClusterOptions {
  /** This node's name (dyups_cluster's `node=`, or the generated one). */
  readonly nodeName: string
  readonly ack: 'all' | 'commit'
  readonly ackTimeout: number
}

export interface Outcome {
  version: number
  error: DyupsError | null
}

/** One node as GET /api/cluster lists it. */
export interface NodeRow {
  node: string
  applied: number
  /** Versions behind the table. */
  lag: number
  self: boolean
  host: string
  pid: number
}

export interface ClusterReport {
  node: string
  /** Whether this node reaches etcd and follows it right now. */
  connected: boolean
  /** Why not, when it does not. */
  reason: string | null
  version: number
  nodes: NodeRow[]
}

/** How long an etcd call may take before the write answers 503. */
const CALL_MS = 3000
/** etcd's default --max-txn-ops is 128: the seed writes groups in transactions of this many. */
const SEED_OPS = 100
/** Changes in one transaction at most (etcd's default --max-txn-ops is 128, the version takes one). */
const BATCH = 100
/** Pause between attempts to reach etcd for the initial sync or after the watch was cancelled. */
const RETRY_MS = 500

interface PendingWrite {
  change: GroupChange
  ifMatch: number | null
  /** When write() took it: dyups_cluster_ack_timeout counts from there. */
  started: number
  resolve: (o: Outcome) => void
}

const changeKey = (c: GroupChange): string => groupKey(c.op === 'put' ? c.group.name : c.name)

interface Waiter {
  version: number
  resolve: (ok: boolean) => void
  timer: NodeJS.Timeout
}

const text = (b: Buffer | Uint8Array | null | undefined): string => (b == null ? '' : Buffer.from(b).toString('utf8'))

export class Cluster {
  readonly #s: ClusterSettings
  readonly #host: ClusterHost
  readonly #keys: Keys
  readonly #client: Etcd3
  #watcher: Watcher | null = null
  #lease: Lease | null = null
  /** The initial sync is done and the watch runs: writes are taken. */
  #synced = false
  /** The watch stream is up. */
  #connected = false
  #reason: string | null = 'not connected to etcd yet'
  #closed = false
  /** The etcd revision the local table reflects: table events at or below it are already in. */
  #revision = 0
  /** Place in /list of each group (groupKey → ORDER of its value). */
  #orders = new Map<string, number>()
  #maxOrder = 0
  #nodes = new Map<string, NodeRecord>()
  #applied: Waiter[] = []
  #acks = new Set<Waiter>()
  /** Watch responses are applied one after the other. */
  #queue: Promise<void> = Promise.resolve()
  #publishing = false
  #republish = false
  #syncing: Promise<void> | null = null
  /**
   * This node's writes waiting for their transaction. One transaction is in flight at a time, and the next starts
   * once the previous one is applied here, with every write that came meanwhile (group commit): writers of one
   * node would otherwise all compare the same version, and all but one lose, again and again.
   */
  #pending: PendingWrite[] = []
  #committing = false
  /** When this node started following etcd (its record's `since`). */
  readonly #since = Date.now()

  constructor(settings: ClusterSettings, host: ClusterHost) {
    this.#s = settings
    this.#host = host
    this.#keys = new Keys(settings.prefix)
    const options: IOptions = {
      hosts: [...settings.endpoints],
      dialTimeout: CALL_MS,
      // Calls fail fast and this class decides what follows: a write answers 503 rather than wait behind retries,
      // and the watch comes back within a second of etcd (the library's default backs off up to 30 s).
      defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + CALL_MS }),
      faultHandling: {
        host: () => noop,
        global: noop,
        watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }) as never,
      },
      // A whole table in one range answer; and a connection to an etcd that comes back is tried again within a
      // second (gRPC's default backoff grows to two minutes, which would keep a node refusing writes that long).
      grpcOptions: {
        'grpc.max_receive_message_length': -1,
        'grpc.max_send_message_length': -1,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      },
    }
    if (settings.user !== null) options.auth = { username: settings.user, password: settings.password! }
    if (settings.cacert !== null || settings.cert !== null) {
      options.credentials = {
        rootCertificate: settings.cacert === null ? Buffer.alloc(0) : readFileSync(settings.cacert),
        ...(settings.cert === null ? {} : { certChain: readFileSync(settings.cert), privateKey: readFileSync(settings.key!) }),
      }
    }
    this.#client = new Etcd3(options)
  }

  get node(): string {
    return this.#s.nodeName
  }

  /**
   * Joins the fleet: seeds an empty prefix from this node's table, or takes etcd's table, then follows it. Resolves
   * once that is done, or after `waitMs` when etcd cannot be reached (the node then serves its local copy and joins
   * as soon as etcd answers).
   */
  async start(waitMs: number): Promise<void> {
    const joined = this.#join()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([joined, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))])
    clearTimeout(timer)
    if (!this.#synced) log('alert', `dyups_cluster: etcd cannot be reached (${this.#reason}): serving the local copy of the upstream table, changes answer 503 until it can`)
  }

  /** Initial sync (or resync after a cancelled watch), tried until it succeeds or the cluster closes. */
  #join(): Promise<void> {
    this.#syncing ??= (async () => {
      while (!this.#closed) {
        try {
          await this.#sync()
          return
        } catch (e) {
          this.#unreachable(e)
          await new Promise((r) => setTimeout(r, RETRY_MS))
        }
      }
    })().finally(() => (this.#syncing = null))
    return this.#syncing
  }

  #unreachable(e: unknown): void {
    const reason = formatError(e)
    if (this.#reason !== reason) log('error', `dyups_cluster: etcd: ${reason}`)
    this.#reason = reason
  }

  async #sync(): Promise<void> {
    this.#synced = false
    this.#dropWatcher()
    let res = await this.#client.getAll().prefix(this.#keys.all).exec()
    if (!res.kvs.some((kv) => text(kv.key) === this.#keys.version)) {
      await this.#seed()
      res = await this.#client.getAll().prefix(this.#keys.all).exec()
    }
    const revision = Number(res.header!.revision)
    await this.#takeAll(res.kvs, revision)
    await this.#register()
    this.#watch(revision + 1)
    this.#synced = true
    this.#connected = true
    this.#reason = null
    log('notice', `dyups_cluster: node "${this.#s.nodeName}" follows etcd ${this.#s.endpoints.join(',')} ` +
      `prefix ${this.#s.prefix}, table version ${this.#host.version}, ${this.#nodes.size} node(s)`)
  }

  /** An empty prefix gets this node's table (static groups and its PATH), at its version. */
  async #seed(): Promise<void> {
    const entries = this.#host.list()
    const absent = (): ReturnType<Etcd3['if']> => this.#client.if(this.#keys.version, 'Create', '==', 0)
    // Groups first, the version last: a node that reads the prefix meanwhile finds no version and seeds (or
    // waits) too; the version's put is the one that decides, and a loser takes the winner's table.
    for (let i = 0; i < entries.length; i += SEED_OPS) {
      const puts = entries.slice(i, i + SEED_OPS).map((e, j) => this.#client.put(this.#keys.group(e.group.name)).value(groupValue(i + j + 1, e.group)))
      await absent().then(...puts).commit()
    }
    const r = await absent().then(this.#client.put(this.#keys.version).value(String(this.#host.version))).commit()
    if (r.succeeded) log('notice', `dyups_cluster: seeded ${this.#s.prefix} with ${entries.length} group(s) at version ${this.#host.version}`)
  }

  /** Takes the whole table etcd holds (read at `revision`) as the local one. */
  async #takeAll(kvs: IKeyValue[], revision: number): Promise<void> {
    let version = this.#host.version
    const groups: { order: number; group: UpstreamGroup }[] = []
    this.#nodes.clear()
    for (const kv of kvs) {
      const key = text(kv.key)
      if (key === this.#keys.version) version = Number(text(kv.value))
      else if (key.startsWith(this.#keys.groups)) groups.push(parseGroupValue(text(kv.value)))
      else if (key.startsWith(this.#keys.nodes)) this.#nodeEvent(key, text(kv.value))
    }
    groups.sort((a, b) => a.order - b.order)
    this.#orders.clear()
    this.#maxOrder = 0
    for (const g of groups) this.#setOrder(groupKey(g.group.name), g.order)
    if (!this.#same(groups.map((g) => g.group), version)) {
      if (!(await this.#host.replace(groups.map((g) => g.group), version))) throw new Error('the local copy of the table could not be written')
      log('notice', `dyups_cluster: took etcd's table: ${groups.length} group(s) at version ${version}`)
    }
    this.#revision = revision
    this.#settleApplied()
  }

  #setOrder(key: string, order: number): void {
    this.#orders.set(key, order)
    if (order > this.#maxOrder) this.#maxOrder = order
  }

  /** Whether the local table already is `groups` at `version`. */
  #same(groups: readonly UpstreamGroup[], version: number): boolean {
    if (version !== this.#host.version || groups.length !== this.#host.list().length) return false
    for (const g of groups) {
      const e = this.#host.get(g.name)
      // Packed, as etcd holds them: a group nginx.conf defines also carries where it was defined.
      if (e === undefined || packGroup(e.group) !== packGroup(g)) return false
    }
    return true
  }

  async #register(): Promise<void> {
    if (this.#lease === null || this.#lease.revoked()) {
      const lease = this.#client.lease(this.#s.leaseSeconds, { autoKeepAlive: true })
      lease.on('lost', (e) => {
        if (this.#lease !== lease || this.#closed) return
        log('warn', `dyups_cluster: node registration lost (${formatError(e)}), registering again`)
        this.#lease = null
        const again = (): void => {
          if (this.#closed || this.#lease !== null) return
          this.#register().catch(() => setTimeout(again, RETRY_MS))
        }
        again()
      })
      this.#lease = lease
      await lease.grant()
    }
    await this.#publish()
  }

  /** Puts this node's record (its applied version) under its lease; calls while one is on its way merge. */
  async #publish(): Promise<void> {
    if (this.#publishing) {
      this.#republish = true
      return
    }
    this.#publishing = true
    try {
      do {
        this.#republish = false
        const lease = this.#lease
        if (lease === null) return
        const rec: NodeRecord = { applied: this.#host.version, pid: process.pid, host: hostname(), since: this.#since }
        await lease.put(this.#keys.node(this.#s.nodeName)).value(JSON.stringify(rec)).exec()
      } while (this.#republish)
    } finally {
      this.#publishing = false
    }
  }

  #watch(from: number): void {
    void this.#client.watch().prefix(this.#keys.all).startRevision(String(from)).create().then((w) => {
      if (this.#closed) return void w.cancel()
      this.#watcher = w
      w.on('data', (res) => {
        const events = res.events
        if (events.length > 0) this.#queue = this.#queue.then(() => this.#onEvents(events)).catch((e) => this.#resync(e))
      })
      w.on('disconnected', (e) => {
        this.#connected = false
        this.#unreachable(e)
      })
      w.on('connected', () => {
        this.#connected = true
        this.#reason = null
        // Whatever was missed comes through the resumed watch; the registration may have expired meanwhile.
        void this.#register().catch((e) => this.#unreachable(e))
      })
      // Cancelled by etcd: the revision it resumes from was compacted away, or the like. Start over. The library
      // has let go of it already (a cancel() now would wait for ever).
      w.on('error', (e) => {
        if (this.#watcher === w) this.#watcher = null
        w.removeAllListeners()
        this.#resync(e)
      })
    }, (e) => this.#resync(e))
  }

  /** Stops the current watch, if any; not awaited: the library answers a cancel only when its stream is up. */
  #dropWatcher(): void {
    const w = this.#watcher
    this.#watcher = null
    if (w === null) return
    w.removeAllListeners()
    w.on('error', () => undefined)
    w.cancel().catch(() => undefined)
  }

  #resync(e: unknown): void {
    if (this.#closed) return
    log('warn', `dyups_cluster: full resync from etcd (${formatError(e)})`)
    this.#synced = false
    this.#unreachable(e)
    void this.#join()
  }

  async #onEvents(events: { type: string; kv: IKeyValue }[]): Promise<void> {
    // A transaction's events share a revision and come in one response.
    let i = 0
    while (i < events.length) {
      const rev = Number(events[i]!.kv.mod_revision)
      let j = i
      while (j < events.length && Number(events[j]!.kv.mod_revision) === rev) j++
      await this.#onRevision(events.slice(i, j), rev)
      i = j
    }
  }

  async #onRevision(events: { type: string; kv: IKeyValue }[], rev: number): Promise<void> {
    const changes: Change[] = []
    const orders: [string, number][] = []
    let version: number | null = null
    let table = false
    for (const ev of events) {
      const key = text(ev.kv.key)
      const put = ev.type === 'Put'
      if (key.startsWith(this.#keys.nodes)) {
        this.#nodeEvent(key, put ? text(ev.kv.value) : null)
      } else if (key === this.#keys.version) {
        table = true
        if (put) version = Number(text(ev.kv.value))
      } else if (key.startsWith(this.#keys.groups)) {
        table = true
        if (put) {
          const { order, group } = parseGroupValue(text(ev.kv.value))
          changes.push({ op: 'put', group })
          orders.push([groupKey(group.name), order])
        } else {
          changes.push({ op: 'delete', name: keyName(this.#keys, key) })
        }
      }
    }
    this.#settleAcks()
    if (!table || rev <= this.#revision) return
    if (version === null || !(await this.#host.applyRemote(changes, version))) {
      throw new Error(`etcd revision ${rev} does not follow the local table at version ${this.#host.version}`)
    }
    this.#revision = rev
    for (const c of changes) if (c.op === 'delete') this.#orders.delete(groupKey(c.name))
    for (const [k, o] of orders) this.#setOrder(k, o)
    this.#settleApplied()
    this.#publish().catch((e) => this.#unreachable(e))
  }

  #nodeEvent(key: string, value: string | null): void {
    const name = key.slice(this.#keys.nodes.length)
    if (value === null) return void this.#nodes.delete(name)
    try {
      this.#nodes.set(name, JSON.parse(value) as NodeRecord)
    } catch {
      this.#nodes.delete(name)
    }
  }

  #settleApplied(): void {
    const v = this.#host.version
    this.#applied = this.#applied.filter((w) => {
      if (w.version > v) return true
      clearTimeout(w.timer)
      w.resolve(true)
      return false
    })
    this.#settleAcks()
  }

  /** Nodes other than this one whose published version is below `version`. */
  #lagging(version: number): string[] {
    const out: string[] = []
    for (const [name, rec] of this.#nodes) if (name !== this.#s.nodeName && rec.applied < version) out.push(name)
    if (this.#host.version < version) out.unshift(this.#s.nodeName)
    return out.sort()
  }

  #settleAcks(): void {
    for (const w of this.#acks) {
      if (this.#lagging(w.version).length > 0) continue
      clearTimeout(w.timer)
      this.#acks.delete(w)
      w.resolve(true)
    }
  }

  /** Resolves true once the local table reaches `version`, false after `ms`. */
  #waitApplied(version: number, ms: number): Promise<boolean> {
    if (this.#host.version >= version) return Promise.resolve(true)
    return new Promise((resolve) => {
      const w: Waiter = { version, resolve, timer: setTimeout(() => {
        this.#applied = this.#applied.filter((x) => x !== w)
        resolve(false)
      }, ms) }
      this.#applied.push(w)
    })
  }

  #waitAcks(version: number, ms: number): Promise<boolean> {
    if (this.#lagging(version).length === 0) return Promise.resolve(true)
    return new Promise((resolve) => {
      const w: Waiter = { version, resolve, timer: setTimeout(() => {
        this.#acks.delete(w)
        resolve(false)
      }, Math.max(0, ms)) }
      this.#acks.add(w)
    })
  }

  #unavailable(what: string): Outcome {
    return { version: this.#host.version, error: new DyupsError('E_CLUSTER', `${what}: etcd cannot be reached (${this.#reason ?? 'not connected'}); nothing was changed`) }
  }

  /**
   * Commits `change` in etcd (one transaction, on the version it was based on) and resolves once the fleet applied
   * it as dyups_cluster_ack asks: `ack` overrides it for this write.
   */
  async write(change: Change, ifMatch: number | null, asked: 'all' | 'commit' | null = null): Promise<Outcome> {
    const ack = asked ?? this.#s.ack
    const started = Date.now()
    // One change is one table version in etcd (the watch applies them one by one): a batch, several changes in one
    // version, has no encoding there yet.
    if (change.op === 'batch') {
      return { version: this.#host.version, error: new DyupsError('E_NOT_IMPLEMENTED', 'POST /api/batch is not available with dyups_cluster: send the changes one by one') }
    }
    if (!this.#synced || !this.#connected) return this.#unavailable('the change is refused')
    const c = await this.#commit(change, ifMatch, started)
    if (c.error !== null) return c
    const version = c.version
    const left = (): number => this.#s.ackTimeout - (Date.now() - started)
    if (ack === 'commit' || (await this.#waitAcks(version, left()))) return { version, error: null }
    return { version, error: new DyupsError('E_CLUSTER_ACK', `committed as version ${version}, not yet applied by node(s) ${this.#lagging(version).join(', ')}`) }
  }

  /** Queues `change` for this node's next transaction; resolves once it is committed and applied here (or failed). */
  #commit(change: GroupChange, ifMatch: number | null, started: number): Promise<Outcome> {
    return new Promise((resolve) => {
      this.#pending.push({ change, ifMatch, started, resolve })
      if (!this.#committing) void this.#drainWrites()
    })
  }

  async #drainWrites(): Promise<void> {
    this.#committing = true
    try {
      while (this.#pending.length > 0) {
        // A conditional write goes alone (it compares its own version); others share a transaction, one change per
        // group (etcd refuses a key twice in one transaction), at most BATCH of them.
        const first = this.#pending[0]!
        let n = 1
        if (first.ifMatch === null) {
          const keys = new Set([changeKey(first.change)])
          while (n < this.#pending.length && n < BATCH) {
            const p = this.#pending[n]!
            if (p.ifMatch !== null || keys.has(changeKey(p.change))) break
            keys.add(changeKey(p.change))
            n++
          }
        }
        const batch = this.#pending.splice(0, n)
        try {
          await this.#commitBatch(batch)
        } catch (e) {
          // A bug, not etcd (its failures are answered inside): answered all the same, never left waiting.
          const error = new DyupsError('E_INTERNAL', formatError(e))
          for (const p of batch) p.resolve({ version: this.#host.version, error })
        }
      }
    } finally {
      this.#committing = false
    }
  }

  /**
   * One transaction for `batch`: compares the version this node's copy is at, writes every change and the version
   * after them. Lost to another node's change: catches up and tries again (If-Match: 412; dyups_trylock: 409).
   * Each change is answered once the transaction is applied on this node.
   */
  async #commitBatch(batch: PendingWrite[]): Promise<void> {
    const ifMatch = batch.length === 1 ? batch[0]!.ifMatch : null
    const fail = (ps: readonly PendingWrite[], o: Outcome): void => {
      for (const p of ps) p.resolve(o)
    }
    let todo = batch
    for (;;) {
      if (!this.#synced || !this.#connected) return fail(todo, this.#unavailable('the change is refused'))
      // A version this node has not applied yet may be on its way through the watch.
      if (ifMatch !== null && ifMatch > this.#host.version) await this.#waitApplied(ifMatch, CALL_MS)
      const base = this.#host.version
      if (ifMatch !== null && ifMatch !== base) {
        return fail(todo, { version: base, error: new DyupsError('E_PRECONDITION', `table version is ${base}, not ${ifMatch}`) })
      }
      // dyups_trylock, fleet-wide: a change is being applied while some live node has not applied the last one.
      if (this.#host.trylock && this.#lagging(base).length > 0) {
        return fail(todo, { version: base, error: new DyupsError('E_LOCKED', 'another change is being applied') })
      }
      // A delete of a group this table does not have fails alone (no other change of the batch touches its name).
      todo = todo.filter((p) => {
        if (p.change.op === 'put' || this.#host.get(p.change.name) !== undefined) return true
        p.resolve({ version: base, error: new DyupsError('E_NO_GROUP', 'not found uptream') })
        return false
      })
      if (todo.length === 0) return
      let nextOrder = this.#maxOrder
      const ops = todo.map(({ change }) => {
        if (change.op === 'delete') return this.#client.delete().key(this.#keys.group(change.name))
        const order = this.#orders.get(groupKey(change.group.name)) ?? ++nextOrder
        return this.#client.put(this.#keys.group(change.group.name)).value(groupValue(order, change.group))
      })
      let r
      try {
        r = await this.#client.if(this.#keys.version, 'Value', '==', String(base))
          .then(this.#client.put(this.#keys.version).value(String(base + todo.length)), ...ops)
          .else(this.#client.get(this.#keys.version))
          .commit()
      } catch (e) {
        this.#unreachable(e)
        return fail(todo, { version: base, error: new DyupsError('E_CLUSTER', `etcd did not answer (${formatError(e)}); the change may or may not be committed: read the table`) })
      }
      if (r.succeeded) {
        const last = base + todo.length
        const applied = await this.#waitApplied(last, Math.max(0, this.#s.ackTimeout - (Date.now() - todo[0]!.started)))
        todo.forEach((p, i) => {
          const version = base + i + 1
          p.resolve(applied ? { version, error: null }
            : { version, error: new DyupsError('E_CLUSTER_ACK', `committed as version ${version}, not yet applied by node(s) ${this.#lagging(last).join(', ')}`) })
        })
        return
      }
      // Another node's change got in first: this node's copy is behind.
      const kv = r.responses[0]?.response_range?.kvs[0]
      const current = kv === undefined ? base : Number(text(kv.value))
      if (ifMatch !== null) return fail(todo, { version: current, error: new DyupsError('E_PRECONDITION', `table version is ${current}, not ${ifMatch}`) })
      if (this.#host.trylock) return fail(todo, { version: current, error: new DyupsError('E_LOCKED', 'another change is being applied') })
      const now = Date.now()
      todo = todo.filter((p) => {
        if (now - p.started <= this.#s.ackTimeout) return true
        p.resolve({ version: current, error: new DyupsError('E_CLUSTER', `other nodes' changes got in first for ${this.#s.ackTimeout} ms; nothing was changed`) })
        return false
      })
      if (todo.length === 0) return
      await this.#waitApplied(current, CALL_MS)
    }
  }

  report(): ClusterReport {
    const v = this.#host.version
    const rows: NodeRow[] = []
    for (const [name, rec] of this.#nodes) {
      rows.push({ node: name, applied: rec.applied, lag: Math.max(0, v - rec.applied), self: name === this.#s.nodeName, host: rec.host, pid: rec.pid })
    }
    rows.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
    const connected = this.#synced && this.#connected
    return { node: this.#s.nodeName, connected, reason: connected ? null : this.#reason, version: v, nodes: rows }
  }

  /** Leaves the fleet: the registration goes at once (not after its TTL), the client closes. */
  async close(): Promise<void> {
    this.#closed = true
    for (const w of [...this.#applied, ...this.#acks]) {
      clearTimeout(w.timer)
      w.resolve(false)
    }
    this.#applied = []
    this.#acks.clear()
    for (const p of this.#pending.splice(0)) p.resolve(this.#unavailable('dyups is stopping'))
    this.#dropWatcher()
    try {
      await this.#lease?.revoke()
    } catch {
      // etcd is gone: the lease expires on its own.
    }
    this.#client.close()
  }
}

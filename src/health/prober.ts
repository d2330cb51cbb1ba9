/**
 * The one place that probes: it follows the upstream table (the groups at start, then every applied change) and
 * probes each server of each group that has a `check` line, once per interval however many workers there are.
 *
 * A probe target is (server address, check spec). Groups that share a target share its probes and counters, so a
 * group replaced through the interface with the same server and the same check line keeps its rise/fall counts and
 * its up/down state; a target no group uses any more stops at once (timer cleared, connection closed, a probe in
 * flight never reports).
 *
 * Tengine's semantics (ngx_http_upstream_check_status_update): a good check raises `rise` and zeroes `fall`, a bad
 * one the reverse; a down target comes up after `rise` good checks in a row, an up one goes down after `fall` bad
 * ones. A new target starts down when `default_down=true`, unless its address is already being checked by another
 * target (a group replaced with a changed check line): then it starts in that address's state, so changing a check
 * line does not take healthy servers out of service.
 *
 * Workers keep one flag per address (PeerState.checkDown), so what is reported is per address: down while any
 * target of that address is down. Changes go out batched through `onChange`, synchronously for table changes (so
 * a worker hears that a new server is down before it routes to it) and on the next turn of the event loop for
 * probe results.
 *
 * Timers do not pile up: one per target, the first at a random point within the first interval (so a thousand
 * servers are not probed in the same millisecond), each next one `interval` after the previous probe ended.
 */
import { log as errorLog, type Level } from '../log.js'
import { groupKey, type CheckSpec, type Server, type UpstreamGroup } from '../upstream/index.js'
import { Checker } from './checker.js'
import type { GroupChange, HealthChange, StatusRow } from './types.js'

export interface ProberOptions {
  /** Receives every address whose reported state changed, in batches. */
  readonly onChange: (changes: HealthChange[]) => void
  /** @default the error log */
  readonly log?: (level: Level, message: string) => void
  /** Where in the first interval a new target's first probe falls, in [0, 1). @default Math.random */
  readonly random?: () => number
}

class Target {
  refs = 0
  down: boolean
  rise = 0
  fall = 0
  /** When the last check ended (ms since the epoch), and why it failed ('' when it passed): the JSON state's. */
  checked = 0
  reason = ''
  timer: NodeJS.Timeout | null = null
  removed = false
  readonly checker: Checker
  /** The address probed, for the log: the check port replaces the server's. */
  readonly probed: string

  constructor(
    readonly key: string,
    readonly addr: string,
    readonly spec: CheckSpec,
    server: Server,
    down: boolean,
  ) {
    this.down = down
    const port = spec.port !== 0 ? spec.port : server.port
    this.checker = new Checker(server.unix ? { host: '', port: 0, path: server.host } : { host: server.host, port, path: null }, spec)
    this.probed = server.unix || spec.port === 0 ? server.addr : server.addr.slice(0, server.addr.lastIndexOf(':') + 1) + port
  }
}

interface GroupEntry {
  name: string
  targets: Target[]
}

export class Prober {
  readonly #targets = new Map<string, Target>()
  /** Groups with a `check` line, by groupKey; a replaced group keeps its position. */
  readonly #groups = new Map<string, GroupEntry>()
  readonly #byAddr = new Map<string, Set<Target>>()
  /** Addresses reported down. */
  readonly #down = new Set<string>()
  readonly #dirty = new Set<string>()
  #released: Target[] = []
  #flushQueued = false
  #closed = false
  readonly #onChange: (changes: HealthChange[]) => void
  readonly #log: (level: Level, message: string) => void
  readonly #random: () => number

  constructor(opts: ProberOptions) {
    this.#onChange = opts.onChange
    this.#log = opts.log ?? errorLog
    this.#random = opts.random ?? Math.random
  }

  /** Starts checking `groups` (the table at start). Reports the initial down set through onChange. */
  load(groups: Iterable<UpstreamGroup>): void {
    for (const g of groups) this.#put(g)
    this.#settle()
  }

  /**
   * Follows one applied batch of table changes, in order. Call it before the workers receive the batch: the
   * states of new servers are reported (synchronously) first.
   */
  apply(changes: readonly GroupChange[]): void {
    for (const c of changes) {
      if (c.op === 'put') this.#put(c.group)
      else this.#delete(c.name)
    }
    this.#settle()
  }

  /** Addresses currently reported down: what a worker that starts now must know. */
  downAddresses(): string[] {
    return [...this.#down]
  }

  /** Targets being probed. */
  get size(): number {
    return this.#targets.size
  }

  /** Every server of every group with a `check` line, groups in the order they were first checked. */
  status(): StatusRow[] {
    const rows: StatusRow[] = []
    let index = 0
    for (const g of this.#groups.values()) {
      for (const t of g.targets) {
        rows.push({
          index: index++, upstream: g.name, name: t.addr, down: t.down, rise: t.rise, fall: t.fall, type: t.spec.type, port: t.spec.port,
          checked: t.checked, reason: t.reason,
        })
      }
    }
    return rows
  }

  /** Stops every probe; nothing is reported afterwards. */
  close(): void {
    this.#closed = true
    for (const t of this.#targets.values()) this.#stop(t)
    this.#targets.clear()
    this.#groups.clear()
    this.#byAddr.clear()
  }

  #put(g: UpstreamGroup): void {
    if (this.#closed) return
    const key = groupKey(g.name)
    const old = this.#groups.get(key)
    if (g.check === null) {
      if (old !== undefined) {
        this.#groups.delete(key)
        this.#releaseAll(old.targets)
      }
      return
    }
    const spec = g.check
    const specKey = JSON.stringify(spec)
    const targets: Target[] = []
    // Tengine checks neither `down` servers nor anything of them.
    for (const s of g.servers) if (!s.down) targets.push(this.#acquire(s, spec, specKey))
    if (old !== undefined) {
      const before = old.targets
      old.name = g.name
      old.targets = targets
      this.#releaseAll(before)
    } else {
      this.#groups.set(key, { name: g.name, targets })
    }
  }

  #delete(name: string): void {
    const key = groupKey(name)
    const old = this.#groups.get(key)
    if (old === undefined) return
    this.#groups.delete(key)
    this.#releaseAll(old.targets)
  }

  #acquire(s: Server, spec: CheckSpec, specKey: string): Target {
    const key = `${s.addr}\n${specKey}`
    let t = this.#targets.get(key)
    if (t === undefined) {
      let peers = this.#byAddr.get(s.addr)
      let down = spec.defaultDown
      if (peers !== undefined && peers.size > 0) {
        down = false
        for (const p of peers) if (p.down) down = true
      }
      t = new Target(key, s.addr, spec, s, down)
      this.#targets.set(key, t)
      if (peers === undefined) this.#byAddr.set(s.addr, (peers = new Set()))
      peers.add(t)
      this.#dirty.add(s.addr)
      this.#schedule(t, Math.floor(this.#random() * spec.interval))
    }
    t.refs++
    return t
  }

  #releaseAll(targets: readonly Target[]): void {
    for (const t of targets) {
      if (--t.refs === 0) this.#released.push(t)
    }
  }

  /** Removes the targets nothing uses any more (a batch may have taken them up again), then reports. */
  #settle(): void {
    for (const t of this.#released) {
      if (t.refs > 0 || t.removed) continue
      this.#stop(t)
      this.#targets.delete(t.key)
      const peers = this.#byAddr.get(t.addr)
      if (peers !== undefined) {
        peers.delete(t)
        if (peers.size === 0) this.#byAddr.delete(t.addr)
      }
      this.#dirty.add(t.addr)
    }
    this.#released = []
    this.#flush()
  }

  #stop(t: Target): void {
    t.removed = true
    if (t.timer !== null) clearTimeout(t.timer)
    t.timer = null
    t.checker.close()
  }

  #schedule(t: Target, ms: number): void {
    t.timer = setTimeout(() => this.#probe(t), ms)
    // Probes never keep a process alive on their own.
    t.timer.unref()
  }

  #probe(t: Target): void {
    t.timer = null
    if (t.removed) return
    t.checker.run((ok, reason) => this.#result(t, ok, reason))
  }

  #result(t: Target, ok: boolean, reason: string): void {
    if (t.removed || this.#closed) return
    const spec = t.spec
    t.checked = Date.now()
    t.reason = ok ? '' : reason
    if (ok) {
      t.rise++
      t.fall = 0
      if (t.down && t.rise >= spec.rise) {
        t.down = false
        this.#log('error', `enable check peer: ${t.probed} `)
        this.#changed(t.addr)
      }
    } else {
      t.rise = 0
      t.fall++
      this.#log('info', `check ${spec.type} failed with peer: ${t.probed}: ${reason}`)
      if (!t.down && t.fall >= spec.fall) {
        t.down = true
        this.#log('error', `disable check peer: ${t.probed} `)
        this.#changed(t.addr)
      }
    }
    this.#schedule(t, spec.interval)
  }

  #changed(addr: string): void {
    this.#dirty.add(addr)
    if (this.#flushQueued) return
    this.#flushQueued = true
    setImmediate(() => {
      this.#flushQueued = false
      if (!this.#closed) this.#flush()
    })
  }

  #flush(): void {
    if (this.#dirty.size === 0) return
    const changes: HealthChange[] = []
    for (const addr of this.#dirty) {
      let down = false
      const peers = this.#byAddr.get(addr)
      if (peers !== undefined) for (const t of peers) if (t.down) down = true
      if (down === this.#down.has(addr)) continue
      if (down) this.#down.add(addr)
      else this.#down.delete(addr)
      changes.push([addr, down])
    }
    this.#dirty.clear()
    if (changes.length > 0) this.#onChange(changes)
  }
}

/**
 * The memory of a `limit_req_zone` / `limit_conn_zone`: a table of fixed-size slots, one per key, shared by every
 * worker as nginx's shared zones are. Workers are processes, so the table lives in a POSIX shared-memory object
 * (`/dev/shm/dyups-PRIMARYPID.NAME.SIZE`, mapped by the shm-typed-array addon) and is changed under a spinlock taken
 * with Atomics — no message to another process per request. Without the addon (or with one process: `master_process
 * off`, `-t`) the table is the worker's own memory, and each worker then limits on its own.
 *
 * A slot is 26 32-bit words: used, key hash, key length, count (requests or connections in progress), excess
 * (limit_req, in 1/1000 of a request), an LRU stamp, the time of the last request (a float64), up to 64 key bytes
 * and a second hash of the key (keys longer than 64 bytes are told apart by their length, both hashes and their
 * first 64 bytes). A key's slot is found by probing 32 slots from its hash; a new key takes a free slot there, else
 * one its module says is stale, else the least recently used one nothing holds (nginx too drops its oldest state
 * when the zone is full), else the request fails as nginx's does when its zone is exhausted.
 */
import { readdirSync, unlinkSync } from 'node:fs'
import { createRequire } from 'node:module'
import { log } from '../../log.js'

const WORDS = 26
const HEADER = 8
const PROBE = 32
const KEY_BYTES = 64

/** Word offsets inside a slot. */
export const USED = 0
export const HASH = 1
export const LEN = 2
export const COUNT = 3
export const EXCESS = 4
const STAMP = 5
/** Float64 index of `last` is (slot base + LAST) / 2. */
const LAST = 6
const KEY = 8
const HASH2 = 24

interface ShmAddon {
  create(count: number, type: 'Int32Array', key: string): Int32Array | null
  get(key: string, type: 'Int32Array'): Int32Array | null
}

let addon: ShmAddon | null | undefined
let addonError = ''
let warned = false

function loadAddon(): ShmAddon | null {
  if (addon !== undefined) return addon
  try {
    addon = createRequire(import.meta.url)('shm-typed-array') as ShmAddon
  } catch (e) {
    addon = null
    addonError = (e as Error).message.split('\n')[0]!
  }
  return addon
}

/** Why zones are per worker, or '' when they are shared. */
export function sharedZonesUnavailable(): string {
  loadAddon()
  return addon === null ? addonError : ''
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ (s.charCodeAt(i) & 0xff), 0x01000193)
  return h >>> 0
}

function hash2(s: string): number {
  let h = 0x9747b28c ^ s.length
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ (s.charCodeAt(i) & 0xff), 0x5bd1e995)
    h ^= h >>> 15
  }
  return h >>> 0
}

const sleeper = new Int32Array(new SharedArrayBuffer(4))

/** Whether an unheld slot of another key may be taken now (each module's own expiry rule). */
export interface StaleCheck {
  isStale(slot: number): boolean
}

export class ZoneMemory {
  readonly i32: Int32Array
  private readonly f64: Float64Array
  private readonly u8: Uint8Array
  readonly slots: number
  /** True when the table is in shared memory (exact across workers). */
  readonly shared: boolean

  private constructor(i32: Int32Array, shared: boolean) {
    this.i32 = i32
    this.f64 = new Float64Array(i32.buffer, i32.byteOffset, Math.floor(i32.length / 2))
    this.u8 = new Uint8Array(i32.buffer, i32.byteOffset, i32.length * 4)
    this.slots = Math.floor((i32.length - HEADER) / WORDS)
    this.shared = shared
  }

  /**
   * The zone's table. `shm`: the name prefix of the primary's shared objects (`/dyups-PID`), or null for memory of
   * this process alone.
   */
  static open(name: string, bytes: number, shm: string | null): ZoneMemory {
    // About nginx's capacity for a zone of this size (64 bytes per state in its docs' example), at least 64 slots.
    const slots = Math.max(64, Math.floor(bytes / 64))
    const words = HEADER + slots * WORDS
    const a = shm === null ? null : loadAddon()
    if (a === null && shm !== null && !warned) {
      warned = true
      log('warn', `limit_req and limit_conn zones are kept per worker: shared memory is not available (${addonError})`)
    }
    if (a === null || shm === null) return new ZoneMemory(new Int32Array(words), false)
    const key = `${shm}.${name.replace(/[^A-Za-z0-9_-]/g, '_')}.${bytes}`
    let arr = a.create(words, 'Int32Array', key)
    // Another worker created it first: map it, once its size is set (a zero-filled table is an empty, unlocked one).
    for (let i = 0; arr === null && i < 1000; i++) {
      arr = a.get(key, 'Int32Array')
      if (arr !== null && arr.length < words) arr = null
      if (arr === null) Atomics.wait(sleeper, 0, 0, 1)
    }
    if (arr === null) return new ZoneMemory(new Int32Array(words), false)
    return new ZoneMemory(arr, true)
  }

  /** Takes the zone's lock (a spinlock: the sections it guards are a few hundred nanoseconds). */
  lock(): void {
    const a = this.i32
    const me = process.pid
    let spins = 0
    while (Atomics.compareExchange(a, 0, 0, me) !== 0) {
      if (++spins % 100_000 === 0) {
        // nginx frees the lock of a worker that died holding it; so do we.
        const owner = Atomics.load(a, 0)
        if (owner !== 0 && !alive(owner)) Atomics.compareExchange(a, 0, owner, 0)
      }
    }
  }

  unlock(): void {
    Atomics.store(this.i32, 0, 0)
  }

  base(slot: number): number {
    return HEADER + slot * WORDS
  }

  last(slot: number): number {
    return this.f64[(this.base(slot) + LAST) / 2]!
  }

  setLast(slot: number, ms: number): void {
    this.f64[(this.base(slot) + LAST) / 2] = ms
  }

  /** Marks a slot as just used (for the least-recently-used choice). */
  touch(slot: number): void {
    const a = this.i32
    a[this.base(slot) + STAMP] = ++a[1]!
  }

  /**
   * The slot of `key`, or a new one for it (zeroed but for its key), or -1 when none can be had. Call under the lock.
   * @param stale whether an unheld slot of another key may be reused now (nginx's expiry)
   * @returns the slot; `created` tells whether it is new
   */
  find(key: string, stale: StaleCheck, out: { created: boolean }): number {
    const a = this.i32
    const h = fnv1a(key)
    const h2 = hash2(key)
    const n = key.length
    const start = h % this.slots
    let free = -1, old = -1, oldStamp = 0, reuse = -1
    for (let p = 0; p < PROBE && p < this.slots; p++) {
      const s = (start + p) % this.slots
      const b = this.base(s)
      if (a[b + USED] === 0) {
        if (free < 0) free = s
        continue
      }
      if (a[b + HASH] === (h | 0) && a[b + LEN] === n && a[b + HASH2] === (h2 | 0) && this.sameKey(b, key)) {
        out.created = false
        return s
      }
      if (a[b + COUNT] !== 0) continue
      if (reuse < 0 && stale.isStale(s)) reuse = s
      const st = a[b + STAMP]!
      if (old < 0 || st - oldStamp < 0) {
        old = s
        oldStamp = st
      }
    }
    const s = free >= 0 ? free : reuse >= 0 ? reuse : old
    if (s < 0) return -1
    const b = this.base(s)
    a.fill(0, b, b + WORDS)
    a[b + USED] = 1
    a[b + HASH] = h | 0
    a[b + HASH2] = h2 | 0
    a[b + LEN] = n
    const m = Math.min(n, KEY_BYTES)
    const u = this.u8
    const kb = (b + KEY) * 4
    for (let i = 0; i < m; i++) u[kb + i] = key.charCodeAt(i) & 0xff
    out.created = true
    return s
  }

  /** Frees a slot. Call under the lock. */
  free(slot: number): void {
    this.i32[this.base(slot) + USED] = 0
  }

  private sameKey(b: number, key: string): boolean {
    const u = this.u8
    const kb = (b + KEY) * 4
    const m = Math.min(key.length, KEY_BYTES)
    for (let i = 0; i < m; i++) if (u[kb + i] !== (key.charCodeAt(i) & 0xff)) return false
    return true
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Removes the shared objects of primaries that are gone, and (with `own`) this primary's: the table of a zone
 * outlives its workers (and a reload, as nginx's zones do) but not its primary.
 */
export function removeZoneObjects(own?: number): void {
  let names: string[]
  try {
    names = readdirSync('/dev/shm')
  } catch {
    return
  }
  for (const f of names) {
    const m = /^dyups-(\d+)\./.exec(f)
    if (m === null) continue
    const pid = Number(m[1])
    if (pid !== own && alive(pid)) continue
    try {
      unlinkSync(`/dev/shm/${f}`)
    } catch {
      // Removed meanwhile.
    }
  }
}

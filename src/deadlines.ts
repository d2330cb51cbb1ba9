/**
 * One deadline mechanism per worker, instead of a Node timer per socket per phase: a coarse timer wheel driven by
 * one interval timer. nginx's timeouts are whole seconds, so a resolution of a fraction of a second is enough; a
 * deadline fires between 0 and one resolution (plus the event loop's own lateness) after it is due, never before.
 *
 * Each owner (a client connection, a backend connection) makes its Deadline once, for its life, and re-arms it on
 * every request and phase: arming, re-arming and disarming allocate nothing and cost O(1).
 *
 * Re-arming to a later time (a gap timeout re-armed on progress: client_body_timeout, send_timeout,
 * keepalive_timeout, proxy_read_timeout) only stores the new time: the entry stays in its bucket, and when that
 * bucket comes due the wheel sees the deadline moved and files it again further on. Re-arming to an earlier time
 * moves the entry at once. A deadline that bounds a whole phase whatever arrives meanwhile (client_header_timeout:
 * a trickle of bytes cannot extend it) is armed once when the phase starts and not re-armed on progress — see
 * `armed` and `armOnce`.
 *
 * A leaf module at the top of src/, beside crc32.ts and errno.ts: both the client side (http/core: client_header,
 * client_body, send and keepalive timeouts) and the backend side (proxy/: connect, send, read and idle keepalive
 * timeouts) arm deadlines on the same wheel. http/ imports proxy/, so the wheel cannot live under http/ (proxy/
 * would import up into it and close a cycle), and it is no proxy concern either. It imports nothing.
 */

/** What a deadline calls when it expires. */
export interface DeadlineOwner {
  /** `d` expired: it is already disarmed, and may be armed again from here. */
  onDeadline(d: Deadline): void
}

export interface WheelOptions {
  /** ms per bucket (default 250): deadlines fire at most this late, never early. */
  resolution?: number
  /** Buckets in the wheel, a power of two (default 512): deadlines further than resolution × slots are re-filed. */
  slots?: number
  /** The clock, in ms; default performance.now (monotonic). Tests pass their own. */
  now?: () => number
  /** Run an interval timer that calls tick() (default true). Tests pass false and call tick() themselves. */
  timer?: boolean
  /** An owner's onDeadline threw: the others are still told. Default: rethrown as an uncaught error, later. */
  onError?: (e: unknown) => void
}

const NOT_FILED = -1
/** In the bucket being processed: owners told before it may arm, disarm or cancel it meanwhile. */
const DUE = -2

/** One owner's deadline: made once by DeadlineWheel.create, re-armed as often as needed. */
export class Deadline {
  /** ms on the wheel's clock when it expires; 0 when disarmed. */
  at = 0
  /** The absolute slot (time / resolution) of the bucket holding it, or NOT_FILED, or DUE. */
  slot = NOT_FILED
  /** Its index in that bucket, for O(1) removal. */
  index = 0

  constructor(readonly wheel: DeadlineWheel, readonly owner: DeadlineOwner) {}

  /** Whether it is armed (and has not expired since). */
  get armed(): boolean {
    return this.at !== 0
  }

  /** Expires `ms` from now, replacing whatever it was armed for; `ms` <= 0 disarms (as socket.setTimeout(0)). */
  arm(ms: number): void {
    if (ms <= 0) {
      this.at = 0
      return
    }
    this.wheel.arm(this, this.wheel.now() + ms)
  }

  /** Arms for `ms` unless it is already armed: a bound on a whole phase, which progress does not extend. */
  armOnce(ms: number): void {
    if (this.at === 0) this.arm(ms)
  }

  /** Disarms. The entry stays in its bucket until that comes due (nothing to do now); cancel() also unfiles it. */
  disarm(): void {
    this.at = 0
  }

  /** Disarms and takes it off the wheel now: for an owner that goes away, so the wheel holds no reference to it. */
  cancel(): void {
    this.at = 0
    if (this.slot >= 0) this.wheel.unfile(this)
  }
}

export class DeadlineWheel {
  readonly resolution: number
  readonly now: () => number
  private readonly mask: number
  private readonly buckets: Deadline[][]
  /** The absolute slot of the next bucket to come due. */
  private cursor: number
  /** Entries in buckets, armed or not: the interval timer runs while there are any. */
  private filed = 0
  private readonly useTimer: boolean
  private readonly onError: (e: unknown) => void
  private timer: ReturnType<typeof setInterval> | null = null
  /** A spare bucket array, swapped with the one being processed, so ticking allocates nothing. */
  private spare: Deadline[] = []
  /** tick() is running: a tick() from an owner's onDeadline returns at once (the running one goes on). */
  private ticking = false

  constructor(opts: WheelOptions = {}) {
    this.resolution = opts.resolution ?? 250
    const slots = opts.slots ?? 512
    if (!(this.resolution > 0)) throw new RangeError('resolution must be positive')
    if (slots < 2 || (slots & (slots - 1)) !== 0) throw new RangeError('slots must be a power of two, at least 2')
    this.mask = slots - 1
    this.buckets = Array.from({ length: slots }, () => [])
    this.now = opts.now ?? (() => performance.now())
    this.useTimer = opts.timer ?? true
    this.onError = opts.onError ?? ((e) => queueMicrotask(() => {
      throw e
    }))
    this.cursor = Math.floor(this.now() / this.resolution)
  }

  /** A deadline for `owner`, disarmed. Make one per owner, not per request. */
  create(owner: DeadlineOwner): Deadline {
    return new Deadline(this, owner)
  }

  /** Whether the interval timer runs (it does while entries are filed). */
  get running(): boolean {
    return this.timer !== null
  }

  /** Entries in buckets (armed ones and disarmed ones not yet swept). */
  get size(): number {
    return this.filed
  }

  /** @internal Deadline.arm: expire `d` at `at`. */
  arm(d: Deadline, at: number): void {
    d.at = at
    if (d.slot < 0) return this.file(d)
    // Filed at or before the new time: leave it, the bucket re-files it when it comes due (a re-arm costs a store).
    if (d.slot <= this.slotOf(at)) return
    // Earlier than where it is filed: it must move, or it would fire late.
    this.unfile(d)
    this.file(d)
  }

  /** The absolute slot for time `at`: not before the cursor, and within the wheel's span (later ones re-file). */
  private slotOf(at: number): number {
    let s = Math.floor(at / this.resolution)
    if (s < this.cursor) s = this.cursor
    else if (s > this.cursor + this.mask) s = this.cursor + this.mask
    return s
  }

  private file(d: Deadline): void {
    const s = this.slotOf(d.at)
    const b = this.buckets[s & this.mask]!
    d.slot = s
    d.index = b.length
    b.push(d)
    if (this.filed++ === 0 && this.useTimer && this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.resolution)
      this.timer.unref()
    }
  }

  /** @internal Takes `d` out of its bucket (swap with the last entry). */
  unfile(d: Deadline): void {
    const b = this.buckets[d.slot & this.mask]!
    const last = b.pop()!
    if (last !== d) {
      b[d.index] = last
      last.index = d.index
    }
    d.slot = NOT_FILED
    this.lost()
  }

  private lost(): void {
    if (--this.filed === 0 && this.timer !== null) {
      clearInterval(this.timer)
      this.timer = null
    }
  }

  /**
   * Processes every bucket that has come due by `now`: deadlines due are disarmed and their owners told (in no
   * particular order), moved ones are filed again, disarmed ones dropped. The interval timer calls it; tests call
   * it after moving their clock.
   */
  tick(now: number = this.now()): void {
    if (this.ticking) return
    this.ticking = true
    try {
      this.sweep(now)
    } finally {
      this.ticking = false
    }
  }

  private sweep(now: number): void {
    const due = Math.floor(now / this.resolution)
    // Bucket k holds deadlines in [k, k+1) × resolution: it is due once that interval has passed.
    while (this.cursor < due) {
      const k = this.cursor & this.mask
      const b = this.buckets[k]!
      if (b.length === 0) {
        if (this.filed === 0) {
          // Nothing anywhere: jump instead of walking empty buckets after a long idle time.
          this.cursor = due
          break
        }
        this.cursor++
        continue
      }
      // Swap the bucket out first, its entries marked DUE: owners told may arm (this bucket included), disarm or
      // cancel any deadline; one of these that is armed again meanwhile is filed anew and skipped here.
      this.buckets[k] = this.spare
      this.cursor++
      for (let i = 0; i < b.length; i++) b[i]!.slot = DUE
      this.filed -= b.length
      for (let i = 0; i < b.length; i++) {
        const d = b[i]!
        if (d.slot !== DUE) continue
        d.slot = NOT_FILED
        if (d.at === 0) continue
        if (d.at > now) {
          this.file(d)
          continue
        }
        d.at = 0
        try {
          d.owner.onDeadline(d)
        } catch (e) {
          // One owner's failure must not leave the others unprocessed.
          this.onError(e)
        }
      }
      b.length = 0
      this.spare = b
      if (this.filed === 0 && this.timer !== null) {
        clearInterval(this.timer)
        this.timer = null
      }
    }
  }

  /** Stops the interval timer (the entries stay; tick() still works). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }
}

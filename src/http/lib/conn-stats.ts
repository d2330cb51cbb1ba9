/**
 * This worker's client connection counters, nginx's ngx_stat_* (stub_status, `$connections_*`, dyups_metrics):
 * plain integers bumped on the request path, summed over the workers when a status page is read.
 *
 * A connection is in one of three states, as nginx counts them: waiting (accepted, or idle between keep-alive
 * requests: no byte of a head yet), reading (a request head has begun and is not complete) and writing (its request
 * is being handled, answered, or its connection is closing after it). `waiting` is what is active and neither.
 */
import type { ConnCounts } from '../../dyups/index.js'

export const WAITING = 0
export const READING = 1
export const WRITING = 2

export class ConnStats {
  /** Connections accepted (nginx's ngx_stat_accepted). */
  accepted = 0
  /** Connections accepted and served: all but those closed at once for want of worker_connections. */
  handled = 0
  /** Requests begun: one per request head that started, as nginx counts them when it allocates the request. */
  requests = 0
  /** Open client connections, in any state. */
  active = 0
  reading = 0
  writing = 0

  get waiting(): number {
    return this.active - this.reading - this.writing
  }

  /** A connection moves from state `from` to `to` (WAITING, READING, WRITING). */
  move(from: number, to: number): void {
    if (from === READING) this.reading--
    else if (from === WRITING) this.writing--
    if (to === READING) {
      this.reading++
      this.requests++
    } else if (to === WRITING) this.writing++
  }

  /** The plain numbers, as they cross to the process that sums them. */
  counts(): ConnCounts {
    return { accepted: this.accepted, handled: this.handled, requests: this.requests, active: this.active, reading: this.reading, writing: this.writing }
  }
}

/** The worker's counters: one per process, as each worker is a process. */
export const connStats = new ConnStats()

/** The same counters per listening address (the `listen` as configured), made on its first connection. */
export const listenerStats = new Map<string, ConnStats>()

export function statsOfListener(key: string): ConnStats {
  let s = listenerStats.get(key)
  if (s === undefined) {
    s = new ConnStats()
    listenerStats.set(key, s)
  }
  return s
}

/** Every listener's counters, as they cross to the process that sums them. */
export function listenerCounts(): Record<string, ConnCounts> {
  const out: Record<string, ConnCounts> = {}
  for (const [k, s] of listenerStats) out[k] = s.counts()
  return out
}

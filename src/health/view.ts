/**
 * A worker's side of active health checks: the prober's down set, applied to the worker's PeerStates. A down
 * address holds a reference on its state, so the flag survives while no balancer uses the address (balancers are
 * built on a group's first request) and every balancer built later sees it. Coming back up stamps the time the
 * balancer's slow_start ramps from.
 */
import type { PeerStates } from '../balancer/index.js'
import type { HealthChange } from './types.js'

export class HealthView {
  readonly #down = new Set<string>()

  constructor(private readonly states: PeerStates) {}

  /** Addresses this worker treats as down. */
  get down(): ReadonlySet<string> {
    return this.#down
  }

  /** Applies changes in order. `now`: ms (Date.now()). */
  apply(changes: readonly HealthChange[], now = Date.now()): void {
    for (const [addr, down] of changes) {
      if (down) {
        if (this.#down.has(addr)) continue
        this.#down.add(addr)
        this.states.acquire(addr).checkDown = true
      } else {
        if (!this.#down.delete(addr)) continue
        const s = this.states.get(addr)
        s.checkDown = false
        s.recoveredAt = Math.floor(now / 1000)
        this.states.release(addr)
      }
    }
  }

  /** Makes `down` the whole down set (a worker's start). */
  reset(down: readonly string[], now = Date.now()): void {
    const want = new Set(down)
    const changes: HealthChange[] = []
    for (const a of this.#down) if (!want.has(a)) changes.push([a, false])
    for (const a of want) changes.push([a, true])
    this.apply(changes, now)
  }
}

/**
 * A worker's copy of the table: built from a Snapshot, then kept current by the Deltas of Store.applyBatch().
 * It orders and keys groups exactly as the Store does (Map order, set keeps a position), so /list reads the same
 * in every worker.
 */
import { DyupsError } from '../errors.js'
import { groupKey, type UpstreamGroup } from '../upstream/index.js'
import type { Delta, Snapshot } from './types.js'

export class Replica {
  #groups = new Map<string, UpstreamGroup>()
  #version: number

  constructor(snapshot: Snapshot) {
    for (const g of snapshot.groups) this.#groups.set(groupKey(g.name), g)
    this.#version = snapshot.version
  }

  get version(): number {
    return this.#version
  }

  get size(): number {
    return this.#groups.size
  }

  /** The group named `name`, case-insensitively. */
  get(name: string): UpstreamGroup | undefined {
    return this.#groups.get(groupKey(name))
  }

  /** Groups in /list order. */
  list(): UpstreamGroup[] {
    return Array.from(this.#groups.values())
  }

  /**
   * Applies one batch's changes; O(changed groups).
   * @throws DyupsError E_INTERNAL when the delta does not start at this replica's version (a delta was missed
   *   or repeated): the worker must ask for a snapshot instead.
   */
  apply(delta: Delta): void {
    if (delta.from !== this.#version) {
      throw new DyupsError('E_INTERNAL', `delta from version ${delta.from} does not follow version ${this.#version}`)
    }
    for (const c of delta.changes) {
      if (c.op === 'put') this.#groups.set(groupKey(c.group.name), c.group)
      else this.#groups.delete(groupKey(c.name))
    }
    this.#version = delta.version
  }
}

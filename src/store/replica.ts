/**
 * A worker's copy of the table: built from a Snapshot, then kept current by the Deltas of Store.applyBatch().
 * It orders and keys groups exactly as the Store does (Map order, set keeps a position), so /list reads the same
 * in every worker. Groups are held packed (upstream's packGroup): a worker with 100 000 groups keeps short strings
 * and builds a group object only when it is read.
 */
import { DyupsError } from '../errors.js'
import { groupKey, packGroup, unpackGroup, type UpstreamGroup } from '../upstream/index.js'
import type { Delta, Snapshot } from './types.js'

export class Replica {
  #groups = new Map<string, string>()
  #version: number

  constructor(snapshot: Snapshot) {
    if (snapshot.packed !== '') {
      for (const line of snapshot.packed.split('\n')) this.#groups.set(groupKey(unpackName(line)), line)
    }
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
    const p = this.#groups.get(groupKey(name))
    return p === undefined ? undefined : unpackGroup(p)
  }

  /** Groups in /list order. */
  list(): UpstreamGroup[] {
    return Array.from(this.#groups.values(), unpackGroup)
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
      if (c.op === 'put') this.#groups.set(groupKey(c.group.name), packGroup(c.group))
      else this.#groups.delete(groupKey(c.name))
    }
    this.#version = delta.version
  }
}

/** The name of a packed group without unpacking the rest: the first JSON string of the line (`["name",…`). */
function unpackName(line: string): string {
  let i = 2
  while (i < line.length && line.charCodeAt(i) !== 0x22) i += line.charCodeAt(i) === 0x5c ? 2 : 1
  return JSON.parse(line.slice(1, i + 1)) as string
}

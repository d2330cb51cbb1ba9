/**
 * A worker's copy of the table: built from a Snapshot, then kept current by the Deltas of Store.applyBatch().
 * It orders and keys groups exactly as the Store does (Map order, set keeps a position), so /list reads the same
 * in every worker. Groups are held packed (upstream's packGroup): a worker with 100 000 groups keeps short strings
 * and builds a group object only when it is read.
 */
import { DyupsError } from '../errors.js'
import { groupKey, packGroup, unpackGroup, type UpstreamGroup } from '../upstream/index.js'
import type { Delta, PackedDelta, Snapshot } from './types.js'

export class Replica {
  #groups = new Map<string, string>()
  #version: number

  /**
   * `earlier`: pieces of packed lines (joined by `\n`, as in Snapshot.packed) that come before the snapshot's own,
   * for a snapshot sent in pieces.
   */
  constructor(snapshot: Snapshot, earlier: readonly string[] = []) {
    for (const part of earlier) this.#load(part)
    this.#load(snapshot.packed)
    this.#version = snapshot.version
  }

  #load(packed: string): void {
    if (packed === '') return
    for (const line of packed.split('\n')) this.#groups.set(groupKey(unpackName(line)), line)
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
    this.applyPacked(packDelta(delta))
  }

  /**
   * apply() for a delta in its packed form, as workers receive it.
   * @returns the keys (groupKey()) of the groups it put or deleted, in order.
   * @throws DyupsError E_INTERNAL as apply().
   */
  applyPacked(delta: PackedDelta): string[] {
    if (delta.from !== this.#version) {
      throw new DyupsError('E_INTERNAL', `delta from version ${delta.from} does not follow version ${this.#version}`)
    }
    const keys: string[] = new Array(delta.changes.length)
    for (let i = 0; i < delta.changes.length; i++) {
      const c = delta.changes[i]!
      if (c.charCodeAt(0) === 0x5b) {
        const key = groupKey(unpackName(c))
        this.#groups.set(key, c)
        keys[i] = key
      } else {
        const key = groupKey(c.slice(1))
        this.#groups.delete(key)
        keys[i] = key
      }
    }
    this.#version = delta.version
    return keys
  }
}

/**
 * The packed form of `delta` (see PackedDelta). `pack` turns a group into its packGroup() line; a caller that
 * already holds the line (a worker sent it) passes a lookup to avoid packing twice.
 */
export function packDelta(delta: Delta, pack: (g: UpstreamGroup) => string = packGroup): PackedDelta {
  const changes: string[] = new Array(delta.changes.length)
  for (let i = 0; i < delta.changes.length; i++) {
    const c = delta.changes[i]!
    changes[i] = c.op === 'put' ? pack(c.group) : '-' + c.name
  }
  return { from: delta.from, version: delta.version, changes }
}

/** The name of a packed group without unpacking the rest: the first JSON string of the line (`["name",…`). */
function unpackName(line: string): string {
  let i = 2
  while (i < line.length && line.charCodeAt(i) !== 0x22) i += line.charCodeAt(i) === 0x5c ? 2 : 1
  return JSON.parse(line.slice(1, i + 1)) as string
}

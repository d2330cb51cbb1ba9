/**
 * The ordered upstream table of the primary: one Map keyed by groupKey(name).
 *
 * A Map keeps insertion order and `set` on an existing key keeps its position, which is exactly /list's order:
 * static groups in configuration order, then created groups in creation order; a replaced group stays where it
 * was, a deleted one leaves, a re-created one goes to the end. So every change is O(1) and nothing is copied.
 */
import { assignIds, groupKey, packGroup, type UpstreamGroup } from '../upstream/index.js'
import type { Change, Snapshot, TableCounts, TableEntry } from './types.js'

/** Entries are replaced, never edited, so an array from list() or snapshot() stays valid after later changes. */
export class Entry implements TableEntry {
  readonly group: UpstreamGroup
  readonly static: boolean
  /** Still the group nginx.conf defines: PATH need not repeat it. */
  readonly pristine: boolean

  constructor(group: UpstreamGroup, isStatic: boolean, pristine: boolean) {
    this.group = group
    this.static = isStatic
    this.pristine = pristine
  }
}

/** A consistent picture of the table for writing PATH while later changes go on. */
export interface TableImage {
  readonly version: number
  readonly entries: readonly Entry[]
  /** Spelled names of deleted static groups. */
  readonly deleted: readonly string[]
}

export class Table {
  #entries = new Map<string, Entry>()
  /** key -> spelling, of static groups deleted since nginx.conf defined them. */
  #deleted = new Map<string, string>()
  #static = 0
  /** +1 per applied change; the owner sets it when restoring. */
  version = 0

  /** Static groups, in configuration order. Later duplicates of a name replace the first in place. */
  constructor(staticGroups: readonly UpstreamGroup[] = []) {
    for (const g of staticGroups) {
      const key = groupKey(g.name)
      if (!this.#entries.has(key)) this.#static++
      this.#entries.set(key, new Entry(assignIds(undefined, g), true, true))
    }
  }

  get size(): number {
    return this.#entries.size
  }

  has(name: string): boolean {
    return this.#entries.has(groupKey(name))
  }

  hasKey(key: string): boolean {
    return this.#entries.has(key)
  }

  get(name: string): Entry | undefined {
    return this.#entries.get(groupKey(name))
  }

  /** Entries in /list order (a copy: O(n), for reads that are O(n) anyway). */
  list(): Entry[] {
    return Array.from(this.#entries.values())
  }

  counts(): TableCounts {
    return { groups: this.#entries.size, static: this.#static, deleted: this.#deleted.size }
  }

  /**
   * Creates or replaces in place; a replaced static group stays static, a new one is appended. Server ids are
   * settled against the group replaced (a group the store already settled is kept as it is).
   */
  put(group: UpstreamGroup): void {
    const key = groupKey(group.name)
    const prev = this.#entries.get(key)
    this.#entries.set(key, new Entry(assignIds(prev?.group, group), prev !== undefined && prev.static, false))
  }

  /** @returns false when no such group exists. */
  remove(name: string): boolean {
    const key = groupKey(name)
    const prev = this.#entries.get(key)
    if (prev === undefined) return false
    this.#entries.delete(key)
    if (prev.static) {
      this.#static--
      this.#deleted.set(key, prev.group.name)
    }
    return true
  }

  /**
   * Applies a change and counts a version for it, even when a delete finds nothing: replay must number changes
   * exactly as they were numbered when applied (nginx.conf may have lost a static group meanwhile).
   */
  apply(change: Change): void {
    if (change.op === 'put') this.put(change.group)
    else if (change.op === 'delete') this.remove(change.name)
    // A batch is one change: its groups change together, under one version.
    else for (const c of change.changes) if (c.op === 'put') this.put(c.group)
    else this.remove(c.name)
    this.version++
  }

  /** Deletes a static group named by a PATH marker; markers for names that are not static are stale: ignored. */
  removeStatic(name: string): void {
    const e = this.#entries.get(groupKey(name))
    if (e !== undefined && e.static) this.remove(name)
  }

  /** Carries a deleted static group's marker into a table being rebuilt (replaceTable(), reload.ts). */
  keepDeleted(name: string): void {
    this.#deleted.set(groupKey(name), name)
  }

  /** Spelled names of deleted static groups (PATH's markers). */
  deletedNames(): string[] {
    return Array.from(this.#deleted.values())
  }

  image(): TableImage {
    return { version: this.version, entries: this.list(), deleted: Array.from(this.#deleted.values()) }
  }

  snapshot(): Snapshot {
    const lines: string[] = new Array(this.#entries.size)
    let i = 0
    for (const e of this.#entries.values()) lines[i++] = packGroup(e.group)
    return { version: this.version, packed: lines.join('\n') }
  }
}

/**
 * A reload (`SIGHUP`, `-s reload`): nginx.conf's new static groups applied to the live table.
 *
 * nginx.conf is the source of static groups and changes made through the interface win over it, which is exactly
 * what a restart does with the new nginx.conf and our PATH (static groups, then PATH's deleted markers, then its
 * blocks; upstream-conf.ts). So the reloaded table is built the way a restart would build it, and a restart after
 * the reload reproduces it by construction:
 * - a pristine static group takes its new definition, or is gone when nginx.conf no longer defines it;
 * - a static group replaced through the interface keeps that version (a created group if nginx.conf dropped it);
 * - a deleted static group stays deleted while nginx.conf defines it (its marker goes when nginx.conf drops it);
 * - a new static name appears in configuration order (a created group of that name keeps its servers, and
 *   becomes static);
 * - every other created group keeps its servers and its order, after the static groups.
 */
import { assignIds, groupKey, type UpstreamGroup } from '../upstream/index.js'
import { Table, type Entry } from './table.js'
import type { GroupChange } from './types.js'

export interface Reloaded {
  /** The table after the reload, at the version after `changes`. */
  readonly table: Table
  /** What takes a replica of the old table to the new one, in order (deletes and puts only). */
  readonly changes: GroupChange[]
  /**
   * The persisted picture changed: groups, order, static flags or deleted markers. False only when the reload
   * changed nothing at all (then PATH and the journal stay valid as they are).
   */
  readonly changed: boolean
}

/** Groups are plain data; definitions built from the same text serialize alike. */
const sameGroup = (a: UpstreamGroup, b: UpstreamGroup): boolean => a === b || JSON.stringify(a) === JSON.stringify(b)

/**
 * Builds the table `staticGroups` (nginx.conf's, outside PATH, in configuration order) give to `old`. `old` is
 * not touched. An unchanged static definition keeps its group object, so workers see no change for it.
 */
export function reloadTable(old: Table, staticGroups: readonly UpstreamGroup[]): Reloaded {
  const statics = staticGroups.map((g) => {
    const e = old.get(g.name)
    if (e === undefined || !e.static || !e.pristine) return g
    // A group as nginx.conf defines it numbers its servers from 0, as a restart would (PATH does not hold it).
    const settled = assignIds(undefined, g)
    return sameGroup(e.group, settled) ? e.group : settled
  })
  const next = new Table(statics)
  for (const name of old.deletedNames()) next.removeStatic(name)
  for (const e of old.list()) if (!(e.static && e.pristine)) next.put(e.group)
  const changes = replicaChanges(old.list(), next.list())
  next.version = old.version + changes.length
  return { table: next, changes, changed: changes.length > 0 || !sameShape(old, next) }
}

/**
 * The table holding exactly `groups` (in that order, at `version`), as another copy of the table has it (a
 * cluster's, src/cluster/): groups `old` has as static stay static and in their place, static groups missing from
 * `groups` count as deleted, every other group follows in the order given. `old` is not touched; a group equal to
 * the one `old` holds keeps its object, so workers see no change for it.
 */
export function replaceTable(old: Table, groups: readonly UpstreamGroup[], version: number): Reloaded {
  const wanted = new Map<string, UpstreamGroup>()
  for (const g of groups) wanted.set(groupKey(g.name), g)
  const keep = (g: UpstreamGroup): UpstreamGroup => {
    const e = old.get(g.name)
    return e !== undefined && sameGroup(e.group, g) ? e.group : g
  }
  // The static groups as `old` has them (flags included: one replaced through the interface is no longer pristine,
  // and PATH must keep it), then what `groups` does to them, then the deleted markers `old` carries.
  const statics = old.list().filter((e) => e.static)
  const next = new Table(statics.map((e) => e.group))
  for (const e of statics) {
    const g = wanted.get(groupKey(e.group.name))
    if (g === undefined) next.removeStatic(e.group.name)
    else if (!sameGroup(g, e.group)) next.put(keep(g))
    else if (!e.pristine) next.put(e.group)
  }
  for (const name of old.deletedNames()) next.keepDeleted(name)
  for (const g of groups) if (!next.has(g.name)) next.put(keep(g))
  const changes = replicaChanges(old.list(), next.list())
  next.version = version
  return { table: next, changes, changed: changes.length > 0 || version !== old.version || !sameShape(old, next) }
}

/**
 * Deletes and puts that turn a replica holding `from` into one holding `to`, order included. A replica's Map can
 * only replace in place or append, so the longest prefix of `to` that appears in `from` in the same order stays
 * (replaced in place where its group changed), everything else of `from` is deleted, and the rest of `to` is
 * appended. Adding a static group thus moves every created group behind it; a reload starts new workers from a
 * snapshot anyway, so this costs the old workers no more than their replacement does.
 */
function replicaChanges(from: readonly Entry[], to: readonly Entry[]): GroupChange[] {
  const toKeys = to.map((e) => groupKey(e.group.name))
  let kept = 0
  for (const e of from) if (kept < to.length && groupKey(e.group.name) === toKeys[kept]) kept++
  const stays = new Map<string, Entry>()
  for (let i = 0; i < kept; i++) stays.set(toKeys[i]!, to[i]!)
  const changes: GroupChange[] = []
  for (const e of from) if (!stays.has(groupKey(e.group.name))) changes.push({ op: 'delete', name: e.group.name })
  for (const e of from) {
    const now = stays.get(groupKey(e.group.name))
    if (now !== undefined && now.group !== e.group) changes.push({ op: 'put', group: now.group })
  }
  for (let i = kept; i < to.length; i++) changes.push({ op: 'put', group: to[i]!.group })
  return changes
}

/** Same static flags, pristine flags and deleted markers (groups and order are compared through the changes). */
function sameShape(a: Table, b: Table): boolean {
  const ea = a.list(), eb = b.list()
  if (ea.length !== eb.length) return false
  for (let i = 0; i < ea.length; i++) {
    if (ea[i]!.static !== eb[i]!.static || ea[i]!.pristine !== eb[i]!.pristine) return false
  }
  const da = a.deletedNames(), db = b.deletedNames()
  return da.length === db.length && da.every((n, i) => n === db[i])
}

/**
 * The fleet's table in etcd, under the configured prefix P:
 * - `P/version`: the table version (decimal), +1 in the same transaction as each change: what ETag, If-Match and
 *   the metrics show. etcd's own revision also moves with node registrations, so it is never shown as the version.
 * - `P/groups/KEY`: one group; KEY is groupKey(name), percent-encoded; the value is `ORDER LINE`, LINE the
 *   group's packGroup() line and ORDER its place in /list (a replaced group keeps it, a new one takes the next).
 * - `P/nodes/NAME`: one node's registration, under its lease (gone when the node is): JSON NodeRecord.
 */
import { groupKey, packGroup, unpackGroup, type UpstreamGroup } from '../upstream/index.js'

export interface NodeRecord {
  /** The table version this node's workers all route by. */
  applied: number
  pid: number
  host: string
  /** When it registered, ms since the epoch. */
  since: number
}

export class Keys {
  readonly version: string
  readonly groups: string
  readonly nodes: string
  /** Everything of this table: what a node watches and reads. */
  readonly all: string

  constructor(readonly prefix: string) {
    this.all = `${prefix}/`
    this.version = `${prefix}/version`
    this.groups = `${prefix}/groups/`
    this.nodes = `${prefix}/nodes/`
  }

  group(name: string): string {
    return this.groups + encodeURIComponent(groupKey(name))
  }

  node(name: string): string {
    return this.nodes + name
  }
}

export const groupValue = (order: number, g: UpstreamGroup): string => `${order} ${packGroup(g)}`

/** @throws Error for a value dyups did not write. */
export function parseGroupValue(value: string): { order: number; group: UpstreamGroup } {
  const sp = value.indexOf(' ')
  const order = Number(value.slice(0, sp))
  if (sp < 1 || !Number.isSafeInteger(order)) throw new Error(`not a dyups group value: ${JSON.stringify(value.slice(0, 40))}`)
  return { order, group: unpackGroup(value.slice(sp + 1)) }
}

/** `P/groups/KEY` → groupKey, which names the group for a delete. */
export const keyName = (keys: Keys, key: string): string => decodeURIComponent(key.slice(keys.groups.length))

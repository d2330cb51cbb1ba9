/**
 * What a change would do to a group: servers added, removed and changed (matched by address), and settings changed.
 * The JSON interface answers it for `?dry_run=1` writes, which apply nothing.
 */
import type { Server, UpstreamGroup } from '../upstream/index.js'
import { serverParams } from './json.js'

type Params = Record<string, string | number | boolean>
const params = serverParams

export interface GroupDiff {
  upstream: string
  created: boolean
  deleted: boolean
  /** Settings whose value changes: [before, after]. */
  settings: Record<string, [unknown, unknown]>
  servers: { added: Params[]; removed: Params[]; changed: { address: string; before: Params; after: Params }[] }
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

/** The difference from `before` to `after` (either undefined: the group is created or deleted). */
export function groupDiff(name: string, before: UpstreamGroup | undefined, after: UpstreamGroup | undefined): GroupDiff {
  const d: GroupDiff = {
    upstream: name,
    created: before === undefined && after !== undefined,
    deleted: before !== undefined && after === undefined,
    settings: {},
    servers: { added: [], removed: [], changed: [] },
  }
  for (const k of ['policy', 'keepalive', 'check'] as const) {
    const a = before?.[k] ?? null
    const b = after?.[k] ?? null
    if (!same(a, b)) d.settings[k] = [a, b]
  }
  const old = new Map<string, Server>()
  for (const s of before?.servers ?? []) if (!old.has(s.addr)) old.set(s.addr, s)
  const seen = new Set<string>()
  for (const s of after?.servers ?? []) {
    if (seen.has(s.addr)) continue
    seen.add(s.addr)
    const o = old.get(s.addr)
    if (o === undefined) d.servers.added.push(params(s))
    else if (!same(params(o), params(s))) d.servers.changed.push({ address: s.addr, before: params(o), after: params(s) })
  }
  for (const [addr, s] of old) if (!seen.has(addr)) d.servers.removed.push(params(s))
  return d
}

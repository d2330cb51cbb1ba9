/**
 * Stable server ids. A server keeps its id for as long as it stays in its group, whatever else changes around it,
 * so `PATCH /api/upstreams/NAME/servers/ID` never reaches another server after a concurrent change; an id is not
 * given again within the group's life (`nextId` only grows), and a group created anew starts again from 0.
 */
import type { Server, UpstreamGroup } from './types.js'

/**
 * `g` with every server's id settled against `prev` (the group it replaces, if any):
 * - an explicit id (>= 0: a `# dyups: id=N` marker, a JSON edit) is kept when no earlier server of `g` has it;
 * - any other server takes the id of a server of `prev` with the same address not already taken, in order, and
 *   its drain (a text body cannot say drain, so replacing a group through Tengine's text interface keeps it);
 * - what remains gets the next new id.
 * Returns `g` itself when nothing changes (a group already settled).
 */
export function assignIds(prev: UpstreamGroup | undefined, g: UpstreamGroup): UpstreamGroup {
  const ss = g.servers
  const used = new Set<number>()
  let max = -1
  let settled = true
  for (const s of ss) {
    // A journal written before ids existed holds servers without `id` and `drain`: settled like any new server.
    if (typeof s.drain !== 'boolean') settled = false
    if (typeof s.id !== 'number' || s.id < 0 || used.has(s.id)) {
      settled = false
      continue
    }
    used.add(s.id)
    if (s.id > max) max = s.id
  }
  let next = Math.max(g.nextId ?? 0, prev?.nextId ?? 0, max + 1)
  if (prev !== undefined) for (const s of prev.servers) if (s.id >= next) next = s.id + 1
  if (settled && next === g.nextId) return g
  // Servers of prev by address, in order, whose id g does not hold explicitly.
  let byAddr: Map<string, Server[]> | null = null
  if (!settled && prev !== undefined) {
    byAddr = new Map()
    for (const s of prev.servers) {
      if (used.has(s.id)) continue
      const list = byAddr.get(s.addr)
      if (list === undefined) byAddr.set(s.addr, [s])
      else list.push(s)
    }
  }
  const seen = new Set<number>()
  const servers = ss.map((s) => {
    const drain = s.drain === true
    if (typeof s.id === 'number' && s.id >= 0 && !seen.has(s.id)) {
      seen.add(s.id)
      return s.drain === drain ? s : Object.freeze({ ...s, drain })
    }
    const old = byAddr?.get(s.addr)?.shift()
    const id = old !== undefined ? old.id : next++
    seen.add(id)
    return Object.freeze({ ...s, id, drain: drain || (old?.drain ?? false) })
  })
  return Object.freeze({ ...g, servers: Object.freeze(servers), nextId: next })
}

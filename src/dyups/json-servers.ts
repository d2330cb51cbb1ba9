/**
 * One server of a group changed through the JSON interface (add, change, remove): the group is written back as a
 * command body with that one edit — its method, keepalive and check lines as they are, every server's stable id
 * and drain on its marker comment — and applied as a whole, so the change goes through the same checks, single
 * writer and journal as any other. The other servers' live state (passive failures, connections, health) is kept
 * by address in each worker, so it survives the replacement.
 */
import type { Server, UpstreamGroup } from '../upstream/index.js'
import { parseAddress, renderUpstreamBlock } from '../upstream/index.js'
import type { ServerInput } from './json-input.js'

/** A server as a ServerInput with every field set: what its line says. */
function asInput(s: Server): ServerInput {
  return {
    // A name resolved to several addresses is one server per address here, as upstream.conf writes it.
    server: parseAddress(s.name).kind === 'name' ? s.addr : s.name,
    weight: s.weight,
    max_fails: s.maxFails,
    fail_timeout: s.failTimeout,
    max_conns: s.maxConns,
    slow_start: s.slowStart,
    backup: s.backup,
    down: s.down,
    drain: s.drain,
    id: s.id,
  }
}

/** A Server-shaped record for renderUpstreamBlock from an edited ServerInput. */
function asServer(i: ServerInput, entry: number): Server {
  const name = i.server!
  return {
    addr: name,
    name,
    host: '',
    port: 0,
    unix: false,
    entry,
    weight: i.weight ?? 1,
    maxFails: i.max_fails ?? 1,
    failTimeout: i.fail_timeout ?? 10,
    maxConns: i.max_conns ?? 0,
    backup: i.backup ?? false,
    down: i.down ?? false,
    slowStart: i.slow_start ?? 0,
    id: i.id ?? -1,
    drain: i.drain ?? false,
  }
}

/** The index of the server whose stable id is `id`, or -1. */
export function serverIndex(g: UpstreamGroup, id: number): number {
  for (let i = 0; i < g.servers.length; i++) if (g.servers[i]!.id === id) return i
  return -1
}

/**
 * The command body of `g` with the server whose id is `id` changed by `patch` (null: removed), or with `add`
 * appended (id -1; it gets a new id when applied).
 * @returns null when `id` names no server
 */
export function editedCommands(g: UpstreamGroup, id: number, patch: ServerInput | null, add?: ServerInput): string | null {
  const at = id === -1 ? -1 : serverIndex(g, id)
  if (id !== -1 && at === -1) return null
  const servers: Server[] = []
  for (let i = 0; i < g.servers.length; i++) {
    if (i !== at) {
      servers.push(asServer(asInput(g.servers[i]!), i))
      continue
    }
    if (patch === null) continue
    servers.push(asServer({ ...asInput(g.servers[i]!), ...patch, id: g.servers[i]!.id }, i))
  }
  if (add !== undefined) servers.push(asServer({ ...add, id: undefined }, g.servers.length))
  const block = renderUpstreamBlock({ ...g, servers })
  // The block's inside (after the `upstream NAME {` line): what a command body holds.
  return block.slice(block.indexOf('\n') + 1, block.lastIndexOf('}'))
}

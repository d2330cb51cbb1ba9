/**
 * A compact text form of a group, for tables that must hold many of them cheaply: a worker keeps 100 000 groups as
 * one short string each (about 60 bytes for a one-server group, against 700 as objects) and builds the object only
 * for the groups that traffic reaches. Positional JSON; default policy and keepalive are written as 0, and a
 * server's host and port are derived from its canonical address.
 *
 * unpackGroup(packGroup(g)) deep-equals g.
 */
import type { Keepalive, Policy, Server, UpstreamGroup, CheckSpec } from './types.js'

const RR: Policy = Object.freeze({ name: 'round_robin' })
const KEEPALIVE: Keepalive = Object.freeze({ connections: 0, timeout: 60_000, requests: 1000, time: 3_600_000 })

const isDefaultKeepalive = (k: Keepalive): boolean =>
  k.connections === KEEPALIVE.connections && k.timeout === KEEPALIVE.timeout && k.requests === KEEPALIVE.requests && k.time === KEEPALIVE.time

type PackedServer = [string, number, number, number, number, number, number, number, number, string?]
/** The last element, `"drain"`, is there only when a server drains: a worker sees it without parsing the line. */
type Packed = [string, 0 | Policy, 0 | Keepalive, CheckSpec | null, PackedServer[], number, 'drain'?]

/** Whether a packed group has a draining server. */
export const packedDrains = (line: string): boolean => line.endsWith(',"drain"]')

export function packGroup(g: UpstreamGroup): string {
  const servers: PackedServer[] = g.servers.map((s) => {
    const p: PackedServer = [s.addr, s.weight, s.maxFails, s.failTimeout, s.maxConns, (s.backup ? 1 : 0) | (s.down ? 2 : 0) | (s.drain ? 4 : 0), s.slowStart, s.entry, s.id]
    if (s.name !== s.addr) p.push(s.name)
    return p
  })
  const policy = g.policy.name === 'round_robin' && Object.keys(g.policy).length === 1 ? 0 : g.policy
  const packed: Packed = [g.name, policy, isDefaultKeepalive(g.keepalive) ? 0 : g.keepalive, g.check, servers, g.nextId ?? -1]
  if (g.servers.some((s) => s.drain)) packed.push('drain')
  return JSON.stringify(packed)
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v)
    Object.freeze(o)
  }
  return o
}

export function unpackGroup(text: string): UpstreamGroup {
  const [name, policy, keepalive, check, servers, nextId] = JSON.parse(text) as Packed
  const g: UpstreamGroup = {
    name,
    policy: policy === 0 ? RR : policy,
    keepalive: keepalive === 0 ? KEEPALIVE : keepalive,
    check,
    servers: servers.map(unpackServer),
  }
  return deepFreeze(nextId === -1 ? g : { ...g, nextId })
}

function unpackServer(p: PackedServer): Server {
  const [addr, weight, maxFails, failTimeout, maxConns, flags, slowStart, entry, id, name] = p
  let host: string, port: number
  const unix = addr.startsWith('unix:')
  if (unix) {
    host = addr.slice(5)
    port = 0
  } else {
    const colon = addr.lastIndexOf(':')
    host = addr[0] === '[' ? addr.slice(1, colon - 1) : addr.slice(0, colon)
    port = Number(addr.slice(colon + 1))
  }
  return {
    addr, name: name ?? addr, host, port, unix, entry, weight, maxFails, failTimeout, maxConns,
    backup: (flags & 1) !== 0, down: (flags & 2) !== 0, slowStart, id, drain: (flags & 4) !== 0,
  }
}

/**
 * The JSON interface's reads (docs/api.md#json-interface): a group with every setting and, per server, its
 * parameters and its live state merged across workers. Tengine's text interface stays as it is beside it.
 */
import type { CheckSpec, Server, UpstreamGroup } from '../upstream/index.js'
import { groupKey } from '../upstream/index.js'
import type { HealthRow, LiveReport, PeerRow, Reply } from './types.js'

export const JSON_TYPE = 'application/json'

/** An error answer: `{"error": {"status", "code", "message"}}`. */
export function jsonError(status: number, code: string, message: string, etag: number | null = null): Reply {
  return { status, body: JSON.stringify({ error: { status, code, message } }) + '\n', etag, type: JSON_TYPE }
}

/** A JSON answer; the body is latin1 on the wire, so non-latin1 text (never produced from latin1 names) is escaped. */
export function jsonReply(status: number, value: unknown, etag: number | null): Reply {
  return { status, body: toLatin1(JSON.stringify(value)) + '\n', etag, type: JSON_TYPE }
}

/**
 * Names and addresses are latin1 byte strings (docs/api.md#group-names): JSON.stringify keeps them as they are,
 * so the answer's bytes are the name's bytes. Only characters above U+00FF (none come from the wire) are escaped.
 */
function toLatin1(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0100-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Per address, the rows of every worker that reported it. */
export function rowsByAddr(live: LiveReport): Map<string, PeerRow[]> {
  const m = new Map<string, PeerRow[]>()
  for (const worker of live.rows) {
    for (const r of worker) {
      const list = m.get(r.addr)
      if (list === undefined) m.set(r.addr, [r])
      else list.push(r)
    }
  }
  return m
}

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

function checkJson(c: CheckSpec | null): Record<string, unknown> | null {
  if (c === null) return null
  const o: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(c)) o[snake(k)] = v
  return o
}

/**
 * A server's state, most telling first: `down` (its `down` flag), `draining` (its `drain` flag: no new requests,
 * those in flight finish), `unhealthy` (active health checks hold it
 * down, in a group with a `check` line), `unavailable` (max_fails reached within fail_timeout in every worker that
 * reported it), else `up`.
 */
export function serverState(s: Server, rows: readonly PeerRow[], check: boolean): 'up' | 'down' | 'draining' | 'unhealthy' | 'unavailable' {
  if (s.down) return 'down'
  if (s.drain) return 'draining'
  if (check && rows.some((r) => r.checkDown)) return 'unhealthy'
  if (rows.length > 0 && s.maxFails !== 0 && rows.every((r) => r.fails >= s.maxFails && r.checkedAgo <= s.failTimeout)) return 'unavailable'
  return 'up'
}

/** A server's parameters as the JSON interface names them. */
export function serverParams(s: Server): Record<string, string | number | boolean> {
  return {
    server: s.name,
    address: s.addr,
    weight: s.weight,
    max_fails: s.maxFails,
    fail_timeout: s.failTimeout,
    max_conns: s.maxConns,
    backup: s.backup,
    down: s.down,
    drain: s.drain,
    slow_start: s.slowStart,
  }
}

/** One address's counters summed over the workers' rows. */
export function sumRows(rows: readonly PeerRow[]): { active: number; requests: number; fails: number } {
  let active = 0
  let requests = 0
  let fails = 0
  for (const r of rows) {
    active += r.active
    requests += r.requests
    fails += r.fails
  }
  return { active, requests, fails }
}

function serverJson(s: Server, rows: readonly PeerRow[], check: boolean, health: HealthRow | undefined): Record<string, unknown> {
  const o: Record<string, unknown> = { id: s.id, ...serverParams(s), state: serverState(s, rows, check), ...sumRows(rows) }
  // A group with a `check` line: what its active checks last found (null where the prober's state is not known).
  if (check) o['health'] = health === undefined ? null : healthJson(health)
  return o
}

/** `health` of docs/api.md#json-interface: the prober's view of one server. */
function healthJson(h: HealthRow): Record<string, unknown> {
  return {
    status: h.down ? 'down' : 'up',
    rise: h.rise,
    fall: h.fall,
    last_check: h.checked === 0 ? null : new Date(h.checked).toISOString(),
    last_result: h.checked === 0 ? null : h.reason === '' ? 'ok' : 'failed',
    reason: h.reason === '' ? null : h.reason,
  }
}

/** GROUP of docs/api.md#json-interface. */
export function groupJson(g: UpstreamGroup, live: LiveReport, byAddr: Map<string, PeerRow[]>): Record<string, unknown> {
  const p = g.policy
  const policy: Record<string, unknown> = { name: p.name }
  if (p.name === 'hash') {
    policy['key'] = p.key
    policy['consistent'] = p.consistent === true
  }
  if (p.name === 'random') policy['two'] = p.two === true
  if (p.name === 'consistent_hash') policy['key'] = p.key
  const k = g.keepalive
  const check = g.check !== null
  const key = groupKey(g.name)
  const checked = check ? live.health?.filter((h) => groupKey(h.upstream) === key) : undefined
  return {
    name: g.name,
    static: live.statics === null ? null : live.statics.includes(groupKey(g.name)),
    policy,
    keepalive: k.connections === 0 ? null : { connections: k.connections, timeout_ms: k.timeout, requests: k.requests, time_ms: k.time },
    check: checkJson(g.check),
    servers: g.servers.map((s) => serverJson(s, byAddr.get(s.addr) ?? [], check, checked?.find((h) => h.name === s.addr))),
  }
}

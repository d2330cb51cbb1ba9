/**
 * The data dyups_dashboard's page refreshes from (`?format=json` on its location): every group and server with its
 * parameters, state and counters summed over the workers, and the client connections. One document, so that a
 * dashboard served where no interface is needs nothing else; the page turns counters into rates itself.
 */
import { FAIL_KINDS } from '../balancer/index.js'
import { rowsByAddr, serverState } from './json.js'
import { sumConns, total } from './metrics.js'
import type { LiveReport, TableView } from './types.js'

export function dashboardData(table: TableView, live: LiveReport, nowMs: number): Record<string, unknown> {
  const byAddr = rowsByAddr(live)
  const c = sumConns(live.conns ?? [])
  const upstreams: unknown[] = []
  for (const g of table.list()) {
    const check = g.check !== null
    upstreams.push({
      name: g.name,
      check,
      servers: g.servers.map((s) => {
        const rows = byAddr.get(s.addr) ?? []
        const t = total(rows)
        const failures: Record<string, number> = {}
        for (let k = 0; k < FAIL_KINDS.length; k++) failures[FAIL_KINDS[k]!] = t.failures[k]!
        let answered = 0
        for (const n of t.latency) answered += n
        return {
          server: s.name,
          address: s.addr,
          weight: s.weight,
          backup: s.backup,
          down: s.down,
          drain: s.drain,
          state: serverState(s, rows, check),
          active: t.active,
          requests: t.requests,
          fails: t.fails,
          responses: { '1xx': t.responses[0], '2xx': t.responses[1], '3xx': t.responses[2], '4xx': t.responses[3], '5xx': t.responses[4] },
          failures,
          received_bytes: t.bytesIn,
          sent_bytes: t.bytesOut,
          response_ms: { count: answered, sum: t.latencySum },
        }
      }),
    })
  }
  return {
    version: table.version,
    workers: live.workers,
    time_ms: nowMs,
    connections: { active: c.active, reading: c.reading, writing: c.writing, waiting: c.active - c.reading - c.writing, accepted: c.accepted, handled: c.handled, requests: c.requests },
    upstreams,
  }
}

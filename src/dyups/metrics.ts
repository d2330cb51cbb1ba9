/**
 * `dyups_metrics;`: the table and its servers' live state in Prometheus' text exposition format (version 0.0.4),
 * from the same report the JSON interface reads (every worker's counters, summed when read).
 *
 * Written by hand rather than through prom-client: the numbers are not kept in a registry of this process but
 * gathered from every worker per scrape, so a registry would only be refilled and serialised each time; the format
 * is a few lines per series.
 */
import { rowsByAddr, serverState, sumRows } from './json.js'
import type { ConnCounts, LiveReport, TableView } from './types.js'

export const METRICS_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

const STATES = ['up', 'down', 'unhealthy', 'unavailable'] as const

/** The counters of every worker summed (stub_status is the whole server's, as nginx's shared counters are). */
export function sumConns(all: readonly ConnCounts[]): ConnCounts {
  const t: ConnCounts = { accepted: 0, handled: 0, requests: 0, active: 0, reading: 0, writing: 0 }
  for (const c of all) {
    t.accepted += c.accepted
    t.handled += c.handled
    t.requests += c.requests
    t.active += c.active
    t.reading += c.reading
    t.writing += c.writing
  }
  return t
}

/** A label value: backslash, double quote and line feed escaped, as the format asks. */
function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** The exposition of `table` with `live`'s counters. */
export function renderMetrics(table: TableView, live: LiveReport): string {
  const byAddr = rowsByAddr(live)
  const head = (name: string, type: string, help: string): string => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`
  let requests = head('dyups_upstream_server_requests_total', 'counter', 'Attempts sent to the server (by address, summed over the workers since they started).')
  let active = head('dyups_upstream_server_active', 'gauge', 'Requests in flight to the server.')
  let fails = head('dyups_upstream_server_fails', 'gauge', 'Failures counted against max_fails right now, summed over the workers.')
  let state = head('dyups_upstream_server_state', 'gauge', 'The server state: 1 for the one it is in.')
  let servers = head('dyups_upstream_servers', 'gauge', 'Servers in the group.')
  for (const g of table.list()) {
    const u = label(g.name)
    servers += `dyups_upstream_servers{upstream="${u}"} ${g.servers.length}\n`
    for (let i = 0; i < g.servers.length; i++) {
      const s = g.servers[i]!
      const rows = byAddr.get(s.addr) ?? []
      const { requests: r, active: a, fails: f } = sumRows(rows)
      const l = `upstream="${u}",server="${label(s.addr)}"`
      requests += `dyups_upstream_server_requests_total{${l}} ${r}\n`
      active += `dyups_upstream_server_active{${l}} ${a}\n`
      fails += `dyups_upstream_server_fails{${l}} ${f}\n`
      const now = serverState(s, rows, g.check !== null)
      for (const st of STATES) state += `dyups_upstream_server_state{${l},state="${st}"} ${st === now ? 1 : 0}\n`
    }
  }
  return (
    head('dyups_table_version', 'gauge', 'Version of the upstream table (one more for every applied change).') +
    `dyups_table_version ${table.version}\n` +
    head('dyups_table_upstreams', 'gauge', 'Groups in the table.') +
    `dyups_table_upstreams ${table.size}\n` +
    head('dyups_workers_reporting', 'gauge', 'Worker processes whose counters this scrape holds.') +
    `dyups_workers_reporting ${live.workers}\n` +
    servers + requests + active + fails + state +
    connMetrics(sumConns(live.conns ?? []), head)
  )
}

/** The client connections of every worker, as nginx-prometheus-exporter names stub_status's figures. */
function connMetrics(t: ConnCounts, head: (name: string, type: string, help: string) => string): string {
  return (
    head('dyups_connections', 'gauge', 'Client connections by state (active is all of them; waiting: idle between requests).') +
    `dyups_connections{state="active"} ${t.active}\n` +
    `dyups_connections{state="reading"} ${t.reading}\n` +
    `dyups_connections{state="writing"} ${t.writing}\n` +
    `dyups_connections{state="waiting"} ${t.active - t.reading - t.writing}\n` +
    head('dyups_connections_accepted_total', 'counter', 'Client connections accepted.') +
    `dyups_connections_accepted_total ${t.accepted}\n` +
    head('dyups_connections_handled_total', 'counter', 'Client connections handled (accepted and not refused for want of worker_connections).') +
    `dyups_connections_handled_total ${t.handled}\n` +
    head('dyups_http_requests_total', 'counter', 'Client requests begun.') +
    `dyups_http_requests_total ${t.requests}\n`
  )
}

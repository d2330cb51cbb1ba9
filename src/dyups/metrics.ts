/**
 * `dyups_metrics;`: the table and its servers' live state in Prometheus' text exposition format (version 0.0.4),
 * from the same report the JSON interface reads (every worker's counters, summed when read).
 *
 * Written by hand rather than through prom-client: the numbers are not kept in a registry of this process but
 * gathered from every worker per scrape, so a registry would only be refilled and serialised each time; the format
 * is a few lines per series.
 */
import { FAIL_KINDS, LATENCY_BOUNDS_MS } from '../balancer/index.js'
import { rowsByAddr, serverState } from './json.js'
import type { ConnCounts, LiveReport, PeerRow, ProcStat, TableView } from './types.js'

export const METRICS_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
/** OpenMetrics 1.0, for a scraper whose Accept asks for it (Prometheus does). */
export const OPENMETRICS_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8'

/** Whether an Accept header asks for OpenMetrics (as Prometheus' scrapes do, text 0.0.4 as their fallback). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return accept !== undefined && accept.toLowerCase().includes('application/openmetrics-text')
}

const STATES = ['up', 'down', 'draining', 'unhealthy', 'unavailable'] as const

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

/** One address's rows summed over the workers: every counter the exposition shows. */
export interface Totals {
  requests: number
  active: number
  fails: number
  responses: number[]
  failures: number[]
  bytesIn: number
  bytesOut: number
  latency: number[]
  latencySum: number
}

export function total(rows: readonly PeerRow[]): Totals {
  const t: Totals = {
    requests: 0, active: 0, fails: 0, responses: [0, 0, 0, 0, 0], failures: FAIL_KINDS.map(() => 0), bytesIn: 0, bytesOut: 0,
    latency: new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0), latencySum: 0,
  }
  for (const r of rows) {
    t.requests += r.requests
    t.active += r.active
    t.fails += r.fails
    t.bytesIn += r.bytesIn
    t.bytesOut += r.bytesOut
    t.latencySum += r.latencySum
    for (let i = 0; i < t.responses.length; i++) t.responses[i]! += r.responses[i] ?? 0
    for (let i = 0; i < t.failures.length; i++) t.failures[i]! += r.failures[i] ?? 0
    for (let i = 0; i < t.latency.length; i++) t.latency[i]! += r.latency[i] ?? 0
  }
  return t
}

/** A bucket bound in seconds, as Prometheus writes `le`. */
const le = (ms: number): string => String(ms / 1000)

/**
 * The exposition of `table` with `live`'s counters: Prometheus' text format, or OpenMetrics (`openMetrics`), which
 * differs here only in naming a counter's family without its `_total` and in ending with `# EOF`.
 */
export function renderMetrics(table: TableView, live: LiveReport, openMetrics = false): string {
  const byAddr = rowsByAddr(live)
  const head = (name: string, type: string, help: string): string => {
    const family = openMetrics && type === 'counter' ? name.replace(/_total$/, '') : name
    return `# HELP ${family} ${help}\n# TYPE ${family} ${type}\n`
  }
  let requests = head('dyups_upstream_server_requests_total', 'counter', 'Attempts sent to the server: the times the balancer selected it (by address, summed over the workers since they started).')
  let responses = head('dyups_upstream_server_responses_total', 'counter', 'Responses the server gave, by status class.')
  let failures = head('dyups_upstream_server_failures_total', 'counter', 'Attempts on the server that failed, by kind.')
  let received = head('dyups_upstream_server_received_bytes_total', 'counter', 'Bytes read from the server.')
  let sent = head('dyups_upstream_server_sent_bytes_total', 'counter', 'Bytes written to the server.')
  let seconds = head('dyups_upstream_server_response_seconds', 'histogram', 'Time from the start of an attempt to the end of the server\'s response (nginx\'s $upstream_response_time).')
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
      const t = total(rows)
      const l = `upstream="${u}",server="${label(s.addr)}"`
      requests += `dyups_upstream_server_requests_total{${l}} ${t.requests}\n`
      for (let c = 0; c < 5; c++) responses += `dyups_upstream_server_responses_total{${l},code="${c + 1}xx"} ${t.responses[c]}\n`
      for (let k = 0; k < FAIL_KINDS.length; k++) failures += `dyups_upstream_server_failures_total{${l},kind="${FAIL_KINDS[k]}"} ${t.failures[k]}\n`
      received += `dyups_upstream_server_received_bytes_total{${l}} ${t.bytesIn}\n`
      sent += `dyups_upstream_server_sent_bytes_total{${l}} ${t.bytesOut}\n`
      let cum = 0
      for (let b = 0; b < LATENCY_BOUNDS_MS.length; b++) {
        cum += t.latency[b]!
        seconds += `dyups_upstream_server_response_seconds_bucket{${l},le="${le(LATENCY_BOUNDS_MS[b]!)}"} ${cum}\n`
      }
      cum += t.latency[LATENCY_BOUNDS_MS.length]!
      seconds += `dyups_upstream_server_response_seconds_bucket{${l},le="+Inf"} ${cum}\n`
      seconds += `dyups_upstream_server_response_seconds_sum{${l}} ${t.latencySum / 1000}\n`
      seconds += `dyups_upstream_server_response_seconds_count{${l}} ${cum}\n`
      active += `dyups_upstream_server_active{${l}} ${t.active}\n`
      fails += `dyups_upstream_server_fails{${l}} ${t.fails}\n`
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
    (live.changes === undefined ? '' : head('dyups_table_changes_total', 'counter', 'Changes applied to the table since the primary process started.') + `dyups_table_changes_total ${live.changes}\n`) +
    servers + requests + responses + failures + received + sent + seconds + active + fails + state +
    connMetrics(sumConns(live.conns ?? []), head) +
    listenerMetrics(live.listeners ?? [], head) +
    processMetrics(live.processes ?? [], head) +
    (openMetrics ? '# EOF\n' : '')
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

/** Every process's CPU, memory and start time, labelled by pid and role (the primary's, each worker's). */
function processMetrics(procs: readonly ProcStat[], head: (name: string, type: string, help: string) => string): string {
  if (procs.length === 0) return ''
  let cpu = head('dyups_process_cpu_seconds_total', 'counter', 'CPU time (user and system) of the process.')
  let rss = head('dyups_process_resident_memory_bytes', 'gauge', 'Resident memory of the process.')
  let heap = head('dyups_process_heap_used_bytes', 'gauge', 'V8 heap in use in the process.')
  let start = head('dyups_process_start_time_seconds', 'gauge', 'When the process started, in seconds since the epoch.')
  for (const p of procs) {
    const l = `{pid="${p.pid}",role="${p.role}"}`
    cpu += `dyups_process_cpu_seconds_total${l} ${p.cpu}\n`
    rss += `dyups_process_resident_memory_bytes${l} ${p.rss}\n`
    heap += `dyups_process_heap_used_bytes${l} ${p.heap}\n`
    start += `dyups_process_start_time_seconds${l} ${p.start}\n`
  }
  return cpu + rss + heap + start
}

/** The client connections per listening address (`listen` as configured), every worker's summed. */
function listenerMetrics(perWorker: readonly Record<string, ConnCounts>[], head: (name: string, type: string, help: string) => string): string {
  const byKey = new Map<string, ConnCounts[]>()
  for (const w of perWorker) {
    for (const [k, c] of Object.entries(w)) {
      const list = byKey.get(k)
      if (list === undefined) byKey.set(k, [c])
      else list.push(c)
    }
  }
  if (byKey.size === 0) return ''
  let conns = head('dyups_listener_connections', 'gauge', 'Client connections by listening address and state.')
  let accepted = head('dyups_listener_connections_accepted_total', 'counter', 'Client connections accepted on the listening address.')
  let requests = head('dyups_listener_requests_total', 'counter', 'Client requests begun on the listening address.')
  for (const k of [...byKey.keys()].sort()) {
    const t = sumConns(byKey.get(k)!)
    const l = `listen="${label(k)}"`
    conns += `dyups_listener_connections{${l},state="active"} ${t.active}\n` +
      `dyups_listener_connections{${l},state="reading"} ${t.reading}\n` +
      `dyups_listener_connections{${l},state="writing"} ${t.writing}\n` +
      `dyups_listener_connections{${l},state="waiting"} ${t.active - t.reading - t.writing}\n`
    accepted += `dyups_listener_connections_accepted_total{${l}} ${t.accepted}\n`
    requests += `dyups_listener_requests_total{${l}} ${t.requests}\n`
  }
  return conns + accepted + requests
}

/**
 * `dyups_metrics` (docs/observability.md): the exposition parses with a Prometheus text-format parser, its names and
 * label sets are stable, and the counters are every worker's: after requests spread over two workers, the requests
 * each backend counted are what the scrape says.
 */
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { ans, answer, backend, freePorts, ipost, request, startInterface, waitFor } from './helpers.js'

interface Family {
  name: string
  type: string
  metrics: { value?: string; labels?: Record<string, string> }[]
}
const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[]

const FAMILIES = [
  ['dyups_table_version', 'GAUGE'],
  ['dyups_table_upstreams', 'GAUGE'],
  ['dyups_workers_reporting', 'GAUGE'],
  ['dyups_table_changes_total', 'COUNTER'],
  ['dyups_upstream_servers', 'GAUGE'],
  ['dyups_upstream_server_requests_total', 'COUNTER'],
  ['dyups_upstream_server_responses_total', 'COUNTER'],
  ['dyups_upstream_server_failures_total', 'COUNTER'],
  ['dyups_upstream_server_received_bytes_total', 'COUNTER'],
  ['dyups_upstream_server_sent_bytes_total', 'COUNTER'],
  ['dyups_upstream_server_response_seconds', 'HISTOGRAM'],
  ['dyups_upstream_server_active', 'GAUGE'],
  ['dyups_upstream_server_fails', 'GAUGE'],
  ['dyups_upstream_server_state', 'GAUGE'],
  ['dyups_connections', 'GAUGE'],
  ['dyups_connections_accepted_total', 'COUNTER'],
  ['dyups_connections_handled_total', 'COUNTER'],
  ['dyups_http_requests_total', 'COUNTER'],
  ['dyups_listener_connections', 'GAUGE'],
  ['dyups_listener_connections_accepted_total', 'COUNTER'],
  ['dyups_listener_requests_total', 'COUNTER'],
  ['dyups_process_cpu_seconds_total', 'COUNTER'],
  ['dyups_process_resident_memory_bytes', 'GAUGE'],
  ['dyups_process_heap_used_bytes', 'GAUGE'],
  ['dyups_process_start_time_seconds', 'GAUGE'],
]

/** Label names of every family that has other than `upstream` and `server` (server families) or none (the rest). */
const LABELS: Record<string, string[]> = {
  dyups_upstream_servers: ['upstream'],
  dyups_upstream_server_responses_total: ['upstream', 'server', 'code'],
  dyups_upstream_server_failures_total: ['upstream', 'server', 'kind'],
  dyups_upstream_server_state: ['upstream', 'server', 'state'],
  dyups_connections: ['state'],
  dyups_listener_connections: ['listen', 'state'],
  dyups_listener_connections_accepted_total: ['listen'],
  dyups_listener_requests_total: ['listen'],
  dyups_process_cpu_seconds_total: ['pid', 'role'],
  dyups_process_resident_memory_bytes: ['pid', 'role'],
  dyups_process_heap_used_bytes: ['pid', 'role'],
  dyups_process_start_time_seconds: ['pid', 'role'],
}

test('dyups_metrics: Prometheus text, every worker\'s counters, stable names', async (t) => {
  const [a, b] = await Promise.all([backend(t, 'ma'), backend(t, 'mb')])
  const [dead] = await freePorts(1)
  const s = await startInterface(t, {
    workers: 2,
    http: `    upstream st { server 127.0.0.1:${a!.port}; server 127.0.0.1:${b!.port}; server 127.0.0.1:${dead} down; }\n`,
    ifaceServer: '        location = /metrics { dyups_metrics; }\n',
  })
  assert.deepEqual(answer(await ipost(s.iface, '/upstream/q"x', `server 127.0.0.1:${b!.port};`)), ans(200, 'success'))
  const scrape = async (): Promise<Family[]> => {
    const r = await request(s.iface, { path: '/metrics' })
    assert.equal(r.status, 200)
    assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
    return parse(r.body)
  }
  const value = (fs: Family[], name: string, labels: Record<string, string> = {}): number => {
    const f = fs.find((x) => x.name === name)!
    const m = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v))
    return Number(m?.value)
  }
  assert.ok(await waitFor(async () => value(await scrape(), 'dyups_workers_reporting') === 2, 20_000), 'both workers report')

  const n = 20
  for (let i = 0; i < n; i++) assert.equal((await request(s.proxy, { host: 'st' })).status, 200)
  const fs = await scrape()
  assert.deepEqual(fs.map((f) => [f.name, f.type]), FAMILIES, 'names and types')
  assert.equal(value(fs, 'dyups_table_version'), 1)
  assert.equal(value(fs, 'dyups_table_upstreams'), 2)
  const counted = a!.requests.length
  assert.equal(counted + b!.requests.length, n)
  assert.equal(value(fs, 'dyups_upstream_server_requests_total', { upstream: 'st', server: `127.0.0.1:${a!.port}` }), counted, 'what the backend counted')
  assert.equal(value(fs, 'dyups_upstream_server_requests_total', { upstream: 'st', server: `127.0.0.1:${b!.port}` }), n - counted)
  assert.equal(value(fs, 'dyups_upstream_server_state', { upstream: 'st', server: `127.0.0.1:${dead}`, state: 'down' }), 1)
  assert.equal(value(fs, 'dyups_upstream_server_state', { upstream: 'st', server: `127.0.0.1:${a!.port}`, state: 'up' }), 1)
  assert.equal(value(fs, 'dyups_upstream_servers', { upstream: 'q"x' }), 1, 'a quote in a name is escaped')
  for (const f of fs) {
    for (const m of f.metrics) {
      // The parser folds a labelled histogram into one entry: its series are checked in metrics-servers.test.ts.
      if (f.type === 'HISTOGRAM') continue
      assert.deepEqual(Object.keys(m.labels ?? {}), LABELS[f.name] ?? (f.name.startsWith('dyups_upstream_server_') ? ['upstream', 'server'] : []), f.name)
    }
  }
  // The client connections of both workers: the scrape's own is writing; every request above was one connection.
  assert.deepEqual(fs.find((f) => f.name === 'dyups_connections')!.metrics.map((m) => m.labels!['state']), ['active', 'reading', 'writing', 'waiting'])
  assert.ok(value(fs, 'dyups_connections', { state: 'writing' }) >= 1)
  assert.ok(value(fs, 'dyups_connections_accepted_total') >= n + 1)
  assert.ok(value(fs, 'dyups_http_requests_total') >= n + 1)
  assert.equal(value(fs, 'dyups_table_changes_total'), 1, 'the one POST')
  // Per listener: the proxy's took the n requests and nothing else; the scrape is writing on the interface's.
  const proxyL = `127.0.0.1:${s.proxy}`, ifaceL = `127.0.0.1:${s.iface}`
  assert.equal(value(fs, 'dyups_listener_requests_total', { listen: proxyL }), n)
  assert.ok(value(fs, 'dyups_listener_connections_accepted_total', { listen: proxyL }) >= n)
  assert.equal(value(fs, 'dyups_listener_connections', { listen: ifaceL, state: 'writing' }), 1)
  assert.equal(value(fs, 'dyups_listener_requests_total', { listen: proxyL }) + value(fs, 'dyups_listener_requests_total', { listen: ifaceL }), value(fs, 'dyups_http_requests_total'))
  // The primary and both workers, each with its own figures.
  const procs = fs.find((f) => f.name === 'dyups_process_resident_memory_bytes')!.metrics
  assert.deepEqual(procs.map((m) => m.labels!['role']), ['primary', 'worker', 'worker'])
  assert.equal(procs[0]!.labels!['pid'], String(s.d.pid))
  assert.equal(new Set(procs.map((m) => m.labels!['pid'])).size, 3)
  for (const m of procs) assert.ok(Number(m.value) > 10_000_000, 'resident memory in bytes')
  for (const m of fs.find((f) => f.name === 'dyups_process_start_time_seconds')!.metrics) assert.ok(Math.abs(Number(m.value) - Date.now() / 1000) < 600)

  // OpenMetrics when the Accept asks for it, as Prometheus' does: counters' families without _total, and # EOF.
  const om = await request(s.iface, { path: '/metrics', headers: { Accept: 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' } })
  assert.equal(om.headers['content-type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8')
  assert.ok(om.body.endsWith('\n# EOF\n'))
  assert.match(om.body, /^# TYPE dyups_upstream_server_requests counter\ndyups_upstream_server_requests_total\{/m)
  assert.match(om.body, /^# TYPE dyups_upstream_server_response_seconds histogram$/m)
  // (The text-format parser reads an OpenMetrics counter's samples as a family of their own: the TYPE lines are read here.)
  assert.deepEqual([...om.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]!.toUpperCase()]),
    FAMILIES.map(([name, type]) => [type === 'COUNTER' ? name!.replace(/_total$/, '') : name, type]))
  assert.equal((await request(s.iface, { method: 'POST', path: '/metrics', body: '' })).status, 405)
})

test('master_process off: the one process serves the metrics, stub_status and the dashboard data', async (t) => {
  const a = await backend(t, 'ma')
  const s = await startInterface(t, {
    master: false,
    http: `    upstream st { server 127.0.0.1:${a.port}; }\n`,
    ifaceServer: '        location = /metrics { dyups_metrics; }\n        location = /basic { stub_status; }\n        location = /dash { dyups_dashboard; }\n',
  })
  for (let i = 0; i < 3; i++) assert.equal((await request(s.proxy, { host: 'st' })).status, 200)
  const fs = parse((await request(s.iface, { path: '/metrics' })).body)
  const value = (name: string, labels: Record<string, string> = {}): number =>
    Number(fs.find((f) => f.name === name)!.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value)
  assert.equal(value('dyups_upstream_server_requests_total', { upstream: 'st' }), 3)
  assert.equal(value('dyups_upstream_server_responses_total', { upstream: 'st', code: '2xx' }), 3)
  assert.equal(value('dyups_workers_reporting'), 1)
  assert.equal(value('dyups_table_changes_total'), 0)
  assert.deepEqual(fs.find((f) => f.name === 'dyups_process_cpu_seconds_total')!.metrics.map((m) => m.labels), [{ pid: String(s.d.pid), role: 'single' }])
  // Once the closed connections are gone (their close may come just after their answer): this one alone, writing.
  const PAGE = /^Active connections: 1 \nserver accepts handled requests\n \d+ \d+ \d+ \nReading: 0 Writing: 1 Waiting: 0 \n$/
  assert.ok(await waitFor(async () => PAGE.test((await request(s.iface, { path: '/basic' })).body)))
  const dash = JSON.parse((await request(s.iface, { path: '/dash?format=json' })).body)
  assert.deepEqual(dash.upstreams.map((g: { name: string; servers: { requests: number }[] }) => [g.name, g.servers[0]!.requests]), [['st', 3]])
})

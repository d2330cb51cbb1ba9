/**
 * dyups_metrics' per-server counters against what real backends counted: mixed traffic (2xx, 3xx, 4xx, 5xx, slow
 * answers, request bodies, refused connections, timeouts, invalid heads, answers cut short) sent through both
 * workers on connections pinned to each, then a group replacement that keeps one server and adds another, then
 * more traffic. Every figure of every server must equal the backends' own count: responses by class, failures by
 * kind, bytes each way, attempts, and the response-time histogram.
 */
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import { ans, answer, closeServer, Conn, freePorts, ipost, readRequests, request, startInterface, waitFor } from './helpers.js'

interface Family {
  name: string
  type: string
  metrics: { value?: string; labels?: Record<string, string> }[]
}
const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[]

/**
 * The series of a histogram family, from the text itself: parse-prometheus-text-format checks the syntax but folds
 * a labelled histogram's series into one (it keeps only `le`), so the buckets of each server are read here.
 */
function histogram(text: string, name: string, labels: Record<string, string>): { buckets: Map<string, number>; sum: number; count: number } {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')
  const h = { buckets: new Map<string, number>(), sum: NaN, count: NaN }
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{(.*)\} (\S+)$/.exec(line)
    if (m === null || !m[2]!.startsWith(want)) continue
    if (m[1] === `${name}_bucket`) h.buckets.set(/le="([^"]+)"/.exec(m[2]!)![1]!, Number(m[3]))
    else if (m[1] === `${name}_sum` && m[2] === want) h.sum = Number(m[3])
    else if (m[1] === `${name}_count` && m[2] === want) h.count = Number(m[3])
  }
  return h
}

type Behaviour = 'answer' | 'hang' | 'bad' | 'cut'

interface Counted {
  port: number
  addr: string
  requests: number
  classes: number[]
  /** Answers that took SLOW_MS. */
  slow: number
  bytesIn: number
  bytesOut: number
  pids: Set<string>
}

const SLOW_MS = 600

/** A backend that counts what it reads and writes; answers by path (`/s/NNN`: status NNN; `/slow`: 200 late). */
async function counting(t: TestContext, name: string, how: Behaviour = 'answer'): Promise<Counted> {
  const sockets = new Set<Socket>()
  const c: Counted = { port: 0, addr: '', requests: 0, classes: [0, 0, 0, 0, 0], slow: 0, bytesIn: 0, bytesOut: 0, pids: new Set() }
  const write = (s: Socket, text: string): void => {
    c.bytesOut += Buffer.byteLength(text, 'latin1')
    s.write(text, 'latin1')
  }
  const server = createServer((s) => {
    s.on('data', (b: Buffer) => (c.bytesIn += b.length))
    readRequests(s, sockets, (head) => {
      c.requests++
      c.pids.add(/\r\nx-pid: *(\d+)/i.exec(head)?.[1] ?? '?')
      if (how === 'hang') return
      if (how === 'bad') {
        write(s, 'garbage\r\n\r\n')
        return void s.end()
      }
      if (how === 'cut') {
        c.classes[1]!++
        write(s, 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789')
        return void s.destroy()
      }
      const path = head.slice(head.indexOf(' ') + 1, head.indexOf(' HTTP/'))
      const status = path.startsWith('/s/') ? Number(path.slice(3)) : 200
      const reply = (): void => {
        c.classes[Math.floor(status / 100) - 1]!++
        write(s, `HTTP/1.1 ${status} X\r\nContent-Length: ${name.length}\r\nConnection: close\r\n\r\n${name}`)
        s.end()
      }
      if (path === '/slow') {
        c.slow++
        setTimeout(reply, SLOW_MS)
      } else reply()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => closeServer(server, sockets))
  c.port = (server.address() as AddressInfo).port
  c.addr = `127.0.0.1:${c.port}`
  return c
}

test('dyups_metrics: every server\'s counters equal what its backend counted, over two workers and a replacement', async (t) => {
  const [a, b, e, hang, bad, cut] = await Promise.all([
    counting(t, 'a'), counting(t, 'b'), counting(t, 'e'), counting(t, 'h', 'hang'), counting(t, 'x', 'bad'), counting(t, 'p', 'cut'),
  ])
  const [dead] = (await freePorts(1)) as [number]
  const s = await startInterface(t, {
    workers: 2,
    http: `    upstream mix { server ${a!.addr} max_fails=0; server ${b!.addr} max_fails=0; }
    upstream dead { server 127.0.0.1:${dead} max_fails=0; }
    upstream hang { server ${hang!.addr} max_fails=0; }
    upstream bad { server ${bad!.addr} max_fails=0; }
    upstream cut { server ${cut!.addr} max_fails=0; }
`,
    server: '        proxy_set_header X-Pid $pid;\n        proxy_read_timeout 1500ms;\n        proxy_next_upstream off;\n',
    ifaceServer: '        location = /metrics { dyups_metrics; }\n',
  })
  // One keep-alive connection per worker: the traffic alternates between them, so both workers count some of it.
  const conns = new Map<string, Conn>()
  assert.ok(await waitFor(async () => {
    const c = await Conn.open(s.proxy)
    const pid = (await c.req({ path: '/pid' })).body
    if (conns.has(pid)) c.close()
    else conns.set(pid, c)
    return conns.size === 2
  }, 30_000), 'a connection to each worker')
  const pinned = [...conns.values()]
  let turn = 0
  const send = async (host: string, path: string, expect: number, body?: string): Promise<void> => {
    const c = pinned[turn++ % 2]!
    const r = await c.req({ host, path, method: body === undefined ? 'GET' : 'POST', ...(body === undefined ? {} : { body }) })
    assert.equal(r.status, expect, `${host}${path}`)
  }
  const mixed = async (): Promise<void> => {
    for (let i = 0; i < 6; i++) await send('mix', '/ok', 200)
    for (let i = 0; i < 2; i++) await send('mix', '/s/302', 302)
    for (let i = 0; i < 2; i++) await send('mix', '/s/404', 404)
    for (let i = 0; i < 2; i++) await send('mix', '/s/503', 503)
    for (let i = 0; i < 2; i++) await send('mix', '/slow', 200)
    for (let i = 0; i < 2; i++) await send('mix', '/post', 200, 'b'.repeat(1000 + i))
  }
  await mixed()
  for (let i = 0; i < 3; i++) await send('dead', '/', 502)
  for (let i = 0; i < 2; i++) await send('hang', '/', 504)
  for (let i = 0; i < 2; i++) await send('bad', '/', 502)
  // A cut answer closes the client's connection: on fresh connections.
  for (let i = 0; i < 2; i++) await request(s.proxy, { host: 'cut' })

  // The replacement keeps a, drops b, adds e; the traffic after it goes to a and e.
  assert.deepEqual(answer(await ipost(s.iface, '/upstream/mix', `server ${a!.addr} max_fails=0; server ${e!.addr} max_fails=0;`)), ans(200, 'success'))
  await mixed()

  const text = (await request(s.iface, { path: '/metrics' })).body
  const fs = parse(text)
  const family = (name: string): Family => fs.find((f) => f.name === name) ?? assert.fail(`no ${name}`)
  const value = (name: string, labels: Record<string, string>): number => {
    const m = family(name).metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v))
    return m === undefined ? NaN : Number(m.value)
  }
  assert.equal(value('dyups_workers_reporting', {}), 2)
  const servers = (up: string): string[] => family('dyups_upstream_server_requests_total').metrics.filter((m) => m.labels!['upstream'] === up).map((m) => m.labels!['server']!)
  assert.deepEqual(servers('mix'), [a!.addr, e!.addr], 'b left with the replacement')

  const KINDS = ['refused', 'connect', 'timeout', 'closed', 'invalid_header', 'tls', 'interrupted', 'other']
  const check = (up: string, c: Counted, failures: Record<string, number>): void => {
    const l = { upstream: up, server: c.addr }
    const seen = {
      requests: value('dyups_upstream_server_requests_total', l),
      classes: [1, 2, 3, 4, 5].map((k) => value('dyups_upstream_server_responses_total', { ...l, code: `${k}xx` })),
      failures: Object.fromEntries(KINDS.map((k) => [k, value('dyups_upstream_server_failures_total', { ...l, kind: k })])),
      bytesIn: value('dyups_upstream_server_received_bytes_total', l),
      bytesOut: value('dyups_upstream_server_sent_bytes_total', l),
    }
    const want = {
      requests: c.requests + (failures['refused'] ?? 0),
      classes: c.classes,
      failures: Object.fromEntries(KINDS.map((k) => [k, failures[k] ?? 0])),
      bytesIn: c.bytesOut,
      bytesOut: c.bytesIn,
    }
    assert.deepEqual(seen, want, `${up} ${c.addr}`)
    const h = histogram(text, 'dyups_upstream_server_response_seconds', l)
    const answered = c.classes.reduce((x, y) => x + y, 0)
    assert.equal(h.count, answered, `${c.addr}: histogram count`)
    assert.deepEqual([...h.buckets.keys()], ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'])
    assert.equal(h.buckets.get('+Inf'), answered)
    // Local answers take milliseconds (well under 0.5 s even on a loaded machine); the slow ones SLOW_MS, above it.
    assert.equal(h.buckets.get('0.5'), answered - c.slow, `${c.addr}: fast answers`)
    assert.ok(h.sum >= (c.slow * SLOW_MS) / 1000 && h.sum <= answered * 2, `${c.addr}: sum ${h.sum}`)
  }
  assert.equal(a!.pids.size + b!.pids.size + e!.pids.size >= 4, true, 'both workers sent to each server')
  assert.ok(a!.requests > 0 && b!.requests > 0 && e!.requests > 0)
  check('mix', a!, {})
  check('mix', e!, {})
  check('dead', { ...a!, addr: `127.0.0.1:${dead}`, requests: 0, classes: [0, 0, 0, 0, 0], slow: 0, bytesIn: 0, bytesOut: 0 }, { refused: 3 })
  check('hang', hang!, { timeout: 2 })
  check('bad', bad!, { invalid_header: 2 })
  check('cut', cut!, { interrupted: 2 })
  for (const c of conns.values()) c.close()
})

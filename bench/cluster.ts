/**
 * Cluster bench (docs/cluster.md#figures): one etcd (Debian's, /usr/bin/etcd) and three dyups nodes (2 workers each)
 * on loopback, in a temp directory. Measures:
 * - write latency through node a with `?ack=all` (the 200 comes once every node's workers route by the change)
 *   and `?ack=commit` (etcd committed it and a's workers route by it), p50/p99;
 * - propagation: from sending an `ack=commit` write to the moment the other two nodes' interfaces show its version
 *   (polled back to back), p50/p99;
 * - update rate through etcd from 1 and 16 concurrent clients spread over the three nodes, `ack all` and `ack commit`.
 *
 *   npm run build && node bin/node24.js dist/bench/cluster.js [--writes 200] [--seconds 5]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, request as httpRequest, Agent } from 'node:http'
import { createServer as netServer, connect, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..')
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? dflt : Number(process.argv[i + 1])
}
const WRITES = arg('writes', 200)
const SECONDS = arg('seconds', 5)

const children: ChildProcess[] = []
const dir = mkdtempSync(join(tmpdir(), 'dyups-cluster-bench-'))
const cleanup = (): void => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
}
process.on('exit', cleanup)

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = netServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port
      s.close(() => resolve(p))
    })
  })
const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
  })
async function waitListening(port: number): Promise<void> {
  const deadline = Date.now() + 30_000
  while (!(await listening(port))) {
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 })
function call(port: number, method: string, path: string, body?: string): Promise<{ status: number; etag: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent, headers: body === undefined ? {} : { 'content-length': Buffer.byteLength(body) } }, (res) => {
      let b = ''
      res.setEncoding('latin1')
      res.on('data', (c: string) => (b += c))
      res.on('end', () => resolve({ status: res.statusCode!, etag: String(res.headers.etag ?? '').replace(/"/g, ''), body: b }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}
const ms = (x: number): string => `${x.toFixed(1)} ms`

async function main(): Promise<void> {
  const [client, peer] = [await freePort(), await freePort()]
  const etcd = spawn('/usr/bin/etcd', [
    '--name', 'b', '--data-dir', join(dir, 'etcd'),
    '--listen-client-urls', `http://127.0.0.1:${client}`, '--advertise-client-urls', `http://127.0.0.1:${client}`,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `b=http://127.0.0.1:${peer}`, '--log-level', 'error', '--logger', 'zap',
  ], { stdio: 'ignore' })
  children.push(etcd)
  await waitListening(client)

  const back = createServer((_, res) => res.end('x')).listen(0, '127.0.0.1')
  await new Promise((r) => back.once('listening', r))
  const backPort = (back.address() as AddressInfo).port

  const nodes: { name: string; iface: number }[] = []
  for (const name of ['a', 'b', 'c']) {
    const [proxy, iface] = [await freePort(), await freePort()]
    const prefix = join(dir, name)
    mkdirSync(join(prefix, 'conf'), { recursive: true })
    mkdirSync(join(prefix, 'logs'))
    writeFileSync(join(prefix, 'conf/nginx.conf'), `daemon off;
worker_processes 2;
error_log logs/error.log warn;
events {}
http {
    access_log off;
    dyups_cluster etcd://127.0.0.1:${client} prefix=/bench node=${name};
    dyups_upstream_conf conf/upstream.conf;
    server { listen 127.0.0.1:${proxy}; location / { proxy_pass http://$host; } }
    server { listen 127.0.0.1:${iface}; location / { dyups_interface; } }
}
`)
    const child = spawn(process.execPath, [join(ROOT, 'bin/dyups.js'), '-p', prefix, '-c', 'conf/nginx.conf'], { stdio: 'inherit' })
    children.push(child)
    await waitListening(iface)
    nodes.push({ name, iface })
  }
  const [a, b, c] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0]]
  const body = (i: number): string => `server 127.0.0.1:${backPort} weight=${1 + (i % 5)};`

  // Warm-up: connections, JIT.
  for (let i = 0; i < 20; i++) await call(a.iface, 'POST', '/upstream/warm', body(i))

  const latency = async (ack: 'all' | 'commit'): Promise<number[]> => {
    const out: number[] = []
    for (let i = 0; i < WRITES; i++) {
      const t0 = performance.now()
      const r = await call(a.iface, 'POST', `/upstream/g?ack=${ack}`, body(i))
      if (r.status !== 200) throw new Error(`write answered ${r.status} ${r.body}`)
      out.push(performance.now() - t0)
    }
    return out
  }
  const all = await latency('all')
  const commit = await latency('commit')

  const propagation: number[] = []
  for (let i = 0; i < WRITES; i++) {
    const t0 = performance.now()
    const r = await call(a.iface, 'POST', '/upstream/p?ack=commit', body(i))
    const v = Number(r.etag)
    await Promise.all([b, c].map(async (n) => {
      while (Number((await call(n.iface, 'GET', '/list')).etag) < v) { /* polled back to back */ }
    }))
    propagation.push(performance.now() - t0)
  }

  const rate = async (clients: number, ack: 'all' | 'commit'): Promise<number> => {
    const end = Date.now() + SECONDS * 1000
    let done = 0
    await Promise.all(Array.from({ length: clients }, async (_, k) => {
      const n = nodes[k % 3]!
      for (let i = 0; Date.now() < end; i++) {
        const r = await call(n.iface, 'POST', `/upstream/r${k}?ack=${ack}`, body(i))
        if (r.status !== 200) throw new Error(`write answered ${r.status} ${r.body}`)
        done++
      }
    }))
    return done / SECONDS
  }
  const rates: [number, 'all' | 'commit', number][] = []
  for (const clients of [1, 16]) for (const ack of ['all', 'commit'] as const) rates.push([clients, ack, await rate(clients, ack)])

  const lines = [
    `3 nodes × 2 workers and etcd ${'3.4'} on loopback, ${WRITES} writes per latency row, ${SECONDS} s per rate row`,
    '',
    '| measure | p50 | p99 |',
    '|---|---:|---:|',
    `| write through a, \`ack all\` (200 once every node routes by it) | ${ms(pct(all, 50))} | ${ms(pct(all, 99))} |`,
    `| write through a, \`ack commit\` | ${ms(pct(commit, 50))} | ${ms(pct(commit, 99))} |`,
    `| propagation: write sent → b and c show its version | ${ms(pct(propagation, 50))} | ${ms(pct(propagation, 99))} |`,
    '',
    '| clients (spread over a, b, c) | ack | writes/s |',
    '|---:|---|---:|',
    ...rates.map(([n, ack, r]) => `| ${n} | ${ack} | ${Math.round(r)} |`),
  ]
  process.stdout.write(lines.join('\n') + '\n')
  back.close()
  agent.destroy()
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`cluster bench failed: ${(e as Error).stack ?? e}\n`)
  process.exit(1)
})

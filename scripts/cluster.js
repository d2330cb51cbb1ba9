#!/usr/bin/env node
/**
 * `npm run cluster`: a three-node dyups cluster on loopback (docs/cluster.md), in the foreground: one etcd (Debian's
 * etcd-server, /usr/bin/etcd, or `ETCD=path`) and nodes a, b and c sharing one upstream table, each in
 * cluster/run/NODE/ (git-ignored, made anew on every start). Node a's nginx.conf seeds the table with `upstream
 * demo`, served by a backend on node a itself. Ports:
 *
 *   etcd client 127.0.0.1:12379 (peer 12380)
 *   node a: proxy 127.0.0.1:8101, interface 127.0.0.1:8111, backend 127.0.0.1:8121
 *   node b: proxy 127.0.0.1:8102, interface 127.0.0.1:8112
 *   node c: proxy 127.0.0.1:8103, interface 127.0.0.1:8113
 *
 * Ctrl-C stops everything. Try:
 *   curl -H 'Host: demo' 127.0.0.1:8103/
 *   curl -d 'server 127.0.0.1:8121 weight=2;' 127.0.0.1:8112/upstream/demo
 *   curl 127.0.0.1:8111/api/cluster
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chooseNodeOrExit, launch } from '../bin/runtime.js'

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))
const RUN = join(ROOT, 'cluster/run')
const ETCD = process.env.ETCD ?? '/usr/bin/etcd'
const ETCD_PORT = 12379
const NODES = [
  { name: 'a', proxy: 8101, iface: 8111 },
  { name: 'b', proxy: 8102, iface: 8112 },
  { name: 'c', proxy: 8103, iface: 8113 },
]
const BACKEND = 8121

const node = chooseNodeOrExit()
if (node !== null) {
  launch(node, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)])
} else {
  await start()
}

async function start() {
  if (!existsSync(join(ROOT, 'dist/src/cli.js'))) fail('dyups is not built: run `npm run build` (npm run cluster does it first)')
  if (!existsSync(ETCD)) fail(`${ETCD} is missing: apt-get install etcd-server (or set ETCD=path/to/etcd)`)
  for (const port of [ETCD_PORT, ETCD_PORT + 1, BACKEND, ...NODES.flatMap((n) => [n.proxy, n.iface])]) {
    if (await listening(port)) fail(`127.0.0.1:${port} is taken; stop what listens there first`)
  }
  rmSync(RUN, { recursive: true, force: true })
  mkdirSync(RUN, { recursive: true })
  const children = []
  const stopAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
  }
  process.on('SIGINT', stopAll)
  process.on('SIGTERM', stopAll)

  const client = `http://127.0.0.1:${ETCD_PORT}`
  const peer = `http://127.0.0.1:${ETCD_PORT + 1}`
  const etcd = spawn(ETCD, [
    '--name', 'dyups-demo', '--data-dir', join(RUN, 'etcd'),
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `dyups-demo=${peer}`, '--log-level', 'warn', '--logger', 'zap',
  ], { stdio: ['ignore', 'ignore', 'inherit'] })
  children.push(etcd)
  etcd.on('exit', (code) => {
    process.stdout.write(`etcd exited (${code}); the nodes serve on with their tables, changes answer 503\n`)
  })
  await waitListening(ETCD_PORT, 'etcd')
  process.stdout.write(`etcd: ${client} (data in ${join(RUN, 'etcd')})\n`)

  for (const n of NODES) {
    const prefix = join(RUN, n.name)
    mkdirSync(join(prefix, 'conf'), { recursive: true })
    mkdirSync(join(prefix, 'logs'), { recursive: true })
    const seed = n.name === 'a'
      ? `    upstream demo { server 127.0.0.1:${BACKEND}; }
    server {
        listen 127.0.0.1:${BACKEND};
        location / { return 200 "backend ${BACKEND}\\n"; }
    }
`
      : ''
    writeFileSync(join(prefix, 'conf/nginx.conf'), `daemon off;
worker_processes 2;
error_log logs/error.log info;
events {}
http {
    access_log off;
    dyups_cluster etcd://127.0.0.1:${ETCD_PORT} prefix=/dyups-demo node=${n.name};
    dyups_upstream_conf conf/upstream.conf;
${seed}    server {
        listen 127.0.0.1:${n.proxy};
        location / { proxy_pass http://$host; }
    }
    server {
        listen 127.0.0.1:${n.iface};
        location / { dyups_interface; }
    }
}
`)
    const child = spawn(process.execPath, [join(ROOT, 'bin/dyups.js'), '-p', prefix, '-c', 'conf/nginx.conf'], { stdio: ['ignore', 'inherit', 'inherit'] })
    children.push(child)
    child.on('exit', (code, signal) => process.stdout.write(`node ${n.name} exited (${signal ?? code})\n`))
    // One after the other: a seeds the empty prefix, b and c take its table.
    await waitListening(n.iface, `node ${n.name}`)
    process.stdout.write(`node ${n.name}: proxy 127.0.0.1:${n.proxy}, interface 127.0.0.1:${n.iface}, logs ${join(prefix, 'logs')}\n`)
  }
  process.stdout.write(`try: curl -H 'Host: demo' 127.0.0.1:${NODES[2].proxy}/   curl 127.0.0.1:${NODES[0].iface}/api/cluster   (Ctrl-C stops all)\n`)
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.on('exit', r)))))
}

function fail(message) {
  process.stderr.write(`npm run cluster: ${message}\n`)
  process.exit(1)
}

function listening(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

async function waitListening(port, what) {
  const deadline = Date.now() + 20_000
  while (!(await listening(port))) {
    if (Date.now() > deadline) fail(`${what} did not listen on 127.0.0.1:${port}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

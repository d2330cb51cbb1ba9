/**
 * The upstream servers: one nginx (1 worker) with a server block per backend. Each answers `return 200 "ID\n"`,
 * so a response reveals which server produced it, and serves /64k, a 64 KiB file.
 */
import { mkdirSync, writeFileSync, chmodSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnTracked, stopTracked } from './children.js'
import { freePort, waitHttp } from './net.js'

export interface Backends {
  /** backend id -> port; ids are single upper-case letters */
  ports: Record<string, number>
  pid: number
  prefix: string
  /** `127.0.0.1:PORT` of a backend */
  addr(id: string): string
  stop(): Promise<void>
}

export const BIG_BYTES = 64 * 1024

/**
 * Starts the backends.
 * @throws Error with nginx's error log when nginx does not come up.
 */
export async function startBackends(nginx: string, root: string, ids: readonly string[] = ['A', 'B', 'C', 'D']): Promise<Backends> {
  const prefix = join(root, 'backends')
  for (const d of ['conf', 'logs', 'html']) mkdirSync(join(prefix, d), { recursive: true })
  // Workers run as nobody when the master is root; they must reach html/ and the temp paths.
  chmodSync(root, 0o755)
  chmodSync(prefix, 0o755)
  writeFileSync(join(prefix, 'html', '64k'), Buffer.alloc(BIG_BYTES, 'x'))
  const ports: Record<string, number> = {}
  for (const id of ids) ports[id] = await freePort()
  const servers = ids.map((id) => `
    server {
        listen 127.0.0.1:${ports[id]} backlog=4096;
        root html;
        location / { return 200 "${id}\\n"; }
        location = /64k { }
    }`).join('')
  writeFileSync(join(prefix, 'conf', 'nginx.conf'), `
worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    default_type application/octet-stream;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_max_body_size 0;
${servers}
}
`)
  const child = spawnTracked('backends', nginx, ['-p', `${prefix}/`, '-c', 'conf/nginx.conf', '-e', 'logs/error.log', '-g', 'daemon off;'],
    { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  let gone = false
  child.once('exit', () => { gone = true })
  const pid = child.pid!
  try {
    for (const id of ids) await waitHttp(ports[id]!, 10000, () => gone)
  } catch (e) {
    await stopTracked(pid)
    let log = ''
    try { log = readFileSync(join(prefix, 'logs', 'error.log'), 'utf8') } catch { /* none */ }
    throw new Error(`backend nginx did not start: ${(e as Error).message}\n${stderr}${log}`)
  }
  return {
    ports,
    pid,
    prefix,
    addr: (id) => `127.0.0.1:${ports[id]}`,
    stop: () => stopTracked(pid, 'SIGTERM'),
  }
}

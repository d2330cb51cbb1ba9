/**
 * Starting the proxies under test. A contender is a way to start one: nginx, dyups, or a stand-in given with
 * --proxy-bin. Each start gets a fresh prefix under the run's temporary directory.
 */
import { mkdirSync, writeFileSync, readFileSync, chmodSync } from 'node:fs'
import { basename, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { spawnTracked, stopTracked } from './children.js'
import { freePort, waitHttp } from './net.js'
import { proxyConf } from './config.js'
import type { ProxyConf } from './config.js'

export interface Contender {
  /** column name in the tables: `nginx`, `dyups`, ... */
  label: string
  /**
   * `nginx` takes nginx's flags and has no interface; `dyups` has the interface; `relay` is Node's floor
   * (relay.ts): it reads the same configuration files and forwards bytes without HTTP
   */
  kind: 'nginx' | 'dyups' | 'relay'
  /** argv before the nginx-style flags, e.g. [`node`, `bin/dyups.js`] */
  argv: readonly string[]
  env?: Record<string, string>
  /** dyups under `node --cpu-prof`: the directory for the profiles */
  profileDir?: string
}

export interface Proxy {
  label: string
  kind: 'nginx' | 'dyups' | 'relay'
  pid: number
  port: number
  /** the dyups interface, null for nginx */
  ifPort: number | null
  /** the `listen … http2` port when the configuration asks for one, else null */
  h2Port: number | null
  prefix: string
  /** from spawn until the listener answered HTTP, ms */
  startMs: number
  stop(): Promise<void>
}

let serial = 0

/** The error log's last lines, for failure messages. */
export function logTail(prefix: string, lines = 15): string {
  try {
    return readFileSync(join(prefix, 'logs', 'error.log'), 'utf8').trim().split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}

/**
 * Writes the configuration and starts one proxy; resolves once its listener answers HTTP.
 * @throws Error with the process's stderr and error log when it exits or does not answer in `timeoutMs`.
 */
export async function startProxy(c: Contender, conf: ProxyConf, root: string, timeoutMs = 30000): Promise<Proxy> {
  const prefix = join(root, `${c.label}-${++serial}`)
  for (const d of ['conf', 'logs']) mkdirSync(join(prefix, d), { recursive: true })
  chmodSync(prefix, 0o755)
  const port = await freePort()
  const ifPort = c.kind === 'dyups' ? await freePort() : null
  const h2Port = conf.h2 === true ? await freePort() : null
  writeFileSync(join(prefix, 'conf', 'nginx.conf'), proxyConf(conf, port, ifPort, h2Port))
  writeFileSync(join(prefix, 'conf', 'upstream.conf'), conf.upstreams)
  const flags = ['-p', `${prefix}/`, '-c', 'conf/nginx.conf']
  if (c.kind !== 'relay') flags.push('-g', 'daemon off;')
  if (c.kind === 'nginx') flags.push('-e', 'logs/error.log')
  let argv = [...c.argv]
  if (c.profileDir) {
    // One directory per start, named after the prefix and worker count, so profiles can be told apart.
    const dir = join(c.profileDir, `${basename(prefix)}-${conf.workers}w-${conf.routing}`)
    mkdirSync(dir, { recursive: true })
    // Workers forked by node:cluster inherit execArgv, so each writes its own profile at exit.
    argv = [argv[0]!, '--cpu-prof', `--cpu-prof-dir=${dir}`, ...argv.slice(1)]
  }
  const t0 = performance.now()
  const child = spawnTracked(c.label, argv[0]!, [...argv.slice(1), ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...c.env },
  })
  let output = ''
  const keep = (d: Buffer): void => { if (output.length < 20000) output += d.toString() }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  let gone = false
  child.once('exit', () => { gone = true })
  const pid = child.pid!
  // A profiled process needs time to write its profile on the way out, and only a graceful stop (SIGQUIT) lets
  // dyups' workers exit by themselves: on SIGTERM the primary kills them and their profiles are lost.
  const grace = c.profileDir ? 20000 : 5000
  const stopSignal = c.profileDir ? 'SIGQUIT' : 'SIGTERM'
  try {
    await waitHttp(port, timeoutMs, () => gone)
  } catch (e) {
    await stopTracked(pid, 'SIGTERM', 2000)
    throw new Error(`${c.label} did not start: ${(e as Error).message}\n` +
      `  command: ${[...argv, ...flags].join(' ')}\n${output.trim()}\n${logTail(prefix)}`.trimEnd())
  }
  const startMs = performance.now() - t0
  return { label: c.label, kind: c.kind, pid, port, ifPort, h2Port, prefix, startMs, stop: () => stopTracked(pid, stopSignal, grace) }
}

/**
 * Starts one proxy per contender with the same configuration, runs `fn`, and stops them all whatever happens.
 * @throws Error from a start or from `fn`.
 */
export async function withProxies<T>(cs: readonly Contender[], conf: ProxyConf, root: string,
  fn: (ps: Proxy[]) => Promise<T>, timeoutMs = 30000): Promise<T> {
  const ps: Proxy[] = []
  try {
    for (const c of cs) ps.push(await startProxy(c, conf, root, timeoutMs))
    return await fn(ps)
  } finally {
    await Promise.all(ps.map((p) => p.stop()))
  }
}

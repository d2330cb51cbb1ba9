/**
 * Side-by-side helpers: the real nginx and dyups started on the same generated configuration (same upstream block,
 * same `worker_processes 1;` proxy server, same access-log format), a farm of node backends that answer their own
 * name or misbehave on purpose, and a client that runs one request sequence against either and reports what the
 * client, the backends and the access log saw. A test then asserts that both reports are equal.
 *
 * nginx is required: when /usr/sbin/nginx is missing the tests fail with a message saying so, never skip.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import {
  BIN, canConnect, childPids, dechunk, freePorts, readRequests, readText, sleep, startDyups, tempPrefix, waitGone, writeConf,
  type Run,
} from './helpers.js'

export const NGINX = '/usr/sbin/nginx'

/** @throws when the real nginx is not installed: side-by-side tests have nothing to compare with. */
export function requireNginx(): string {
  if (!existsSync(NGINX)) {
    throw new Error(`${NGINX} is missing: the side-by-side tests compare dyups with the real nginx (apt-get install nginx-light or nginx)`)
  }
  return NGINX
}

export interface Proc {
  readonly kind: 'nginx' | 'dyups'
  readonly prefix: string
  readonly port: number
  readonly pid: number
  /** The access-log lines of logs/t.log so far. */
  lines(): string[]
  errorLog(): string
}

/** Runs a command to completion, its output read to the end ('close', not 'exit'); bounded by 20 s. */
function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = '', stderr = ''
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('latin1')))
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('latin1')))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      rej(new Error(`${cmd} ${args.join(' ')} did not finish; stderr: ${stderr}`))
    }, 20_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      res({ code, stdout, stderr })
    })
  })
}

/** Runs `nginx -t` on `conf/nginx.conf` of `prefix`. */
export const nginxTest = (prefix: string): Promise<Run> => run(requireNginx(), ['-t', '-p', `${prefix}/`, '-c', 'conf/nginx.conf'])

/** Runs `dyups -t` on `conf/nginx.conf` of `prefix`. */
export const dyupsTest = (prefix: string): Promise<Run> => run(process.execPath, [BIN, '-t', '-p', prefix, '-c', 'conf/nginx.conf'])

/**
 * Starts the real nginx in the foreground on `conf/nginx.conf` of `prefix` (which must put `pid` and `error_log`
 * inside the prefix) and waits until every port in `waitPorts` accepts. Stopped after the test: SIGTERM to the
 * master, then SIGKILL to it and to the workers it had, by PID, if they linger.
 */
export async function startNginx(t: TestContext, prefix: string, waitPorts: number[]): Promise<{ pid: number; stderr: () => string }> {
  const bin = requireNginx()
  const child = spawn(bin, ['-p', `${prefix}/`, '-c', 'conf/nginx.conf', '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr!.on('data', (b: Buffer) => (err += b.toString('latin1')))
  let exited: number | null | undefined
  const exit = new Promise<void>((r) => child.on('exit', (code) => {
    exited = code
    r()
  }))
  const pid = child.pid!
  t.after(async () => {
    if (exited !== undefined) return
    const workers = childPids(pid)
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    await exit
    clearTimeout(timer)
    for (const w of await waitGone(workers, 2_000)) {
      try {
        process.kill(w, 'SIGKILL')
      } catch {
        // Gone meanwhile.
      }
    }
  })
  const deadline = Date.now() + 30_000
  for (const port of waitPorts) {
    while (!(await canConnect(port))) {
      if (exited !== undefined) throw new Error(`nginx exited with ${exited}: ${err}`)
      if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port}: ${err}`)
      await sleep(20)
    }
  }
  return { pid, stderr: () => err }
}

/** The access-log format both sides write: exact fields first, then the two times (compared by shape only). */
export const LOG_FORMAT = '$upstream_addr|$upstream_status|$status|$upstream_response_time|$upstream_connect_time'

export interface SideConf {
  /** The `upstream` block(s), whole. */
  upstream: string
  /** The group `location /` passes to. @default 'u' */
  name?: string
  /** Extra lines in `location /` (before proxy_pass). */
  location?: string
  /** Extra lines at the http block's main level. */
  http?: string
}

/**
 * The configuration both sides run, line for line, so that file:line in error messages agree. nginx alone gets
 * temp paths inside its prefix and `user root` when started as root; they come after everything else.
 */
export function sideConf(o: SideConf, port: number, kind: 'nginx' | 'dyups', extraServer = ''): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  return `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    log_format t '${LOG_FORMAT}';
    access_log logs/t.log t;
${o.http ?? ''}
${o.upstream}
    server {
        listen 127.0.0.1:${port};
        location / {
${o.location ?? ''}
            proxy_pass http://${o.name ?? 'u'};
        }
${extraServer}    }
${nginxOnly}}
${user}`
}

/** A started pair: nginx and dyups on the same configuration. */
export interface Pair {
  nginx: Proc
  dyups: Proc
}

function proc(kind: 'nginx' | 'dyups', prefix: string, port: number, pid: number, stderr: () => string): Proc {
  const read = (f: string): string => readText(join(prefix, f))
  return {
    kind,
    prefix,
    port,
    pid,
    lines: () => read('logs/t.log').split('\n').filter((l) => l !== ''),
    errorLog: () => read('logs/error.log') + stderr(),
  }
}

/** Starts nginx and dyups, each in its own prefix, on {@link sideConf}. */
export async function startPair(t: TestContext, o: SideConf, extraServer = ''): Promise<Pair> {
  requireNginx()
  const [pn, pd] = (await freePorts(2)) as [number, number]
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  mkdirSync(join(xn, 'tmp'))
  writeConf(xn, 'conf/nginx.conf', sideConf(o, pn, 'nginx', extraServer))
  writeConf(xd, 'conf/nginx.conf', sideConf(o, pd, 'dyups', extraServer))
  const n = await startNginx(t, xn, [pn])
  const d = await startDyups(t, xd, [pd], ['-g', 'daemon off;'])
  return { nginx: proc('nginx', xn, pn, n.pid, n.stderr), dyups: proc('dyups', xd, pd, d.pid, d.stderr) }
}

// ---------------------------------------------------------------------------------------------------------------
// Backends.

/**
 * What a backend does with each request: answer 200 and its name; answer another status; read the request and
 * never answer; close without answering; send the head and part of the body, then close; answer (with a status)
 * after a delay; send raw bytes and close.
 */
export type Mode = 'ok' | 'hang' | 'close' | 'partial' | { status?: number; delay?: number } | { raw: string }

export interface Backend {
  readonly name: string
  readonly port: number
  /** `127.0.0.1:PORT`, as $upstream_addr shows it. */
  readonly addr: string
  mode: Mode
  /** Connections accepted so far. */
  conns: number
  /** Requests received so far. */
  requests: number
  /** Connections open now. */
  open(): number
  /** Stops listening and drops every connection: further connects are refused. */
  stop(): Promise<void>
  /** Listens again on the same port. */
  start(): Promise<void>
}

/** A set of backends that records, in arrival order, which of them received each request. */
export class Farm {
  /** Names in order of request arrival. */
  readonly arrivals: string[] = []
  readonly all: Backend[] = []

  constructor(private readonly t: TestContext) {}

  /** A backend on a fresh port (listening unless `listening: false`: a refused address that can start later). */
  async add(name: string, mode: Mode = 'ok', opts: { listening?: boolean } = {}): Promise<Backend> {
    const port = (await freePorts(1))[0]!
    const b = makeBackend(name, port, mode, this.arrivals)
    this.t.after(() => b.stop())
    if (opts.listening !== false) await b.start()
    this.all.push(b)
    return b
  }

  /** A refused address with a name: a port that was free a moment ago and is never listened on. */
  async dead(name: string): Promise<Backend> {
    return this.add(name, 'ok', { listening: false })
  }

  /**
   * An address whose connects never complete: a listener with a backlog of one in a stopped process (SIGSTOP),
   * its accept queue filled, so the kernel drops further SYNs and a connect waits until its timeout.
   */
  async blackhole(name: string): Promise<Backend> {
    const child = spawn(process.execPath, ['-e', "require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, function () { console.log(this.address().port) })"], { stdio: ['ignore', 'pipe', 'ignore'] })
    const fillers: Socket[] = []
    const stop = async (): Promise<void> => {
      for (const f of fillers) f.destroy()
      try {
        process.kill(child.pid!, 'SIGKILL')
      } catch {
        // Gone already.
      }
    }
    this.t.after(stop)
    const port = await new Promise<number>((res, rej) => {
      child.stdout!.once('data', (b: Buffer) => res(Number(b.toString('latin1').trim())))
      child.once('exit', () => rej(new Error('the blackhole listener exited')))
    })
    process.kill(child.pid!, 'SIGSTOP')
    // A backlog of one holds two completed connections; the third connect must hang.
    for (let i = 0; i < 2; i++) {
      await new Promise<void>((res, rej) => {
        const f = connect(port, '127.0.0.1')
        fillers.push(f)
        f.once('connect', () => res())
        f.once('error', rej)
      })
    }
    const b: Backend = { name, port, addr: `127.0.0.1:${port}`, mode: 'hang', conns: 0, requests: 0, open: () => 0, stop, start: async () => {} }
    this.all.push(b)
    return b
  }

  /** `127.0.0.1:PORT` → name, for readable log lines. */
  names(s: string): string {
    for (const b of this.all) s = s.split(b.addr).join(b.name)
    return s
  }

  reset(): void {
    this.arrivals.length = 0
    for (const b of this.all) {
      b.conns = 0
      b.requests = 0
    }
  }
}

function makeBackend(name: string, port: number, initial: Mode, arrivals: string[]): Backend {
  let server: Server | null = null
  const sockets = new Set<Socket>()
  const b: Backend = {
    name,
    port,
    addr: `127.0.0.1:${port}`,
    mode: initial,
    conns: 0,
    requests: 0,
    open: () => sockets.size,
    stop: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy()
      sockets.clear()
      if (server === null) return r()
      const srv = server
      server = null
      srv.close(() => r())
    }),
    start: () => new Promise<void>((r, rej) => {
      const srv = createServer((s) => serve(b, s, sockets, arrivals))
      srv.once('error', rej)
      srv.listen(port, '127.0.0.1', () => {
        server = srv
        r()
      })
    }),
  }
  return b
}

function serve(b: Backend, s: Socket, sockets: Set<Socket>, arrivals: string[]): void {
  b.conns++
  readRequests(s, sockets, (head) => {
    b.requests++
    arrivals.push(b.name)
    const close = /\r\nconnection: *close/i.test(head) || /^[^\r]* HTTP\/1\.0\r\n/.test(head)
    answer(b, s, close)
  })
}

function answer(b: Backend, s: Socket, close: boolean): void {
  const mode = b.mode
  const reply = (status: number): void => {
    if (s.destroyed) return
    s.write(`HTTP/1.1 ${status} X\r\nContent-Length: ${b.name.length}\r\nContent-Type: text/plain\r\n${close ? 'Connection: close\r\n' : ''}\r\n${b.name}`)
    if (close) s.end()
  }
  if (mode === 'ok') return reply(200)
  if (mode === 'hang') return
  if (mode === 'close') return void s.destroy()
  if (mode === 'partial') {
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\n${b.name}`)
    setTimeout(() => s.destroy(), 50)
    return
  }
  if ('raw' in mode) {
    s.end(mode.raw, 'latin1')
    return
  }
  if (mode.delay === undefined) return reply(mode.status ?? 200)
  setTimeout(() => reply(mode.status ?? 200), mode.delay)
}

// ---------------------------------------------------------------------------------------------------------------
// Client.

export interface Hit {
  status: number
  body: string
}

export interface HitOptions {
  path?: string
  method?: string
  body?: string
  /** The client socket's source address (127.0.0.X: ip_hash sees a different client). */
  localAddress?: string
  /** @default 'side' */
  host?: string
}

/** One request on a fresh connection with `Connection: close`, read until the server closes (bounded: 15 s). */
export function hit(port: number, o: HitOptions = {}): Promise<Hit> {
  const method = o.method ?? 'GET'
  const body = o.body ?? ''
  const len = o.body !== undefined || method === 'POST' ? `Content-Length: ${Buffer.byteLength(body, 'latin1')}\r\n` : ''
  const raw = `${method} ${o.path ?? '/'} HTTP/1.1\r\nHost: ${o.host ?? 'side'}\r\nConnection: close\r\n${len}\r\n${body}`
  return new Promise((res, rej) => {
    const s = connect({ port, host: '127.0.0.1', ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}) })
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      s.destroy()
      rej(new Error(`no answer from ${port} within 15 s`))
    }, 15_000)
    s.on('data', (b) => chunks.push(b))
    s.on('error', () => {})
    s.on('close', () => {
      clearTimeout(timer)
      const text = Buffer.concat(chunks).toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      if (end < 0) return res({ status: 0, body: text })
      const status = Number(text.slice(9, 12))
      let b = text.slice(end + 4)
      if (/\r\ntransfer-encoding: *chunked/i.test(text.slice(0, end))) b = dechunk(b)
      res({ status, body: b })
    })
    s.write(raw, 'latin1')
  })
}

/** What one side did with a request sequence. */
export interface Report {
  /** Per request: the backends that received it, in order, joined by `,` (`-` for none). */
  backends: string[]
  /** Per request: status and body as the client saw them (`200 A`; an error page shows as its status alone). */
  client: string[]
  /** Per request: `$upstream_addr|$upstream_status|$status` with addresses shown as backend names. */
  log: string[]
  /** Per request: `$upstream_response_time|$upstream_connect_time` with every time written as `T`. */
  times: string[]
}

/** A time as nginx writes it: seconds with three decimals. */
export const TIME = /^\d+\.\d{3}$/

/**
 * Sends `reqs` one after another to `p` and reports what happened. Waits (bounded) for the access log to have
 * one line per request; a time field that is not `-` and not a well-formed time shows as `BAD(value)`.
 */
export async function runSequence(p: Proc, farm: Farm, reqs: readonly HitOptions[], opts: { between?: (i: number) => Promise<void> } = {}): Promise<Report> {
  farm.reset()
  const before = p.lines().length
  const r: Report = { backends: [], client: [], log: [], times: [] }
  for (let i = 0; i < reqs.length; i++) {
    await opts.between?.(i)
    const mark = farm.arrivals.length
    const h = await hit(p.port, reqs[i])
    r.backends.push(farm.arrivals.slice(mark).join(',') || '-')
    r.client.push(h.status === 200 || h.status === 0 ? `${h.status} ${h.body}` : String(h.status))
  }
  const deadline = Date.now() + 15_000
  let lines = p.lines().slice(before)
  while (lines.length < reqs.length && Date.now() < deadline) {
    await sleep(20)
    lines = p.lines().slice(before)
  }
  for (const l of lines) {
    const f = l.split('|')
    r.log.push(farm.names(f.slice(0, 3).join('|')))
    r.times.push(f.slice(3).map(timeShape).join('|'))
  }
  return r
}

/** `0.001, 0.000 : -` → `T, T : -`. */
export function timeShape(field: string): string {
  return field.split(/(, | : )/).map((v) => (v === ', ' || v === ' : ' || v === '-' ? v : TIME.test(v) ? 'T' : `BAD(${v})`)).join('')
}

/** `n` plain GETs to `/?i=N`. */
export const gets = (n: number, extra: HitOptions = {}): HitOptions[] => Array.from({ length: n }, (_, i) => ({ path: `/?i=${i}`, ...extra }))

// ---------------------------------------------------------------------------------------------------------------
// Scenario tables: one upstream group and one location per scenario, both sides in one configuration.

export interface Scenario {
  name: string
  /** The inside of the scenario's `upstream` block. */
  upstream: string
  /** Extra lines in the scenario's location. */
  location?: string
  /** The requests; paths are relative to the scenario's location. @default two GETs */
  reqs?: HitOptions[]
  /** Runs before each side's sequence (set backend modes). */
  setup?: () => void | Promise<void>
  /** Runs before request `i` on each side. */
  between?: (i: number) => void | Promise<void>
}

/** The upstream blocks and locations of `list`: group `sN`, location `/sN/`. */
export function scenarioConf(list: readonly Scenario[]): { upstream: string; server: string } {
  let upstream = '    upstream u { server 127.0.0.1:1; }\n'
  let server = ''
  list.forEach((sc, i) => {
    upstream += `    upstream s${i} {\n${sc.upstream}\n    }\n`
    server += `        location /s${i}/ {\n${sc.location ?? ''}\n            proxy_pass http://s${i};\n        }\n`
  })
  return { upstream, server }
}

/**
 * Starts both sides on {@link scenarioConf} of `list` with `http` lines at the http level, plus `more` upstream
 * blocks and server lines (locations) of the test's own.
 */
export async function startScenarios(t: TestContext, list: readonly Scenario[], http = '', more: { upstream?: string; server?: string } = {}): Promise<Pair> {
  const c = scenarioConf(list)
  return startPair(t, { upstream: c.upstream + (more.upstream ?? ''), http }, c.server + (more.server ?? ''))
}

/** Runs scenario `i` of `list` on one side. */
export async function runScenario(p: Proc, farm: Farm, list: readonly Scenario[], i: number): Promise<Report> {
  const sc = list[i]!
  await sc.setup?.()
  const reqs = (sc.reqs ?? gets(2)).map((r) => ({ ...r, path: `/s${i}${r.path ?? '/'}` }))
  return runSequence(p, farm, reqs, sc.between ? { between: async (k) => sc.between!(k) } : {})
}

/** One subtest per scenario: nginx's report, then dyups's, and they must be equal. */
export async function compareScenarios(t: TestContext, p: Pair, farm: Farm, list: readonly Scenario[]): Promise<void> {
  for (let i = 0; i < list.length; i++) {
    await t.test(list[i]!.name, async () => {
      const ngx = await runScenario(p.nginx, farm, list, i)
      const dy = await runScenario(p.dyups, farm, list, i)
      if (process.env.SIDE_DEBUG) console.log(list[i]!.name, JSON.stringify({ ngx, dy }))
      assert.equal(ngx.log.length, ngx.client.length, `nginx logged ${ngx.log.length} of ${ngx.client.length} requests`)
      assert.deepEqual(dy, ngx)
    })
  }
}

/** What one side did with requests held open on slow servers while others ran one after another. */
export interface HeldReport {
  /** The servers the held requests reached, in order. */
  held: string[]
  /** Per sequential request: status and body as the client saw them. */
  client: string[]
  /** Log lines (exact fields, names for addresses): the sequential requests' in order, then the held ones sorted. */
  log: string[]
}

/**
 * Sends `held` one at a time without waiting for their answers (each is known to have reached a backend before
 * the next goes), then `reqs` one after another, then waits for the held answers and the log lines.
 */
export async function runHeld(p: Proc, farm: Farm, held: readonly HitOptions[], reqs: readonly HitOptions[]): Promise<HeldReport> {
  farm.reset()
  const before = p.lines().length
  const pending: Promise<Hit>[] = []
  for (const h of held) {
    const n = farm.arrivals.length
    pending.push(hit(p.port, h))
    const deadline = Date.now() + 15_000
    while (farm.arrivals.length === n) {
      if (Date.now() > deadline) throw new Error(`held request ${h.path} reached no backend`)
      await sleep(5)
    }
  }
  const heldTo = farm.arrivals.slice()
  const client: string[] = []
  for (const r of reqs) {
    const h = await hit(p.port, r)
    client.push(h.status === 200 ? `${h.status} ${h.body}` : String(h.status))
  }
  await Promise.all(pending)
  const total = held.length + reqs.length
  const deadline = Date.now() + 15_000
  while (p.lines().length - before < total && Date.now() < deadline) await sleep(20)
  const lines = p.lines().slice(before).map((l) => farm.names(l.split('|').slice(0, 3).join('|')))
  return { held: heldTo, client, log: lines.slice(0, reqs.length).concat(lines.slice(reqs.length).sort()) }
}

/**
 * What only the real nginx needs in a side-by-side configuration: `nginxOnly` (its temp paths inside the prefix,
 * for the end of `http {}`) and `user` (`user root;` when started as root, for the main level); both empty for dyups.
 */
export function nginxOnlyLines(kind: 'nginx' | 'dyups'): { nginxOnly: string; user: string } {
  const nginxOnly = kind === 'nginx'
    ? '    client_body_temp_path tmp/body;\n    proxy_temp_path tmp/proxy;\n    fastcgi_temp_path tmp/fastcgi;\n    uwsgi_temp_path tmp/uwsgi;\n    scgi_temp_path tmp/scgi;\n'
    : ''
  return { nginxOnly, user: kind === 'nginx' && process.getuid?.() === 0 ? 'user root;\n' : '' }
}

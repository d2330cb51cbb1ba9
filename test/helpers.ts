/**
 * End-to-end helpers: free ports, generated configurations in temp prefixes, the real `dyups` binary started and
 * stopped by PID, real backends, and a small HTTP client on raw sockets (so tests see exact bytes).
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { ADDRCONFIG, type LookupAddress } from 'node:dns'
import { lookup } from 'node:dns/promises'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import { freePorts } from './ports.js'

export { freePorts, testPortRange } from './ports.js'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const BIN = join(ROOT, 'bin/dyups.js')

/** A temp prefix with `conf/`, `logs/`; removed after the test. */
export function tempPrefix(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'dyups-test-'))
  mkdirSync(join(dir, 'conf'))
  mkdirSync(join(dir, 'logs'))
  // Never throws: a hook that throws skips the hooks after it, and one of those stops the dyups writing here.
  t.after(() => {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 })
    } catch {
      // A process still writing here: the directory is left in the system's temp dir.
    }
  })
  return dir
}

export function writeConf(prefix: string, file: string, text: string): string {
  const p = join(prefix, file)
  mkdirSync(dirname(p), { recursive: true })
  writeFileSync(p, text)
  return p
}

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the binary to completion (for -t, -T, -s, -v); bounded by `ms`. */
export function runBin(args: string[], ms = 20_000): Promise<Run> {
  return runBinIn(undefined, args, ms)
}

export interface Dyups {
  child: ChildProcess
  prefix: string
  pid: number
  stderr: () => string
  /** Stops it with a signal and waits for the exit (SIGKILL after `ms`). */
  stop: (signal?: NodeJS.Signals, ms?: number) => Promise<number | null>
  errorLog: () => string
}

/**
 * Starts the real binary in the foreground (`daemon off`) on `conf/nginx.conf` of `prefix` and waits until every
 * port in `waitPorts` accepts connections. Stopped after the test.
 */
export function startDyups(t: TestContext, prefix: string, waitPorts: number[], extraArgs: string[] = []): Promise<Dyups> {
  return startBinIn(t, undefined, prefix, ['-p', prefix, '-c', 'conf/nginx.conf', ...extraArgs], waitPorts)
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, host)
    s.once('connect', () => {
      s.destroy()
      res(true)
    })
    s.once('error', () => res(false))
  })
}

export interface Response {
  status: number
  headers: Record<string, string>
  /** Header lines as received, in order. */
  rawHeaders: [string, string][]
  body: string
}

/**
 * One HTTP/1.1 request on a fresh connection with `Connection: close`; the response read to the end of the
 * connection, so the body is exact. `body` bytes are latin1.
 */
export function request(port: number, opts: { method?: string; path?: string; host?: string; headers?: Record<string, string>; body?: string; raw?: string } = {}): Promise<Response> {
  const method = opts.method ?? 'GET'
  let raw = opts.raw
  if (raw === undefined) {
    const h: Record<string, string> = { Host: opts.host ?? 'localhost', Connection: 'close', ...opts.headers }
    if (opts.body !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'transfer-encoding')) h['Content-Length'] = String(Buffer.byteLength(opts.body, 'latin1'))
    raw = `${method} ${opts.path ?? '/'} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${opts.body ?? ''}`
  }
  return exchange(port, raw).then(parseResponse)
}

/** Sends raw bytes, returns every byte received until the server closes (bounded: 10 s). */
export function exchange(port: number, raw: string | Buffer, host = '127.0.0.1'): Promise<string> {
  return new Promise((res, rej) => {
    const s: Socket = connect(port, host)
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      s.destroy()
      rej(new Error(`no close from ${port} within 10 s; got ${Buffer.concat(chunks).toString('latin1').slice(0, 300)}`))
    }, 10_000)
    s.on('data', (b) => chunks.push(b))
    s.on('error', () => {}) // a reset after the answer still leaves the answer
    s.on('close', () => {
      clearTimeout(timer)
      res(Buffer.concat(chunks).toString('latin1'))
    })
    s.write(typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw)
  })
}

export function parseResponse(text: string): Response {
  const end = text.indexOf('\r\n\r\n')
  if (end < 0) throw new Error(`no complete response head in ${JSON.stringify(text.slice(0, 200))}`)
  const lines = text.slice(0, end).split('\r\n')
  const status = Number(lines[0]!.split(' ')[1])
  const headers: Record<string, string> = {}
  const rawHeaders: [string, string][] = []
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':')
    const k = l.slice(0, i), v = l.slice(i + 1).trim()
    rawHeaders.push([k, v])
    headers[k.toLowerCase()] = v
  }
  let body = text.slice(end + 4)
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body)
  return { status, headers, rawHeaders, body }
}

/** The data of a chunked body (trailers dropped); what is there so far when it is cut short. */
export function dechunk(s: string): string {
  let out = '', i = 0
  for (;;) {
    const eol = s.indexOf('\r\n', i)
    if (eol < 0) return out
    const n = parseInt(s.slice(i, eol), 16)
    if (!(n > 0)) return out
    out += s.slice(eol + 2, eol + 2 + n)
    i = eol + 2 + n + 2
  }
}

/**
 * Reads the requests on one connection a test backend accepted: keeps it in `sockets` until it closes, ignores its
 * errors, and calls `onRequest` with each complete request's head (through the blank line) and its Content-Length
 * body (empty without one).
 */
export function readRequests(s: Socket, sockets: Set<Socket>, onRequest: (head: string, body: string) => void): void {
  sockets.add(s)
  s.on('close', () => sockets.delete(s))
  s.on('error', () => {})
  let buf = ''
  s.on('data', (b: Buffer) => {
    buf += b.toString('latin1')
    for (;;) {
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) return
      const head = buf.slice(0, end + 4)
      const m = /\r\ncontent-length: *(\d+)/i.exec(head)
      const len = m ? Number(m[1]) : 0
      if (buf.length < end + 4 + len) return
      const body = buf.slice(end + 4, end + 4 + len)
      buf = buf.slice(end + 4 + len)
      onRequest(head, body)
    }
  })
}

/**
 * The anonymous resident memory of a process in kB (RssAnon: its heap, buffers and stacks). The pages of the Node
 * binary and libraries it maps (RssFile) are shared by every process running them and are left out: they say
 * nothing about what a request costs, and they differ between Node builds.
 */
export function rssKb(pid: number): number {
  try {
    const m = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))
    return m === null ? 0 : Number(m[1])
  } catch {
    return 0
  }
}

/** A file's bytes as latin1, or '' while it does not exist (a log not written yet). */
export function readText(path: string): string {
  try {
    return readFileSync(path, 'latin1')
  } catch {
    return ''
  }
}

/**
 * Closes a test server: its connections are dropped first (dyups may hold kept-alive ones), and the close is not
 * waited for longer than 2 s, so a teardown never hangs on a connection it cannot see.
 */
export function closeServer(server: Server, sockets: Iterable<Socket>): Promise<void> {
  return new Promise((resolve) => {
    for (const s of sockets) s.destroy()
    const timer = setTimeout(resolve, 2_000)
    server.close(() => {
      clearTimeout(timer)
      resolve()
    })
  })
}

/**
 * A backend that answers every request with `name` (and records what it received). Closed after the test.
 */
export async function backend(t: TestContext, name: string, opts: { port?: number } = {}): Promise<{ port: number; name: string; requests: string[]; server: Server }> {
  const requests: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    readRequests(s, sockets, (head, body) => {
      requests.push(head + body)
      const close = /\r\nconnection: *close/i.test(head) || /^[^\r]* HTTP\/1\.0\r\n/.test(head)
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${name.length}\r\nContent-Type: text/plain\r\n${close ? 'Connection: close\r\n' : ''}\r\n${name}`)
      if (close) s.end()
    })
  })
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', r))
  t.after(() => closeServer(server, sockets))
  return { port: (server.address() as AddressInfo).port, name, requests, server }
}

// ---------------------------------------------------------------------------------------------------------------
// Interface end-to-end helpers: a generated dyups configuration, short requests to the interface and the proxy,
// keep-alive connections that read exactly one response at a time, and the worker processes of a primary.

export interface InterfaceConf {
  proxy: number
  iface: number
  /** worker_processes; 2 unless told. */
  workers?: number
  /** master_process; on unless told. */
  master?: boolean
  /** Lines at the http block's main level: upstream blocks, dyups_* directives, include. */
  http?: string
  /** Extra lines inside the proxy server block. */
  server?: string
  /** Extra lines inside the interface server block. */
  ifaceServer?: string
  accessLog?: boolean
}

/**
 * The configuration every interface test runs on: a proxy server (`proxy_pass http://$host;`, plus `/pid` answering
 * the worker's pid) and an interface server.
 */
export function interfaceConf(o: InterfaceConf): string {
  return `daemon off;
master_process ${o.master === false ? 'off' : 'on'};
worker_processes ${o.workers ?? 2};
error_log logs/error.log info;
events {}
http {
    access_log ${o.accessLog ? 'logs/access.log' : 'off'};
${o.http ?? ''}
    server {
        listen 127.0.0.1:${o.proxy};
        location = /pid { return 200 $pid; }
        location / { proxy_pass http://$host; }
${o.server ?? ''}
    }
    server {
        listen 127.0.0.1:${o.iface};
        location / { dyups_interface; }
${o.ifaceServer ?? ''}    }
}
`
}

export interface Started {
  d: Dyups
  prefix: string
  proxy: number
  iface: number
}

/** Writes {@link interfaceConf} into a fresh prefix (or `prefix`) and starts dyups on it. */
export async function startInterface(t: TestContext, o: Omit<InterfaceConf, 'proxy' | 'iface'> & { prefix?: string; files?: Record<string, string> }): Promise<Started> {
  const [proxy, iface] = await freePorts(2)
  const prefix = o.prefix ?? tempPrefix(t)
  for (const [f, text] of Object.entries(o.files ?? {})) writeConf(prefix, f, text)
  writeConf(prefix, 'conf/nginx.conf', interfaceConf({ ...o, proxy: proxy!, iface: iface! }))
  const d = await startDyups(t, prefix, [proxy!, iface!])
  return { d, prefix, proxy: proxy!, iface: iface! }
}

/** GET on the interface (fresh connection). */
export const iget = (port: number, path: string, headers: Record<string, string> = {}): Promise<Response> =>
  request(port, { path, headers })

/** POST with a Content-Length body (fresh connection). */
export const ipost = (port: number, path: string, body: string, headers: Record<string, string> = {}): Promise<Response> =>
  request(port, { method: 'POST', path, body, headers })

/** DELETE without a body (fresh connection). */
export const idelete = (port: number, path: string, headers: Record<string, string> = {}): Promise<Response> =>
  request(port, { method: 'DELETE', path, headers })

/** One proxied GET with `Host: host` (fresh connection). */
export const via = (port: number, host: string, path = '/'): Promise<Response> => request(port, { host, path })

/** The Content-Length a response claims, or null. */
export function contentLength(r: Response): number | null {
  const v = r.headers['content-length']
  return v === undefined ? null : Number(v)
}

/**
 * A keep-alive client connection that sends one request at a time and reads exactly one response, framed by
 * status, Content-Length or chunked encoding (until close otherwise). Every wait is bounded by 10 s.
 */
export class Conn {
  private buf = Buffer.alloc(0)
  private waiter: (() => void) | null = null
  closed = false
  private constructor(private readonly sock: Socket) {
    sock.on('data', (b: Buffer) => {
      this.buf = Buffer.concat([this.buf, b])
      this.wake()
    })
    sock.on('error', () => {})
    sock.on('close', () => {
      this.closed = true
      this.wake()
    })
  }

  static open(port: number, host = '127.0.0.1'): Promise<Conn> {
    return new Promise((res, rej) => {
      const s = connect(port, host)
      s.once('connect', () => res(new Conn(s)))
      s.once('error', rej)
    })
  }

  private wake(): void {
    const w = this.waiter
    this.waiter = null
    w?.()
  }

  private async more(deadline: number): Promise<void> {
    if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`)
    const left = deadline - Date.now()
    if (left <= 0) throw new Error(`no complete response within 10 s; got ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`)
    await new Promise<void>((r) => {
      const timer = setTimeout(r, left)
      this.waiter = () => {
        clearTimeout(timer)
        r()
      }
    })
  }

  /** Writes raw bytes and reads one response (`head`: the request was HEAD, so no body follows). */
  async send(raw: string | Buffer, opts: { head?: boolean } = {}): Promise<Response> {
    this.sock.write(typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw)
    return this.read(opts)
  }

  /** Reads one response from what has arrived (and arrives). */
  async read(opts: { head?: boolean } = {}): Promise<Response> {
    const deadline = Date.now() + 10_000
    let end: number
    while ((end = this.buf.indexOf('\r\n\r\n')) < 0) await this.more(deadline)
    const head = this.buf.subarray(0, end + 4).toString('latin1')
    const r = parseResponse(head)
    let rest = end + 4
    if (opts.head || r.status === 204 || r.status === 304 || (r.status >= 100 && r.status < 200)) {
      this.buf = this.buf.subarray(rest)
      return r
    }
    if (r.headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      let body = ''
      for (;;) {
        let eol: number
        while ((eol = this.buf.indexOf('\r\n', rest)) < 0) await this.more(deadline)
        const n = parseInt(this.buf.subarray(rest, eol).toString('latin1'), 16)
        if (n === 0) {
          // Trailers end with an empty line.
          let fin: number
          while ((fin = this.buf.indexOf('\r\n\r\n', eol)) < 0) await this.more(deadline)
          this.buf = this.buf.subarray(fin + 4)
          r.body = body
          return r
        }
        while (this.buf.length < eol + 2 + n + 2) await this.more(deadline)
        body += this.buf.subarray(eol + 2, eol + 2 + n).toString('latin1')
        rest = eol + 2 + n + 2
      }
    }
    const cl = r.headers['content-length']
    if (cl !== undefined) {
      const n = Number(cl)
      while (this.buf.length < rest + n) await this.more(deadline)
      r.body = this.buf.subarray(rest, rest + n).toString('latin1')
      this.buf = this.buf.subarray(rest + n)
      return r
    }
    while (!this.closed) await this.more(deadline).catch((e) => { if (!this.closed) throw e })
    r.body = this.buf.subarray(rest).toString('latin1')
    this.buf = Buffer.alloc(0)
    return r
  }

  /** A keep-alive request built like {@link request}'s (no `Connection: close` unless given). */
  req(opts: { method?: string; path?: string; host?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    const method = opts.method ?? 'GET'
    const h: Record<string, string> = { Host: opts.host ?? 'localhost', ...opts.headers }
    if (opts.body !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'transfer-encoding')) h['Content-Length'] = String(Buffer.byteLength(opts.body, 'latin1'))
    const raw = `${method} ${opts.path ?? '/'} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${opts.body ?? ''}`
    return this.send(raw, { head: method === 'HEAD' })
  }

  /** Resolves when the peer has closed the connection (bounded: 10 s). */
  async waitClosed(): Promise<boolean> {
    const deadline = Date.now() + 10_000
    while (!this.closed && Date.now() < deadline) await this.more(deadline).catch(() => {})
    return this.closed
  }

  close(): void {
    this.sock.destroy()
  }
}

/** The direct children (workers) of a process, from /proc. */
export function childPids(pid: number): number[] {
  const out: number[] = []
  let names: string[]
  try {
    names = readdirSync('/proc')
  } catch {
    return out
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue
    try {
      const stat = readFileSync(`/proc/${n}/stat`, 'latin1')
      // Fields after the command name (which may hold spaces) start after the last ')'.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(f[1]) === pid && f[0] !== 'Z') out.push(Number(n))
    } catch {
      // Gone meanwhile.
    }
  }
  return out.sort((a, b) => a - b)
}

/**
 * SIGKILL to `pid` and to its children (workers outlive a primary killed alone: src/process/orphans.ts). The
 * children are signalled right after their parent, before anything can reap them, so their pids are still theirs.
 */
export function killTree(pid: number): void {
  const children = childPids(pid)
  for (const p of [pid, ...children]) {
    try {
      process.kill(p, 'SIGKILL')
    } catch {
      // Gone already.
    }
  }
}

/**
 * SIGKILL to the primary alone, as a crash: resolves once its exit is seen (its workers, orphaned, serve on and
 * are the caller's to end; `d.stop()` no longer touches them).
 */
export async function killPrimary(d: Dyups): Promise<void> {
  process.kill(d.pid, 'SIGKILL')
  assert.ok(await waitFor(() => d.child.exitCode !== null || d.child.signalCode !== null), `primary ${d.pid} did not exit`)
}

/** Whether a process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/** Waits (bounded by `ms`) until none of `pids` is alive; returns the ones still alive. */
export async function waitGone(pids: number[], ms = 10_000): Promise<number[]> {
  const deadline = Date.now() + ms
  let left = pids.filter(alive)
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(20)
    left = left.filter(alive)
  }
  return left
}

export interface Answer {
  status: number
  body: string
  /** Content-Length present and exact (any 204 passes). */
  lengthOk: boolean
}

/** A response reduced to what the interface contract fixes, for one deepEqual. */
export function answer(r: Response): Answer {
  return { status: r.status, body: r.body, lengthOk: r.status === 204 || contentLength(r) === r.body.length }
}

/** The expected {@link answer}. */
export const ans = (status: number, body = ''): Answer => ({ status, body, lengthOk: true })

/** The upstream table as the interface shows it: what a reload or a restart must keep. */
export interface Table {
  list: Answer
  detail: Answer
}

/** /list and /detail of the interface on `iface`, as {@link answer}s. */
export async function table(iface: number): Promise<Table> {
  return { list: answer(await iget(iface, '/list')), detail: answer(await iget(iface, '/detail')) }
}

/**
 * The addresses `localhost:PORT` stands for on this machine, as `/upstream/NAME` shows them (`127.0.0.1:PORT`,
 * `[::1]:PORT`): what getaddrinfo answers with AI_ADDRCONFIG, as nginx asks (or without it when that finds nothing),
 * IPv4 first, each once. Whether `::1` is among them depends on /etc/hosts and on the machine having IPv6 addresses.
 */
export async function localhostAddrs(port: number): Promise<string[]> {
  let found: LookupAddress[]
  try {
    found = await lookup('localhost', { all: true, order: 'ipv4first', hints: ADDRCONFIG })
  } catch {
    found = await lookup('localhost', { all: true, order: 'ipv4first' })
  }
  const v4 = [...new Set(found.filter((a) => a.family === 4).map((a) => `${a.address}:${port}`))]
  const v6 = [...new Set(found.filter((a) => a.family === 6).map((a) => `[${a.address}]:${port}`))]
  return v4.concat(v6)
}

/** `server ADDR weight=… down=…\n`, the /detail line of one server line; defaults as docs/api.md#get-reading-the-table. */
export function detailLine(addr: string, p: { weight?: number; maxConns?: number; maxFails?: number; failTimeout?: number; backup?: boolean; down?: boolean } = {}): string {
  return `server ${addr} weight=${p.weight ?? 1} max_conns=${p.maxConns ?? 0} max_fails=${p.maxFails ?? 1} fail_timeout=${p.failTimeout ?? 10} backup=${p.backup ? 1 : 0} down=${p.down ? 1 : 0}\n`
}

// ---------------------------------------------------------------------------------------------------------------
// Command-line, proxy and process end-to-end helpers.

/**
 * Runs the binary to completion in the working directory `cwd` (relative `-p`/`-c` resolve there; this process's
 * when undefined); bounded by `ms`. Resolves on 'close', not 'exit': output can still be in the pipes at exit.
 */
export function runBinIn(cwd: string | undefined, args: string[], ms = 20_000): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = '', stderr = ''
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('latin1')))
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('latin1')))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      rej(new Error(`dyups ${args.join(' ')} did not finish in ${ms} ms; stderr: ${stderr}`))
    }, ms)
    child.on('close', (code) => {
      clearTimeout(timer)
      res({ code, stdout, stderr })
    })
  })
}

/** Polls `cond` every `step` ms until it holds or `ms` have passed; returns whether it held. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 10_000, step = 20): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await cond()) return true
    if (Date.now() > deadline) return false
    await sleep(step)
  }
}

/** The pid in a pid file, or null when it is missing or unreadable. */
export function pidFromFile(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'latin1').trim())
    return Number.isSafeInteger(n) && n > 0 ? n : null
  } catch {
    return null
  }
}

/**
 * Like {@link startDyups}, with the whole argument list given and a working directory, e.g. `npm start`'s
 * `-p example -c conf/nginx.conf` run from the directory above the prefix (this process's directory when `cwd` is
 * undefined). Stopped after the test.
 */
export async function startBinIn(t: TestContext, cwd: string | undefined, prefix: string, args: string[], waitPorts: number[]): Promise<Dyups> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr!.on('data', (b: Buffer) => (err += b.toString('latin1')))
  let exited: number | null | undefined
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r((exited = code))))
  const d: Dyups = {
    child,
    prefix,
    pid: child.pid!,
    stderr: () => err,
    stop: async (signal = 'SIGTERM', ms = 10_000) => {
      if (exited !== undefined) return exited
      if (signal === 'SIGKILL') killTree(child.pid!)
      else child.kill(signal)
      const timer = setTimeout(() => killTree(child.pid!), ms)
      const code = await exit
      clearTimeout(timer)
      return code
    },
    errorLog: () => readText(join(prefix, 'logs/error.log')),
  }
  t.after(() => d.stop('SIGKILL'))
  const deadline = Date.now() + 30_000
  for (const port of waitPorts) {
    while (!(await canConnect(port))) {
      if (exited !== undefined) throw new Error(`dyups exited with ${exited}: ${err}`)
      if (Date.now() > deadline) throw new Error(`dyups did not listen on ${port}: ${err}`)
      await sleep(20)
    }
  }
  // The pid file follows the sockets by a moment (it is written once they accept); bounded like the ports.
  const noPid = (): boolean => readText(join(prefix, 'logs/dyups.pid')) === '' && readText(join(prefix, 'logs/nginx.pid')) === ''
  while (waitPorts.length > 0 && noPid() && exited === undefined && Date.now() < deadline) await sleep(10)
  return d
}

/**
 * Starts dyups with one worker on a fresh prefix: `upstream back` on a {@link backend} answering `name`, and one
 * server on a free port whose block holds `locations` (whole lines). Stopped after the test.
 */
export async function startWithBack(t: TestContext, name: string, locations: string): Promise<{ port: number; back: Awaited<ReturnType<typeof backend>> }> {
  const back = await backend(t, name)
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', `daemon off;
worker_processes 1;
error_log logs/error.log info;
events {}
http {
    access_log off;
    upstream back { server 127.0.0.1:${back.port}; }
    server {
        listen 127.0.0.1:${port};
${locations}    }
}
`)
  await startDyups(t, prefix, [port])
  return { port, back }
}

/** nginx's standard error page (`<hr><center>SERVER</center>`, CRLF lines), as error_page-less nginx sends it. */
export function errorPage(status: number, reason: string, server: string): string {
  return `<html>\r\n<head><title>${status} ${reason}</title></head>\r\n<body>\r\n<center><h1>${status} ${reason}</h1></center>\r\n<hr><center>${server}</center>\r\n</body>\r\n</html>\r\n`
}

/**
 * Waits (bounded by `ms`) until no port in `ports` accepts connections: a killed process's listening socket can
 * outlive it by a few milliseconds, and a restart must not take the old socket for the new instance.
 * Returns the ports still accepting.
 */
export async function waitPortsClosed(ports: number[], ms = 10_000): Promise<number[]> {
  const deadline = Date.now() + ms
  let open = ports
  for (;;) {
    const still: number[] = []
    for (const p of open) if (await canConnect(p)) still.push(p)
    open = still
    if (open.length === 0 || Date.now() > deadline) return open
    await sleep(10)
  }
}

/**
 * SIGKILL to the primary and `workers` (its children at the call unless given) at once; asserts that every one of
 * them is gone and that no port in `ports` accepts connections any more.
 */
export async function killAll(d: Dyups, ports: number[], workers: number[] = childPids(d.pid)): Promise<void> {
  const pids = [d.pid, ...workers]
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
  await d.stop('SIGKILL')
  assert.deepEqual(await waitGone(pids), [], 'every process of the killed instance is gone')
  assert.deepEqual(await waitPortsClosed(ports), [], 'the killed instance no longer listens')
}

/**
 * The pids of the workers answering `GET /pid` on `port` (a `location = /pid { return 200 $pid; }`), found by opening
 * connections 8 at a time until `n` distinct pids answered or 30 s passed (each worker accepts from the shared
 * socket; on a busy machine one still starting, or scheduled late, wins none for a while).
 */
export async function reachWorkers(port: number, n: number): Promise<number[]> {
  const pids = new Set<number>()
  const deadline = Date.now() + 30_000
  for (let round = 0; pids.size < n && Date.now() < deadline; round++) {
    if (round > 0) await sleep(10)
    const rs = await Promise.all(Array.from({ length: 8 }, () => request(port, { path: '/pid' })))
    for (const r of rs) if (r.status === 200) pids.add(Number(r.body))
  }
  return [...pids].sort((a, b) => a - b)
}

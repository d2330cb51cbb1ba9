/**
 * End-to-end helpers: free ports, generated configurations in temp prefixes, the real `dyups` binary started and
 * stopped by PID, real backends, and a small HTTP client on raw sockets (so tests see exact bytes).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const BIN = join(ROOT, 'bin/dyups.js')

/** Ports the OS says are free right now (listen on 0, read, close). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = []
  const ports: number[] = []
  for (let i = 0; i < n; i++) {
    const s = createServer()
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
    servers.push(s)
    ports.push((s.address() as AddressInfo).port)
  }
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  return ports
}

/** A temp prefix with `conf/`, `logs/`; removed after the test. */
export function tempPrefix(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'dyups-test-'))
  mkdirSync(join(dir, 'conf'))
  mkdirSync(join(dir, 'logs'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
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
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = '', stderr = ''
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('latin1')))
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('latin1')))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      rej(new Error(`dyups ${args.join(' ')} did not finish in ${ms} ms; stderr: ${stderr}`))
    }, ms)
    child.on('exit', (code) => {
      clearTimeout(timer)
      res({ code, stdout, stderr })
    })
  })
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
export async function startDyups(t: TestContext, prefix: string, waitPorts: number[], extraArgs: string[] = []): Promise<Dyups> {
  const child = spawn(process.execPath, [BIN, '-p', prefix, '-c', 'conf/nginx.conf', ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
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
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), ms)
      const code = await exit
      clearTimeout(timer)
      return code
    },
    errorLog: () => {
      try {
        return readFileSync(join(prefix, 'logs/error.log'), 'latin1')
      } catch {
        return ''
      }
    },
  }
  t.after(() => d.stop('SIGKILL'))
  const deadline = Date.now() + 15_000
  for (const port of waitPorts) {
    while (!(await canConnect(port))) {
      if (exited !== undefined) throw new Error(`dyups exited with ${exited}: ${err}`)
      if (Date.now() > deadline) throw new Error(`dyups did not listen on ${port}: ${err}`)
      await sleep(20)
    }
  }
  return d
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

function dechunk(s: string): string {
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
 * A backend that answers every request with `name` (and records what it received). Closed after the test.
 */
export async function backend(t: TestContext, name: string, opts: { port?: number } = {}): Promise<{ port: number; name: string; requests: string[]; server: Server }> {
  const requests: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    let buf = ''
    s.on('data', (b) => {
      buf += b.toString('latin1')
      for (;;) {
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = buf.slice(0, end + 4)
        const m = /\r\ncontent-length: *(\d+)/i.exec(head)
        const len = m ? Number(m[1]) : 0
        if (buf.length < end + 4 + len) return
        requests.push(buf.slice(0, end + 4 + len))
        buf = buf.slice(end + 4 + len)
        const close = /\r\nconnection: *close/i.test(head) || /^[^\r]* HTTP\/1\.0\r\n/.test(head)
        s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${name.length}\r\nContent-Type: text/plain\r\n${close ? 'Connection: close\r\n' : ''}\r\n${name}`)
        if (close) s.end()
      }
    })
    s.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', r))
  t.after(() => new Promise((r) => {
    server.close(r)
    for (const s of sockets) s.destroy()
  }))
  return { port: (server.address() as AddressInfo).port, name, requests, server }
}

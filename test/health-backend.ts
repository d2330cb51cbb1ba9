/**
 * A backend for the health-check tests: it tells checks (requests to its check path) from proxied requests, answers
 * checks with a status the test sets (or never answers), and can close its listener and reopen it on the same port.
 */
import { createServer, type Server, type Socket } from 'node:net'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { freePorts, readRequests, request, waitFor } from './helpers.js'

export interface HealthBackend {
  readonly port: number
  readonly name: string
  /** Request paths received, in order. */
  readonly paths: string[]
  /** When each check arrived (performance.now(), ms), in order. */
  readonly checkTimes: number[]
  /** What a check gets: a status code, or 'hang' (read, never answered). */
  checkAnswer: number | 'hang'
  /** Requests to `path` so far. */
  count(path: string): number
  /** Proxied requests (anything but the check paths) so far. */
  proxied(): number
  /** Closes the listener and every connection: checks and requests are refused. */
  close(): Promise<void>
  /** Listens again on the same port. */
  reopen(): Promise<void>
}

/** Check requests are those for a path starting with `/health`. */
export const isCheck = (path: string): boolean => path.startsWith('/health')

export async function healthBackend(t: TestContext, name: string, checkAnswer: number | 'hang' = 200): Promise<HealthBackend> {
  const paths: string[] = []
  const checkTimes: number[] = []
  const sockets = new Set<Socket>()
  let server: Server | null = null
  // A reserved port, not one listen(0) picks: reopen() listens on it again after close() released it.
  const [port] = (await freePorts(1)) as [number]
  const b: HealthBackend = {
    get port() {
      return port
    },
    name,
    paths,
    checkTimes,
    checkAnswer,
    count: (p) => paths.filter((x) => x === p).length,
    proxied: () => paths.filter((p) => !isCheck(p)).length,
    close: async () => {
      const s = server
      server = null
      if (s === null) return
      const done = new Promise((r) => s.close(r))
      for (const c of sockets) c.destroy()
      await done
    },
    reopen: async () => {
      if (server !== null) return
      server = createServer(onConn)
      await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r))
    },
  }
  function onConn(s: Socket): void {
    readRequests(s, sockets, (head) => {
      const path = head.split(' ')[1] ?? ''
      paths.push(path)
      if (isCheck(path)) {
        checkTimes.push(performance.now())
        if (b.checkAnswer !== 'hang') s.end(`HTTP/1.0 ${b.checkAnswer} X\r\nContent-Length: 0\r\n\r\n`)
        return
      }
      const close = /\r\nconnection: *close/i.test(head) || /^[^\r]* HTTP\/1\.0$/m.test(head.split('\r\n')[0]!)
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${name.length}\r\n${close ? 'Connection: close\r\n' : ''}\r\n${name}`)
      if (close) s.end()
    })
  }
  await b.reopen()
  t.after(() => b.close())
  return b
}

export interface Row {
  index: number
  upstream: string
  name: string
  status: string
  rise: number
  fall: number
  type: string
  port: number
}

/** The check_status page in csv, parsed. */
export async function statusRows(port: number, query = ''): Promise<Row[]> {
  const r = await request(port, { path: `/status?format=csv${query}` })
  assert.equal(r.status, 200)
  return r.body.split('\n').filter((l) => l !== '').map((l) => {
    const [index, upstream, name, status, rise, fall, type, p] = l.split(',')
    return { index: Number(index), upstream: upstream!, name: name!, status: status!, rise: Number(rise), fall: Number(fall), type: type!, port: Number(p) }
  })
}

/** Waits until the status page shows `addr` of `group` in `state`. */
export async function waitState(port: number, group: string, addr: string, state: 'up' | 'down', ms = 8000): Promise<Row> {
  let row: Row | undefined
  const ok = await waitFor(async () => {
    row = (await statusRows(port)).find((r) => r.upstream === group && r.name === addr)
    return row?.status === state
  }, ms)
  assert.ok(ok, `${group} ${addr} never ${state}: ${JSON.stringify(row)}`)
  return row!
}

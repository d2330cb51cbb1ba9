/**
 * The listening sockets belong to the primary, as nginx's belong to its master: a worker killed with -9, every
 * worker killed at once, or a reload never makes the port refuse a connection (it waits in the socket's queue
 * until a worker accepts it). The pid file appears once the port accepts; a second dyups on the same prefix fails
 * and leaves the first, its pid file, its persistence files and its sockets, alone.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import {
  alive, canConnect, childPids, freePorts, iget, ipost, pidFromFile, reachWorkers, request, runBin, startDyups, tempPrefix,
  waitFor, waitGone, writeConf,
} from './helpers.js'
import { requireNginx, startNginx } from './nginx.js'

const conf = (port: number, workers: number, extra = ''): string => `daemon off;
worker_processes ${workers};
error_log logs/error.log info;
events {}
http {
    access_log off;
${extra}    server {
        listen 127.0.0.1:${port};
        location = /pid { return 200 $pid; }
        location / { return 200 "up"; }
    }
}
`

/** What one fresh connection saw: an answer (the worker's pid), a refusal, or a reset or close without an answer. */
type Outcome = { kind: 'ok'; pid: number } | { kind: 'refused' | 'reset' | 'other'; detail: string }

/** `GET /pid` on a new connection, written as soon as it connects; bounded by 10 s. */
function once(port: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    let data = ''
    let done = false
    const end = (o: Outcome): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      s.destroy()
      resolve(o)
    }
    const timer = setTimeout(() => end({ kind: 'other', detail: `no answer within 10 s: ${JSON.stringify(data)}` }), 10_000)
    s.on('connect', () => s.write('GET /pid HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'))
    s.on('data', (b: Buffer) => (data += b.toString('latin1')))
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED') end({ kind: 'refused', detail: e.code })
      else if (e.code === 'ECONNRESET' || e.code === 'EPIPE') end({ kind: 'reset', detail: `${e.code} after ${JSON.stringify(data)}` })
      else end({ kind: 'other', detail: `${e.code}: ${e.message}` })
    })
    s.on('close', () => {
      const m = /^HTTP\/1\.1 200 [^\r]*\r\n[^]*?\r\n\r\n(\d+)$/.exec(data)
      // A close without a whole answer is a connection the server dropped: counted with the resets.
      end(m !== null ? { kind: 'ok', pid: Number(m[1]) } : { kind: 'reset', detail: `closed after ${JSON.stringify(data)}` })
    })
  })
}

interface Tally {
  ok: number
  refused: number
  reset: number
  other: string[]
  /** Answers per worker pid. */
  byPid: Map<number, number>
  /** For each connection that was reset: when it started (ms since the loop began) and what it saw. */
  resets: { start: number; detail: string }[]
  total: number
  ms: number
}

/**
 * Opens new connections as fast as `concurrency` clients can, each one `GET /pid`, until `done(tally)` holds, or
 * `maxConns` connections or `maxMs` passed (the bounds). `onOk` runs after each answer (it may start the event the
 * test is about).
 */
async function hammer(port: number, o: { concurrency: number; maxConns: number; maxMs: number; done: (t: Tally) => boolean; onOk?: (t: Tally) => void }): Promise<Tally> {
  const t0 = Date.now()
  const t: Tally = { ok: 0, refused: 0, reset: 0, other: [], byPid: new Map(), resets: [], total: 0, ms: 0 }
  const stop = (): boolean => t.total >= o.maxConns || Date.now() - t0 > o.maxMs || o.done(t)
  const client = async (): Promise<void> => {
    while (!stop()) {
      t.total++
      const start = Date.now() - t0
      const r = await once(port)
      if (r.kind === 'ok') {
        t.ok++
        t.byPid.set(r.pid, (t.byPid.get(r.pid) ?? 0) + 1)
        o.onOk?.(t)
      } else if (r.kind === 'refused') t.refused++
      else if (r.kind === 'reset') {
        t.reset++
        t.resets.push({ start, detail: r.detail })
      } else t.other.push(r.detail)
    }
  }
  await Promise.all(Array.from({ length: o.concurrency }, client))
  t.ms = Date.now() - t0
  return t
}

const answeredBy = (t: Tally, pids: (p: number) => boolean): number => [...t.byPid].reduce((n, [p, c]) => n + (pids(p) ? c : 0), 0)

function report(tc: TestContext, what: string, t: Tally, killedAt?: number): void {
  tc.diagnostic(`${what}: ${t.total} connections in ${t.ms} ms: ${t.ok} answered, ${t.refused} refused, ${t.reset} reset` +
    `${t.other.length > 0 ? `, ${t.other.length} other` : ''}; answers by pid ${JSON.stringify([...t.byPid])}` +
    `${killedAt !== undefined ? `; killed at ${killedAt} ms, resets started at ${JSON.stringify(t.resets.map((r) => r.start))}` : ''}`)
}

const CONCURRENCY = 8

/**
 * Kills `victims` with -9 after 50 answers, while the loop runs; the loop ends when workers started since have
 * answered 50 connections. Asserts: nothing refused; each reset connection had started before the kill (so the
 * killed worker may have accepted it: one it had accepted and not answered dies with it), at most one per client.
 */
async function killUnderLoad(tc: TestContext, port: number, primary: number, victims: number[]): Promise<Tally> {
  let killedAt: number | undefined
  const t0 = Date.now()
  const t = await hammer(port, {
    concurrency: CONCURRENCY,
    maxConns: 20_000,
    maxMs: 30_000,
    onOk: (t) => {
      if (killedAt !== undefined || t.ok < 50) return
      killedAt = Date.now() - t0
      for (const v of victims) process.kill(v, 'SIGKILL')
    },
    done: (t) => killedAt !== undefined && answeredBy(t, (p) => !victims.includes(p)) >= 50,
  })
  report(tc, `kill -9 of ${victims.length} worker(s)`, t, killedAt)
  assert.ok(killedAt !== undefined, 'the workers were killed under load')
  assert.deepEqual(await waitGone(victims), [], 'the victims are gone')
  const fresh = [...t.byPid.keys()].filter((p) => !victims.includes(p))
  assert.ok(fresh.length > 0 && answeredBy(t, (p) => fresh.includes(p)) >= 50, `new workers answered: ${JSON.stringify([...t.byPid])}`)
  assert.ok(fresh.every((p) => childPids(primary).includes(p) || !alive(p)), `the new workers are the primary's: ${fresh}`)
  assert.equal(t.refused, 0, 'no connection was refused')
  assert.deepEqual(t.other, [], 'no other failure')
  assert.ok(t.reset <= CONCURRENCY * victims.length, `at most what the victims could hold: ${t.reset} resets`)
  // A connection opened after the kill can only be accepted by a live worker (or wait in the queue for one).
  assert.deepEqual(t.resets.filter((r) => r.start > killedAt!), [], 'no connection opened after the kill was reset')
  return t
}

test('worker_processes 1: the worker killed with -9 under a connection loop, no connection is refused', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(port, 1))
  const d = await startDyups(t, prefix, [port])
  const [worker] = await reachWorkers(port, 1)
  assert.deepEqual(childPids(d.pid), [worker])
  await killUnderLoad(t, port, d.pid, [worker!])
  assert.ok(alive(d.pid), 'the primary lives on')
  assert.equal(await d.stop('SIGTERM'), 0)
})

test('worker_processes 2: both workers killed at once under a connection loop, no connection is refused', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(port, 2))
  const d = await startDyups(t, prefix, [port])
  assert.ok(await waitFor(() => childPids(d.pid).length === 2))
  const workers = await reachWorkers(port, 2)
  assert.deepEqual(workers, childPids(d.pid), 'both workers answer')
  await killUnderLoad(t, port, d.pid, workers)
  assert.ok(await waitFor(() => childPids(d.pid).length === 2), 'two workers again')
  assert.equal(await d.stop('SIGTERM'), 0)
})

test('nginx, for comparison: its worker killed with -9 under the same loop, no connection is refused', async (t) => {
  requireNginx()
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(port, 1).replace('daemon off;\n', 'pid logs/nginx.pid;\n'))
  const n = await startNginx(t, prefix, [port])
  const [worker] = await reachWorkers(port, 1)
  await killUnderLoad(t, port, n.pid, [worker!])
})

test('-s reload under a connection loop: no connection is refused or reset', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(port, 2))
  const d = await startDyups(t, prefix, [port])
  assert.ok(await waitFor(() => childPids(d.pid).length === 2))
  const old = await reachWorkers(port, 2)
  let reloaded: Promise<unknown> | undefined
  const tally = await hammer(port, {
    concurrency: CONCURRENCY,
    maxConns: 20_000,
    maxMs: 30_000,
    onOk: (t) => {
      if (reloaded === undefined && t.ok >= 50) reloaded = runBin(['-p', prefix, '-s', 'reload'])
    },
    // Until the new workers answered 50 and the old ones are gone.
    done: (t) => reloaded !== undefined && answeredBy(t, (p) => !old.includes(p)) >= 50 && old.every((p) => !alive(p)),
  })
  report(t, '-s reload', tally)
  assert.deepEqual(await reloaded, { code: 0, stdout: '', stderr: '' })
  assert.deepEqual(await waitGone(old), [], 'the old workers exited')
  assert.ok(answeredBy(tally, (p) => !old.includes(p)) >= 50, `the new workers answered: ${JSON.stringify([...tally.byPid])}`)
  assert.deepEqual([tally.refused, tally.reset, tally.other], [0, 0, []], `nothing refused or reset: ${JSON.stringify(tally.resets)}`)
  assert.equal(await d.stop('SIGTERM'), 0)
})

test('the pid file appears only once the port accepts', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(port, 2))
  const pidFile = join(prefix, 'logs/dyups.pid')
  // Started without waiting for the port: the test watches both.
  const d = await startDyups(t, prefix, [])
  let acceptedFirst = false
  const appeared = await waitFor(async () => {
    if (!existsSync(pidFile)) {
      if (!acceptedFirst) acceptedFirst = await canConnect(port)
      return false
    }
    return true
  }, 20_000, 5)
  assert.ok(appeared, `the pid file appeared: ${d.stderr()}`)
  assert.equal(await canConnect(port), true, 'the port accepts when the pid file is there')
  assert.equal(pidFromFile(pidFile), d.pid)
  t.diagnostic(`the port accepted before the pid file appeared: ${acceptedFirst}`)
  assert.equal(await d.stop('SIGTERM'), 0)
})

test('a second dyups on the same prefix fails and leaves the first, its pid file, persistence and sockets alone', async (t) => {
  const [port, iface] = (await freePorts(2)) as [number, number]
  const prefix = tempPrefix(t)
  const sock = join(prefix, 'logs/dyups.sock')
  writeConf(prefix, 'conf/upstreams.conf', '')
  writeConf(prefix, 'conf/nginx.conf', conf(port, 2, `    dyups_upstream_conf conf/upstreams.conf;
    include conf/upstreams.conf;
    server {
        listen 127.0.0.1:${iface};
        listen unix:${sock};
        location / { dyups_interface; }
    }
`))
  const d = await startDyups(t, prefix, [port, iface])
  assert.ok(await waitFor(() => existsSync(sock)))
  assert.deepEqual((await ipost(iface, '/upstream/kept', 'server 127.0.0.1:1;')).status, 200)
  const pidFile = join(prefix, 'logs/dyups.pid')
  const files = ['logs/dyups.pid', 'conf/upstreams.conf', 'conf/upstreams.conf.journal'].map((f) => join(prefix, f)).filter(existsSync)
  const before = files.map((f) => ({ f, bytes: readFileSync(f, 'latin1'), mtime: statSync(f).mtimeMs, ino: statSync(f).ino }))
  const sockBefore = statSync(sock)
  const workers = childPids(d.pid)

  const second = await runBin(['-p', prefix, '-c', 'conf/nginx.conf'])
  const message = `dyups is already running with pid ${d.pid} (pid file "${pidFile}"), not started`
  assert.deepEqual([second.code, second.stderr], [1, `dyups: [emerg] ${message}\n`])
  assert.ok(d.errorLog().includes(`[emerg] `) && d.errorLog().includes(message), 'the error log says it too')
  const after = files.map((f) => ({ f, bytes: readFileSync(f, 'latin1'), mtime: statSync(f).mtimeMs, ino: statSync(f).ino }))
  assert.deepEqual(after, before, 'the pid file and the persistence files are untouched')
  assert.deepEqual([statSync(sock).ino, statSync(sock).mtimeMs], [sockBefore.ino, sockBefore.mtimeMs], 'the unix socket file is the first one\'s')

  // The first still serves, on every socket, with its table, and -s stop still reaches it.
  assert.deepEqual(childPids(d.pid), workers)
  assert.equal((await request(port)).body, 'up')
  assert.equal((await iget(iface, '/list')).body, 'kept\n')
  const viaUnix = await new Promise<string>((resolve) => {
    const s = connect(sock)
    let data = ''
    s.on('connect', () => s.write('GET /list HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'))
    s.on('data', (b: Buffer) => (data += b.toString('latin1')))
    s.on('error', () => {})
    s.on('close', () => resolve(data))
  })
  assert.match(viaUnix, /^HTTP\/1\.1 200 [^]*\r\n\r\nkept\n$/)
  assert.deepEqual(await runBin(['-p', prefix, '-s', 'stop']), { code: 0, stdout: '', stderr: '' })
  assert.deepEqual(await waitGone([d.pid, ...workers]), [], 'the first stopped')
  assert.equal(await d.stop(), 0)
  assert.equal(existsSync(pidFile), false, 'its pid file is removed')
  assert.equal(existsSync(sock), false, 'its unix socket file is removed')

  // A pid file left by a process that is gone, or naming a live process that is not dyups, does not stop a start.
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' })
  t.after(() => sleeper.kill('SIGKILL'))
  writeFileSync(pidFile, `${sleeper.pid}\n`)
  const d2 = await startDyups(t, prefix, [port, iface])
  // The pid file is written once every worker listens; the port accepts from the first.
  assert.ok(await waitFor(() => pidFromFile(pidFile) === d2.pid), 'the pid file names the new primary')
  assert.equal((await iget(iface, '/list')).body, 'kept\n', 'with the table the first left')
  assert.equal(await d2.stop('SIGQUIT'), 0)
})

test('-s reload adds and drops listen addresses; an address it cannot bind refuses the reload and changes nothing', async (t) => {
  const [a, b, taken] = (await freePorts(3)) as [number, number, number]
  const prefix = tempPrefix(t)
  const sock = join(prefix, 'logs/r.sock')
  const two = (first: string, second: string, version: string): string => `daemon off;
worker_processes 2;
error_log logs/error.log info;
events {}
http {
    access_log off;
    server {
        listen ${first};
        listen ${second};
        location / { return 200 "${version}"; }
    }
}
`
  writeConf(prefix, 'conf/nginx.conf', two(`127.0.0.1:${a}`, `unix:${sock}`, 'v1'))
  const d = await startDyups(t, prefix, [a])
  assert.ok(await waitFor(() => existsSync(sock)))
  assert.ok(await waitFor(() => childPids(d.pid).length === 2))
  const old = childPids(d.pid)

  // a goes, b comes, the unix socket stays.
  writeConf(prefix, 'conf/nginx.conf', two(`127.0.0.1:${b}`, `unix:${sock}`, 'v2'))
  const sockIno = statSync(sock).ino
  assert.deepEqual(await runBin(['-p', prefix, '-s', 'reload']), { code: 0, stdout: '', stderr: '' })
  assert.ok(await waitFor(async () => (await canConnect(b)) && (await request(b)).body === 'v2'), 'the added address serves the new configuration')
  assert.deepEqual(await waitGone(old), [], 'the old workers exited')
  assert.equal(await canConnect(a), false, 'the dropped address no longer accepts')
  assert.equal(statSync(sock).ino, sockIno, 'the unix socket kept is the same socket')
  const now = childPids(d.pid)
  assert.equal(now.length, 2)

  // A port another process listens on: the reload is refused, the running configuration goes on.
  const blocker = createServer()
  await new Promise<void>((r) => blocker.listen(taken, '127.0.0.1', r))
  t.after(() => new Promise((r) => blocker.close(r)))
  writeConf(prefix, 'conf/nginx.conf', two(`127.0.0.1:${taken}`, `unix:${sock}`, 'v3'))
  assert.deepEqual(await runBin(['-p', prefix, '-s', 'reload']), { code: 0, stdout: '', stderr: '' })
  assert.ok(await waitFor(() => d.errorLog().includes(`bind() to 127.0.0.1:${taken} failed (98: Address already in use)`)), d.errorLog())
  assert.equal((await request(b)).body, 'v2')
  assert.deepEqual(childPids(d.pid), now, 'the workers were kept')

  assert.equal(await d.stop('SIGQUIT'), 0)
  assert.equal(existsSync(sock), false, 'the unix socket file is removed at exit')
  assert.equal(await canConnect(b), false)
})

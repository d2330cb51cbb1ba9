/**
 * `-s quit|stop|reload|reopen` through the pid file, as nginx's: graceful stop finishes requests in flight and
 * removes the pid file; reload serves the new configuration from new workers while the old ones finish; reopen
 * re-creates a moved error log; `daemon on` returns once serving and `-s stop` ends it.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import {
  Conn, alive, canConnect, childPids, freePorts, pidFromFile, readRequests, request, runBin, startDyups, tempPrefix, waitFor,
  killTree, waitGone, writeConf,
} from './helpers.js'

/** A backend that holds every request until `release()`, then answers `held`. */
async function holdingBackend(t: TestContext): Promise<{ port: number; received: () => number; release: () => void }> {
  const sockets = new Set<Socket>()
  const waiting: Socket[] = []
  let count = 0
  let released = false
  const answer = (s: Socket): void => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nheld')
  }
  const server = createServer((s) =>
    readRequests(s, sockets, () => {
      count++
      if (released) answer(s)
      else waiting.push(s)
    }),
  )
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => new Promise((r) => {
    server.close(r)
    for (const s of sockets) s.destroy()
  }))
  return {
    port: (server.address() as AddressInfo).port,
    received: () => count,
    release: () => {
      released = true
      for (const s of waiting.splice(0)) answer(s)
    },
  }
}

const conf = (port: number, held: number, version: string, extra = ''): string => `daemon off;
worker_processes 2;
error_log logs/error.log info;
events {}
http {
    access_log off;
    upstream held { server 127.0.0.1:${held}; }
    server {
        listen 127.0.0.1:${port};
        location = /v { return 200 "${version}"; }
        location /held { proxy_pass http://held; proxy_read_timeout 30s; }
        location / { proxy_pass http://$host; }
${extra}    }
}
`

test('-s quit: requests in flight finish, then the primary and workers exit and the pid file goes', async (t) => {
  const held = await holdingBackend(t)
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(port, held.port, 'v1'))
  const d = await startDyups(t, prefix, [port])
  const pidFile = join(prefix, 'logs/dyups.pid')
  assert.equal(pidFromFile(pidFile), d.pid)
  assert.ok(await waitFor(() => childPids(d.pid).length === 2))
  const workers = childPids(d.pid)

  const inflight = request(port, { path: '/held/q' })
  assert.ok(await waitFor(() => held.received() === 1), 'the request reached the backend')
  const q = await runBin(['-p', prefix, '-s', 'quit'])
  assert.deepEqual(q, { code: 0, stdout: '', stderr: '' })
  held.release()
  const r = await inflight
  assert.deepEqual([r.status, r.body], [200, 'held'], 'the request in flight was finished')
  assert.deepEqual(await waitGone([d.pid, ...workers]), [], 'primary and workers exited')
  assert.equal(await d.stop(), 0, 'exit status 0')
  assert.equal(existsSync(pidFile), false, 'the pid file is removed')
  assert.equal(await canConnect(port), false, 'nothing listens any more')
})

test('-s stop ends a running server at once; -s without a running server fails like nginx', async (t) => {
  const held = await holdingBackend(t)
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(port, held.port, 'v1'))
  const d = await startDyups(t, prefix, [port])
  const workers = childPids(d.pid)
  assert.deepEqual(await runBin(['-p', prefix, '-s', 'stop']), { code: 0, stdout: '', stderr: '' })
  assert.deepEqual(await waitGone([d.pid, ...workers]), [])
  assert.equal(await d.stop(), 0)
  const pidFile = join(prefix, 'logs/dyups.pid')
  assert.equal(existsSync(pidFile), false)
  // nginx: `open() "/prefix/logs/nginx.pid" failed (2: No such file or directory)`, exit 1.
  const again = await runBin(['-p', prefix, '-s', 'stop'])
  assert.equal(again.code, 1)
  assert.equal(again.stderr, `dyups: [error] open() "${pidFile}" failed (2: No such file or directory)\n`)
  // A pid file naming no process: nginx says `[alert] kill(PID, 15) failed (3: No such process)`, exit 1.
  const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  const deadPid = gone.pid!
  await new Promise((r) => gone.on('exit', r))
  writeFileSync(pidFile, `${deadPid}\n`)
  const stale = await runBin(['-p', prefix, '-s', 'stop'])
  assert.equal(stale.code, 1)
  assert.equal(stale.stderr, `dyups: [alert] kill(${deadPid}, 15) failed (3: No such process)\n`)
  writeFileSync(pidFile, 'garbage\n')
  const garbage = await runBin(['-p', prefix, '-s', 'reopen'])
  assert.deepEqual([garbage.code, garbage.stderr], [1, `dyups: [error] invalid PID number "garbage" in "${pidFile}"\n`])
})

test('-s reload: new workers serve the edited configuration, the old ones finish their requests', async (t) => {
  const held = await holdingBackend(t)
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(port, held.port, 'v1'))
  const d = await startDyups(t, prefix, [port])
  assert.ok(await waitFor(() => childPids(d.pid).length === 2))
  const oldWorkers = childPids(d.pid)

  // A request in flight on an old worker.
  assert.equal((await request(port, { path: '/v' })).body, 'v1')
  const inflight = request(port, { path: '/held/r' })
  assert.ok(await waitFor(() => held.received() === 1))

  writeConf(prefix, 'conf/nginx.conf', conf(port, held.port, 'v2', '        location = /added { return 200 "added"; }\n'))
  assert.deepEqual(await runBin(['-p', prefix, '-s', 'reload']), { code: 0, stdout: '', stderr: '' })
  // Bounded: new connections are answered by the new configuration once its workers listen.
  const seen: string[] = []
  const switched = await waitFor(async () => {
    const r = await request(port, { path: '/v' })
    seen.push(`${r.status} ${r.body}`)
    return r.body === 'v2'
  }, 10_000)
  assert.ok(switched, `v2 served after reload: ${seen.join(', ')}`)
  assert.deepEqual(seen.filter((s) => s !== '200 v1' && s !== '200 v2'), [], 'every request was answered')
  assert.equal(held.received(), 1, 'the request in flight is still held while v2 is served')

  held.release()
  const r = await inflight
  assert.deepEqual([r.status, r.body], [200, 'held'], 'the old worker finished the request in flight')
  assert.deepEqual(await waitGone(oldWorkers), [], 'the old workers exited')
  // Old and new workers may both accept for a moment during the switch (nginx's too); with the old ones gone, only
  // the new configuration answers.
  for (let i = 0; i < 6; i++) assert.equal((await request(port, { path: '/v' })).body, 'v2', 'only v2 once the old workers are gone')
  assert.equal((await request(port, { path: '/added' })).body, 'added')
  assert.ok(alive(d.pid), 'the primary is the same process')
  assert.equal(pidFromFile(join(prefix, 'logs/dyups.pid')), d.pid)
  const now = childPids(d.pid)
  assert.equal(now.length, 2)
  assert.ok(now.every((p) => !oldWorkers.includes(p)), `new workers ${now}, old ${oldWorkers}`)

  // A broken configuration: the reload is refused, the running one goes on.
  writeConf(prefix, 'conf/nginx.conf', conf(port, held.port, 'v3', '        bogus_directive 1;\n'))
  assert.deepEqual(await runBin(['-p', prefix, '-s', 'reload']), { code: 0, stdout: '', stderr: '' })
  assert.ok(await waitFor(() => d.errorLog().includes('unknown directive "bogus_directive"')), 'the error is logged')
  for (let i = 0; i < 4; i++) assert.equal((await request(port, { path: '/v' })).body, 'v2')
  assert.deepEqual(childPids(d.pid), now, 'the workers were kept')
})

test('worker_shutdown_timeout: an old worker closes a request still in flight when it runs out, and exits', async (t) => {
  const held = await holdingBackend(t)
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  const withTimeout = (v: string): string => conf(port, held.port, v).replace('events {}', 'worker_shutdown_timeout 200ms;\nevents {}')
  writeConf(prefix, 'conf/nginx.conf', withTimeout('v1'))
  const d = await startDyups(t, prefix, [port])
  assert.ok(await waitFor(() => childPids(d.pid).length === 2))
  const oldWorkers = childPids(d.pid)
  const inflight = request(port, { path: '/held/r' }).then((r) => `${r.status}`, (e: Error) => `error ${e.message}`)
  assert.ok(await waitFor(() => held.received() === 1))

  writeConf(prefix, 'conf/nginx.conf', withTimeout('v2'))
  assert.deepEqual(await runBin(['-p', prefix, '-s', 'reload']), { code: 0, stdout: '', stderr: '' })
  // The backend never answers: only the timeout ends the old worker. Without it the worker would wait 30 s.
  assert.deepEqual(await waitGone(oldWorkers, 20_000), [], 'the old workers exited with the request still held')
  const end = await inflight
  assert.notEqual(end, '200', `the held request was cut, not answered: ${end}`)
  assert.equal(held.received(), 1)
  assert.equal((await request(port, { path: '/v' })).body, 'v2')
  assert.ok(alive(d.pid))
})

test('-s reload and -s quit close idle keep-alive connections at once, as nginx', async (t) => {
  const held = await holdingBackend(t)
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(port, held.port, 'v1'))
  const d = await startDyups(t, prefix, [port])
  assert.ok(await waitFor(() => childPids(d.pid).length === 2))
  const oldWorkers = childPids(d.pid)

  const idle = await Conn.open(port)
  t.after(() => idle.close())
  assert.equal((await idle.req({ path: '/v' })).body, 'v1')
  writeConf(prefix, 'conf/nginx.conf', conf(port, held.port, 'v2'))
  assert.deepEqual(await runBin(['-p', prefix, '-s', 'reload']), { code: 0, stdout: '', stderr: '' })
  // nginx's old workers close idle keep-alive connections as soon as they are told to quit (keepalive_timeout
  // is 75 s here, so only that explains a close within the bound, however long starting the new workers takes).
  assert.ok(await waitFor(() => idle.closed, 30_000), 'reload: the idle keep-alive connection of an old worker was closed')
  assert.deepEqual(await waitGone(oldWorkers, 30_000), [], 'the old workers exited')

  const idle2 = await Conn.open(port)
  t.after(() => idle2.close())
  assert.equal((await idle2.req({ path: '/v' })).body, 'v2')
  const workers = childPids(d.pid)
  assert.deepEqual(await runBin(['-p', prefix, '-s', 'quit']), { code: 0, stdout: '', stderr: '' })
  assert.ok(await waitFor(() => idle2.closed, 30_000), 'quit: the idle keep-alive connection was closed')
  assert.deepEqual(await waitGone([d.pid, ...workers], 30_000), [], 'quit: everything exited')
})

test('-s reopen re-creates a moved error log, and the workers write to it', async (t) => {
  const held = await holdingBackend(t)
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(port, held.port, 'v1'))
  const d = await startDyups(t, prefix, [port])
  const log = join(prefix, 'logs/error.log'), moved = join(prefix, 'logs/error.log.1')
  assert.ok(await waitFor(() => existsSync(log)), 'the error log exists')
  renameSync(log, moved)
  assert.deepEqual(await runBin(['-p', prefix, '-s', 'reopen']), { code: 0, stdout: '', stderr: '' })
  assert.ok(await waitFor(() => existsSync(log)), 'the error log is re-created')
  // An unknown group logs an error (`PID#0: ... nogroupN`) in whichever worker takes the request. The primary
  // reopens first and then tells the workers, so a worker may still write to the moved file for a moment (nginx's
  // too): bounded, ask until each worker has written to the new file.
  assert.ok(await waitFor(() => childPids(d.pid).length === 2))
  const workers = childPids(d.pid)
  const wroteNew = new Set<number>()
  let n = 0
  for (; n < 300 && wroteNew.size < workers.length; n++) {
    const r = await request(port, { host: `nogroup${n}` })
    assert.equal(r.status, 502)
    const text = readFileSync(log, 'latin1')
    for (const w of workers) if (text.includes(`] ${w}#`)) wroteNew.add(w)
  }
  assert.deepEqual([...wroteNew].sort((x, y) => x - y), workers, `every worker writes to the new file after ${n} requests`)
  // Now every error goes to the new file, none to the moved one.
  for (let i = 0; i < 6; i++) assert.equal((await request(port, { host: `after-reopen${i}` })).status, 502)
  const logged = await waitFor(() => {
    const text = readFileSync(log, 'latin1')
    return [0, 1, 2, 3, 4, 5].every((i) => text.includes(`after-reopen${i}`))
  })
  assert.ok(logged, `each error went to the new file: ${readFileSync(log, 'latin1')}`)
  assert.ok(!readFileSync(moved, 'latin1').includes('after-reopen'), 'nothing more went to the moved file')
  assert.ok(alive(d.pid))
})

test('daemon on: the command returns once serving, the server runs in the background, -s stop ends it', async (t) => {
  const held = await holdingBackend(t)
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(port, held.port, 'daemon').replace('daemon off;', 'daemon on;'))
  const pidFile = join(prefix, 'logs/dyups.pid')
  let daemonPid: number | null = null
  t.after(() => {
    // Only the daemon this test started, by its pid.
    if (daemonPid !== null && alive(daemonPid)) killTree(daemonPid)
  })
  const r = await runBin(['-p', prefix])
  daemonPid = pidFromFile(pidFile)
  assert.deepEqual(r, { code: 0, stdout: '', stderr: '' })
  assert.ok(daemonPid !== null, 'the pid file names the daemon')
  assert.ok(alive(daemonPid), 'the daemon runs after the command returned')
  const v = await request(port, { path: '/v' })
  assert.deepEqual([v.status, v.body], [200, 'daemon'], 'serving when the command returned')
  assert.ok(await waitFor(() => childPids(daemonPid!).length === 2), 'with its workers')
  const workers = childPids(daemonPid)

  assert.deepEqual(await runBin(['-p', prefix, '-s', 'stop']), { code: 0, stdout: '', stderr: '' })
  assert.deepEqual(await waitGone([daemonPid, ...workers]), [], 'the daemon and its workers exited')
  assert.equal(existsSync(pidFile), false, 'the pid file is removed')
  assert.equal(await canConnect(port), false)
})

test('daemon on with a configuration that cannot start: the command fails with the error', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  // The port is taken: only binding finds it.
  const blocker = createServer()
  await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r))
  t.after(() => new Promise((r) => blocker.close(r)))
  writeConf(prefix, 'conf/nginx.conf', `daemon on;\nevents {}\nhttp {\n    access_log off;\n    server { listen 127.0.0.1:${port}; location / { return 200 "x"; } }\n}\n`)
  const r = await runBin(['-p', prefix])
  assert.equal(r.code, 1)
  assert.match(r.stderr, new RegExp(`^dyups: \\[emerg\\] bind\\(\\) to 127\\.0\\.0\\.1:${port} failed \\(98: Address already in use\\)\n`), r.stderr)
  const left = pidFromFile(join(prefix, 'logs/dyups.pid'))
  if (left !== null) {
    const still = alive(left)
    if (still) killTree(left)
    assert.equal(still, false, 'no daemon was left running')
  }
})

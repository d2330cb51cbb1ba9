/**
 * Worker processes as nginx's master keeps them: a worker killed with -9 is respawned while the others go on
 * answering; workers outlive a primary killed with -9 (process-orphans.test.ts has the rest); `master_process off`
 * serves from one process.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { alive, canConnect, childPids, freePorts, killPrimary, pidFromFile, reachWorkers, request, runBin, startDyups, tempPrefix, waitFor, waitGone, writeConf } from './helpers.js'

const conf = (port: number, extra: string): string => `daemon off;
${extra}
error_log logs/error.log info;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:${port};
        location = /pid { return 200 $pid; }
        location / { return 200 "up"; }
    }
}
`

test('worker_processes 2: a worker killed with -9 is respawned, requests keep being answered', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(port, 'worker_processes 2;'))
  const d = await startDyups(t, prefix, [port])
  assert.ok(await waitFor(() => childPids(d.pid).length === 2), `two workers: ${childPids(d.pid)}`)
  // Both workers must be serving before one is killed: the port answers as soon as the first one listens, and a
  // worker killed while its sibling is still starting leaves nobody on the socket for a moment.
  assert.equal((await reachWorkers(port, 2)).length, 2, 'both workers answer')
  const before = childPids(d.pid)
  assert.equal(pidFromFile(join(prefix, 'logs/dyups.pid')), d.pid, 'the pid file names the primary')
  const victim = before[0]!

  const answers: string[] = []
  let respawned: number | undefined
  // Bounded (30 s): the kill happens between two requests, then requests go on until the new worker is there and
  // 20 more have been answered.
  let after = 0
  const deadline = Date.now() + 30_000
  for (let i = 0; after < 20 && (i <= 5 || Date.now() < deadline); i++) {
    const r = await request(port)
    answers.push(`${r.status} ${r.body}`)
    if (i === 5) {
      process.kill(victim, 'SIGKILL')
      assert.deepEqual(await waitGone([victim]), [], 'the victim is gone')
    }
    if (respawned === undefined && i > 5) {
      const now = childPids(d.pid)
      respawned = now.find((p) => !before.includes(p))
    }
    if (respawned !== undefined) after++
  }
  assert.ok(respawned !== undefined, `a new worker appeared under ${d.pid}: ${childPids(d.pid)} (before: ${before})`)
  assert.deepEqual(answers.filter((a) => a !== '200 up'), [], 'every request was answered')
  assert.ok(await waitFor(() => childPids(d.pid).length === 2), `two workers again: ${childPids(d.pid)}`)
  const now = childPids(d.pid)
  assert.ok(!now.includes(victim))
  assert.ok(now.includes(respawned))
  assert.ok(alive(d.pid), 'the primary lives on')

  // The answers come from live workers only.
  for (let i = 0; i < 10; i++) {
    const r = await request(port, { path: '/pid' })
    assert.equal(r.status, 200)
    assert.ok(now.includes(Number(r.body)), `answered by ${r.body}, workers ${now}`)
  }
  assert.equal(await d.stop('SIGTERM'), 0)
  assert.deepEqual(await waitGone(now), [], 'workers exit with the primary')
})

test('workers outlive a primary killed with -9, as nginx\'s do, and keep answering', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(port, 'worker_processes 2;'))
  const d = await startDyups(t, prefix, [port])
  assert.ok(await waitFor(() => childPids(d.pid).length === 2))
  const workers = await reachWorkers(port, 2)
  assert.deepEqual(workers, childPids(d.pid))
  // Only the primary: its workers, orphaned, are this test's to end (by pid) once it is done.
  t.after(async () => {
    for (const w of workers.filter(alive)) process.kill(w, 'SIGKILL')
    await waitGone(workers)
  })
  await killPrimary(d)
  for (let i = 0; i < 10; i++) {
    const r = await request(port, { path: '/pid' })
    assert.equal(r.status, 200)
    assert.ok(workers.includes(Number(r.body)), `answered by ${r.body}, workers ${workers}`)
  }
  assert.deepEqual(workers.filter(alive), workers)
  for (const w of workers) process.kill(w, 'SIGQUIT')
  assert.deepEqual(await waitGone(workers), [], 'QUIT ends an orphaned worker')
  assert.ok(await waitFor(async () => !(await canConnect(port))), 'nothing listens any more')
})

test('master_process off: one process serves, -s stop ends it', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(port, 'master_process off;\nworker_processes 2;'))
  const d = await startDyups(t, prefix, [port])
  assert.deepEqual(childPids(d.pid), [], 'no worker processes')
  for (let i = 0; i < 5; i++) {
    const r = await request(port)
    assert.deepEqual([r.status, r.body], [200, 'up'])
  }
  const p = await request(port, { path: '/pid' })
  assert.deepEqual([p.status, p.body], [200, String(d.pid)], '$pid is the one process')
  const pidFile = join(prefix, 'logs/dyups.pid')
  assert.equal(pidFromFile(pidFile), d.pid)
  const s = await runBin(['-p', prefix, '-s', 'stop'])
  assert.deepEqual(s, { code: 0, stdout: '', stderr: '' })
  assert.deepEqual(await waitGone([d.pid]), [], 'stopped')
  assert.equal(await d.stop(), 0)
  assert.equal(pidFromFile(pidFile), null, 'the pid file is removed')
})

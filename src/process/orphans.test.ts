import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { findOrphans, removeWorkerPids, signalOrphans, workersPath, writeWorkerPids } from './orphans.js'

function dir(t: { after: (f: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'dyups-orphans-'))
  t.after(() => rmSync(d, { recursive: true, force: true }))
  return d
}

test('the list is written whole (no temporary file left) and removed only by the primary that wrote it', (t) => {
  const d = dir(t)
  const pid = join(d, 'dyups.pid')
  writeWorkerPids(pid, 100, [101, 102])
  assert.equal(readFileSync(workersPath(pid), 'latin1'), 'primary 100\nworker 101\nworker 102\n')
  assert.deepEqual(readdirSync(d), ['dyups.pid.workers'])
  removeWorkerPids(pid, 999)
  assert.ok(existsSync(workersPath(pid)), 'another primary leaves it')
  removeWorkerPids(pid, 100)
  assert.ok(!existsSync(workersPath(pid)))
})

test('no list, a garbled list, or pids that are no dyups worker of this pid file: no orphans, nothing signalled', async (t) => {
  const d = dir(t)
  const pid = join(d, 'dyups.pid')
  assert.deepEqual(findOrphans(pid), { primary: 0, pids: [] })
  const mark = { DYUPS_WORKER: '1', DYUPS_PID_PATH: join(d, 'other.pid') }
  const stranger = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', env: { ...process.env, ...mark } })
  t.after(() => stranger.kill('SIGKILL'))
  await new Promise((r) => stranger.once('spawn', r))
  writeFileSync(workersPath(pid), `primary 1\nworker ${stranger.pid}\nworker ${process.pid}\nworker 1\nworker x\ngarbage\n`)
  // `primary 1` is no primary (init): dropped as a pid of 1 or less is.
  assert.deepEqual(findOrphans(pid), { primary: 0, pids: [] })
  assert.deepEqual(signalOrphans(pid, { primary: 1, pids: [stranger.pid!, process.pid] }, 'SIGTERM'), [])
  assert.equal(stranger.exitCode, null)
})

test('a process marked as a worker of this pid file, reparented since its listed primary died, is an orphan, and is signalled', { skip: !existsSync('/proc/self/environ') }, async (t) => {
  const d = dir(t)
  const pid = join(d, 'dyups.pid')
  // A shell stands for the primary: it starts the "worker" in the background and exits, which reparents it.
  const sh = spawn('sh', ['-c', `"${process.execPath}" -e "setInterval(() => {}, 1000)" >/dev/null 2>&1 & echo $!`], {
    stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, DYUPS_WORKER: '1', DYUPS_PID_PATH: pid },
  })
  let out = ''
  sh.stdout.on('data', (b: Buffer) => (out += b.toString()))
  await new Promise((r) => sh.on('close', r))
  const worker = Number(out.trim())
  assert.ok(worker > 0, out)
  t.after(() => {
    try {
      process.kill(worker, 'SIGKILL')
    } catch {
      // Signalled by the test already.
    }
  })
  writeWorkerPids(pid, sh.pid!, [worker])
  assert.deepEqual(findOrphans(pid), { primary: sh.pid!, pids: [worker] })
  assert.deepEqual(signalOrphans(pid, { primary: sh.pid!, pids: [worker] }, 'SIGTERM'), [worker])
  const gone = async (): Promise<boolean> => {
    for (let i = 0; i < 500; i++) {
      try {
        if (readFileSync(`/proc/${worker}/stat`, 'latin1').split(') ')[1]!.startsWith('Z')) return true
      } catch {
        return true
      }
      await new Promise((r) => setTimeout(r, 10))
    }
    return false
  }
  assert.ok(await gone(), 'TERM ended it')
})

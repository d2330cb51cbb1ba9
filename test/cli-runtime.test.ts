/**
 * Which Node runs dyups (bin/runtime.js) and the launcher that hands over to it: DYUPS_NODE, the loop guard, signals
 * passed on, the exit status and the fatal signal passed back. The suite itself runs on Node 24 (npm test starts it
 * through bin/node24.js), so the hand-over is exercised with DYUPS_NODE naming a shim that execs this Node.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { BIN, ROOT, sleep } from './helpers.js'

const RUNTIME = join(ROOT, 'bin/runtime.js')
const NODE24 = join(ROOT, 'bin/node24.js')
const PKG_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'latin1')) as { version: string }).version

interface Done { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** This process's environment without the launcher's mark (npm test's runner carries it) and with `extra`. */
function envWith(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra }
  delete env.DYUPS_LAUNCHED
  if (!('DYUPS_NODE' in extra)) delete env.DYUPS_NODE
  return env
}

function run(args: string[], env: NodeJS.ProcessEnv, onStdout?: (all: string, pid: number) => void): Promise<Done> {
  return new Promise((res) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = '', stderr = ''
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString()
      onStdout?.(stdout, child.pid!)
    })
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      res({ code, signal, stdout, stderr })
    })
  })
}

/** A temp directory with `node-shim`, a shell script that notes each start in `starts` and execs this Node. */
function shim(t: TestContext): { dir: string, path: string, starts: () => number } {
  const dir = mkdtempSync(join(tmpdir(), 'dyups-runtime-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'node-shim')
  writeFileSync(path, `#!/bin/sh\necho x >> '${dir}/starts'\nexec '${process.execPath}' "$@"\n`)
  chmodSync(path, 0o755)
  const starts = (): number => {
    try {
      return readFileSync(join(dir, 'starts'), 'latin1').split('\n').filter(Boolean).length
    } catch {
      return 0
    }
  }
  return { dir, path, starts }
}

test('node bin/runtime.js names a Node 24 or newer', async () => {
  const r = await run([RUNTIME], envWith())
  assert.equal(r.code, 0, r.stderr)
  const node = r.stdout.trim()
  const v = execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'latin1' })
  assert.ok(Number(v.split('.')[0]) >= 24, `${node} is ${v}`)
})

test('DYUPS_NODE naming no file: one error line, exit 1', async () => {
  const r = await run([BIN, '-v'], envWith({ DYUPS_NODE: '/nonexistent/node' }))
  assert.deepEqual(r, { code: 1, signal: null, stdout: '', stderr: 'dyups: [emerg] DYUPS_NODE=/nonexistent/node: no such file\n' })
})

test('DYUPS_NODE: dyups runs under that Node, started once (the child does not launch again)', async (t) => {
  const s = shim(t)
  const r = await run([BIN, '-V'], envWith({ DYUPS_NODE: s.path }))
  assert.equal(r.code, 0, r.stderr)
  assert.ok(r.stderr.startsWith(`dyups version: dyups/${PKG_VERSION}\nbuilt with Node.js ${process.version}\n`), r.stderr)
  assert.equal(s.starts(), 1)
  // A link to the running Node is the running Node: no hand-over.
  const link = join(s.dir, 'node-link')
  symlinkSync(process.execPath, link)
  const same = await run([RUNTIME], envWith({ DYUPS_NODE: link }))
  assert.equal(same.stdout, `${process.execPath}\n`)
})

test('the launcher passes signals on and ends with the child\'s status', async (t) => {
  const s = shim(t)
  const child = `
    const want = ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGQUIT']
    const got = []
    for (const sig of want) process.on(sig, () => {
      got.push(sig)
      console.log('got ' + sig)
      if (got.length === want.length) process.exit(7)
    })
    console.log('ready ' + process.pid)
    setInterval(() => {}, 1000)`
  let sent = false
  const r = await run([NODE24, '-e', child], envWith({ DYUPS_NODE: s.path }), (out, pid) => {
    const m = /^ready (\d+)$/m.exec(out)
    if (m === null || sent) return
    sent = true
    assert.notEqual(Number(m[1]), pid, 'the code runs in a child of the launcher')
    void (async () => {
      for (const sig of ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGQUIT'] as const) {
        process.kill(pid, sig)
        await sleep(100)
      }
    })()
  })
  assert.equal(r.code, 7, r.stderr)
  assert.match(r.stdout, /got SIGHUP\ngot SIGUSR1\ngot SIGUSR2\ngot SIGWINCH\ngot SIGQUIT\n/)
})

test('the launcher dies of the signal that killed the child, and passes TERM on', async (t) => {
  const s = shim(t)
  const self = await run([NODE24, '-e', 'process.kill(process.pid, "SIGTERM")'], envWith({ DYUPS_NODE: s.path }))
  assert.deepEqual([self.code, self.signal], [null, 'SIGTERM'])
  let sent = false
  const r = await run([NODE24, '-e', 'console.log("ready"); setInterval(() => {}, 1000)'], envWith({ DYUPS_NODE: s.path }), (out, pid) => {
    if (!sent && out.includes('ready')) {
      sent = true
      process.kill(pid, 'SIGTERM')
    }
  })
  assert.deepEqual([r.code, r.signal], [null, 'SIGTERM'])
})

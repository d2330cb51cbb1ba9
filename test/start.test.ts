/**
 * `npm start` (scripts/example.js) leaves the checkout as it was: it runs the example on a copy in example/run/, made
 * anew on each start unless --keep, and prints the listeners, logs and persistence file before serving. Run here in a
 * temporary tree shaped like the checkout (the script, and links to bin/, dist/ and node_modules/), with the
 * example's ports rewritten to free ones.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { ROOT, alive, canConnect, freePorts, idelete, iget, ipost, killTree, pidFromFile, runBinIn, sleep, waitGone } from './helpers.js'

/** Every file under `dir` with its text, by relative path. */
function snapshot(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {}
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const p = rel === '' ? e.name : `${rel}/${e.name}`
    if (e.isDirectory()) Object.assign(out, snapshot(dir, p))
    else out[p] = readFileSync(join(dir, p), 'latin1')
  }
  return out
}

interface Started {
  pid: number
  stdout: () => string
  stderr: () => string
  exit: Promise<number | null>
}

async function start(t: TestContext, root: string, args: string[], ports: number[]): Promise<Started> {
  const child = spawn(process.execPath, [join(root, 'scripts/example.js'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = '', err = ''
  child.stdout.on('data', (b: Buffer) => (out += b.toString('latin1')))
  child.stderr.on('data', (b: Buffer) => (err += b.toString('latin1')))
  let code: number | null | undefined
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r((code = c))))
  t.after(() => {
    if (code === undefined) killTree(child.pid!)
  })
  const deadline = Date.now() + 20_000
  for (const p of ports) {
    while (!(await canConnect(p))) {
      if (code !== undefined) throw new Error(`npm start exited with ${code}: ${err}`)
      if (Date.now() > deadline) throw new Error(`npm start did not listen on ${p}: ${out}${err}`)
      await sleep(30)
    }
  }
  return { pid: child.pid!, stdout: () => out, stderr: () => err, exit }
}

/** The documented graceful stop: `node bin/dyups.js -p example/run -s quit`. */
async function quit(root: string, s: Started): Promise<void> {
  assert.deepEqual(await runBinIn(root, ['-p', 'example/run', '-s', 'quit']), { code: 0, stdout: '', stderr: '' })
  assert.equal(await s.exit, 0)
}

test('npm start: a copy in example/run/, its listeners printed first, --keep, and example/ never written', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'dyups-start-'))
  t.after(() => {
    try {
      rmSync(root, { recursive: true, force: true, maxRetries: 5 })
    } catch {
      // Left in the system's temp dir.
    }
  })
  mkdirSync(join(root, 'scripts'))
  cpSync(join(ROOT, 'scripts/example.js'), join(root, 'scripts/example.js'))
  for (const d of ['bin', 'dist', 'node_modules']) symlinkSync(join(ROOT, d), join(root, d))
  cpSync(join(ROOT, 'example'), join(root, 'example'), { recursive: true })
  rmSync(join(root, 'example/run'), { recursive: true, force: true })
  const [proxy, iface, e1, e2] = (await freePorts(4)) as [number, number, number, number]
  const map: Record<string, number> = { 8080: proxy, 8081: iface, 8088: e1, 8089: e2 }
  for (const f of ['conf/nginx.conf', 'conf/upstream.conf']) {
    const p = join(root, 'example', f)
    writeFileSync(p, readFileSync(p, 'latin1').replace(/\b(8080|8081|8088|8089)\b/g, (m) => String(map[m])), 'latin1')
  }
  const pristine = snapshot(join(root, 'example'))
  const ports = [proxy, iface, e1, e2]

  // A fresh start: the lines come before dyups serves, in the order of the configuration's listeners.
  const first = await start(t, root, [], ports)
  const lines = first.stdout().split('\n')
  assert.match(lines[0]!, /^dyups example: running a fresh copy of example\/ in example\/run\/ /)
  assert.deepEqual(lines.filter((l) => l.startsWith('listening on ')), [
    `listening on 127.0.0.1:${proxy} (bound to 0.0.0.0:${proxy}: every IPv4 address): location / proxy_pass http://$host`,
    `listening on 127.0.0.1:${e1} (bound to 0.0.0.0:${e1}: every IPv4 address): location / echo ${e1}`,
    `listening on 127.0.0.1:${e2} (bound to 0.0.0.0:${e2}: every IPv4 address): location / echo ${e2}`,
    `listening on 127.0.0.1:${iface} (bound to 0.0.0.0:${iface}: every IPv4 address): location / dyups_interface (the REST interface)`,
  ])
  assert.ok(lines.includes('error log: example/run/logs/error.log (debug); access log: example/run/logs/access.log'), first.stdout())
  assert.ok(lines.includes('persistence: example/run/conf/upstream.conf (journal example/run/conf/upstream.conf.journal)'), first.stdout())
  assert.match(first.stderr(), /\[warn\] the dyups interface is reachable from any address/)

  assert.equal((await ipost(iface, '/upstream/dyhost', `server 127.0.0.1:${e1};`)).body, 'success')
  // A second start while this one runs is refused, and touches nothing.
  const second = spawn(process.execPath, [join(root, 'scripts/example.js')], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] })
  let secondErr = ''
  second.stderr.on('data', (b: Buffer) => (secondErr += b.toString('latin1')))
  assert.equal(await new Promise((r) => second.on('exit', r)), 1)
  assert.match(secondErr, /^npm start: a dyups already runs on example\/run \(pid \d+\)/)
  await quit(root, first)
  assert.match(readFileSync(join(root, 'example/run/conf/upstream.conf'), 'latin1'), /upstream dyhost \{/)
  assert.ok(existsSync(join(root, 'example/run/logs/error.log')))

  // --keep: the group made last time is there.
  const kept = await start(t, root, ['--keep'], ports)
  assert.match(kept.stdout(), /^dyups example: running example\/run\/ as the last session left it/)
  assert.equal((await iget(iface, '/list')).body, 'host1\nhost2\ndyhost\n')
  assert.equal((await idelete(iface, '/upstream/host2')).body, 'success')
  await quit(root, kept)

  // A plain start begins again from example/.
  const fresh = await start(t, root, [], ports)
  assert.equal((await iget(iface, '/list')).body, 'host1\nhost2\n')
  await quit(root, fresh)
  assert.deepEqual(await waitGone([fresh.pid]), [])
  assert.equal(pidFromFile(join(root, 'example/run/logs/dyups.pid')), null)
  assert.ok(!alive(fresh.pid))

  // The example itself is as it was: only example/run/ changed.
  const after = snapshot(join(root, 'example'))
  assert.deepEqual(Object.fromEntries(Object.entries(after).filter(([p]) => !p.startsWith('run/'))), pristine)
})

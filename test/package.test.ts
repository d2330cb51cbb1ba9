/**
 * dyups as its users get it: `npm pack` of this checkout (its packed file list: what runs and the docs, no test,
 * bench or runtime state), the tarball installed globally into a temporary prefix (`dyups -v`, `dyups -t` on a
 * copy of the packaged example), and contrib/dyups.service pointed at that install: `systemd-analyze verify`, then
 * its ExecStartPre, ExecStart, ExecReload and KillSignal played against contrib/nginx.conf in a temporary layout,
 * as systemd would run them for Type=forking.
 *
 * The pack uses --ignore-scripts: `npm test` has just built dist/, and prepack's clean + build would remove dist/
 * under the other test files running at the same time. The install may use the npm registry for the packaged
 * Node and wasmoon; `npm ci` (in .ci/run) has put both in npm's cache, and --prefer-offline takes them from there.
 * systemd-analyze comes with Debian's `systemd` package, which .ci/run installs: without it this test fails.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { ROOT, alive, backend, canConnect, freePorts, killTree, request, sleep, waitFor, waitGone } from './helpers.js'

interface Ran {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * The environment of a user's shell: no npm_* variables of the `npm test` that may run this, and no
 * node_modules/.bin on PATH (whose `node` is this checkout's Node 24), so `dyups` starts as a user's would.
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD' && k !== 'NODE') env[k] = v
  env['PATH'] = (process.env['PATH'] ?? '').split(delimiter).filter((p) => !p.includes('node_modules')).join(delimiter)
  delete env['DYUPS_NODE']
  delete env['DYUPS_LAUNCHED']
  return env
}

function run(cmd: string, args: string[], opts: { cwd?: string; ms?: number } = {}): Promise<Ran> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = '', stderr = ''
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')))
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')))
    const ms = opts.ms ?? 60_000
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      rej(new Error(`${cmd} ${args.join(' ')} did not finish in ${ms} ms; stderr: ${stderr}`))
    }, ms)
    child.on('error', (e) => {
      clearTimeout(timer)
      rej(e)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      res({ code, stdout, stderr })
    })
  })
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'dyups-package-'))
  t.after(() => {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 })
    } catch {
      // Left in the system's temp dir.
    }
  })
  return dir
}

/** The words of a unit's command line: systemd's quoting, as far as the unit uses it ('…' and plain words). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!)
}

/** Values of `KEY=` lines of a unit file, in order. */
function unitValues(unit: string, key: string): string[] {
  return unit.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1))
}

test('npm pack ships what runs and the docs; a global install runs; contrib/dyups.service verifies and works', { timeout: 280_000 }, async (t) => {
  const tmp = tempDir(t)

  // --- npm pack: the file list.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: ROOT, ms: 120_000 })
  assert.equal(packed.code, 0, packed.stderr)
  const info = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
  const files = info[0]!.files.map((f) => f.path).sort()
  const unwanted = files.filter((f) =>
    /(^|\/)(test|bench)\//.test(f) || /\.test\.js$/.test(f) || /\.map$/.test(f) || /(^|\/)(testing|fixtures|crash-child|parse-bench)\.js$/.test(f) ||
    /\.(log|pid|journal|journal\.old|tgz)$/.test(f) || f.startsWith('example/run/') || f.includes('client_body_temp') ||
    f.startsWith('src/') || f.startsWith('scripts/') || f.includes('node_modules/'))
  assert.deepEqual(unwanted, [], 'no test, bench, source or runtime-state file is packed')
  for (const f of ['LICENSE', 'README.md', 'package.json', 'bin/dyups.js', 'bin/runtime.js', 'dist/src/cli.js',
    'dist/src/process/worker-main.js', 'example/conf/nginx.conf', 'example/conf/upstream.conf', 'contrib/dyups.service',
    'contrib/nginx.conf', 'docs/operations.md', 'docs/api.md']) {
    assert.ok(files.includes(f), `${f} is packed`)
  }
  assert.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /^BSD 2-Clause License\n\nCopyright \(c\) 2026, the dyups authors\n/)

  // --- npm install -g of the tarball into a temporary prefix.
  const prefix = join(tmp, 'prefix')
  const tarball = join(tmp, info[0]!.filename)
  const installed = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: tmp, ms: 240_000 })
  assert.equal(installed.code, 0, installed.stderr)
  // No install script: npm has nothing of dyups' to warn about (EBADENGINE under a system node older than 24 is
  // expected, see the README). Two dependencies' are known, and listed by newer npm among scripts not covered by
  // allowScripts: the optional shared-memory addon of the limit zones (built only when allowed; without it zones are
  // kept per worker: docs/design.md), and protobufjs (under etcd3's gRPC, for dyups_cluster), whose postinstall only
  // checks the version scheme its dependents ask for. Any other package named there fails the test.
  const scripted = [...installed.stderr.matchAll(/^npm warn install-scripts {3}(\S+)@/gm)].map((m) => m[1])
  assert.deepEqual(scripted.filter((p) => p !== 'protobufjs' && p !== 'shm-typed-array'), [], installed.stderr)
  const warnings = installed.stderr.split('\n').filter((l) => /warn/i.test(l) && !/EBADENGINE/.test(l) && !/^npm warn install-scripts\b/.test(l))
  assert.deepEqual(warnings, [], installed.stderr)
  const bin = join(prefix, 'bin/dyups')
  const home = join(prefix, 'lib/node_modules/dyups')
  assert.ok(existsSync(bin), 'the dyups command is installed')

  const version = await run(bin, ['-v'], { cwd: tmp })
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  assert.deepEqual(version, { code: 0, stdout: '', stderr: `dyups version: dyups/${pkg.version}\n` })

  const example = join(tmp, 'example')
  cpSync(join(home, 'example'), example, { recursive: true })
  const checked = await run(bin, ['-t', '-p', example, '-c', 'conf/nginx.conf'], { cwd: tmp })
  const conf = join(example, 'conf/nginx.conf')
  assert.equal(checked.code, 0, checked.stderr)
  assert.ok(checked.stderr.endsWith(`dyups: the configuration file ${conf} syntax is ok\ndyups: configuration file ${conf} test is successful\n`), checked.stderr)

  // --- contrib/dyups.service against this install.
  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' })
  assert.ok(analyze.error === undefined && analyze.status === 0,
    'systemd-analyze is needed (Debian: apt-get install systemd; .ci/run installs it)')
  const unitText = readFileSync(join(ROOT, 'contrib/dyups.service'), 'utf8')
  assert.ok(unitText.includes('/usr/local/bin/dyups '), 'the unit runs /usr/local/bin/dyups')
  const unitDir = join(tmp, 'unit')
  mkdirSync(unitDir)
  const unitFile = join(unitDir, 'dyups.service')
  writeFileSync(unitFile, unitText.replaceAll('/usr/local/bin/dyups', bin).replaceAll('/usr/local/lib/node_modules/dyups', home))
  const verified = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8', cwd: unitDir, timeout: 60_000 })
  assert.equal(verified.status, 0, verified.stderr)
  // verify exits 0 on lines it ignores ("Failed to parse …, ignoring"): it must say nothing at all.
  assert.equal(`${verified.stdout}${verified.stderr}`, '')

  assert.deepEqual(unitValues(unitText, 'Type'), ['forking'])
  assert.deepEqual(unitValues(unitText, 'KillSignal'), ['SIGQUIT'])
  assert.deepEqual(unitValues(unitText, 'KillMode'), ['mixed'])
  const pidFile = unitValues(unitText, 'PIDFile')[0]!
  const [pre, start, reload] = ['ExecStartPre', 'ExecStart', 'ExecReload'].map((k) => {
    const v = unitValues(unitText, k)
    assert.equal(v.length, 1, k)
    return words(v[0]!)
  }) as [string[], string[], string[]]
  assert.deepEqual(pre.slice(0, 3), ['/usr/local/bin/dyups', '-t', '-q'])
  assert.deepEqual(reload.slice(0, 3), ['/usr/local/bin/dyups', '-s', 'reload'])
  // The three commands name the same prefix, configuration and -g, and -g names the PIDFile.
  assert.deepEqual(pre.slice(3), start.slice(1))
  assert.deepEqual(reload.slice(3), start.slice(1))
  assert.ok(start.at(-1)!.includes(`pid ${pidFile};`), start.at(-1))

  // The unit's command lines in a temporary layout: /etc/dyups, /var/lib/dyups, /var/log/dyups, /run/dyups
  // (systemd's ConfigurationDirectory, StateDirectory, LogsDirectory, RuntimeDirectory) under tmp.
  const layout = join(tmp, 'root')
  const place = (text: string): string =>
    text.replaceAll('/usr/local/bin/dyups', bin).replace(/\/(etc|var\/lib|var\/log|run)\/dyups\b/g, (m) => `${layout}${m}`)
  for (const d of ['etc/dyups', 'var/lib/dyups', 'var/log/dyups', 'run/dyups']) mkdirSync(join(layout, d), { recursive: true })
  const [proxyPort, ifacePort] = (await freePorts(2)) as [number, number]
  const productionConf = readFileSync(join(ROOT, 'contrib/nginx.conf'), 'utf8')
  assert.match(productionConf, /listen 127\.0\.0\.1:8081;\n\s+location \/ \{\n\s+allow 127\.0\.0\.1;\n\s+allow ::1;\n\s+deny all;\n\s+dyups_interface;/)
  writeFileSync(join(layout, 'etc/dyups/nginx.conf'), place(productionConf)
    .replace('listen 80;', `listen 127.0.0.1:${proxyPort};`).replace('listen 127.0.0.1:8081;', `listen 127.0.0.1:${ifacePort};`)
    .replace('worker_processes auto;', 'worker_processes 2;'))
  writeFileSync(join(layout, 'var/lib/dyups/upstream.conf'), '')
  const command = (w: string[]): [string, string[]] => {
    const placed = w.map(place)
    return [placed[0]!, placed.slice(1)]
  }
  const daemonPid = (): number | null => {
    try {
      return Number(readFileSync(place(pidFile), 'latin1').trim()) || null
    } catch {
      return null
    }
  }
  t.after(() => {
    // Only the daemon this test started, named by its pid file.
    const pid = daemonPid()
    if (pid !== null && alive(pid)) killTree(pid)
  })

  // ExecStartPre: -t -q says nothing on success.
  assert.deepEqual(await run(...command(pre), { cwd: tmp }), { code: 0, stdout: '', stderr: '' })
  // ExecStart: returns once dyups serves, leaving the primary named by PIDFile. The interface is loopback-only
  // and guarded, so no warning.
  assert.deepEqual(await run(...command(start), { cwd: tmp }), { code: 0, stdout: '', stderr: '' })
  const pid = daemonPid()
  assert.ok(pid !== null && alive(pid), 'the pid file names the running primary')
  assert.ok(await canConnect(proxyPort) && await canConnect(ifacePort), 'the proxy and the interface listen')

  const back = await backend(t, 'backend-a')
  const post = await request(ifacePort, { method: 'POST', path: '/upstream/app.test', body: `server 127.0.0.1:${back.port};` })
  assert.deepEqual([post.status, post.body], [200, 'success'])
  const viaProxy = await request(proxyPort, { host: 'app.test' })
  assert.deepEqual([viaProxy.status, viaProxy.body], [200, 'backend-a'])

  // ExecReload: HUP through the pid file; the primary stays, the table stays.
  assert.deepEqual(await run(...command(reload), { cwd: tmp }), { code: 0, stdout: '', stderr: '' })
  assert.ok(await waitFor(() => readFileSync(join(layout, 'var/log/dyups/error.log'), 'latin1').includes('reconfiguring')), 'the reload is logged')
  await sleep(200)
  assert.equal(daemonPid(), pid)
  assert.deepEqual((await request(proxyPort, { host: 'app.test' })).body, 'backend-a')

  // systemctl stop: KillSignal=SIGQUIT to the main process; a graceful stop removes the pid file and leaves the
  // group in the persistence file for the next start.
  process.kill(pid, 'SIGQUIT')
  assert.deepEqual(await waitGone([pid], 35_000), [])
  assert.equal(existsSync(place(pidFile)), false)
  assert.match(readFileSync(join(layout, 'var/lib/dyups/upstream.conf'), 'utf8'), new RegExp(`upstream app\\.test \\{ # dyups: next_id=1\\n\\s+server 127\\.0\\.0\\.1:${back.port}; # dyups: id=0\\n`))
})

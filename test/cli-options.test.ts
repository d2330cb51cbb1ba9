/**
 * The command line as nginx's (README, "Command line"): -v/-V, unknown options, -t/-T/-q, -g, and how -p/-c resolve, including the
 * prefix fallback for the example's `include conf/upstream.conf;`.
 */
import assert from 'node:assert/strict'
import { cpSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { test } from 'node:test'
import { ROOT, childPids, type Run, freePorts, request, runBin, runBinIn, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'

const PKG_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'latin1')) as { version: string }).version

const okLines = (conf: string): string =>
  `dyups: the configuration file ${conf} syntax is ok\ndyups: configuration file ${conf} test is successful\n`

/**
 * A successful -t: exit 0, nothing on stdout, the two success lines last. dyups may precede them with `[notice]`
 * lines saying where each include resolved (nginx prints none); those are returned for the caller to check.
 */
function assertOk(r: Run, conf: string): string[] {
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, '')
  assert.ok(r.stderr.endsWith(okLines(conf)), r.stderr)
  const notices = r.stderr.slice(0, r.stderr.length - okLines(conf).length).split('\n').filter((l) => l !== '')
  for (const n of notices) assert.match(n, /^dyups: \[notice\] /, r.stderr)
  return notices
}

test('-v and -V print the version on stderr, nginx-style, and exit 0', async () => {
  const [v, V] = await Promise.all([runBin(['-v']), runBin(['-V'])])
  assert.deepEqual(v, { code: 0, stdout: '', stderr: `dyups version: dyups/${PKG_VERSION}\n` })
  assert.equal(V.code, 0)
  assert.equal(V.stdout, '')
  const lines = V.stderr.split('\n')
  assert.equal(lines[0], `dyups version: dyups/${PKG_VERSION}`)
  assert.ok(lines.length > 2, `-V prints more than the version: ${JSON.stringify(V.stderr)}`)
  assert.ok(lines.some((l) => l.startsWith('configure arguments:')), V.stderr)
})

test('unknown options and missing values: nginx message on stderr, exit 1', async () => {
  const cases: [string[], string][] = [
    [['-x'], 'dyups: invalid option: "x"'],
    [['-tx'], 'dyups: invalid option: "x"'],
    [['foo'], 'dyups: invalid option: "foo"'],
    [['-s', 'bogus'], 'dyups: invalid option: "-s bogus"'],
    [['-p'], 'dyups: option "-p" requires directory name'],
    [['-c'], 'dyups: option "-c" requires file name'],
    [['-g'], 'dyups: option "-g" requires parameters'],
  ]
  const runs = await Promise.all(cases.map(([args]) => runBin(args)))
  for (const [i, [args, first]] of cases.entries()) {
    assert.equal(runs[i]!.code, 1, args.join(' '))
    assert.equal(runs[i]!.stderr.split('\n')[0], first, args.join(' '))
  }
})

test('-t on a copy of example/: the include notice, the open-interface warning and the two success lines', async (t) => {
  const prefix = tempPrefix(t)
  cpSync(join(ROOT, 'example'), prefix, { recursive: true })
  const conf = join(prefix, 'conf/nginx.conf')
  const r = await runBin(['-p', prefix, '-c', 'conf/nginx.conf', '-t'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, '')
  const lines = r.stderr.split('\n')
  // conf/conf/upstream.conf does not exist, so the include falls back to the prefix; -t names the file it used.
  const notice = lines.find((l) => l.startsWith('dyups: [notice] '))
  assert.ok(notice, `a notice names the resolved include: ${r.stderr}`)
  assert.ok(notice.includes(join(prefix, 'conf/upstream.conf')), notice)
  assert.ok(notice.includes(join(prefix, 'conf/conf/upstream.conf')), notice)
  // The example's interface listens on every address and has no allow/deny: -t says so, naming its location.
  const warn = lines.filter((l) => l.startsWith('dyups: [warn] '))
  assert.equal(warn.length, 1, r.stderr)
  assert.match(warn[0]!, / reachable from any address on 0\.0\.0\.0:8081 and no "allow" or "deny" rule guards it/)
  assert.ok(warn[0]!.endsWith(` in ${conf}:37`), warn[0])
  assert.ok(r.stderr.endsWith(okLines(conf)), r.stderr)
  assert.equal(r.stderr.split('\n').filter((l) => l !== '').length, 4, r.stderr)
})

test('-t resolves include against the configuration directory first', async (t) => {
  const prefix = tempPrefix(t)
  const conf = writeConf(prefix, 'conf/nginx.conf', 'events {}\nhttp {\n    include conf/upstream.conf;\n}\n')
  writeConf(prefix, 'conf/conf/upstream.conf', 'upstream near { server 127.0.0.1:1; }\n')
  writeConf(prefix, 'conf/upstream.conf', 'upstream far { server 127.0.0.1:2; }\n')
  const notices = assertOk(await runBin(['-p', prefix, '-t']), conf)
  for (const n of notices) assert.ok(!n.includes(`to ${join(prefix, 'conf/upstream.conf')}`), n)
  const T = await runBin(['-p', prefix, '-T'])
  assert.ok(T.stdout.includes(`# configuration file ${join(prefix, 'conf/conf/upstream.conf')}:\n`), T.stdout)
  assert.ok(!T.stdout.includes(`# configuration file ${join(prefix, 'conf/upstream.conf')}:\n`), T.stdout)
})

test('-T dumps every file read, in reading order, as nginx -T', async (t) => {
  const prefix = tempPrefix(t)
  const main = 'events {}\nhttp {\n    include groups/*.conf;\n    include extra.conf;\n}\n'
  const a = 'upstream a { server 127.0.0.1:1; }\n'
  const b = '# b\nupstream b { server 127.0.0.1:2; }'
  const extra = 'access_log off;\n'
  const conf = writeConf(prefix, 'conf/nginx.conf', main)
  const pa = writeConf(prefix, 'conf/groups/a.conf', a)
  const pb = writeConf(prefix, 'conf/groups/b.conf', b)
  const pe = writeConf(prefix, 'conf/extra.conf', extra)
  const r = await runBin(['-p', prefix, '-T'])
  assertOk({ ...r, stdout: '' }, conf)
  const section = (p: string, text: string): string => `# configuration file ${p}:\n${text}\n`
  assert.equal(r.stdout, section(conf, main) + section(pa, a) + section(pb, b) + section(pe, extra))
})

test('-q silences the success lines, not the errors', async (t) => {
  const prefix = tempPrefix(t)
  cpSync(join(ROOT, 'example'), prefix, { recursive: true })
  const bad = tempPrefix(t)
  const conf = writeConf(bad, 'conf/nginx.conf', 'events {}\nbogus_directive on;\n')
  const [q, tq, r] = await Promise.all([runBin(['-p', prefix, '-t', '-q']), runBin(['-p', prefix, '-tq']), runBin(['-p', bad, '-t', '-q'])])
  assert.deepEqual(q, { code: 0, stdout: '', stderr: '' })
  assert.deepEqual(tq, { code: 0, stdout: '', stderr: '' })
  assert.equal(r.code, 1)
  assert.equal(r.stderr, `dyups: [emerg] unknown directive "bogus_directive" in ${conf}:2\ndyups: configuration file ${conf} test failed\n`)
})

test('-g adds main-context directives; a directive also in the file is a duplicate, as in nginx', async (t) => {
  const prefix = tempPrefix(t)
  const [port] = await freePorts(1)
  const conf = writeConf(prefix, 'conf/nginx.conf', `error_log logs/error.log;
events {}
http {
    access_log off;
    server { listen 127.0.0.1:${port}; location / { return 200 "g"; } }
}
`)
  assertOk(await runBin(['-p', prefix, '-t', '-g', 'daemon off; worker_processes 2;']), conf)

  const d = await startDyups(t, prefix, [port!], ['-g', 'daemon off; worker_processes 2;'])
  assert.ok(await waitFor(() => childPids(d.pid).length === 2), `two workers under ${d.pid}: ${childPids(d.pid)}`)
  const r = await request(port!)
  assert.deepEqual([r.status, r.body], [200, 'g'])
  assert.equal(await d.stop('SIGTERM'), 0)

  const dup = tempPrefix(t)
  const dconf = writeConf(dup, 'conf/nginx.conf', 'daemon off;\nevents {}\n')
  const [e, start, bad] = await Promise.all([
    runBin(['-p', dup, '-t', '-g', 'daemon off;']),
    runBin(['-p', dup, '-g', 'daemon off;']),
    runBin(['-p', dup, '-t', '-g', 'worker_processes']),
  ])
  assert.equal(e.code, 1)
  const first = e.stderr.split('\n')[0]!
  assert.match(first, /^dyups: \[emerg\] "daemon" directive is duplicate in /, e.stderr)
  assert.ok(e.stderr.endsWith(`dyups: configuration file ${dconf} test failed\n`), e.stderr)
  // Without -t the start fails the same way, before anything listens.
  assert.equal(start.code, 1)
  assert.equal(start.stderr.split('\n')[0], first)
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /^dyups: \[emerg\] /, bad.stderr)
})

test('-p resolves against the working directory, -c against the prefix; an absolute -c stands alone', async (t) => {
  const prefix = tempPrefix(t)
  const parent = dirname(prefix), name = basename(prefix)
  const conf = writeConf(prefix, 'conf/other.conf', 'events {}\nhttp {\n    include inc/u.conf;\n}\n')
  writeConf(prefix, 'conf/inc/u.conf', 'upstream u { server 127.0.0.1:1; }\n')
  writeConf(prefix, 'conf/nginx.conf', 'events {}\n')

  const elsewhere = tempPrefix(t)
  const [rel, attached, noP, neither, absC, r] = await Promise.all([
    // Relative prefix, relative -c.
    runBinIn(parent, ['-p', name, '-c', 'conf/other.conf', '-t']),
    // Attached values, as nginx allows.
    runBinIn(parent, [`-p${name}`, '-cconf/other.conf', '-t']),
    // No -p: the working directory is the prefix; no -c: conf/nginx.conf.
    runBinIn(prefix, ['-c', 'conf/other.conf', '-t']),
    runBinIn(prefix, ['-t']),
    // Absolute -c with an unrelated prefix: includes still resolve against the file's directory.
    runBinIn(parent, ['-p', elsewhere, '-c', conf, '-t']),
    // A -c that does not exist is named by its absolute path.
    runBinIn(parent, ['-p', name, '-c', 'conf/missing.conf', '-t']),
  ])
  assertOk(rel!, conf)
  assertOk(attached!, conf)
  assertOk(noP!, conf)
  assertOk(neither!, join(prefix, 'conf/nginx.conf'))
  assertOk(absC!, conf)
  const missing = join(prefix, 'conf/missing.conf')
  assert.equal(r.code, 1)
  assert.equal(r.stderr, `dyups: [emerg] open() "${missing}" failed (2: No such file or directory)\ndyups: configuration file ${missing} test failed\n`)
})

test('user: accepted; dyups warns that it does not switch users, in -t and at start', async (t) => {
  const prefix = tempPrefix(t)
  const [port] = (await freePorts(1)) as [number]
  const conf = writeConf(prefix, 'conf/nginx.conf', `user www-data;\ndaemon off;\nworker_processes 1;\nerror_log logs/error.log;\nevents {}\nhttp {\n    access_log off;\n    server { listen 127.0.0.1:${port}; }\n}\n`)
  const warn = process.getuid?.() === 0
    ? `the "user" directive is not applied by dyups, worker processes run as root in ${conf}:1`
    : `the "user" directive makes sense only if the master process runs with super-user privileges, ignored in ${conf}:1`
  const r = await runBin(['-t', '-p', prefix, '-c', 'conf/nginx.conf'])
  assert.equal(r.code, 0, r.stderr)
  assert.ok(r.stderr.includes(`dyups: [warn] ${warn}\n`), r.stderr)
  assert.equal((await runBin(['-t', '-q', '-p', prefix, '-c', 'conf/nginx.conf'])).stderr, '', '-q keeps warnings quiet')
  const d = await startDyups(t, prefix, [port])
  assert.equal((await request(port, { path: '/' })).status, 404)
  assert.ok(await waitFor(() => d.stderr().includes(`dyups: [warn] ${warn}\n`)), d.stderr())
})

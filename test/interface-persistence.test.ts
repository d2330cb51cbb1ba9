/**
 * Persistence (docs/api.md#persistence-dyups_upstream_conf) with the seed's layout, `dyups_upstream_conf conf/upstream.conf; include conf/upstream.conf;`:
 * a start after `kill -9` of the primary and its workers right after a 200, and after a clean stop, restores exactly
 * the table of the last acknowledged change (/list order, /detail bytes, routing), deleted static groups included;
 * the rewritten upstream.conf is a file nginx accepts inside http {}.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import {
  ans,
  answer,
  backend,
  childPids,
  freePorts,
  idelete,
  iget,
  interfaceConf,
  ipost,
  killAll,
  reachWorkers,
  startDyups,
  table,
  tempPrefix,
  via,
  waitPortsClosed,
  writeConf,
  type Dyups,
} from './helpers.js'

const OK = ans(200, 'success')
const NGINX = '/usr/sbin/nginx'

/** `nginx -t` on a configuration that includes `file` inside http {}, everything else in a temp dir. */
function nginxAccepts(t: TestContext, file: string): Promise<{ ok: boolean; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'dyups-nginx-t-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, `error_log ${dir}/error.log;\npid ${dir}/nginx.pid;\nevents {}\nhttp {\n    include ${file};\n}\n`)
  return new Promise((res) => {
    execFile(NGINX, ['-t', '-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { timeout: 10_000 }, (err, stdout, stderr) => {
      res({ ok: err === null, out: stdout + stderr })
    })
  })
}

test('persistence across kill -9 and a clean stop (2 workers, seed layout)', async (t) => {
  const bs = await Promise.all(['k0', 'k1', 'k2', 'k3', 'k4'].map((n) => backend(t, n)))
  const B = bs.map((b) => b.port)
  const [proxy, iface] = (await freePorts(2)) as [number, number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/upstream.conf', `upstream host1 {\n    server 127.0.0.1:${B[1]};\n}\n\nupstream host2 {\n    server 127.0.0.1:${B[2]};\n}\n`)
  writeConf(
    prefix,
    'conf/nginx.conf',
    interfaceConf({
      proxy,
      iface,
      workers: 2,
      http: `    dyups_upstream_conf conf/upstream.conf;\n    upstream s0 { server 127.0.0.1:${B[0]}; }\n    include conf/upstream.conf;\n`,
    }),
  )
  const start = (): Promise<Dyups> => startDyups(t, prefix, [proxy, iface])
  const route = async (host: string): Promise<string> => {
    const r = await via(proxy, host)
    return r.status === 200 ? r.body : `status ${r.status}`
  }

  let d = await start()
  assert.deepEqual((await table(iface)).list, ans(200, 's0\nhost1\nhost2\n'))

  // Cycle 1: create, replace both kinds of static group, delete a static group, delete a created one, re-create it.
  const cycle1: [string, string, string?][] = [
    ['post', 'new1', `server 127.0.0.1:${B[3]};`],
    ['post', 'host1', `server 127.0.0.1:${B[4]} weight=2 max_fails=3 fail_timeout=2m;`],
    ['post', 's0', `server 127.0.0.1:${B[1]}; server 127.0.0.1:${B[2]} backup;`],
    ['delete', 'host2'],
    ['post', 'new2', `server 127.0.0.1:${B[2]};\nkeepalive 4;`],
    ['delete', 'new1'],
  ]
  for (const [op, name, body] of cycle1) {
    assert.deepEqual(answer(op === 'post' ? await ipost(iface, `/upstream/${name}`, body!) : await idelete(iface, `/upstream/${name}`)), OK, `${op} ${name}`)
  }
  let workers = childPids(d.pid)
  assert.ok(workers.length >= 2, `workers of ${d.pid}: ${workers.join(', ')}`)
  assert.deepEqual(answer(await ipost(iface, '/upstream/NEW1', `server 127.0.0.1:${B[0]};`)), OK)
  await killAll(d, [proxy, iface], workers)

  d = await start()
  const after1 = await table(iface)
  assert.deepEqual(after1.list, ans(200, 's0\nhost1\nnew2\nNEW1\n'))
  const expectedDetail1 =
    `s0\nserver 127.0.0.1:${B[1]} weight=1 max_conns=0 max_fails=1 fail_timeout=10 backup=0 down=0\n` +
    `server 127.0.0.1:${B[2]} weight=1 max_conns=0 max_fails=1 fail_timeout=10 backup=1 down=0\n\n` +
    `host1\nserver 127.0.0.1:${B[4]} weight=2 max_conns=0 max_fails=3 fail_timeout=120 backup=0 down=0\n\n` +
    `new2\nserver 127.0.0.1:${B[2]} weight=1 max_conns=0 max_fails=1 fail_timeout=10 backup=0 down=0\n\n` +
    `NEW1\nserver 127.0.0.1:${B[0]} weight=1 max_conns=0 max_fails=1 fail_timeout=10 backup=0 down=0\n\n`
  assert.deepEqual(after1.detail, ans(200, expectedDetail1))
  assert.deepEqual(
    [await route('s0'), await route('host1'), await route('host2'), await route('new1'), await route('new2')],
    ['k1', 'k4', 'status 502', 'k0', 'k2'],
  )

  // Cycle 2, ending with the delete of a static group from nginx.conf proper.
  const before2Ops: [string, string, string?][] = [
    ['post', 'host2', `server 127.0.0.1:${B[3]};`],
    ['post', 'new3', `server 127.0.0.1:${B[1]} weight=4; server 127.0.0.1:${B[1]} down;`],
    ['delete', 'new2'],
  ]
  for (const [op, name, body] of before2Ops) {
    assert.deepEqual(answer(op === 'post' ? await ipost(iface, `/upstream/${name}`, body!) : await idelete(iface, `/upstream/${name}`)), OK, `${op} ${name}`)
  }
  const preDelete = await table(iface)
  workers = childPids(d.pid)
  assert.deepEqual(answer(await idelete(iface, '/upstream/s0')), OK)
  const before2 = await table(iface)
  workers = [...new Set([...workers, ...childPids(d.pid)])]
  await killAll(d, [proxy, iface], workers)
  assert.notDeepEqual(before2, preDelete)
  assert.ok(!before2.list.body.split('\n').includes('s0'))

  d = await start()
  assert.deepEqual(await table(iface), before2)
  assert.deepEqual(answer(await iget(iface, '/upstream/s0')), ans(404))
  assert.equal(await route('s0'), 'status 502')
  assert.equal(await route('host2'), 'k3')
  assert.equal(await route('new3'), 'k1')

  // A clean stop, then a start: the same table; PATH is valid nginx. (Every worker serves first: a stop while one
  // is still starting is interface-workers' concern.)
  assert.equal((await reachWorkers(proxy, 2)).length, 2)
  assert.equal(await d.stop('SIGQUIT'), 0)
  assert.deepEqual(await waitPortsClosed([proxy, iface]), [])
  const path = join(prefix, 'conf/upstream.conf')
  const text = readFileSync(path, 'latin1')
  const nginx = await nginxAccepts(t, path)
  assert.ok(nginx.ok, `nginx -t on upstream.conf:\n${nginx.out}\n--- upstream.conf ---\n${text}`)
  assert.ok(!/upstream\s+"?s0"?\s*\{/.test(text), `the deleted static group has no block:\n${text}`)
  d = await start()
  assert.deepEqual(await table(iface), before2)
  assert.equal(await route('s0'), 'status 502')

  // And once more after a change made since the clean start.
  assert.deepEqual(answer(await ipost(iface, '/upstream/s0', `server 127.0.0.1:${B[4]};`)), OK)
  const before3 = await table(iface)
  assert.ok(before3.list.body.split('\n').includes('s0'))
  assert.equal((await reachWorkers(proxy, 2)).length, 2)
  assert.equal(await d.stop('SIGTERM'), 0)
  assert.deepEqual(await waitPortsClosed([proxy, iface]), [])
  const nginx2 = await nginxAccepts(t, path)
  assert.ok(nginx2.ok, `nginx -t on upstream.conf:\n${nginx2.out}\n--- upstream.conf ---\n${readFileSync(path, 'latin1')}`)
  d = await start()
  assert.deepEqual(await table(iface), before3)
  assert.equal(await route('s0'), 'k4')
})

test('persistence across kill -9 with master_process off', async (t) => {
  const [a, b] = await Promise.all(['m0', 'm1'].map((n) => backend(t, n)))
  const [proxy, iface] = (await freePorts(2)) as [number, number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/upstream.conf', `upstream host1 { server 127.0.0.1:${a!.port}; }\nupstream host2 { server 127.0.0.1:${b!.port}; }\n`)
  writeConf(
    prefix,
    'conf/nginx.conf',
    interfaceConf({ proxy, iface, master: false, http: '    dyups_upstream_conf conf/upstream.conf;\n    include conf/upstream.conf;\n' }),
  )
  let d = await startDyups(t, prefix, [proxy, iface])
  assert.deepEqual(answer(await ipost(iface, '/upstream/host1', `server 127.0.0.1:${b!.port};`)), OK)
  assert.deepEqual(answer(await ipost(iface, '/upstream/x%20y', `server 127.0.0.1:${a!.port};`)), OK)
  assert.deepEqual(answer(await ipost(iface, '/upstream/%FF', `server 127.0.0.1:${a!.port};`)), OK)
  assert.deepEqual(answer(await idelete(iface, '/upstream/host2')), OK)
  const before = await table(iface)
  assert.deepEqual(before.list, ans(200, 'host1\nx y\n\xff\n'))
  await killAll(d, [proxy, iface], [])
  d = await startDyups(t, prefix, [proxy, iface])
  assert.deepEqual(await table(iface), before)
  assert.equal((await via(proxy, 'host1')).body, 'm1')
  assert.equal((await via(proxy, 'host2')).status, 502)
  assert.equal(await d.stop('SIGQUIT'), 0)
  assert.deepEqual(await waitPortsClosed([proxy, iface]), [])
  d = await startDyups(t, prefix, [proxy, iface])
  assert.deepEqual(await table(iface), before)
})

/**
 * `-s reload` and the upstream table (docs/api.md#when-a-change-takes-effect,
 * "PATH is both ours and nginx's"): nginx.conf is the source of static groups and interface changes win over it.
 * An edited block takes effect, an added one appears, a removed one goes; a group replaced through the interface
 * keeps its servers, a deleted one stays deleted; PATH's own groups stay as they are. A start after the reload
 * (after kill -9) gives the same table.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  ans,
  answer,
  backend,
  childPids,
  detailLine,
  freePorts,
  idelete,
  iget,
  interfaceConf,
  ipost,
  killAll,
  runBin,
  sleep,
  waitFor,
  startDyups,
  table,
  tempPrefix,
  via,
  waitGone,
  writeConf,
  type Dyups,
  type Table,
} from './helpers.js'

const OK = ans(200, 'success')

test('-s reload applies edited, added and removed upstream blocks; interface changes win; a restart agrees', async (t) => {
  const bs = await Promise.all(['r0', 'r1', 'r2', 'r3', 'r4', 'r5'].map((n) => backend(t, n)))
  const B = bs.map((b) => b.port)
  const [proxy, iface] = (await freePorts(2)) as [number, number]
  const prefix = tempPrefix(t)
  const up = (name: string, port: number, params = ''): string => `    upstream ${name} { server 127.0.0.1:${port}${params}; }\n`
  const nginxConf = (upstreams: string, path = 'conf/upstream.conf'): string =>
    interfaceConf({ proxy, iface, workers: 2, http: `    dyups_upstream_conf ${path};\n${upstreams}    include conf/upstream.conf;\n` })
  // The seed's layout: PATH is included by nginx.conf, and a group written there by hand is not a static one.
  writeConf(prefix, 'conf/upstream.conf', up('fromfile', B[0]!))
  writeConf(prefix, 'conf/nginx.conf', nginxConf(
    up('edited', B[1]!) + up('removed', B[1]!) + up('replaced', B[1]!) + up('deleted', B[1]!) + up('dropped', B[1]!)))
  const start = (): Promise<Dyups> => startDyups(t, prefix, [proxy, iface])
  const route = async (host: string): Promise<string> => {
    const r = await via(proxy, host)
    return r.status === 200 ? r.body : `status ${r.status}`
  }

  let d = await start()
  assert.deepEqual(answer(await ipost(iface, '/upstream/replaced', `server 127.0.0.1:${B[2]};`)), OK)
  assert.deepEqual(answer(await ipost(iface, '/upstream/dropped', `server 127.0.0.1:${B[2]};`)), OK)
  assert.deepEqual(answer(await idelete(iface, '/upstream/deleted')), OK)
  assert.deepEqual(answer(await ipost(iface, '/upstream/dyn', `server 127.0.0.1:${B[4]};`)), OK)
  assert.deepEqual((await table(iface)).list, ans(200, 'edited\nremoved\nreplaced\ndropped\nfromfile\ndyn\n'))

  const oldWorkers = childPids(d.pid)
  assert.equal(oldWorkers.length, 2)
  writeConf(prefix, 'conf/nginx.conf', nginxConf(
    up('edited', B[3]!, ' weight=2') + up('added', B[5]!) + up('replaced', B[3]!) + up('deleted', B[3]!)))
  assert.deepEqual(await runBin(['-p', prefix, '-s', 'reload']), { code: 0, stdout: '', stderr: '' })

  const want: Table = {
    // New static groups in configuration order; groups that are not (or no longer) static after them, in the
    // order they had.
    list: ans(200, 'edited\nadded\nreplaced\ndropped\nfromfile\ndyn\n'),
    detail: ans(200,
      `edited\n${detailLine(`127.0.0.1:${B[3]}`, { weight: 2 })}\n` +
      `added\n${detailLine(`127.0.0.1:${B[5]}`)}\n` +
      `replaced\n${detailLine(`127.0.0.1:${B[2]}`)}\n` +
      `dropped\n${detailLine(`127.0.0.1:${B[2]}`)}\n` +
      `fromfile\n${detailLine(`127.0.0.1:${B[0]}`)}\n` +
      `dyn\n${detailLine(`127.0.0.1:${B[4]}`)}\n`),
  }
  // Bounded: the table changes before the new workers start; then the new workers answer and the old ones go.
  let seen: Table | null = null
  let workers: number[] = []
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    seen = await table(iface)
    workers = childPids(d.pid)
    if (workers.length === 2 && workers.every((p) => !oldWorkers.includes(p)) &&
        JSON.stringify(seen) === JSON.stringify(want)) break
    await sleep(25)
  }
  assert.deepEqual(seen, want)
  assert.ok(workers.every((p) => !oldWorkers.includes(p)), `new workers ${workers.join(', ')}, old ${oldWorkers.join(', ')}`)
  assert.deepEqual(await waitGone(oldWorkers), [], 'the old workers exited')

  const routes = async (): Promise<string[]> => {
    const out: string[] = []
    for (const h of ['edited', 'added', 'replaced', 'deleted', 'removed', 'dropped', 'fromfile', 'dyn']) out.push(await route(h))
    return out
  }
  const wantRoutes = ['r3', 'r5', 'r2', 'status 502', 'status 502', 'r2', 'r0', 'r4']
  for (let i = 0; i < 2; i++) assert.deepEqual(await routes(), wantRoutes, 'every new worker routes by the reloaded table')
  for (const name of ['deleted', 'removed']) assert.deepEqual(answer(await iget(iface, `/upstream/${name}`)), ans(404))

  // PATH, written by the reload itself: every group that is not an unchanged static one, the deleted marker.
  const path = join(prefix, 'conf/upstream.conf')
  const text = readFileSync(path, 'latin1')
  const blocks = [...text.matchAll(/^upstream (\S+) \{/gm)].map((m) => m[1])
  assert.deepEqual(blocks, ['replaced', 'dropped', 'fromfile', 'dyn'], text)
  assert.match(text, /^# dyups: deleted "deleted"$/m)

  // A reload that would move PATH is refused whole: table and workers stay.
  writeConf(prefix, 'conf/nginx.conf', nginxConf(up('edited', B[1]!), 'conf/other.conf'))
  assert.deepEqual(await runBin(['-p', prefix, '-s', 'reload']), { code: 0, stdout: '', stderr: '' })
  await waitFor(() => d.errorLog().includes('dyups_upstream_conf cannot change on reload'), 15_000)
  assert.match(d.errorLog(), /\[emerg\] .*dyups_upstream_conf cannot change on reload \(".*conf\/upstream\.conf" in use, ".*conf\/other\.conf" configured\), restart instead/)
  assert.deepEqual(await table(iface), want)
  assert.deepEqual(childPids(d.pid), workers)
  writeConf(prefix, 'conf/nginx.conf', nginxConf(
    up('edited', B[3]!, ' weight=2') + up('added', B[5]!) + up('replaced', B[3]!) + up('deleted', B[3]!)))

  // kill -9 right after the reload: the start gives the same table and routes (a clean stop writes the same PATH:
  // src/store/reload.test.ts).
  await killAll(d, [proxy, iface])
  d = await start()
  assert.deepEqual(await table(iface), want, 'after kill -9')
  assert.deepEqual(await routes(), wantRoutes)
})

/**
 * Concurrency (docs/api.md#setting-up-the-interface, docs/api.md#post-creating-and-replacing-a-group, docs/api.md#delete-removing-a-group, docs/api.md#when-a-change-takes-effect): with `dyups_trylock on` a change arriving while another is applied answers
 * 409 `wait and try again\n` and applies nothing; with it off, concurrent changes are applied one at a time and
 * none is lost. The table after a burst equals the acknowledged writes, and survives a restart unchanged.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import {
  ans,
  answer,
  childPids,
  Conn,
  freePorts,
  iget,
  interfaceConf,
  startDyups,
  tempPrefix,
  waitGone,
  waitPortsClosed,
  writeConf,
  type Answer,
  type Dyups,
  type Response,
} from './helpers.js'

const OK = ans(200, 'success')
const BUSY = ans(409, 'wait and try again\n')

/** Sends every request at the same moment, each on its own connection opened beforehand. */
async function burst(port: number, reqs: { method: string; path: string; body?: string }[]): Promise<Response[]> {
  const conns = await Promise.all(reqs.map(() => Conn.open(port)))
  try {
    return await Promise.all(
      reqs.map((r, i) =>
        conns[i]!.req({ method: r.method, path: r.path, body: r.body, headers: { Connection: 'close' } }),
      ),
    )
  } finally {
    for (const c of conns) c.close()
  }
}

async function setup(t: TestContext, trylock: boolean): Promise<{ d: Dyups; iface: number; restart: () => Promise<Dyups> }> {
  const [proxy, iface] = (await freePorts(2)) as [number, number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/upstream.conf', '')
  writeConf(
    prefix,
    'conf/nginx.conf',
    interfaceConf({
      proxy,
      iface,
      workers: 2,
      http:
        `    dyups_trylock ${trylock ? 'on' : 'off'};\n    dyups_upstream_conf conf/upstream.conf;\n` +
        '    upstream st { server 127.0.0.1:1; }\n    include conf/upstream.conf;\n',
    }),
  )
  const state = { d: await startDyups(t, prefix, [proxy, iface]) }
  const restart = async (): Promise<Dyups> => {
    const pids = [state.d.pid, ...childPids(state.d.pid)]
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Gone already.
      }
    }
    await state.d.stop('SIGKILL')
    assert.deepEqual(await waitGone(pids), [])
    assert.deepEqual(await waitPortsClosed([proxy, iface]), [])
    state.d = await startDyups(t, prefix, [proxy, iface])
    return state.d
  }
  return { d: state.d, iface, restart }
}

const server = (port: number): string => `server 127.0.0.1:${port};`

test('dyups_trylock on: concurrent changes get 409 and a 409 applies nothing', async (t) => {
  const { iface, restart } = await setup(t, true)
  const NAMES = 12
  // name → port of its acknowledged content, or absent.
  const model = new Map<string, number>([['st', 1]])
  let busy = 0, applied = 0
  for (let round = 0; round < 6; round++) {
    const reqs: { method: string; path: string; body?: string }[] = []
    const ops: { name: string; del: boolean; port: number }[] = []
    for (let i = 0; i < NAMES; i++) {
      const name = i === 0 ? 'st' : `t${i}`
      const del = (round + i) % 4 === 3
      const port = 30000 + round * 100 + i
      ops.push({ name, del, port })
      reqs.push(del ? { method: 'DELETE', path: `/upstream/${name}` } : { method: 'POST', path: `/upstream/${name}`, body: server(port) })
    }
    // Invalid bodies in the same burst: 409 while busy, else 500; never a group.
    reqs.push({ method: 'POST', path: '/upstream/bad', body: 'garbage 1;' }, { method: 'POST', path: '/upstream/bad', body: 'server 127.0.0.1:1 weight=0;' })
    const res = (await burst(iface, reqs)).map(answer)
    for (let i = 0; i < NAMES; i++) {
      const { name, del, port } = ops[i]!
      const a = res[i]!
      const label = `round ${round}: ${del ? 'DELETE' : 'POST'} ${name} → ${JSON.stringify(a)}`
      if (a.status === 409) {
        assert.deepEqual(a, BUSY, label)
        busy++
      } else if (del && !model.has(name)) {
        assert.deepEqual(a, ans(404, 'not found uptream'), label)
      } else {
        assert.deepEqual(a, OK, label)
        applied++
        if (del) model.delete(name)
        else model.set(name, port)
      }
    }
    for (const a of res.slice(NAMES)) {
      assert.ok(a.status === 409 || a.status === 500, JSON.stringify(a))
      assert.deepEqual(a, a.status === 409 ? BUSY : ans(500, 'add server failed'))
    }
    // The table equals the acknowledged writes, nothing from a 409.
    for (const { name } of ops) {
      const p = model.get(name)
      assert.deepEqual(answer(await iget(iface, `/upstream/${name}`)), p === undefined ? ans(404) : ans(200, `server 127.0.0.1:${p}\n`), `round ${round}: ${name}`)
    }
    assert.deepEqual(answer(await iget(iface, '/upstream/bad')), ans(404))
    const listed = (await iget(iface, '/list')).body.split('\n').slice(0, -1)
    assert.deepEqual([...listed].sort(), [...model.keys()].sort(), `round ${round}`)
  }
  t.diagnostic(`${busy} answered 409, ${applied} applied`)
  assert.ok(busy > 0, `no 409 in ${6 * NAMES} concurrent changes`)
  assert.ok(applied > 0, 'no change applied')

  // A serial change after the bursts is never refused.
  assert.deepEqual(answer((await burst(iface, [{ method: 'POST', path: '/upstream/after', body: server(40000) }]))[0]!), OK)
  model.set('after', 40000)
  const list = answer(await iget(iface, '/list'))
  const detail = answer(await iget(iface, '/detail'))
  await restart()
  assert.deepEqual(answer(await iget(iface, '/list')), list)
  assert.deepEqual(answer(await iget(iface, '/detail')), detail)
  for (const [name, p] of model) assert.deepEqual(answer(await iget(iface, `/upstream/${name}`)), ans(200, `server 127.0.0.1:${p}\n`), name)
})

test('dyups_trylock off: concurrent changes all apply, none lost, same after a restart', async (t) => {
  const { iface, restart } = await setup(t, false)

  // 50 distinct names at once.
  const distinct = Array.from({ length: 50 }, (_, i) => ({ method: 'POST', path: `/upstream/c${i}`, body: server(31000 + i) }))
  const r1 = (await burst(iface, distinct)).map(answer)
  r1.forEach((a, i) => assert.deepEqual(a, OK, `c${i}`))
  const listed = (await iget(iface, '/list')).body.split('\n').slice(0, -1)
  assert.equal(listed[0], 'st')
  assert.deepEqual([...listed.slice(1)].sort(), distinct.map((_, i) => `c${i}`).sort())
  assert.equal(new Set(listed).size, listed.length, 'no group listed twice')
  for (let i = 0; i < 50; i++) assert.deepEqual(answer(await iget(iface, `/upstream/c${i}`)), ans(200, `server 127.0.0.1:${31000 + i}\n`), `c${i}`)

  // 40 writers to one name (and to the static group): every one acknowledged, the result one of them.
  const same = Array.from({ length: 40 }, (_, i) => ({ method: 'POST', path: `/upstream/${i % 2 ? 'same' : 'ST'}`, body: server(32000 + i) }))
  const r2 = (await burst(iface, same)).map(answer)
  r2.forEach((a, i) => assert.deepEqual(a, OK, `writer ${i}`))
  const sameVal = answer(await iget(iface, '/upstream/same'))
  const stVal = answer(await iget(iface, '/upstream/st'))
  const candidates = (odd: number): Answer[] => same.filter((_, i) => i % 2 === odd).map((_, j) => ans(200, `server 127.0.0.1:${32000 + j * 2 + odd}\n`))
  assert.ok(candidates(1).some((c) => c.body === sameVal.body) && sameVal.status === 200, JSON.stringify(sameVal))
  assert.ok(candidates(0).some((c) => c.body === stVal.body) && stVal.status === 200, JSON.stringify(stVal))

  // Deletes and re-creations racing: each name ends deleted or with its new value, as acknowledged.
  const mixed = [
    ...Array.from({ length: 20 }, (_, i) => ({ method: 'DELETE', path: `/upstream/c${i}` })),
    ...Array.from({ length: 10 }, (_, i) => ({ method: 'POST', path: `/upstream/d${i}`, body: server(33000 + i) })),
  ]
  const r3 = (await burst(iface, mixed)).map(answer)
  r3.forEach((a, i) => assert.deepEqual(a, OK, `${mixed[i]!.method} ${mixed[i]!.path}`))
  for (let i = 0; i < 20; i++) assert.deepEqual(answer(await iget(iface, `/upstream/c${i}`)), ans(404), `c${i}`)

  const list = answer(await iget(iface, '/list'))
  const detail = answer(await iget(iface, '/detail'))
  assert.equal(list.body.split('\n').length - 1, 1 + 30 + 1 + 10)
  await restart()
  assert.deepEqual(answer(await iget(iface, '/list')), list)
  assert.deepEqual(answer(await iget(iface, '/detail')), detail)
  assert.deepEqual(answer(await iget(iface, '/upstream/same')), sameVal)
  assert.deepEqual(answer(await iget(iface, '/upstream/ST')), stVal)
})

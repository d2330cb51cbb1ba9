/**
 * Command bodies too large to parse in the worker that receives them (over 16 KiB) are parsed by the primary
 * (docs/api.md#post-creating-and-replacing-a-group): the answers, the error-log line, If-Match and dyups_trylock are
 * those of a small body, and the group is the same.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ans, answer, backend, iget, ipost, startInterface, via, waitFor } from './helpers.js'

const OK = ans(200, 'success')
const FAILED = ans(500, 'add server failed')

/** `n` server lines on 10.x addresses (never connected to), over 16 KiB once n is above ~700. */
const servers = (n: number, at = 10): string[] =>
  Array.from({ length: n }, (_, i) => `server ${at}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80 weight=${(i % 3) + 1};`)

test('a large body: the same answers, log line and group as a small one', async (t) => {
  const b = await backend(t, 'big')
  const s = await startInterface(t, { workers: 2, http: '' })
  const lines = servers(5000)
  const body = lines.join('\n')
  assert.ok(body.length > 64 * 1024)

  // Created, readable from every worker (each connection may reach either), and routed.
  const withBackend = `${body}\nserver 127.0.0.1:${b.port} weight=100;`
  assert.deepEqual(answer(await ipost(s.iface, '/upstream/large', withBackend)), OK)
  const want = lines.map((l) => l.slice('server '.length, l.indexOf(' weight'))).join('\n') + `\n127.0.0.1:${b.port}\n`
  for (let i = 0; i < 4; i++) {
    const r = await iget(s.iface, '/upstream/large')
    assert.equal(r.status, 200)
    assert.equal(r.body.replace(/^server /gm, ''), want)
  }
  assert.ok(await waitFor(async () => (await via(s.proxy, 'large')).body === 'big'), 'requests reach the heavy server')

  // A bad line deep in a large body: nothing applied, Tengine's answer and log line with the body's line.
  const bad = [...servers(3000, 11), 'server 11.0.0.1:80 wieght=2;', ...servers(10, 12)].join('\n')
  assert.deepEqual(answer(await ipost(s.iface, '/upstream/large', bad)), FAILED)
  const re = /\[dyups\] add server failed for upstream "large": invalid parameter "wieght=2" in command body:3001\b/
  assert.ok(await waitFor(() => re.test(s.d.errorLog())), s.d.errorLog().slice(-500))
  const line = s.d.errorLog().split('\n').find((l) => re.test(l))!
  assert.ok(line.includes(`[error] ${s.d.pid}#0: `), `parsed and logged by the primary: ${line}`)
  assert.equal((await iget(s.iface, '/upstream/large')).body.replace(/^server /gm, ''), want, 'the group is unchanged')

  // If-Match: a stale version is 412 and applies nothing; the current one applies.
  const version = (await iget(s.iface, '/upstream/large')).headers['etag']
  assert.ok(version !== undefined, 'GET answers an ETag')
  assert.equal((await ipost(s.iface, '/upstream/large', body, { 'If-Match': '"999"' })).status, 412)
  assert.deepEqual(answer(await ipost(s.iface, '/upstream/large', body, { 'If-Match': version! })), OK)
  assert.equal((await iget(s.iface, '/upstream/large')).body.split('\n').length, 5001)
  assert.deepEqual(answer(await iget(s.iface, '/list')), ans(200, 'large\n'))
})

test('dyups_trylock on: a large body that meets another change answers 409, valid or not', async (t) => {
  const s = await startInterface(t, { workers: 2, http: '    dyups_trylock on;\n' })
  const good = servers(3000).join('\n')
  const bad = `${good}\nserver 10.0.0.1:80 bogus=1;`
  // Many at once: while one is applied the others meet the lock; every answer is one of the documented ones.
  const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => ipost(s.iface, `/upstream/g${i % 2}`, i % 2 === 0 ? good : bad).then(answer)))
  const seen = new Set(answers.map((a) => JSON.stringify(a)))
  for (const a of seen) assert.ok([OK, FAILED, ans(409, 'wait and try again\n')].some((x) => JSON.stringify(x) === a), a)
  for (let i = 1; i < 8; i += 2) assert.notDeepEqual(answers[i], OK, 'a bad body never applies')
  const list = (await iget(s.iface, '/list')).body
  assert.ok(list === '' || list === 'g0\n', list)
})

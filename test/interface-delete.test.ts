/**
 * DELETE /upstream/NAME (docs/api.md#delete-removing-a-group): 405 for bad paths, 404 "not found uptream", 200 "success", and what a delete
 * leaves behind: GET 404, /list without it, 502 when proxying, a second DELETE 404, a POST re-creating it.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ans, answer, backend, exchange, idelete, iget, ipost, parseResponse, request, startInterface, via } from './helpers.js'

const OK = ans(200, 'success')
const NOT_FOUND = ans(404, 'not found uptream')

test('DELETE /upstream/NAME', async (t) => {
  const [x, y, z] = await Promise.all(['dx', 'dy', 'dz'].map((n) => backend(t, n)))
  const s = await startInterface(t, {
    workers: 2,
    http: `    upstream st1 { server 127.0.0.1:${x!.port}; }\n    upstream st2 { server 127.0.0.1:${y!.port}; }\n`,
  })
  const I = s.iface
  const P = s.proxy

  await t.test('a path without exactly two segments is 405 "not support this interface"', async () => {
    for (const p of ['/', '/list', '/detail', '/upstream', '/upstream/', '/upstream/st1/x', '/upstream/a%2Fb', '/upstream/st1%2Fx', '/a/b/c']) {
      assert.deepEqual(answer(await idelete(I, p)), ans(405, 'not support this interface'), p)
    }
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, 'st1\nst2\n'))
  })

  await t.test('two segments, first not "upstream", is 405 "not support this api"', async () => {
    for (const p of ['/list/st1', '/detail/st1', '/foo/st1', '/upstreams/st1', '/st1/st1']) {
      assert.deepEqual(answer(await idelete(I, p)), ans(405, 'not support this api'), p)
    }
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, 'st1\nst2\n'))
  })

  await t.test('an unknown group is 404 "not found uptream"', async () => {
    for (const p of ['/upstream/nope', '/upstream/st', '/upstream/st1x', '/upstream/%FF', '/upstream/st1%20']) {
      assert.deepEqual(answer(await idelete(I, p)), NOT_FOUND, p)
    }
  })

  await t.test('deleting a created group, then everything that follows', async () => {
    assert.deepEqual(answer(await ipost(I, '/upstream/dyn', `server 127.0.0.1:${z!.port};`)), OK)
    assert.equal((await via(P, 'dyn')).body, 'dz')
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, 'st1\nst2\ndyn\n'))
    assert.deepEqual(answer(await idelete(I, '/upstream/dyn')), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/dyn')), ans(404))
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, 'st1\nst2\n'))
    assert.ok(!(await iget(I, '/detail')).body.includes('dyn\n'))
    assert.equal((await via(P, 'dyn')).status, 502)
    assert.deepEqual(answer(await idelete(I, '/upstream/dyn')), NOT_FOUND)
    assert.deepEqual(answer(await ipost(I, '/upstream/dyn', `server 127.0.0.1:${y!.port};`)), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/dyn')), ans(200, `server 127.0.0.1:${y!.port}\n`))
    assert.equal((await via(P, 'dyn')).body, 'dy')
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, 'st1\nst2\ndyn\n'))
  })

  await t.test('deleting a static group', async () => {
    assert.equal((await via(P, 'st1')).body, 'dx')
    assert.deepEqual(answer(await idelete(I, '/upstream/st1')), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/st1')), ans(404))
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, 'st2\ndyn\n'))
    assert.equal((await via(P, 'st1')).status, 502)
    assert.deepEqual(answer(await idelete(I, '/upstream/st1')), NOT_FOUND)
    assert.deepEqual(answer(await ipost(I, '/upstream/st1', `server 127.0.0.1:${z!.port};`)), OK)
    assert.equal((await via(P, 'st1')).body, 'dz')
    const names = (await iget(I, '/list')).body
    assert.deepEqual(names.split('\n').slice(0, -1).sort(), ['dyn', 'st1', 'st2'])
  })

  await t.test('names are case-insensitive and decoded', async () => {
    assert.deepEqual(answer(await ipost(I, '/upstream/Mixed%20Case', `server 127.0.0.1:${x!.port};`)), OK)
    assert.deepEqual(answer(await idelete(I, '/UPSTREAM/mIXED%20cASE')), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/Mixed%20Case')), ans(404))
    assert.deepEqual(answer(await idelete(I, '/upstream/mixed%20case')), NOT_FOUND)
    assert.deepEqual(answer(await ipost(I, '/upstream/%FF%FE', `server 127.0.0.1:${x!.port};`)), OK)
    assert.deepEqual(answer(await idelete(I, '/upstream/%ff%fe')), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/%FF%FE')), ans(404))
  })

  await t.test('a request body on DELETE is ignored', async () => {
    assert.deepEqual(answer(await ipost(I, '/upstream/withbody', `server 127.0.0.1:${x!.port};`)), OK)
    const r = await request(I, { method: 'DELETE', path: '/upstream/withbody', body: `server 127.0.0.1:${y!.port};` })
    assert.deepEqual(answer(r), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/withbody')), ans(404))
    assert.deepEqual(answer(await ipost(I, '/upstream/withbody', `server 127.0.0.1:${x!.port};`)), OK)
    const chunked = parseResponse(
      await exchange(I, 'DELETE /upstream/withbody HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n4\r\njunk\r\n0\r\n\r\n'),
    )
    assert.deepEqual(answer(chunked), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/withbody')), ans(404))
    // An invalid body does not matter either.
    assert.deepEqual(answer(await request(I, { method: 'DELETE', path: '/upstream/withbody', body: 'garbage {' })), NOT_FOUND)
  })

  await t.test('deleting every group empties the table: 204', async () => {
    for (const n of ['st1', 'st2', 'dyn']) assert.deepEqual(answer(await idelete(I, `/upstream/${n}`)), OK, n)
    assert.equal((await iget(I, '/list')).status, 204)
    assert.equal((await iget(I, '/detail')).status, 204)
    for (const n of ['st1', 'st2', 'dyn']) {
      assert.equal((await via(P, n)).status, 502, n)
      assert.deepEqual(answer(await idelete(I, `/upstream/${n}`)), NOT_FOUND, n)
    }
    assert.deepEqual(answer(await ipost(I, '/upstream/st2', `server 127.0.0.1:${z!.port};`)), OK)
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, 'st2\n'))
    assert.equal((await via(P, 'st2')).body, 'dz')
  })
})

test('DELETE with master_process off', async (t) => {
  const b = await backend(t, 'solo')
  const s = await startInterface(t, { master: false, http: `    upstream one { server 127.0.0.1:${b.port}; }\n` })
  assert.equal((await via(s.proxy, 'one')).body, 'solo')
  assert.deepEqual(answer(await idelete(s.iface, '/upstream/one')), OK)
  assert.equal((await via(s.proxy, 'one')).status, 502)
  assert.equal((await iget(s.iface, '/list')).status, 204)
  assert.deepEqual(answer(await idelete(s.iface, '/upstream/one')), NOT_FOUND)
  assert.deepEqual(answer(await idelete(s.iface, '/upstream')), ans(405, 'not support this interface'))
  assert.deepEqual(answer(await idelete(s.iface, '/x/one')), ans(405, 'not support this api'))
})

/**
 * GET on the dyups interface (docs/api.md#general-rules, docs/api.md#get-reading-the-table): /list, /detail, /upstream/NAME, their exact bytes, the 404 and 204
 * answers, case-insensitive keywords and names, decoded names, the order of groups and the ETag on reads.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ans, answer, backend, detailLine, freePorts, idelete, iget, ipost, localhostAddrs, startInterface, via, type Response } from './helpers.js'

const HTML_404 =
  /^<html>\r\n<head><title>404 Not Found<\/title><\/head>\r\n<body>\r\n<center><h1>404 Not Found<\/h1><\/center>\r\n<hr><center>[^<\r\n]+<\/center>\r\n<\/body>\r\n<\/html>\r\n$/

const etagOf = (r: Response): string | undefined => r.headers['etag']

test('GET on the interface', async (t) => {
  const [a, b, c, d] = await Promise.all(['a1', 'b1', 'c1', 'd1'].map((n) => backend(t, n)))
  const A = a!.port, B = b!.port, C = c!.port, D = d!.port
  const [dead] = await freePorts(1)
  const s = await startInterface(t, {
    workers: 2,
    http: `
    upstream alpha { server 127.0.0.1:${A}; }
    upstream Beta {
        server 127.0.0.1:${B} weight=3 max_conns=7 max_fails=4 fail_timeout=30s;
        server 127.0.0.1:${C} fail_timeout=2m backup;
        server 127.0.0.1:${D} down;
    }
    upstream gamma {
        server [::1]:${A};
        server unix:/tmp/dyups-get-test.sock;
        server 127.0.0.1;
        server localhost:${A};
        server 127.0.0.1:${A};
        server 127.0.0.1:${A};
    }
    upstream delta {
        least_conn;
        keepalive 4;
        server 127.0.0.1:${B} max_fails=0 fail_timeout=1h;
    }
`,
    // An implicit upstream (proxy_pass to an address) is never a group.
    server: `        location /implicit { proxy_pass http://127.0.0.1:${dead}; }\n`,
  })
  const I = s.iface

  const alphaD = `alpha\n${detailLine(`127.0.0.1:${A}`)}\n`
  const betaLines =
    detailLine(`127.0.0.1:${B}`, { weight: 3, maxConns: 7, maxFails: 4, failTimeout: 30 }) +
    detailLine(`127.0.0.1:${C}`, { failTimeout: 120, backup: true }) +
    detailLine(`127.0.0.1:${D}`, { down: true })
  const betaD = `Beta\n${betaLines}\n`
  // `localhost` is what the machine's resolver makes of it: 127.0.0.1, and ::1 too where /etc/hosts and IPv6 say so.
  const localA = await localhostAddrs(A), localC = await localhostAddrs(C)
  const gammaLines =
    detailLine(`[::1]:${A}`) +
    detailLine('unix:/tmp/dyups-get-test.sock') +
    detailLine('127.0.0.1:80') +
    localA.map((x) => detailLine(x)).join('') +
    detailLine(`127.0.0.1:${A}`) +
    detailLine(`127.0.0.1:${A}`)
  const gammaD = `gamma\n${gammaLines}\n`
  const deltaD = `delta\n${detailLine(`127.0.0.1:${B}`, { maxFails: 0, failTimeout: 3600 })}\n`
  const staticList = 'alpha\nBeta\ngamma\ndelta\n'
  const staticDetail = alphaD + betaD + gammaD + deltaD

  await t.test('/list and /detail show the static groups in configuration order, exact bytes', async () => {
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, staticList))
    assert.deepEqual(answer(await iget(I, '/detail')), ans(200, staticDetail))
  })

  await t.test('extra segments, keyword case, query strings and merged slashes do not change /list or /detail', async () => {
    for (const p of ['/list/anything', '/list/a/b/c', '/list/', '/LIST', '/List/x', '/list?x=1', '//list', '/%6Cist']) {
      assert.deepEqual(answer(await iget(I, p)), ans(200, staticList), p)
    }
    for (const p of ['/detail/anything', '/detail/', '/DETAIL', '/Detail/x/y', '/detail?upstream=alpha', '///detail//x']) {
      assert.deepEqual(answer(await iget(I, p)), ans(200, staticDetail), p)
    }
  })

  await t.test('/upstream/NAME lists "server ADDR\\n" per server line, names and keyword case-insensitive', async () => {
    const cases: [string, string][] = [
      ['/upstream/alpha', `server 127.0.0.1:${A}\n`],
      ['/UPSTREAM/ALPHA', `server 127.0.0.1:${A}\n`],
      ['/Upstream/alph%61', `server 127.0.0.1:${A}\n`],
      ['/upstream/alpha?x=y', `server 127.0.0.1:${A}\n`],
      ['/upstream/alpha/', `server 127.0.0.1:${A}\n`],
      ['/upstream/beta', `server 127.0.0.1:${B}\nserver 127.0.0.1:${C}\nserver 127.0.0.1:${D}\n`],
      ['/upstream/BETA', `server 127.0.0.1:${B}\nserver 127.0.0.1:${C}\nserver 127.0.0.1:${D}\n`],
      [
        '/upstream/gamma',
        `server [::1]:${A}\nserver unix:/tmp/dyups-get-test.sock\nserver 127.0.0.1:80\n` +
          localA.map((x) => `server ${x}\n`).join('') + `server 127.0.0.1:${A}\nserver 127.0.0.1:${A}\n`,
      ],
      ['/upstream/delta', `server 127.0.0.1:${B}\n`],
    ]
    for (const [p, body] of cases) assert.deepEqual(answer(await iget(I, p)), ans(200, body), p)
  })

  await t.test('404 with an empty body for unknown groups and every other path', async () => {
    for (const p of [
      '/upstream/nope',
      '/upstream/alpha.',
      '/upstream/alpha/x',
      '/upstream/a/b',
      '/upstream',
      '/upstream/',
      '/upstream//',
      '/upstreams/alpha',
      '/listx',
      '/details',
      '/foo',
      '/foo/bar',
      '/alpha',
      '/upstream/127.0.0.1:' + A,
    ]) {
      assert.deepEqual(answer(await iget(I, p)), ans(404), p)
    }
  })

  await t.test('GET / answers the standard 404 HTML page', async () => {
    for (const p of ['/', '/?list', '//']) {
      const r = await iget(I, p)
      assert.equal(r.status, 404, p)
      assert.match(r.body, HTML_404, p)
      assert.match(r.headers['content-type'] ?? '', /^text\/html/, p)
      assert.equal(r.headers['content-length'], String(r.body.length), p)
    }
  })

  await t.test('the static groups route as listed', async () => {
    assert.equal((await via(s.proxy, 'alpha')).body, 'a1')
    // Beta's only live primary is B: C is backup, D is down.
    for (let i = 0; i < 4; i++) assert.equal((await via(s.proxy, 'beta')).body, 'b1')
    assert.equal((await via(s.proxy, 'delta')).body, 'b1')
  })

  await t.test('/detail of created groups: parameters, defaults, IPv6, unix:, port 80, host names, duplicates', async () => {
    const body =
      `server 127.0.0.1:${A} weight=2 fail_timeout=2m max_fails=0;\n` +
      `server [::1]:${B} max_conns=3 backup;\n` +
      `server unix:/tmp/dyups-get-test-2.sock down;\n` +
      `server 127.0.0.1;\n` +
      `server localhost:${C} fail_timeout=45s;\n` +
      `server 127.0.0.1:${A};server 127.0.0.1:${A};\n` +
      `keepalive 16;\n`
    assert.deepEqual(answer(await ipost(I, '/upstream/made', body)), ans(200, 'success'))
    const lines =
      detailLine(`127.0.0.1:${A}`, { weight: 2, failTimeout: 120, maxFails: 0 }) +
      detailLine(`[::1]:${B}`, { maxConns: 3, backup: true }) +
      detailLine('unix:/tmp/dyups-get-test-2.sock', { down: true }) +
      detailLine('127.0.0.1:80') +
      localC.map((x) => detailLine(x, { failTimeout: 45 })).join('') +
      detailLine(`127.0.0.1:${A}`) +
      detailLine(`127.0.0.1:${A}`)
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, staticList + 'made\n'))
    assert.deepEqual(answer(await iget(I, '/detail')), ans(200, staticDetail + `made\n${lines}\n`))
    assert.deepEqual(
      answer(await iget(I, '/upstream/made')),
      ans(
        200,
        `server 127.0.0.1:${A}\nserver [::1]:${B}\nserver unix:/tmp/dyups-get-test-2.sock\nserver 127.0.0.1:80\n` +
          localC.map((x) => `server ${x}\n`).join('') + `server 127.0.0.1:${A}\nserver 127.0.0.1:${A}\n`,
      ),
    )
  })

  await t.test('names are any decoded bytes: %20, %FF, UTF-8, dots, 300 bytes; case-insensitive', async () => {
    const long = 'n'.repeat(150) + '.x-y_' + 'z'.repeat(145)
    const names: [string, string][] = [
      ['my%20host', 'my host'],
      ['%FF', '\xff'],
      ['caf%C3%A9', 'caf\xc3\xa9'],
      ['a.b-c_d', 'a.b-c_d'],
      [long, long],
    ]
    let list = staticList + 'made\n'
    for (const [enc, raw] of names) {
      assert.deepEqual(answer(await ipost(I, `/upstream/${enc}`, `server 127.0.0.1:${D};`)), ans(200, 'success'), enc)
      list += raw + '\n'
      assert.deepEqual(answer(await iget(I, `/upstream/${enc}`)), ans(200, `server 127.0.0.1:${D}\n`), enc)
    }
    assert.equal(long.length, 300)
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, list))
    // The decoded name, whatever the escape spelling: %ff, %Ff and %FF are one byte.
    assert.deepEqual(answer(await iget(I, '/upstream/%ff')), ans(200, `server 127.0.0.1:${D}\n`))
    assert.deepEqual(answer(await iget(I, '/upstream/My%20HOST')), ans(200, `server 127.0.0.1:${D}\n`))
    assert.deepEqual(answer(await iget(I, '/upstream/%FE')), ans(404))
    // Mixed case: GET by any case, /list shows the latest POST's spelling at the same position.
    assert.deepEqual(answer(await ipost(I, '/upstream/MiXed', `server 127.0.0.1:${A};`)), ans(200, 'success'))
    assert.deepEqual(answer(await iget(I, '/upstream/mixed')), ans(200, `server 127.0.0.1:${A}\n`))
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, list + 'MiXed\n'))
    assert.deepEqual(answer(await ipost(I, '/upstream/MIXED', `server 127.0.0.1:${B};`)), ans(200, 'success'))
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, list + 'MIXED\n'))
    assert.deepEqual(answer(await iget(I, '/upstream/mIxEd')), ans(200, `server 127.0.0.1:${B}\n`))
    for (const [enc] of names) assert.deepEqual(answer(await idelete(I, `/upstream/${enc}`)), ans(200, 'success'), enc)
    assert.deepEqual(answer(await idelete(I, '/upstream/mixed')), ans(200, 'success'))
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, staticList + 'made\n'))
  })

  await t.test('order: static first in config order, new in creation order, replaced keeps its place, never twice', async () => {
    for (const n of ['n1', 'n2', 'n3']) assert.equal((await ipost(I, `/upstream/${n}`, `server 127.0.0.1:${A};`)).status, 200)
    const base = 'alpha\nBeta\ngamma\ndelta\nmade\nn1\nn2\nn3\n'
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, base))
    // Replacing a static and a created group keeps both where they were; the static one shows the new spelling.
    assert.equal((await ipost(I, '/upstream/BETA', `server 127.0.0.1:${C};`)).status, 200)
    assert.equal((await ipost(I, '/upstream/n1', `server 127.0.0.1:${B};`)).status, 200)
    assert.equal((await ipost(I, '/upstream/alpha', `server 127.0.0.1:${B};`)).status, 200)
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, 'alpha\nBETA\ngamma\ndelta\nmade\nn1\nn2\nn3\n'))
    const detail = (await iget(I, '/detail')).body
    assert.ok(detail.startsWith(`alpha\n${detailLine(`127.0.0.1:${B}`)}\nBETA\n${detailLine(`127.0.0.1:${C}`)}\ngamma\n`), detail)
    // Deleted and created again: listed once.
    assert.equal((await idelete(I, '/upstream/n2')).status, 200)
    assert.equal((await ipost(I, '/upstream/n2', `server 127.0.0.1:${C};`)).status, 200)
    assert.equal((await idelete(I, '/upstream/gamma')).status, 200)
    assert.equal((await ipost(I, '/upstream/gamma', `server 127.0.0.1:${C};`)).status, 200)
    const names = (await iget(I, '/list')).body.split('\n').slice(0, -1)
    assert.deepEqual([...names].sort(), ['BETA', 'alpha', 'delta', 'gamma', 'made', 'n1', 'n2', 'n3'])
    // The groups never deleted keep their relative order.
    assert.deepEqual(names.filter((n) => !['n2', 'gamma'].includes(n)), ['alpha', 'BETA', 'delta', 'made', 'n1', 'n3'])
    // /detail follows /list's order.
    const dnames = (await iget(I, '/detail')).body.split('\n\n').slice(0, -1).map((g) => g.split('\n')[0])
    assert.deepEqual(dnames, names)
  })

  await t.test('reads carry an ETag that changes with the table', async () => {
    const l1 = await iget(I, '/list')
    const d1 = await iget(I, '/detail')
    const u1 = await iget(I, '/upstream/alpha')
    const e = etagOf(l1)
    assert.match(e ?? '', /^(W\/)?"[^"]+"$/)
    assert.equal(etagOf(d1), e)
    assert.equal(etagOf(u1), e)
    assert.equal((await ipost(I, '/upstream/etag', `server 127.0.0.1:${A};`)).status, 200)
    const e2 = etagOf(await iget(I, '/list'))
    assert.match(e2 ?? '', /^(W\/)?"[^"]+"$/)
    assert.notEqual(e2, e)
    assert.equal(etagOf(await iget(I, '/detail')), e2)
    // A failed change moves nothing.
    assert.equal((await ipost(I, '/upstream/etag', 'garbage 1;')).status, 500)
    assert.equal(etagOf(await iget(I, '/list')), e2)
    assert.equal((await idelete(I, '/upstream/etag')).status, 200)
    assert.notEqual(etagOf(await iget(I, '/list')), e2)
  })

  await t.test('204 with no body once every group is deleted', async () => {
    const names = (await iget(I, '/list')).body.split('\n').slice(0, -1)
    for (const n of names) assert.deepEqual(answer(await idelete(I, `/upstream/${encodeURIComponent(n)}`)), ans(200, 'success'), n)
    for (const p of ['/list', '/detail', '/list/x', '/DETAIL/y']) {
      const r = await iget(I, p)
      assert.equal(r.status, 204, p)
      assert.equal(r.body, '', p)
    }
    assert.deepEqual(answer(await iget(I, '/upstream/alpha')), ans(404))
  })
})

test('GET on an empty table (master_process off): 204, then the created group', async (t) => {
  const a = await backend(t, 'only')
  const s = await startInterface(t, { master: false })
  for (const p of ['/list', '/detail', '/list/anything']) {
    const r = await iget(s.iface, p)
    assert.equal(r.status, 204, p)
    assert.equal(r.body, '', p)
  }
  assert.deepEqual(answer(await iget(s.iface, '/upstream/x')), ans(404))
  assert.deepEqual(answer(await ipost(s.iface, '/upstream/x', `server 127.0.0.1:${a.port};`)), ans(200, 'success'))
  assert.deepEqual(answer(await iget(s.iface, '/list')), ans(200, 'x\n'))
  assert.deepEqual(answer(await iget(s.iface, '/detail')), ans(200, `x\n${detailLine(`127.0.0.1:${a.port}`)}\n`))
  assert.equal((await via(s.proxy, 'x')).body, 'only')
})

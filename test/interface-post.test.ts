/**
 * POST /upstream/NAME (docs/api.md#post-creating-and-replacing-a-group): the table of checks in order, accepted and rejected bodies (a rejection changes
 * nothing), body framing (Content-Length 0, chunked, 64 KB+, the 1m limit), odd bytes, If-Match and keep-alive.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ans, answer, backend, Conn, exchange, freePorts, idelete, iget, ipost, localhostAddrs, parseResponse, request, startInterface, via, waitFor } from './helpers.js'

const OK = ans(200, 'success')
const FAILED = ans(500, 'add server failed')

/** A chunked POST, its body cut into the given pieces. */
function chunkedPost(path: string, pieces: string[], extra = ''): string {
  let raw = `POST ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n${extra}\r\n`
  for (const p of pieces) if (p.length > 0) raw += `${p.length.toString(16)}\r\n${p}\r\n`
  return raw + '0\r\n\r\n'
}

test('POST /upstream/NAME', async (t) => {
  const bs = await Promise.all(['p1', 'p2', 'p3', 'p4'].map((n) => backend(t, n)))
  const [P1, P2, P3, P4] = bs.map((b) => b.port) as [number, number, number, number]
  const [dead] = await freePorts(1)
  const s = await startInterface(t, { workers: 2, http: `    upstream stat { server 127.0.0.1:${P1}; }\n` })
  const I = s.iface

  await t.test('row 1: methods other than GET, POST, DELETE answer 405 with no body', async () => {
    for (const m of ['PUT', 'PATCH', 'OPTIONS', 'PROPFIND', 'LOCK']) {
      for (const path of ['/upstream/m405', '/list', '/']) {
        const r = await request(I, { method: m, path, body: `server 127.0.0.1:${P1};` })
        assert.deepEqual(answer(r), ans(405), `${m} ${path}`)
      }
    }
    const head = await request(I, { method: 'HEAD', path: '/upstream/m405' })
    assert.equal(head.status, 405)
    assert.equal(head.body, '')
    assert.deepEqual(answer(await iget(I, '/upstream/m405')), ans(404), 'nothing was created')
  })

  await t.test('a name holding a control byte is 400 with an empty body, and nothing is applied', async () => {
    const before = answer(await iget(I, '/detail'))
    for (const name of [`x%0Aserver%20127.0.0.1:${P2}`, 'a%0Db', 'tab%09', 'us%1F', 'del%7F']) {
      assert.deepEqual(answer(await ipost(I, `/upstream/${name}`, `server 127.0.0.1:${P1};`)), ans(400), `POST ${name}`)
      assert.deepEqual(answer(await iget(I, `/upstream/${name}`)), ans(400), `GET ${name}`)
      assert.deepEqual(answer(await idelete(I, `/upstream/${name}`)), ans(400), `DELETE ${name}`)
    }
    // %00 is refused earlier, as nginx refuses it in any URI: its standard 400 page.
    assert.equal((await ipost(I, '/upstream/nul%00', `server 127.0.0.1:${P1};`)).status, 400)
    assert.deepEqual(answer(await iget(I, '/detail')), before, 'the table is unchanged')
    // Bytes from 0x80 up and spaces stay valid names.
    assert.deepEqual(answer(await ipost(I, '/upstream/ok%20%FF', `server 127.0.0.1:${P1};`)), OK)
    assert.deepEqual(answer(await idelete(I, '/upstream/ok%20%FF')), OK)
  })

  await t.test('row 2: no body at all (no Content-Length, no Transfer-Encoding) is 204 with nothing after it', async () => {
    for (const path of ['/upstream/nobody', '/list', '/upstream', '/foo/bar', '/upstream/a%2Fb']) {
      const raw = await exchange(I, `POST ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`)
      const r = parseResponse(raw)
      assert.equal(r.status, 204, path)
      assert.equal(r.body, '', `${path}: bytes after the 204 head: ${JSON.stringify(r.body)}`)
    }
    assert.deepEqual(answer(await iget(I, '/upstream/nobody')), ans(404))
  })

  await t.test('row 3: a path without exactly two segments is 404 "not support this interface"', async () => {
    for (const path of ['/list', '/detail', '/upstream', '/upstream/', '/upstream/a/b', '/upstream/a%2Fb', '/a/b/c', '/upstream/x/y/z', '/']) {
      // Even a body that would not parse: the path is checked first.
      assert.deepEqual(answer(await ipost(I, path, `server 127.0.0.1:${P1};`)), ans(404, 'not support this interface'), path)
      assert.deepEqual(answer(await ipost(I, path, 'garbage')), ans(404, 'not support this interface'), path)
    }
    assert.deepEqual(answer(await iget(I, '/upstream/a%2Fb')), ans(404))
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, 'stat\n'))
  })

  await t.test('row 4: two segments, first not "upstream", is 404 "not support this api"', async () => {
    for (const path of ['/foo/bar', '/list/x', '/detail/x', '/upstreams/x', '/up/stat', '/%75pstrea/x']) {
      assert.deepEqual(answer(await ipost(I, path, `server 127.0.0.1:${P1};`)), ans(404, 'not support this api'), path)
      assert.deepEqual(answer(await ipost(I, path, 'garbage')), ans(404, 'not support this api'), path)
    }
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, 'stat\n'))
  })

  await t.test('rows 6 and 7: a bad body is 500 "add server failed", a good one 200 "success"', async () => {
    assert.deepEqual(answer(await ipost(I, '/upstream/g', 'garbage 1;')), FAILED)
    assert.deepEqual(answer(await iget(I, '/upstream/g')), ans(404), 'a failed POST to a new name creates nothing')
    assert.deepEqual(answer(await ipost(I, '/upstream/g', `server 127.0.0.1:${P2};`)), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/g')), ans(200, `server 127.0.0.1:${P2}\n`))
    assert.equal((await via(s.proxy, 'g')).body, 'p2')
    // The keyword is case-insensitive for POST too, and %75 is "u".
    assert.deepEqual(answer(await ipost(I, '/UPSTREAM/g', `server 127.0.0.1:${P3};`)), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/g')), ans(200, `server 127.0.0.1:${P3}\n`))
    assert.deepEqual(answer(await ipost(I, '/%75pstream/g', `server 127.0.0.1:${P2};`)), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/g')), ans(200, `server 127.0.0.1:${P2}\n`))
    // A trailing slash adds no segment; the query string is dropped.
    assert.deepEqual(answer(await ipost(I, '/upstream/g/?x=1', `server 127.0.0.1:${P1};`)), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/g')), ans(200, `server 127.0.0.1:${P1}\n`))
  })

  await t.test('Content-Length: 0 is an empty group: 500, nothing created or changed', async () => {
    assert.deepEqual(answer(await ipost(I, '/upstream/empty', '')), FAILED)
    assert.deepEqual(answer(await iget(I, '/upstream/empty')), ans(404))
    assert.deepEqual(answer(await ipost(I, '/upstream/g', '')), FAILED)
    assert.deepEqual(answer(await iget(I, '/upstream/g')), ans(200, `server 127.0.0.1:${P1}\n`))
    assert.equal((await via(s.proxy, 'g')).body, 'p1')
  })

  await t.test('chunked bodies, cut anywhere', async () => {
    const body = `server 127.0.0.1:${P3} weight=2;\nserver 127.0.0.1:${P4};\n`
    const cuts = [[body], body.split(''), [body.slice(0, 5), body.slice(5, 17), body.slice(17)]]
    for (const pieces of cuts) {
      assert.deepEqual(answer(parseResponse(await exchange(I, chunkedPost('/upstream/chunky', pieces)))), OK)
      assert.deepEqual(answer(await iget(I, '/upstream/chunky')), ans(200, `server 127.0.0.1:${P3}\nserver 127.0.0.1:${P4}\n`))
      assert.equal((await idelete(I, '/upstream/chunky')).status, 200)
    }
    // A chunked body with no data is a body: an empty group.
    assert.deepEqual(answer(parseResponse(await exchange(I, chunkedPost('/upstream/chunky', [])))), FAILED)
    assert.deepEqual(answer(await iget(I, '/upstream/chunky')), ans(404))
    // Chunk extensions and trailers are legal HTTP/1.1.
    const ext =
      `POST /upstream/chunky HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n` +
      `a;ext=1\r\nserver 127\r\n${(body.length - 10).toString(16)}\r\n${body.slice(10)}\r\n0\r\nX-Trailer: 1\r\n\r\n`
    assert.deepEqual(answer(parseResponse(await exchange(I, ext))), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/chunky')), ans(200, `server 127.0.0.1:${P3}\nserver 127.0.0.1:${P4}\n`))
  })

  await t.test('accepted bodies (docs/api.md#post-creating-and-replacing-a-group)', async () => {
    const accepted: [string, string, string][] = [
      [
        'params',
        `server 127.0.0.1:${P1} weight=5 max_fails=3 fail_timeout=5s max_conns=10;\nserver 127.0.0.1:${P2} backup;\nserver 127.0.0.1:${P3} down;`,
        `server 127.0.0.1:${P1}\nserver 127.0.0.1:${P2}\nserver 127.0.0.1:${P3}\n`,
      ],
      ['ipv6', `server [::1]:${P1};`, `server [::1]:${P1}\n`],
      ['unix', 'server unix:/tmp/dyups-post-test.sock;', 'server unix:/tmp/dyups-post-test.sock\n'],
      // What the machine's resolver makes of it: 127.0.0.1, and ::1 too where /etc/hosts and IPv6 say so.
      ['hostname', `server localhost:${P1};`, (await localhostAddrs(P1)).map((x) => `server ${x}\n`).join('')],
      ['noport', 'server 127.0.0.1;', 'server 127.0.0.1:80\n'],
      ['iphash', `ip_hash;\nserver 127.0.0.1:${P1};\nserver 127.0.0.1:${P2};`, `server 127.0.0.1:${P1}\nserver 127.0.0.1:${P2}\n`],
      ['leastconn', `least_conn; server 127.0.0.1:${P1};`, `server 127.0.0.1:${P1}\n`],
      ['random', `random; server 127.0.0.1:${P1};`, `server 127.0.0.1:${P1}\n`],
      ['hashc', `hash $remote_addr consistent; server 127.0.0.1:${P1}; server 127.0.0.1:${P2};`, `server 127.0.0.1:${P1}\nserver 127.0.0.1:${P2}\n`],
      ['hashvar', `hash $request_uri; server 127.0.0.1:${P1};`, `server 127.0.0.1:${P1}\n`],
      ['keepalive', `keepalive 8; keepalive_timeout 30s; keepalive_requests 100; server 127.0.0.1:${P1};`, `server 127.0.0.1:${P1}\n`],
      ['check', `server 127.0.0.1:${P1};\ncheck interval=3000 rise=2 fall=5 timeout=1000 type=http;`, `server 127.0.0.1:${P1}\n`],
      [
        'comments',
        `# a comment\n  server 127.0.0.1:${P1};server 127.0.0.1:${P2}; # trailing ; comment\n\t\r\n# server 127.0.0.1:1;\nserver\n127.0.0.1:${P3}\n;`,
        `server 127.0.0.1:${P1}\nserver 127.0.0.1:${P2}\nserver 127.0.0.1:${P3}\n`,
      ],
    ]
    for (const [name, body, servers] of accepted) {
      assert.deepEqual(answer(await ipost(I, `/upstream/${name}`, body)), OK, name)
      assert.deepEqual(answer(await iget(I, `/upstream/${name}`)), ans(200, servers), name)
    }
    // Group-level directives are not shown.
    const groups = (await iget(I, '/detail')).body.split('\n\n').slice(0, -1)
    for (const [name, , servers] of accepted) {
      const block = groups.find((g) => g.split('\n')[0] === name)
      assert.ok(block, name)
      const lines = block!.split('\n').slice(1)
      assert.deepEqual(lines.map((l) => l.split(' ').slice(0, 2).join(' ') + '\n').join(''), servers, name)
      for (const l of lines) assert.match(l, /^server \S+ weight=\d+ max_conns=\d+ max_fails=\d+ fail_timeout=\d+ backup=[01] down=[01]$/, name)
    }
    // Routing works on what was accepted.
    assert.equal((await via(s.proxy, 'hashvar')).body, 'p1')
    assert.equal((await via(s.proxy, 'keepalive')).body, 'p1')
    const ip = (await via(s.proxy, 'iphash')).body
    for (let i = 0; i < 6; i++) assert.equal((await via(s.proxy, 'iphash')).body, ip, 'ip_hash pins one client')
    // After `hash $var` (which breaks a Tengine worker) further changes still work.
    assert.deepEqual(answer(await ipost(I, '/upstream/after-hash', `server 127.0.0.1:${P4};`)), OK)
    assert.equal((await via(s.proxy, 'after-hash')).body, 'p4')
    for (const [name] of accepted) assert.equal((await idelete(I, `/upstream/${name}`)).status, 200, name)
    assert.equal((await idelete(I, '/upstream/after-hash')).status, 200)
  })

  await t.test('zone NAME SIZE is accepted or rejected, and nothing is lost', async () => {
    const before = (await iget(I, '/detail')).body
    const r = answer(await ipost(I, '/upstream/zoned', `zone z 64k; server 127.0.0.1:${P2};`))
    assert.ok(r.status === 200 || r.status === 500, JSON.stringify(r))
    assert.deepEqual(r, r.status === 200 ? OK : FAILED)
    const after = (await iget(I, '/detail')).body
    if (r.status === 200) assert.ok(after.startsWith(before) && after.slice(before.length).startsWith('zoned\n'), after)
    else assert.equal(after, before)
    assert.equal((await via(s.proxy, 'g')).body, 'p1')
    assert.equal((await via(s.proxy, 'stat')).body, 'p1')
    if (r.status === 200) {
      assert.equal((await via(s.proxy, 'zoned')).body, 'p2')
      assert.equal((await idelete(I, '/upstream/zoned')).status, 200)
    }
  })

  await t.test('rejected bodies: 500 and the previous group keeps reading and routing the same', async () => {
    assert.deepEqual(answer(await ipost(I, '/upstream/keep', `server 127.0.0.1:${P3};`)), OK)
    const list = (await iget(I, '/list')).body
    const detail = (await iget(I, '/detail')).body
    const rejected: [string, string][] = [
      ['unknown directive', 'garbage 1;'],
      ['unknown directive after a server', `server 127.0.0.1:${P4}; garbage 1;`],
      ['unknown parameter', `server 127.0.0.1:${P4} foo=1;`],
      ['bad flag', `server 127.0.0.1:${P4} badparam;`],
      ['weight=0', `server 127.0.0.1:${P4} weight=0;`],
      ['fail_timeout in ms', `server 127.0.0.1:${P4} fail_timeout=500ms;`],
      ['invalid address', 'server 999.1.1.1:80;'],
      ['missing final ;', `server 127.0.0.1:${P4}`],
      ['backup with ip_hash', `ip_hash; server 127.0.0.1:${P4}; server 127.0.0.1:${P1} backup;`],
      ['only comments', '# server 127.0.0.1:1;\n# nothing\n'],
      ['only whitespace', '  \n\t \r\n'],
      ['block directive', `upstream x { server 127.0.0.1:${P4}; }`],
      ['block after server', `server 127.0.0.1:${P4}; location / { }`],
      ['non-UTF-8 address', 'server 127.0.0.\xff:80;'],
      ['NUL in the address', `server 127.0.0.1:${P4}\0;`],
      ['NUL directive', `\0; server 127.0.0.1:${P4};`],
      ['unbalanced quote', `server "127.0.0.1:${P4};`],
      ['unbalanced brace', `server 127.0.0.1:${P4}; }`],
      ['weight not a number', `server 127.0.0.1:${P4} weight=x;`],
      ['port out of range', 'server 127.0.0.1:70000;'],
      ['server without address', 'server;'],
    ]
    for (const [why, body] of rejected) {
      for (const name of ['keep', 'stat', 'brandnew']) {
        assert.deepEqual(answer(await ipost(I, `/upstream/${name}`, body)), FAILED, `${why} (${name})`)
      }
      assert.deepEqual(answer(await iget(I, '/upstream/keep')), ans(200, `server 127.0.0.1:${P3}\n`), why)
      assert.deepEqual(answer(await iget(I, '/upstream/stat')), ans(200, `server 127.0.0.1:${P1}\n`), why)
      assert.deepEqual(answer(await iget(I, '/upstream/brandnew')), ans(404), why)
      assert.equal((await via(s.proxy, 'keep')).body, 'p3', why)
      assert.equal((await via(s.proxy, 'stat')).body, 'p1', why)
      assert.equal((await via(s.proxy, 'brandnew')).status, 502, why)
    }
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, list))
    assert.deepEqual(answer(await iget(I, '/detail')), ans(200, detail))
  })

  await t.test('the error log says what was wrong and where', async () => {
    const cases: [string, RegExp][] = [
      [`server 127.0.0.1:${P1};\n\ngarbage 1;`, /\[dyups\][^\n]*"logged1"[^\n]*unknown directive "garbage" in [^\n]*:3\b/],
      [`server 127.0.0.1:${P1};\nserver 127.0.0.1:${P2} foo=1;`, /\[dyups\][^\n]*"logged2"[^\n]*invalid parameter "foo=1" in [^\n]*:2\b/],
    ]
    for (let i = 0; i < cases.length; i++) {
      const [body, re] = cases[i]!
      assert.deepEqual(answer(await ipost(I, `/upstream/logged${i + 1}`, body)), FAILED)
      await waitFor(() => re.test(s.d.errorLog()))
      assert.match(s.d.errorLog(), re)
    }
  })

  await t.test('64 KB+ bodies with hundreds of servers, by Content-Length and chunked', async () => {
    let body = `# ${'x'.repeat(2000)}\n`
    const lines: string[] = []
    for (let i = 0; i < 900; i++) {
      body += `server 127.0.0.1:${20000 + i} weight=${(i % 7) + 1} max_fails=3 fail_timeout=10s; # peer ${i}\n`
      lines.push(`server 127.0.0.1:${20000 + i}\n`)
    }
    assert.ok(body.length > 65536, String(body.length))
    assert.deepEqual(answer(await ipost(I, '/upstream/big', body)), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/big')), ans(200, lines.join('')))
    const detail = (await iget(I, '/detail')).body
    const at = detail.indexOf('\nbig\n')
    assert.ok(at >= 0)
    assert.equal(detail.slice(at + 5).split('\n').slice(0, 900).filter((l) => l.startsWith('server ')).length, 900)
    assert.ok(detail.includes(`server 127.0.0.1:20006 weight=7 max_conns=0 max_fails=3 fail_timeout=10 backup=0 down=0\n`))
    // The same body chunked in 1000-byte pieces, with one more server.
    const more = body + `server 127.0.0.1:${P4};\n`
    const pieces: string[] = []
    for (let i = 0; i < more.length; i += 1000) pieces.push(more.slice(i, i + 1000))
    assert.deepEqual(answer(parseResponse(await exchange(I, chunkedPost('/upstream/big', pieces)))), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/big')), ans(200, lines.join('') + `server 127.0.0.1:${P4}\n`))
    assert.equal((await idelete(I, '/upstream/big')).status, 200)
  })

  await t.test('client_max_body_size (1m): a larger body is 413 with the error page, exactly 1m is read', async () => {
    const before = (await iget(I, '/list')).body
    const over = `server 127.0.0.1:${P1};\n#` + 'y'.repeat(1024 * 1024)
    const r = parseResponse(await exchange(I, `POST /upstream/huge HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: ${over.length}\r\n\r\n${over}`))
    assert.equal(r.status, 413)
    assert.match(r.body, /^<html>\r\n<head><title>413 Request Entity Too Large<\/title><\/head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large<\/h1><\/center>\r\n<hr><center>[^<]+<\/center>\r\n<\/body>\r\n<\/html>\r\n$/)
    assert.match(r.headers['content-type'] ?? '', /^text\/html/)
    // Chunked, over the limit.
    const pieces: string[] = []
    for (let i = 0; i < over.length; i += 65536) pieces.push(over.slice(i, i + 65536))
    const rc = parseResponse(await exchange(I, chunkedPost('/upstream/huge', pieces)))
    assert.equal(rc.status, 413)
    assert.deepEqual(answer(await iget(I, '/upstream/huge')), ans(404))
    assert.deepEqual(answer(await iget(I, '/list')), ans(200, before))
    // Exactly 1m is within the limit.
    const head = `server 127.0.0.1:${P1};\n#`
    const exact = head + 'z'.repeat(1024 * 1024 - head.length)
    assert.equal(exact.length, 1024 * 1024)
    assert.deepEqual(answer(await ipost(I, '/upstream/huge', exact)), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/huge')), ans(200, `server 127.0.0.1:${P1}\n`))
    assert.equal((await idelete(I, '/upstream/huge')).status, 200)
  })

  await t.test('%2F in the name is a third segment: 404 "not support this interface"', async () => {
    for (const p of ['/upstream/a%2Fb', '/upstream/a%2fb', '/upstream/%2F', '/upstream/x%2F%2Fy']) {
      assert.deepEqual(answer(await ipost(I, p, `server 127.0.0.1:${P1};`)), ans(404, 'not support this interface'), p)
    }
    // %2F alone decodes to "/", which merges away: one segment.
    assert.deepEqual(answer(await iget(I, '/upstream/a')), ans(404))
  })

  await t.test('a static group is replaced like any other', async () => {
    assert.equal((await via(s.proxy, 'stat')).body, 'p1')
    assert.deepEqual(answer(await ipost(I, '/upstream/stat', `server 127.0.0.1:${P4} weight=2; server 127.0.0.1:${dead} backup;`)), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/stat')), ans(200, `server 127.0.0.1:${P4}\nserver 127.0.0.1:${dead}\n`))
    for (let i = 0; i < 3; i++) assert.equal((await via(s.proxy, 'stat')).body, 'p4')
    assert.equal((await iget(I, '/list')).body.split('\n')[0], 'stat', 'keeps its position')
  })

  await t.test('If-Match: the current ETag applies, a stale one is 412 and changes nothing', async () => {
    const e1 = (await iget(I, '/list')).headers['etag']
    assert.ok(e1, 'reads carry an ETag')
    assert.deepEqual(answer(await ipost(I, '/upstream/cond', `server 127.0.0.1:${P1};`, { 'If-Match': e1! })), OK)
    const e2 = (await iget(I, '/upstream/cond')).headers['etag']
    assert.notEqual(e2, e1)
    const stale = await ipost(I, '/upstream/cond', `server 127.0.0.1:${P2};`, { 'If-Match': e1! })
    assert.equal(stale.status, 412)
    assert.deepEqual(answer(await iget(I, '/upstream/cond')), ans(200, `server 127.0.0.1:${P1}\n`))
    assert.equal((await via(s.proxy, 'cond')).body, 'p1')
    assert.equal((await idelete(I, '/upstream/cond', { 'If-Match': e1! })).status, 412)
    assert.deepEqual(answer(await iget(I, '/upstream/cond')), ans(200, `server 127.0.0.1:${P1}\n`))
    assert.equal((await request(I, { method: 'POST', path: '/upstream/cond2', body: `server 127.0.0.1:${P2};`, headers: { 'If-Match': '"no-such-version"' } })).status, 412)
    assert.deepEqual(answer(await iget(I, '/upstream/cond2')), ans(404))
    // `*` matches any version.
    assert.deepEqual(answer(await ipost(I, '/upstream/cond', `server 127.0.0.1:${P3};`, { 'If-Match': '*' })), OK)
    const e3 = (await iget(I, '/list')).headers['etag']
    assert.deepEqual(answer(await idelete(I, '/upstream/cond', { 'If-Match': e3! })), OK)
    assert.deepEqual(answer(await iget(I, '/upstream/cond')), ans(404))
  })

  await t.test('keep-alive: several interface requests on one connection', async () => {
    const c = await Conn.open(I)
    try {
      assert.deepEqual(answer(await c.req({ path: '/list' })), ans(200, (await iget(I, '/list')).body))
      assert.deepEqual(answer(await c.req({ method: 'POST', path: '/upstream/ka', body: `server 127.0.0.1:${P2};` })), OK)
      assert.deepEqual(answer(await c.req({ path: '/upstream/ka' })), ans(200, `server 127.0.0.1:${P2}\n`))
      assert.deepEqual(answer(await c.req({ method: 'POST', path: '/upstream/ka', body: 'garbage;' })), FAILED)
      assert.deepEqual(answer(await c.req({ method: 'POST', path: '/list', body: 'x' })), ans(404, 'not support this interface'))
      const chunked = `POST /upstream/ka HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nserve\r\n${(`r 127.0.0.1:${P3};`).length.toString(16)}\r\nr 127.0.0.1:${P3};\r\n0\r\n\r\n`
      assert.deepEqual(answer(await c.send(chunked)), OK)
      assert.deepEqual(answer(await c.req({ path: '/upstream/ka' })), ans(200, `server 127.0.0.1:${P3}\n`))
      assert.deepEqual(answer(await c.req({ method: 'PUT', path: '/upstream/ka', body: 'x' })), ans(405))
      const nob = await c.send('POST /upstream/ka HTTP/1.1\r\nHost: localhost\r\n\r\n')
      assert.equal(nob.status, 204)
      assert.deepEqual(answer(await c.req({ method: 'DELETE', path: '/upstream/ka' })), OK)
      assert.deepEqual(answer(await c.req({ path: '/upstream/ka' })), ans(404))
      assert.deepEqual(answer(await c.req({ method: 'DELETE', path: '/upstream/ka' })), ans(404, 'not found uptream'))
      assert.equal(c.closed, false, 'the connection stays open')
      const last = await c.req({ path: '/upstream/stat', headers: { Connection: 'close' } })
      assert.equal(last.status, 200)
      assert.equal(await c.waitClosed(), true, 'Connection: close is honoured')
    } finally {
      c.close()
    }
  })

  await t.test('Expect: 100-continue (what curl sends for bodies over 1 KB)', async () => {
    let body = ''
    for (let i = 0; i < 60; i++) body += `server 127.0.0.1:${P1} weight=${i + 1}; # padding padding\n`
    assert.ok(body.length > 1024)
    const c = await Conn.open(I)
    try {
      const cont = await c.send(`POST /upstream/expect HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`)
      assert.equal(cont.status, 100)
      assert.deepEqual(answer(await c.send(body)), OK)
      assert.deepEqual(answer(await c.req({ path: '/upstream/expect' })), ans(200, `server 127.0.0.1:${P1}\n`.repeat(60)))
      assert.deepEqual(answer(await c.req({ method: 'DELETE', path: '/upstream/expect' })), OK)
    } finally {
      c.close()
    }
  })

  await t.test('pipelined interface requests are answered in order', async () => {
    const raw =
      `POST /upstream/pipe HTTP/1.1\r\nHost: x\r\nContent-Length: ${`server 127.0.0.1:${P1};`.length}\r\n\r\nserver 127.0.0.1:${P1};` +
      'GET /upstream/pipe HTTP/1.1\r\nHost: x\r\n\r\n' +
      'DELETE /upstream/pipe HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /upstream/pipe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
    const c = await Conn.open(I)
    try {
      const first = await c.send(raw)
      assert.deepEqual(answer(first), OK)
      assert.deepEqual(answer(await c.read()), ans(200, `server 127.0.0.1:${P1}\n`))
      assert.deepEqual(answer(await c.read()), OK)
      assert.deepEqual(answer(await c.read()), ans(404))
    } finally {
      c.close()
    }
  })
})

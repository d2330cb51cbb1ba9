/**
 * Bad upstream input. In nginx.conf: `nginx -t` and `dyups -t` on the very same file must fail with the same
 * message and file:line. Through the dyups interface: the same bodies are answered 500 `add server failed`, the
 * error log names nginx's message, and nothing is applied (the group reads and routes as before).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { backend, ipost, iget, startInterface, tempPrefix, via, waitFor, writeConf } from './helpers.js'
import { dyupsTest, nginxTest, sideConf } from './nginx.js'

/** [what, upstream block body (lines after `upstream u {`), nginx's message, its line in the file]. */
const CASES: [string, string, string, number][] = [
  ['hash without a key', 'hash;\n        server 127.0.0.1:81;', 'invalid number of arguments in "hash" directive', 10],
  ['hash with a bad third word', 'hash $arg_k consistent extra;\n        server 127.0.0.1:81;', 'invalid number of arguments in "hash" directive', 10],
  ['backup with ip_hash', 'ip_hash;\n        server 127.0.0.1:81 backup;', 'balancing method does not support parameter "backup"', 11],
  ['backup with hash', 'hash $arg_k;\n        server 127.0.0.1:81 backup;', 'balancing method does not support parameter "backup"', 11],
  ['backup with random', 'random;\n        server 127.0.0.1:81;\n        server 127.0.0.1:82 backup;', 'balancing method does not support parameter "backup"', 12],
  ['random with a bad word', 'random three;\n        server 127.0.0.1:81;', 'invalid parameter "three"', 10],
  ['weight=0', 'server 127.0.0.1:81 weight=0;', 'invalid parameter "weight=0"', 10],
  ['weight=abc', 'server 127.0.0.1:81;\n        server 127.0.0.1:82 weight=abc;', 'invalid parameter "weight=abc"', 11],
  ['max_fails=-1', 'server 127.0.0.1:81 max_fails=-1;', 'invalid parameter "max_fails=-1"', 10],
  ['fail_timeout=abc', 'server 127.0.0.1:81 fail_timeout=abc;', 'invalid parameter "fail_timeout=abc"', 10],
  ['fail_timeout in milliseconds', 'server 127.0.0.1:81 fail_timeout=500ms;', 'invalid parameter "fail_timeout=500ms"', 10],
  ['max_conns=x', 'server 127.0.0.1:81 max_conns=x;', 'invalid parameter "max_conns=x"', 10],
  ['down=1', 'server 127.0.0.1:81 down=1;', 'invalid parameter "down=1"', 10],
  ['an empty port', 'server 127.0.0.1:;', 'invalid port in upstream "127.0.0.1:"', 10],
  ['port 0', 'server 127.0.0.1:0;', 'invalid port in upstream "127.0.0.1:0"', 10],
  ['port 70000', 'server 127.0.0.1:70000;', 'invalid port in upstream "127.0.0.1:70000"', 10],
  ['a unix socket without a path', 'server unix:;', 'no path in the unix domain socket in upstream "unix:"', 10],
  ['a URL for an address', 'server http://127.0.0.1:81;', 'invalid host in upstream "http://127.0.0.1:81"', 10],
  ['an address that is not one', 'server 999.1.1.1:80;', 'host not found in upstream "999.1.1.1:80"', 10],
  ['server without an address', 'server;', 'invalid number of arguments in "server" directive', 10],
  ['keepalive 0', 'keepalive 0;\n        server 127.0.0.1:81;', 'invalid value "0" in "keepalive" directive', 10],
  ['keepalive_requests abc', 'keepalive_requests abc;\n        server 127.0.0.1:81;', '"keepalive_requests" directive invalid number', 10],
  ['keepalive_timeout abc', 'keepalive_timeout abc;\n        server 127.0.0.1:81;', '"keepalive_timeout" directive invalid value', 10],
  ['no servers at all', '', 'no servers are inside upstream', 11],
]

/** The configuration's error as `MESSAGE in FILE:LINE`, from nginx's or dyups's stderr. */
function emerg(stderr: string): string {
  const m = /\[emerg\] (?:\d+#\d+: )?(.*)$/m.exec(stderr)
  return m === null ? `no [emerg] line in ${JSON.stringify(stderr)}` : m[1]!
}

test('bad upstream blocks in nginx.conf: nginx -t and dyups -t say the same', async (t) => {
  const check = async (body: string): Promise<{ ngx: string; dy: string; codes: [number | null, number | null]; file: string }> => {
    const prefix = tempPrefix(t)
    const file = writeConf(prefix, 'conf/nginx.conf', sideConf({ upstream: `    upstream u {\n        ${body}\n    }` }, 1, 'dyups'))
    const [n, d] = await Promise.all([nginxTest(prefix), dyupsTest(prefix)])
    return { ngx: emerg(n.stderr), dy: emerg(d.stderr + d.stdout), codes: [n.code, d.code], file }
  }
  // dyups -t is a Node start-up (about half a second): three at a time.
  const results: Promise<Awaited<ReturnType<typeof check>>>[] = []
  for (let i = 0; i < CASES.length; i++) {
    results.push(i < 3 ? check(CASES[i]![1]) : results[i - 3]!.then(() => check(CASES[i]![1])))
  }
  for (const [i, [what, , message, line]] of CASES.entries()) {
    await t.test(what, async () => {
      const r = await results[i]!
      assert.equal(r.ngx, `${message} in ${r.file}:${line}`, 'nginx says what the table says')
      assert.deepEqual([r.dy, r.codes], [r.ngx, [1, 1]])
    })
  }

  await t.test('a duplicate upstream block (names compare case-insensitively)', async () => {
    const r = await check('server 127.0.0.1:81;\n    }\n    upstream U {\n        server 127.0.0.1:82;')
    assert.equal(r.ngx, `duplicate upstream "U" in ${r.file}:12`)
    assert.deepEqual([r.dy, r.codes], [r.ngx, [1, 1]])
  })

  // A known difference, kept visible: dyups refuses `backup` in a group whose method cannot use it even when the
  // method comes later (nginx accepts, and its ip_hash never picks the backup).
  await t.test('backup before ip_hash with a primary', { todo: 'dyups refuses what nginx accepts' }, async () => {
    const r = await check('server 127.0.0.1:81;\n        server 127.0.0.1:82 backup;\n        ip_hash;')
    assert.deepEqual([r.dy, r.codes], [r.ngx, [0, 0]])
  })
  await t.test('only backup servers: nginx names the upstream line', async () => {
    const r = await check('server 127.0.0.1:81 backup;')
    assert.equal(r.ngx, `no servers in upstream "u" in ${r.file}:9`)
    assert.deepEqual([r.dy, r.codes], [r.ngx, [1, 1]])
  })

  await t.test('duplicate server lines are accepted', async () => {
    const prefix = tempPrefix(t)
    writeConf(prefix, 'conf/nginx.conf', sideConf({ upstream: '    upstream u {\n        server 127.0.0.1:81;\n        server 127.0.0.1:81;\n    }' }, 1, 'dyups'))
    const [n, d] = await Promise.all([nginxTest(prefix), dyupsTest(prefix)])
    assert.deepEqual([n.code, d.code], [0, 0], `${n.stderr}\n${d.stderr}`)
  })
})

test('the same bodies through the interface: 500, the reason logged, nothing applied', async (t) => {
  const a = await backend(t, 'A')
  const s = await startInterface(t, { workers: 1, http: `    upstream g { server 127.0.0.1:${a.port}; }` })
  const count = (m: string): number => s.d.errorLog().split(m).length - 1
  const before = await iget(s.iface, '/upstream/g')
  assert.deepEqual([before.status, before.body], [200, `server 127.0.0.1:${a.port}\n`])
  for (const [what, body, message] of CASES) {
    await t.test(what, async () => {
      const logged = count(message)
      const r = await ipost(s.iface, '/upstream/g', body)
      assert.deepEqual([r.status, r.body], [500, 'add server failed'])
      assert.ok(await waitFor(() => count(message) > logged, 15_000), `error log names ${message}: ${s.d.errorLog().slice(-400)}`)
      const now = await iget(s.iface, '/upstream/g')
      assert.deepEqual([now.status, now.body], [before.status, before.body], 'the group reads as before')
      const v = await via(s.proxy, 'g')
      assert.deepEqual([v.status, v.body], [200, 'A'], 'and routes as before')
    })
  }
})

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DyupsError } from '../errors.js'
import { parseCommands, type Resolver } from './build.js'

const fakeDns: Resolver = async (host) => {
  if (host === 'two.example') return ['10.0.0.1', '10.0.0.2']
  throw new Error('ENOTFOUND')
}

async function fails(body: string, message: string, line: number): Promise<void> {
  await assert.rejects(parseCommands('g', body, fakeDns), (e: unknown) => {
    assert.ok(e instanceof DyupsError, String(e))
    assert.equal(e.code, 'E_COMMANDS')
    assert.equal(e.message, message, JSON.stringify(body))
    assert.deepEqual(e.at, { file: 'command body', line }, JSON.stringify(body))
    return true
  })
}

test('command bodies as Tengine accepts them', async () => {
  const cases: [string, string[]][] = [
    ['server 127.0.0.1:8088;', ['127.0.0.1:8088']],
    ['server 127.0.0.1:8088;server 127.0.0.1:8089;', ['127.0.0.1:8088', '127.0.0.1:8089']],
    ['\n  # backends\n  server 127.0.0.1:8088 weight=2; # main\n\tserver [::1]:8089 backup;\n', ['127.0.0.1:8088', '[::1]:8089']],
    ['server "127.0.0.1:8088";', ['127.0.0.1:8088']],
    ['server two.example:81;', ['10.0.0.1:81', '10.0.0.2:81']],
    ['server unix:/tmp/app.sock;', ['unix:/tmp/app.sock']],
    ['ip_hash; server 127.0.0.1:1; server 127.0.0.1:2;', ['127.0.0.1:1', '127.0.0.1:2']],
    ['zone shared 64k; server 127.0.0.1:1;', ['127.0.0.1:1']],
    ['keepalive 8; keepalive_timeout 30s; keepalive_requests 100; server 127.0.0.1:1;', ['127.0.0.1:1']],
    ['hash $arg_id consistent; server 127.0.0.1:1;', ['127.0.0.1:1']],
    ['check interval=3000 rise=2 fall=5 timeout=1000 type=http;\ncheck_http_send "HEAD / HTTP/1.0\\r\\n\\r\\n";\ncheck_http_expect_alive http_2xx http_3xx;\nserver 127.0.0.1:1;', ['127.0.0.1:1']],
  ]
  for (const [body, addrs] of cases) {
    const g = await parseCommands('g', body, fakeDns)
    assert.deepEqual(g.servers.map((s) => s.addr), addrs, JSON.stringify(body))
  }
  const g = await parseCommands('g', 'check type=http; check_http_send "HEAD / HTTP/1.0\\r\\n\\r\\n"; server 127.0.0.1:1;')
  assert.equal(g.check!.send, 'HEAD / HTTP/1.0\r\n\r\n')
})

test('command bodies Tengine rejects, with the position', async () => {
  const cases: [string, string, number][] = [
    ['', 'no servers are inside upstream', 1],
    ['   \n\n', 'no servers are inside upstream', 3],
    ['# only a comment\n# and another', 'no servers are inside upstream', 2],
    ['server 127.0.0.1:8088', 'unexpected end of file, expecting ";" or "}"', 1],
    ['server 127.0.0.1:8088;\nserver 127.0.0.1:8089', 'unexpected end of file, expecting ";" or "}"', 2],
    ['server 127.0.0.1:8088;}', 'unexpected "}"', 1],
    ['server 127.0.0.1:8088; {', 'unexpected "{"', 1],
    ['upstream x { server 127.0.0.1:8088; }', '"upstream" directive is not allowed here', 1],
    ['server 127.0.0.1:8088;\nlocation / { }', '"location" directive is not allowed here', 2],
    ['server 127.0.0.1:8088 { }', 'directive "server" is not terminated by ";"', 1],
    ['garbage 1;', 'unknown directive "garbage"', 1],
    ['server 127.0.0.1:1;\n\ngarbage 1;\nserver x', 'unknown directive "garbage"', 3],
    ['server 127.0.0.1:8088 weight=0;', 'invalid parameter "weight=0"', 1],
    ['server 127.0.0.1:8088 foo=1;', 'invalid parameter "foo=1"', 1],
    ['server 127.0.0.1:8088 badparam;', 'invalid parameter "badparam"', 1],
    ['server 127.0.0.1:8088 fail_timeout=500ms;', 'invalid parameter "fail_timeout=500ms"', 1],
    ['server 999.1.1.1:80;', 'host not found in upstream "999.1.1.1:80"', 1],
    ['server nowhere.invalid:80;', 'host not found in upstream "nowhere.invalid:80"', 1],
    ['server h\xc3\xa9:80;', 'host not found in upstream "h\xc3\xa9:80"', 1],
    ['server \xff\xfe:80;', 'host not found in upstream "\xff\xfe:80"', 1],
    ['ip_hash;\nserver 127.0.0.1:1;\nserver 127.0.0.1:2 backup;', 'balancing method does not support parameter "backup"', 3],
    ['server 127.0.0.1:1 backup; ip_hash;', 'balancing method does not support parameter "backup"', 1],
    ['server 127.0.0.1:1;\n\x00', 'unexpected NUL byte', 2],
    ['check interval=0; server 127.0.0.1:1;', 'invalid parameter "interval=0"', 1],
  ]
  for (const [body, message, line] of cases) await fails(body, message, line)
})

test('a syntax error after an invalid directive reports the directive first, as nginx reads', async () => {
  await fails('server 127.0.0.1:1 weight=0;\nserver 127.0.0.1:2', 'invalid parameter "weight=0"', 1)
  await fails('server 127.0.0.1:1;\nserver 127.0.0.1:2 weight=x;\n}', 'invalid parameter "weight=x"', 2)
})

test('large bodies: hundreds of servers and more than 64 KB', async () => {
  let body = '# generated\n'
  for (let i = 0; i < 1500; i++) body += `server 10.${i >> 8}.${i & 255}.7:${1000 + i} weight=${1 + (i % 5)} max_fails=2 fail_timeout=30s;\n`
  assert.ok(body.length > 64 * 1024)
  const g = await parseCommands('big', body)
  assert.equal(g.servers.length, 1500)
  assert.equal(g.servers[1499]!.addr, '10.5.219.7:2499')
  assert.equal(g.servers[1499]!.weight, 5)
})

test('the body is bytes: any name is kept as given', async () => {
  const name = 'My Host \xff\xc3\xa9'
  const g = await parseCommands(name, 'server 127.0.0.1:1;')
  assert.equal(g.name, name)
})

test('deeply nested blocks in a body are refused like any unknown directive, not with a stack overflow', async () => {
  // Found by fuzzing: POST /upstream/NAME with `a {` ten thousand times answered 500 "Maximum call stack size exceeded".
  await fails('a {'.repeat(10_000), 'unknown directive "a"', 1)
  await fails('server 127.0.0.1:1;\n' + 'upstream u {'.repeat(10_000), '"upstream" directive is not allowed here', 2)
})

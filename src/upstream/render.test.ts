import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Directive } from '../config/index.js'
import { buildGroup, type Resolver } from './build.js'
import { quoteArg, renderDetail, renderList, renderServers, renderUpstreamBlock } from './render.js'
import type { UpstreamGroup } from './types.js'

const fakeDns: Resolver = async (host) => (host === 'two.example' ? ['10.0.0.1', '10.0.0.2'] : ['10.9.9.9'])

function dirs(...lines: (readonly string[])[]): Directive[] {
  return lines.map(([name, ...args], i) => ({ name: name!, args, block: null, file: 't', line: i + 1 }))
}
const group = (name: string, ...lines: (readonly string[])[]): Promise<UpstreamGroup> =>
  buildGroup(name, dirs(...lines), { source: 'commands', resolve: fakeDns })

test('/detail of the bundled example is byte-exact (docs/api.md#get-reading-the-table)', async () => {
  const groups = [await group('host1', ['server', '127.0.0.1:8088']), await group('host2', ['server', '127.0.0.1:8089'])]
  assert.equal(
    renderDetail(groups),
    'host1\nserver 127.0.0.1:8088 weight=1 max_conns=0 max_fails=1 fail_timeout=10 backup=0 down=0\n\n' +
      'host2\nserver 127.0.0.1:8089 weight=1 max_conns=0 max_fails=1 fail_timeout=10 backup=0 down=0\n\n',
  )
  assert.equal(renderList(groups), 'host1\nhost2\n')
  assert.equal(renderList([]), '')
  assert.equal(renderDetail([]), '')
})

test('/detail shows every parameter, one line per server line, a host name by its first address', async () => {
  const g = await group(
    'My Group',
    ['server', '127.0.0.1', 'weight=3', 'max_conns=10', 'max_fails=2', 'fail_timeout=2m'],
    ['server', 'two.example:81', 'down'],
    ['server', '[::1]:8080', 'backup'],
    ['server', 'unix:/tmp/x.sock'],
    ['server', '127.0.0.1'],
  )
  assert.equal(g.servers.length, 6)
  assert.equal(
    renderDetail([g]),
    'My Group\n' +
      'server 127.0.0.1:80 weight=3 max_conns=10 max_fails=2 fail_timeout=120 backup=0 down=0\n' +
      'server 10.0.0.1:81 weight=1 max_conns=0 max_fails=1 fail_timeout=10 backup=0 down=1\n' +
      'server [::1]:8080 weight=1 max_conns=0 max_fails=1 fail_timeout=10 backup=1 down=0\n' +
      'server unix:/tmp/x.sock weight=1 max_conns=0 max_fails=1 fail_timeout=10 backup=0 down=0\n' +
      'server 127.0.0.1:80 weight=1 max_conns=0 max_fails=1 fail_timeout=10 backup=0 down=0\n\n',
  )
  assert.equal(
    renderServers(g),
    'server 127.0.0.1:80\nserver 10.0.0.1:81\nserver [::1]:8080\nserver unix:/tmp/x.sock\nserver 127.0.0.1:80\n',
  )
})

test('group-level directives are not shown in /detail', async () => {
  const g = await group('h', ['ip_hash'], ['keepalive', '8'], ['server', '10.0.0.1:80'], ['check', 'type=http'])
  assert.equal(renderDetail([g]), 'h\nserver 10.0.0.1:80 weight=1 max_conns=0 max_fails=1 fail_timeout=10 backup=0 down=0\n\n')
})

test('names with any bytes are shown as they are', async () => {
  const name = 'a b\xff\xc3\xa9'
  const g = await group(name, ['server', '10.0.0.1:80'])
  assert.equal(renderList([g]), `${name}\n`)
})

test('upstream block: defaults are left out', async () => {
  const g = await group('backend', ['server', '127.0.0.1:8088'])
  assert.equal(renderUpstreamBlock(g), 'upstream backend {\n    server 127.0.0.1:8088;\n}\n')
})

test('upstream block: every setting that differs from the default', async () => {
  const g = await group(
    'backend',
    ['least_conn'],
    ['server', '127.0.0.1', 'weight=3', 'max_conns=10', 'max_fails=0', 'fail_timeout=2m', 'slow_start=30s'],
    ['server', 'two.example:81', 'down'],
    ['server', '[::1]:8080', 'backup'],
    ['keepalive', '32'],
    ['keepalive_timeout', '75s'],
    ['keepalive_requests', '50'],
    ['keepalive_time', '10m'],
    ['check', 'interval=3000', 'rise=3', 'fall=4', 'timeout=500', 'type=http', 'port=81', 'unique=true'],
    ['check_http_send', 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['check_http_expect_alive', 'http_2xx'],
    ['check_keepalive_requests', '5'],
  )
  assert.equal(
    renderUpstreamBlock(g),
    'upstream backend {\n' +
      '    least_conn;\n' +
      '    server 127.0.0.1 weight=3 max_fails=0 fail_timeout=120s max_conns=10 slow_start=30s;\n' +
      '    server 10.0.0.1:81 down;\n' +
      '    server 10.0.0.2:81 down;\n' +
      '    server [::1]:8080 backup;\n' +
      '    keepalive 32;\n' +
      '    keepalive_timeout 75000ms;\n' +
      '    keepalive_requests 50;\n' +
      '    keepalive_time 600000ms;\n' +
      '    check interval=3000 rise=3 fall=4 timeout=500 default_down=true type=http port=81 unique=true;\n' +
      '    check_http_send "HEAD / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n";\n' +
      '    check_http_expect_alive http_2xx;\n' +
      '    check_keepalive_requests 5;\n' +
      '}\n',
  )
})

test('upstream block: methods', async () => {
  const cases: [string[], string][] = [
    [['ip_hash'], '    ip_hash;\n'],
    [['hash', '$remote_addr'], '    hash $remote_addr;\n'],
    [['hash', '$host $uri', 'consistent'], '    hash "$host $uri" consistent;\n'],
    [['random'], '    random;\n'],
    [['random', 'two', 'least_conn'], '    random two;\n'],
  ]
  for (const [line, want] of cases) {
    const g = await group('b', line, ['server', '10.0.0.1:80'])
    assert.equal(renderUpstreamBlock(g), `upstream b {\n${want}    server 10.0.0.1:80;\n}\n`)
  }
})

test('nginx quoting of arguments', () => {
  const cases: [string, string][] = [
    ['host1', 'host1'],
    ['a.b-c_d:80', 'a.b-c_d:80'],
    ['$remote_addr', '$remote_addr'],
    ['\xff\xc3\xa9', '\xff\xc3\xa9'],
    ['', '""'],
    ['my host', '"my host"'],
    ['a;b', '"a;b"'],
    ['a{b}', '"a{b}"'],
    ['#x', '"#x"'],
    ["it's", '"it\'s"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['back\\slash', '"back\\\\slash"'],
    ['tab\there', '"tab\\there"'],
    ['line\r\nbreak', '"line\\r\\nbreak"'],
    ['bell\x07', '"bell\x07"'],
    ['del\x7f', '"del\x7f"'],
  ]
  for (const [s, want] of cases) assert.equal(quoteArg(s), want, JSON.stringify(s))
})

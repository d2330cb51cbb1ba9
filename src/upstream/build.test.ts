import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Directive } from '../config/index.js'
import { DyupsError } from '../errors.js'
import { buildGroup, type BuildOptions, type Resolver } from './build.js'
import type { Server, UpstreamGroup } from './types.js'

const FILE = 'nginx.conf'

/** Directives one per line from `[name, ...args]`, starting at line 1. */
function dirs(...lines: (readonly string[])[]): Directive[] {
  return lines.map(([name, ...args], i) => ({ name: name!, args, block: null, file: FILE, line: i + 1 }))
}

/** A resolver that knows a few names and never touches the network. */
const fakeDns: Resolver = async (host) => {
  const table: Record<string, string[]> = {
    'two.example': ['10.0.0.1', '10.0.0.2'],
    'mixed.example': ['10.0.0.3', '2001:DB8::0:1'],
    'one.example': ['10.0.0.9'],
  }
  const found = table[host]
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
  return found
}

const build = (lines: (readonly string[])[], opts: Partial<BuildOptions> = {}): Promise<UpstreamGroup> =>
  buildGroup('g', dirs(...lines), { source: 'config', resolve: fakeDns, ...opts })

async function rejects(lines: (readonly string[])[], message: string, line: number, opts: Partial<BuildOptions> = {}) {
  await assert.rejects(build(lines, opts), (e: unknown) => {
    assert.ok(e instanceof DyupsError, String(e))
    assert.equal(e.message, message)
    assert.equal(e.code, opts.source === 'commands' ? 'E_COMMANDS' : 'E_CONFIG')
    assert.deepEqual(e.at, { file: FILE, line })
    return true
  })
}

const DEFAULTS = { weight: 1, maxFails: 1, failTimeout: 10, maxConns: 0, backup: false, down: false, slowStart: 0, id: -1, drain: false }

test('server parameters: valid values', async () => {
  const cases: [string[], Partial<Server>][] = [
    [[], DEFAULTS],
    [['weight=5'], { weight: 5 }],
    [['weight=1000000'], { weight: 1000000 }],
    [['max_fails=0'], { maxFails: 0 }],
    [['max_fails=3'], { maxFails: 3 }],
    [['fail_timeout=30s'], { failTimeout: 30 }],
    [['fail_timeout=2m'], { failTimeout: 120 }],
    [['fail_timeout=45'], { failTimeout: 45 }],
    [['fail_timeout=0'], { failTimeout: 0 }],
    [['max_conns=0'], { maxConns: 0 }],
    [['max_conns=100'], { maxConns: 100 }],
    [['slow_start=30s'], { slowStart: 30 }],
    [['backup'], { backup: true }],
    [['down'], { down: true }],
    [['weight=2', 'max_fails=2', 'fail_timeout=1m', 'max_conns=7', 'down'], { weight: 2, maxFails: 2, failTimeout: 60, maxConns: 7, down: true }],
    // the last value of a repeated parameter wins, as in nginx
    [['weight=2', 'weight=3'], { weight: 3 }],
  ]
  for (const [params, want] of cases) {
    // a primary first, so that `backup` alone is valid
    const g = await build([['server', '10.0.0.1:80'], ['server', '10.0.0.2:80', ...params]])
    assert.deepEqual(g.servers[1], { ...baseServer('10.0.0.2:80', 1), ...DEFAULTS, ...want }, params.join(' '))
  }
})

function baseServer(addr: string, entry: number, name = addr): Server {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))]
  return { addr, name, host: host.replace(/^\[|\]$/g, ''), port, unix: false, entry, ...DEFAULTS }
}

test('server parameters: invalid values carry nginx messages and the line', async () => {
  const cases: [string, string][] = [
    ['weight=0', 'invalid parameter "weight=0"'],
    ['weight=-1', 'invalid parameter "weight=-1"'],
    ['weight=', 'invalid parameter "weight="'],
    ['weight=1.5', 'invalid parameter "weight=1.5"'],
    ['weight=abc', 'invalid parameter "weight=abc"'],
    ['max_fails=-1', 'invalid parameter "max_fails=-1"'],
    ['max_fails=x', 'invalid parameter "max_fails=x"'],
    ['max_conns=-5', 'invalid parameter "max_conns=-5"'],
    ['fail_timeout=500ms', 'invalid parameter "fail_timeout=500ms"'],
    ['fail_timeout=abc', 'invalid parameter "fail_timeout=abc"'],
    ['fail_timeout=', 'invalid parameter "fail_timeout="'],
    ['slow_start=1ms', 'invalid parameter "slow_start=1ms"'],
    ['foo=1', 'invalid parameter "foo=1"'],
    ['badparam', 'invalid parameter "badparam"'],
    ['backups', 'invalid parameter "backups"'],
    ['Down', 'invalid parameter "Down"'],
    ['weight =1', 'invalid parameter "weight =1"'],
  ]
  for (const [param, message] of cases) {
    await rejects([['keepalive', '4'], ['server', '10.0.0.1:80'], ['server', '10.0.0.2:80', param]], message, 3)
  }
})

test('parameters are checked before the address, left to right', async () => {
  await rejects([['server', '999.1.1.1:80', 'foo=1']], 'invalid parameter "foo=1"', 1)
  await rejects([['server', '10.0.0.1:0', 'weight=0', 'bar']], 'invalid parameter "weight=0"', 1)
})

test('address errors', async () => {
  const cases: [string, string][] = [
    ['999.1.1.1:80', 'host not found in upstream "999.1.1.1:80"'],
    ['no.such.host:80', 'host not found in upstream "no.such.host:80"'],
    ['127.0.0.1:0', 'invalid port in upstream "127.0.0.1:0"'],
    ['127.0.0.1:65536', 'invalid port in upstream "127.0.0.1:65536"'],
    ['127.0.0.1:abc', 'invalid port in upstream "127.0.0.1:abc"'],
    [':80', 'no host in upstream ":80"'],
    ['a/b:80', 'invalid host in upstream "a/b:80"'],
    ['[::1', 'invalid host in upstream "[::1"'],
    ['[::g]:80', 'invalid IPv6 address in upstream "[::g]:80"'],
    ['unix:', 'no path in the unix domain socket in upstream "unix:"'],
    ['h\xe9llo:80', 'host not found in upstream "h\xe9llo:80"'],
    ['h\xc3\xa9llo:80', 'host not found in upstream "h\xc3\xa9llo:80"'],
  ]
  for (const [url, message] of cases) await rejects([['server', url]], message, 1)
})

test('address forms become canonical peers', async () => {
  const g = await build([
    ['server', '127.0.0.1:8088'],
    ['server', '127.0.0.1'],
    ['server', '[::1]:8088'],
    ['server', '[0:0::1]'],
    ['server', 'unix:/tmp/app.sock'],
    ['server', 'two.example:81'],
    ['server', 'mixed.example'],
  ])
  assert.deepEqual(
    g.servers.map((s) => [s.addr, s.name, s.host, s.port, s.unix, s.entry]),
    [
      ['127.0.0.1:8088', '127.0.0.1:8088', '127.0.0.1', 8088, false, 0],
      ['127.0.0.1:80', '127.0.0.1', '127.0.0.1', 80, false, 1],
      ['[::1]:8088', '[::1]:8088', '::1', 8088, false, 2],
      ['[::1]:80', '[0:0::1]', '::1', 80, false, 3],
      ['unix:/tmp/app.sock', 'unix:/tmp/app.sock', '/tmp/app.sock', 0, true, 4],
      ['10.0.0.1:81', 'two.example:81', '10.0.0.1', 81, false, 5],
      ['10.0.0.2:81', 'two.example:81', '10.0.0.2', 81, false, 5],
      ['10.0.0.3:80', 'mixed.example', '10.0.0.3', 80, false, 6],
      ['[2001:db8::1]:80', 'mixed.example', '2001:db8::1', 80, false, 6],
    ],
  )
})

test('every peer of a resolved name gets the server line parameters', async () => {
  const g = await build([['server', 'two.example', 'weight=3', 'max_fails=0']])
  assert.equal(g.servers.length, 2)
  for (const s of g.servers) assert.deepEqual([s.weight, s.maxFails, s.entry], [3, 0, 0])
})

test('localhost resolves through the system resolver, IPv4 first', async () => {
  const g = await buildGroup('g', dirs(['server', 'localhost:8088']), { source: 'commands' })
  assert.equal(g.servers[0]!.addr, '127.0.0.1:8088')
  assert.equal(g.servers[0]!.name, 'localhost:8088')
})

test('a resolution failure before a syntax error is reported first, as nginx reads in order', async () => {
  await rejects([['server', '10.0.0.1'], ['server', 'nowhere.example'], ['server', '10.0.0.2', 'foo']], 'host not found in upstream "nowhere.example"', 2)
  await rejects([['server', '10.0.0.1', 'foo'], ['server', 'nowhere.example']], 'invalid parameter "foo"', 1)
})

test('names are resolved concurrently, once per server line', async () => {
  let calls = 0
  let inFlight = 0
  let maxInFlight = 0
  const slow: Resolver = async (host) => {
    calls++
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    await new Promise((r) => setImmediate(r))
    inFlight--
    return [`10.1.${host.length}.1`]
  }
  const lines = Array.from({ length: 50 }, (_, i) => ['server', `h${'x'.repeat(i)}.example`])
  const g = await build(lines, { resolve: slow })
  assert.equal(g.servers.length, 50)
  assert.equal(calls, 50)
  assert.ok(maxInFlight > 1)
})

test('balancing methods', async () => {
  const cases: [string[][], unknown][] = [
    [[], { name: 'round_robin' }],
    [[['ip_hash']], { name: 'ip_hash' }],
    [[['least_conn']], { name: 'least_conn' }],
    [[['hash', '$remote_addr']], { name: 'hash', key: '$remote_addr', consistent: false }],
    [[['hash', '$request_uri', 'consistent']], { name: 'hash', key: '$request_uri', consistent: true }],
    [[['random']], { name: 'random', two: false }],
    [[['random', 'two']], { name: 'random', two: true }],
    [[['random', 'two', 'least_conn']], { name: 'random', two: true }],
  ]
  for (const [lines, policy] of cases) {
    const g = await build([...lines, ['server', '10.0.0.1']])
    assert.deepEqual(g.policy, policy, JSON.stringify(lines))
  }
})

test('balancing method errors', async () => {
  await rejects([['hash', '$x', 'ketama']], 'invalid parameter "ketama"', 1)
  await rejects([['random', 'three']], 'invalid parameter "three"', 1)
  await rejects([['random', 'two', 'most_conn']], 'invalid parameter "most_conn"', 1)
  await rejects([['ip_hash', 'x']], 'invalid number of arguments in "ip_hash" directive', 1)
  await rejects([['least_conn', 'x']], 'invalid number of arguments in "least_conn" directive', 1)
  await rejects([['hash']], 'invalid number of arguments in "hash" directive', 1)
  await rejects([['hash', 'a', 'consistent', 'b']], 'invalid number of arguments in "hash" directive', 1)
  await rejects([['random', 'two', 'least_conn', 'x']], 'invalid number of arguments in "random" directive', 1)
})

test('a second method wins with nginx\'s warning', async () => {
  const warnings: unknown[] = []
  const g = await build([['ip_hash'], ['server', '10.0.0.1'], ['least_conn']], {
    onWarning: (message, at) => warnings.push([message, at.line]),
  })
  assert.deepEqual(g.policy, { name: 'least_conn' })
  assert.deepEqual(warnings, [['load balancing method redefined', 3]])
})

test('backup is refused by ip_hash, hash and random, in either order', async () => {
  const message = 'balancing method does not support parameter "backup"'
  for (const method of [['ip_hash'], ['hash', '$uri'], ['hash', '$uri', 'consistent'], ['random'], ['random', 'two']]) {
    await rejects([method, ['server', '10.0.0.1'], ['server', '10.0.0.2', 'backup']], message, 3)
    await rejects([['server', '10.0.0.1'], ['server', '10.0.0.2', 'backup'], method], message, 2)
  }
  const g = await build([['least_conn'], ['server', '10.0.0.1'], ['server', '10.0.0.2', 'backup']])
  assert.equal(g.servers[1]!.backup, true)
  // a later method that supports backup makes the group valid again, as in nginx
  const g2 = await build([['ip_hash'], ['least_conn'], ['server', '10.0.0.1'], ['server', '10.0.0.2', 'backup']])
  assert.equal(g2.policy.name, 'least_conn')
})

test('keepalive settings', async () => {
  const g0 = await build([['server', '10.0.0.1']])
  assert.deepEqual(g0.keepalive, { connections: 0, timeout: 60000, requests: 1000, time: 3600000 })
  const g = await build([
    ['server', '10.0.0.1'],
    ['keepalive', '16'],
    ['keepalive_timeout', '75s'],
    ['keepalive_requests', '100'],
    ['keepalive_time', '1h30m'],
  ])
  assert.deepEqual(g.keepalive, { connections: 16, timeout: 75000, requests: 100, time: 5400000 })
})

test('keepalive errors', async () => {
  await rejects([['keepalive', '0']], 'invalid value "0" in "keepalive" directive', 1)
  await rejects([['keepalive', 'x']], 'invalid value "x" in "keepalive" directive', 1)
  await rejects([['keepalive', '1'], ['keepalive', '2']], '"keepalive" directive is duplicate', 2)
  await rejects([['keepalive', '1', '2']], 'invalid number of arguments in "keepalive" directive', 1)
  await rejects([['keepalive_timeout', '10x']], '"keepalive_timeout" directive invalid value', 1)
  await rejects([['keepalive_timeout', '1s'], ['keepalive_timeout', '2s']], '"keepalive_timeout" directive is duplicate', 2)
  await rejects([['keepalive_requests', '-1']], '"keepalive_requests" directive invalid number', 1)
})

test('zone is checked and ignored', async () => {
  const g = await build([['zone', 'backend', '64k'], ['server', '10.0.0.1']])
  assert.equal(JSON.stringify(g).includes('backend'), false)
  await build([['zone', 'backend'], ['server', '10.0.0.1']])
  await rejects([['zone', 'backend', 'lots']], 'invalid zone size "lots"', 1)
  await rejects([['zone', 'backend', '4k']], 'zone "backend" is too small', 1)
  await rejects([['zone', '']], 'invalid zone name ""', 1)
})

test('Tengine check: defaults and every parameter', async () => {
  const g0 = await build([['server', '10.0.0.1']])
  assert.equal(g0.check, null)
  const g1 = await build([['server', '10.0.0.1'], ['check', 'interval=3000']])
  assert.deepEqual(g1.check, {
    type: 'tcp',
    interval: 3000,
    timeout: 1000,
    rise: 2,
    fall: 5,
    defaultDown: true,
    unique: false,
    port: 0,
    send: '',
    expectAlive: [],
    keepaliveRequests: 1,
    fastcgiParams: [],
  })
  const g2 = await build([
    ['server', '10.0.0.1'],
    ['check', 'interval=3000', 'rise=2', 'fall=5', 'timeout=1000', 'type=http', 'default_down=FALSE', 'port=8080', 'unique=true'],
    ['check_http_send', 'HEAD /health HTTP/1.0\r\n\r\n'],
    ['check_http_expect_alive', 'http_2xx', 'HTTP_3XX', 'http_2xx'],
    ['check_keepalive_requests', '10'],
    ['check_fastcgi_param', 'REQUEST_METHOD', 'GET'],
  ])
  assert.deepEqual(g2.check, {
    type: 'http',
    interval: 3000,
    timeout: 1000,
    rise: 2,
    fall: 5,
    defaultDown: false,
    unique: true,
    port: 8080,
    send: 'HEAD /health HTTP/1.0\r\n\r\n',
    expectAlive: ['http_2xx', 'http_3xx'],
    keepaliveRequests: 10,
    fastcgiParams: [['REQUEST_METHOD', 'GET']],
  })
  const g3 = await build([['server', '10.0.0.1'], ['check', 'type=http']])
  assert.equal(g3.check!.send, 'GET / HTTP/1.0\r\n\r\n')
  assert.deepEqual(g3.check!.expectAlive, ['http_2xx', 'http_3xx'])
  // expect_alive before check is kept, as in Tengine
  const g4 = await build([['server', '10.0.0.1'], ['check_http_expect_alive', 'http_4xx'], ['check', 'type=http']])
  assert.deepEqual(g4.check!.expectAlive, ['http_4xx'])
})

test('Tengine check errors', async () => {
  const cases: [string[][], string][] = [
    [[['check', 'type=smtp']], 'invalid parameter "type=smtp"'],
    [[['check', 'type=']], 'invalid parameter "type="'],
    [[['check', 'interval=0']], 'invalid parameter "interval=0"'],
    [[['check', 'interval=1s']], 'invalid parameter "interval=1s"'],
    [[['check', 'rise=-1']], 'invalid parameter "rise=-1"'],
    [[['check', 'fall=0']], 'invalid parameter "fall=0"'],
    [[['check', 'timeout=']], 'invalid parameter "timeout="'],
    [[['check', 'port=0']], 'invalid parameter "port=0"'],
    [[['check', 'bogus=1']], 'invalid parameter "bogus=1"'],
    [[['check', 'default_down=maybe']], 'invalid value "default_down=maybe", it must be "true" or "false"'],
    [[['check']], 'invalid number of arguments in "check" directive'],
    [[['check_http_send', 'GET / HTTP/1.0\r\n\r\n']], 'invalid check_http_send should set [check] first'],
    [[['check', 'type=tcp'], ['check_http_send', 'x']], 'invalid check_http_send for type "tcp"'],
    [[['check_http_expect_alive', 'http_6xx']], 'invalid value "http_6xx"'],
    [[['check_keepalive_requests', '0']], '"check_keepalive_requests" directive invalid value'],
    [[['check_fastcgi_param', 'A']], 'invalid number of arguments in "check_fastcgi_param" directive'],
  ]
  for (const [lines, message] of cases) await rejects(lines, message, lines.length)
})

test('directives that do not belong in an upstream block', async () => {
  await rejects([['server', '10.0.0.1'], ['garbage', '1']], 'unknown directive "garbage"', 2)
  await rejects([['proxy_pass', 'http://x']], '"proxy_pass" directive is not allowed here', 1)
  await rejects([['server']], 'invalid number of arguments in "server" directive', 1)
  const nested: Directive[] = [
    { name: 'server', args: ['10.0.0.1'], block: null, file: FILE, line: 1 },
    { name: 'upstream', args: ['x'], block: dirs(['server', '10.0.0.2']), file: FILE, line: 2 },
  ]
  await assert.rejects(buildGroup('g', nested, { source: 'commands' }), {
    code: 'E_COMMANDS',
    message: '"upstream" directive is not allowed here',
  })
  const block: Directive[] = [{ name: 'server', args: ['10.0.0.1'], block: [], file: FILE, line: 4 }]
  await assert.rejects(buildGroup('g', block, { source: 'commands' }), {
    message: 'directive "server" is not terminated by ";"',
    at: { file: FILE, line: 4 },
  })
})

test('a group needs a primary server', async () => {
  await assert.rejects(buildGroup('g', [], { source: 'commands', at: { file: 'command body', line: 1 } }), {
    code: 'E_COMMANDS',
    message: 'no servers are inside upstream',
    at: { file: 'command body', line: 1 },
  })
  await rejects([['keepalive', '2']], 'no servers are inside upstream', 1)
  await rejects([['server', '10.0.0.1', 'backup']], 'no servers in upstream "g"', 1)
  // down primaries still count as servers
  const g = await build([['server', '10.0.0.1', 'down']])
  assert.equal(g.servers[0]!.down, true)
})

test('the error code follows the source', async () => {
  await rejects([['foo']], 'unknown directive "foo"', 1, { source: 'commands' })
  await rejects([['foo']], 'unknown directive "foo"', 1, { source: 'config' })
})

test('groups are deep-frozen plain JSON data', async () => {
  const g = await build([
    ['hash', '$uri', 'consistent'],
    ['server', 'two.example', 'weight=2'],
    ['server', '[::1]:81', 'down'],
    ['keepalive', '8'],
    ['check', 'type=http'],
    ['check_fastcgi_param', 'A', 'B'],
  ])
  const objects = [g, g.policy, g.keepalive, g.check, g.check!.expectAlive, g.check!.fastcgiParams, g.check!.fastcgiParams[0], g.servers, ...g.servers]
  for (const o of objects) assert.ok(Object.isFrozen(o))
  assert.deepEqual(JSON.parse(JSON.stringify(g)), g)
  assert.equal(g.name, 'g')
})

test('duplicates stay separate peers, in order', async () => {
  const g = await build([['server', '10.0.0.1'], ['server', '10.0.0.1'], ['server', '10.0.0.1', 'weight=2']])
  assert.deepEqual(g.servers.map((s) => [s.addr, s.entry, s.weight]), [
    ['10.0.0.1:80', 0, 1],
    ['10.0.0.1:80', 1, 1],
    ['10.0.0.1:80', 2, 2],
  ])
})

test('hundreds of servers build quickly', async () => {
  const lines = Array.from({ length: 2000 }, (_, i) => ['server', `10.${i >> 8}.${i & 255}.1:8080`, 'weight=2', 'max_fails=3'])
  const g = await build(lines)
  assert.equal(g.servers.length, 2000)
  assert.equal(g.servers[1999]!.addr, '10.7.207.1:8080')
})

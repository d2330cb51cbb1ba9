import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseText, type Directive } from '../../config/index.js'
import { buildVirtualHosts, normalizeHost, VhostMatch, type ServerInput } from './vhosts.js'
import { asciiLower } from '../lib/hostnames.js'

const conf = (text: string): Directive[] => parseText(text, 't.conf')

/** server blocks → ServerInput, `listen ADDR [default_server]` read as the listener would. */
function servers(text: string): ServerInput[] {
  return conf(text)
    .filter((d) => d.name === 'server')
    .map((d) => ({
      directives: d.block!,
      listens: d.block!
        .filter((l) => l.name === 'listen')
        .map((l) => ({ key: l.args[0]!, defaultServer: l.args.includes('default_server'), file: l.file, line: l.line })),
    }))
}

/** What a test server answers: the first word of its `return 200 "word|..."`. */
const answer = (input: ServerInput[], i: number): string =>
  input[i]!.directives.find((d) => d.name === 'return')!.args[1]!.split(/[|:]/)[0]!

// The http block below, and per Host (null: no Host header) the server nginx 1.22.1 chose and its $server_name.
const HTTP = String.raw`
server { listen 127.0.0.1:18931; return 200 "first|$server_name"; }
server { listen 127.0.0.1:18931; server_name example.com www.example.com; return 200 "exact|$server_name"; }
server { listen 127.0.0.1:18931; server_name *.example.com; return 200 "star|$server_name"; }
server { listen 127.0.0.1:18931; server_name *.b.example.com; return 200 "starb|$server_name"; }
server { listen 127.0.0.1:18931; server_name .example.org; return 200 "dotorg|$server_name"; }
server { listen 127.0.0.1:18931; server_name www.example.*; return 200 "tail|$server_name"; }
server { listen 127.0.0.1:18931; server_name www.*; return 200 "tailwww|$server_name"; }
server { listen 127.0.0.1:18931; server_name ~^(?<sub>[a-z]+)\.regex\.com$; return 200 "re1:$sub:$1|$server_name"; }
server { listen 127.0.0.1:18931; server_name ~^.*\.regex\.com$; return 200 "re2|$server_name"; }
server { listen 127.0.0.1:18931; server_name ~^UPPER\.com$; return 200 "reupper|$server_name"; }
server { listen 127.0.0.1:18931; server_name ~^lower\.com$; return 200 "relower|$server_name"; }
server { listen 127.0.0.1:18931 default_server; server_name _; return 200 "default|$server_name"; }
server { listen 127.0.0.1:18931; server_name ""; return 200 "empty|$server_name"; }
server { listen 127.0.0.1:18931; server_name Mixed.Case.com; return 200 "mixed|$server_name"; }
server { listen 127.0.0.1:18931; server_name example.com; return 200 "dup|$server_name"; }
server { listen 127.0.0.1:18931; server_name *.example.org; return 200 "dupwild|$server_name"; }
server { listen 127.0.0.1:18931; server_name ~^sub\.b\.example\.com$ sub.b.example.com; return 200 "exact-after-regex|$server_name"; }
server { listen 127.0.0.1:18932; server_name a.com; return 200 "p2a|$server_name"; }
server { listen 127.0.0.1:18932; server_name b.com; return 200 "p2b|$server_name"; }
server { listen 127.0.0.1:18933; server_name only.com; return 200 "p3|$server_name|$host"; }
`
const PORT1: Array<[string | null, string]> = [
  ["example.com", "exact|example.com"],
  ["EXAMPLE.COM.", "exact|example.com"],
  ["www.example.com", "exact|example.com"],
  ["a.example.com", "star|*.example.com"],
  ["a.b.example.com", "starb|*.b.example.com"],
  ["b.example.com", "star|*.example.com"],
  ["x.y.b.example.com", "starb|*.b.example.com"],
  ["sub.b.example.com", "exact-after-regex|~^sub\\.b\\.example\\.com$"],
  ["example.org", "dotorg|example.org"],
  ["a.example.org", "dotorg|example.org"],
  ["www.example.net", "tail|www.example.*"],
  ["www.example.com.au", "tail|www.example.*"],
  ["www.example", "tailwww|www.*"],
  ["www.foo", "tailwww|www.*"],
  ["www", "default|_"],
  ["abc.regex.com", "re1:abc:abc|~^(?<sub>[a-z]+)\\.regex\\.com$"],
  ["x.abc.regex.com", "re2|~^.*\\.regex\\.com$"],
  ["regex.com", "default|_"],
  ["upper.com", "reupper|~^UPPER\\.com$"],
  ["UPPER.com", "reupper|~^UPPER\\.com$"],
  ["lower.com", "relower|~^lower\\.com$"],
  ["LOWER.com", "relower|~^lower\\.com$"],
  ["nothing.net", "default|_"],
  [null, "first|"],
  ["mixed.case.com", "mixed|mixed.case.com"],
  ["MIXED.case.COM", "mixed|mixed.case.com"],
  ["_", "default|_"],
  ["example.com:8080", "exact|example.com"],
  ["[::1]", "default|_"],
]
const PORT2: Array<[string | null, string]> = [
  ["a.com", "p2a|a.com"],
  ["b.com", "p2b|b.com"],
  ["c.com", "p2a|a.com"],
  [null, "p2a|a.com"],
]
const PORT3: Array<[string | null, string]> = [
  ["x.com", "p3|only.com|x.com"],
  [null, "p3|only.com|only.com"],
  ["ONLY.com", "p3|only.com|only.com"],
]

test('server selection matches nginx: exact, wildcards, regex order, default_server, no Host', () => {
  const input = servers(HTTP)
  const vh = buildVirtualHosts(input, { hostname: 'testhost' })
  const cases: Array<[string, Array<[string | null, string]>]> = [
    ['127.0.0.1:18931', PORT1],
    ['127.0.0.1:18932', PORT2],
    ['127.0.0.1:18933', PORT3],
  ]
  for (const [key, rows] of cases) {
    const addr = vh.address(key)!
    for (const [rawHost, want] of rows) {
      const host = rawHost === null ? '' : normalizeHost(rawHost)
      assert.notEqual(host, null, String(rawHost))
      const s = addr.select(host!)
      assert.equal(vh.select(key, host!), s)
      const [label, serverName] = want.split('|')
      assert.equal(answer(input, s), label!.split(':')[0], `${key} Host: ${rawHost}`)
      assert.equal(vh.serverNames[s], serverName, `$server_name for Host: ${rawHost}`)
    }
  }
})

test('nginx\'s warnings for conflicting names, in order', () => {
  const vh = buildVirtualHosts(servers(HTTP), { hostname: 'testhost' })
  assert.deepEqual(
    vh.warnings.map((w) => w.message),
    [
      'conflicting server name "" on 127.0.0.1:18931, ignored',
      'conflicting server name "example.com" on 127.0.0.1:18931, ignored',
      'conflicting server name "*.example.org" on 127.0.0.1:18931, ignored',
    ],
  )
})

test('regex captures come with the match', () => {
  const vh = buildVirtualHosts(servers(HTTP), { hostname: 'testhost' })
  const m = new VhostMatch()
  vh.select('127.0.0.1:18931', 'abc.regex.com', m)
  assert.equal(m.captures?.groups?.sub, 'abc')
  assert.equal(m.captures?.[1], 'abc')
  vh.select('127.0.0.1:18931', 'example.com', m)
  assert.equal(m.captures, null)
  assert.deepEqual(vh.captureNames, ['sub'])
})

test('conflicts and errors as nginx -t reports them', () => {
  const warn = (text: string): string[] => buildVirtualHosts(servers(text)).warnings.map((w) => w.message)
  const L = 'listen 127.0.0.1:18999;'
  assert.deepEqual(warn(`server { ${L} server_name .x.com; } server { ${L} server_name *.x.com x.com; }`), [
    'conflicting server name "*.x.com" on 127.0.0.1:18999, ignored',
    'conflicting server name "x.com" on 127.0.0.1:18999, ignored',
  ])
  assert.deepEqual(warn(`server { ${L} server_name *.x.com; } server { ${L} server_name .x.com x.com; }`), [
    'conflicting server name ".x.com" on 127.0.0.1:18999, ignored',
    'conflicting server name "x.com" on 127.0.0.1:18999, ignored',
  ])
  assert.deepEqual(warn(`server { ${L} server_name x.com; } server { ${L} server_name .x.com; }`), [
    'conflicting server name ".x.com" on 127.0.0.1:18999, ignored',
  ])
  assert.deepEqual(warn(`server { ${L} server_name www.*; } server { ${L} server_name www.*; }`), [
    'conflicting server name "www.*" on 127.0.0.1:18999, ignored',
  ])
  assert.deepEqual(warn(`server { ${L} server_name X.com; } server { ${L} server_name x.COM; }`), [
    'conflicting server name "x.com" on 127.0.0.1:18999, ignored',
  ])
  assert.deepEqual(warn(`server { ${L} server_name x.com x.com; } server { ${L} }`), [
    'conflicting server name "x.com" on 127.0.0.1:18999, ignored',
  ])
  assert.deepEqual(warn(`server { ${L} server_name x.com; } server { listen 127.0.0.1:18998; server_name x.com; }`), [])
  assert.deepEqual(warn(`server { ${L} server_name w*w.com; }`), []) // one server: nginx never looks at its names
  assert.deepEqual(warn(`server { ${L} server_name a/b; }`), ['server name "a/b" has suspicious symbols'])

  const rows: Array<[string, string]> = [
    [
      'server { listen 127.0.0.1:18999 default_server; } server {\n listen 127.0.0.1:18999 default_server; }',
      'a duplicate default server for 127.0.0.1:18999@2',
    ],
    ['server { listen 127.0.0.1:18999;\n listen 127.0.0.1:18999; }', 'a duplicate listen 127.0.0.1:18999@2'],
    [`server { ${L} server_name w*w.com; } server { ${L} }`, 'invalid server name or wildcard "w*w.com" on 127.0.0.1:18999@1'],
    [`server { ${L} server_name a..b; } server { ${L} }`, 'invalid server name or wildcard "a..b" on 127.0.0.1:18999@1'],
    [`server { ${L} server_name *.a.*; } server { ${L} }`, 'invalid server name or wildcard "*.a.*" on 127.0.0.1:18999@1'],
    [`server { ${L} server_name www.*.com; } server { ${L} }`, 'invalid server name or wildcard "www.*.com" on 127.0.0.1:18999@1'],
    [`server { ${L} server_name *; }`, 'server name "*" is invalid@1'],
    [`server { ${L} server_name *x.com; }`, 'server name "*x.com" is invalid@1'],
    [`server { ${L} server_name .; }`, 'server name "." is invalid@1'],
    [`server { ${L} server_name ~; }`, 'empty regex in server name "~"@1'],
    [`server { ${L} server_name ~(a; }`, 'pcre2_compile() failed: Unterminated group in "(a"@1'],
  ]
  for (const [text, want] of rows) {
    assert.throws(
      () => buildVirtualHosts(servers(text)),
      (e: any) => e.code === 'E_CONFIG' && `${e.message}@${e.at.line}` === want,
      text,
    )
  }
})

test('normalizeHost follows ngx_http_validate_host (rows from nginx 1.22.1 $host)', () => {
  const rows: Array<[string, string | null]> = [
    ['Foo.COM.:80', 'foo.com'],
    ['foo.com', 'foo.com'],
    ['a..b', null],
    ['[::1]:80', '[::1]'],
    ['[::1]', '[::1]'],
    ['a/b', null],
    ['', null],
    ['a:b:c', 'a'],
    ['.', null],
    ['..', null],
    ['a.', 'a'],
    ['a b', null],
    ['\x01x', null],
    ['_x', '_x'],
    ['a\\b', 'a\\b'],
    ['[::1', '[::1'],
    ['x]:80', 'x]'],
    [':80', null],
    ['a.:', 'a'],
    ['-', '-'],
    ['FOO', 'foo'],
    ['a:', 'a'],
    ['[a:b]:c:d', '[a:b]'],
    ['a]b', 'a]b'],
    ['\xe9.com', '\xe9.com'],
    ['\xc9.COM', '\xc9.com'],
    ['a\x7fb', null],
    ['a\tb', null],
    ['a\x00b', null],
  ]
  for (const [raw, want] of rows) assert.equal(normalizeHost(raw), want, JSON.stringify(raw))
})

test('asciiLower leaves latin1 letters alone', () => {
  assert.equal(asciiLower('ABC\xc0\xde'), 'abc\xc0\xde')
  const s = 'already.lower'
  assert.equal(asciiLower(s), s)
})

test('keyFor maps a local address to the explicit listen, else the wildcard of its family', () => {
  const vh = buildVirtualHosts(
    servers(`
      server { listen 127.0.0.1:80; return 200 a; }
      server { listen 0.0.0.0:80; return 200 b; }
      server { listen [::]:80; return 200 c; }
      server { listen [::1]:81; return 200 d; }
    `),
  )
  assert.equal(vh.keyFor('127.0.0.1', 80), '127.0.0.1:80')
  assert.equal(vh.keyFor('10.0.0.5', 80), '0.0.0.0:80')
  assert.equal(vh.keyFor('::ffff:127.0.0.1', 80), '127.0.0.1:80')
  assert.equal(vh.keyFor('::1', 80), '[::]:80')
  assert.equal(vh.keyFor('::1', 81), '[::1]:81')
  assert.equal(vh.keyFor('10.0.0.5', 81), undefined)
  assert.equal(vh.select('nowhere:1', 'x'), -1)
})

test('$hostname and the primary name', () => {
  const input = servers(`
    server { listen a:1; server_name $hostname; return 200 h; }
    server { listen a:1; server_name .dot.com www.dot.com; return 200 d; }
    server { listen a:1; return 200 none; }
  `)
  const vh = buildVirtualHosts(input, { hostname: 'MyHost' })
  assert.deepEqual(vh.serverNames, ['myhost', 'dot.com', ''])
  assert.equal(answer(input, vh.select('a:1', 'myhost')), 'h')
  assert.equal(answer(input, vh.select('a:1', 'x.dot.com')), 'd')
  assert.equal(answer(input, vh.select('a:1', '')), 'none')
  assert.equal(vh.address('a:1')!.defaultServer, 0)
})

test('longest leading and trailing wildcards win, whatever the order', () => {
  const names = ['*.com', '*.b.com', '.a.b.com', '*.x.a.b.com', 'w.*', 'w.x.*', 'w.x.y.*']
  for (let r = 0; r < names.length; r++) {
    const order = names.slice(r).concat(names.slice(0, r))
    const input = servers(
      'server { listen k; return 200 default; }\n' + order.map((n) => `server { listen k; server_name ${n}; return 200 ${n}; }`).join('\n'),
    )
    const vh = buildVirtualHosts(input)
    const rows: Array<[string, string]> = [
      ['q.com', '*.com'],
      ['com', 'default'],
      ['b.com', '*.com'],
      ['q.b.com', '*.b.com'],
      ['a.b.com', '.a.b.com'],
      ['q.a.b.com', '.a.b.com'],
      ['x.a.b.com', '.a.b.com'],
      ['q.x.a.b.com', '*.x.a.b.com'],
      ['w.q', 'w.*'],
      ['w.x.q', 'w.x.*'],
      ['w.x.y.z', 'w.x.y.*'],
      ['w.x.y', 'w.x.*'],
      ['w', 'default'],
    ]
    for (const [host, want] of rows) assert.equal(answer(input, vh.select('k', host)), want, `${host} with ${order.join(' ')}`)
  }
})

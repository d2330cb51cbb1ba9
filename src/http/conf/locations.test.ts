import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseText, type Directive } from '../../config/index.js'
import { buildLocations, LocationMatch, type Location, type LocationTree } from './locations.js'
import { pcreToJs } from '../lib/regex.js'

const conf = (text: string): Directive[] => parseText(text, 't.conf')

/** The label a test location answers with: `return 200 LABEL` or `add_header X-Loc LABEL`. */
function label(loc: Location | null): string {
  if (loc === null) return '(server)'
  for (const d of loc.directive.block ?? []) {
    if (d.name === 'return') return d.args[1]!
    if (d.name === 'add_header') return 'proxy:' + d.args[1]
  }
  return '?'
}

function run(tree: LocationTree, uri: string): string {
  const m = new LocationMatch()
  const loc = tree.match(uri, m)
  assert.equal(m.location, loc)
  if (m.redirect) return '301 ' + loc!.name
  return label(loc)
}

test('nginx documentation example: configurations A–E', () => {
  const tree = buildLocations(
    conf(`
      location = / { return 200 A; }
      location / { return 200 B; }
      location /documents/ { return 200 C; }
      location ^~ /images/ { return 200 D; }
      location ~* \\.(gif|jpg|jpeg)$ { return 200 E; }
    `),
  )
  const rows: Array<[string, string]> = [
    ['/', 'A'],
    ['/index.html', 'B'],
    ['/documents/document.html', 'C'],
    ['/images/1.gif', 'D'],
    ['/documents/1.jpg', 'E'],
  ]
  for (const [uri, want] of rows) assert.equal(run(tree, uri), want, uri)
})

// The server below, with each URI's answer from nginx 1.22.1 (`301 /p/` stands for nginx's
// `301 Location: http://host/p/`; `proxy:x` for the proxy_pass location tagged x).
const SERVER = String.raw`
location = / { return 200 A; }
location / { return 200 B; }
location /documents/ { return 200 C; }
location ^~ /images/ { return 200 D; }
location ~* \.(gif|jpg|jpeg)$ { return 200 E; }
location /a { return 200 F;
  location /a/b { return 200 G;
    location ~ \.x$ { return 200 H; }
  }
  location ~ ^/a/c { return 200 I; }
  location ^~ /a/d { return 200 J; }
}
location = /a/b/exact { return 200 K; }
location /a- { return 200 L; }
location /p/ { add_header X-Loc p always; proxy_pass http://127.0.0.1:1; }
location = /q/ { add_header X-Loc q always; proxy_pass http://127.0.0.1:1; }
location /r-x { return 200 M; }
location /r/ { add_header X-Loc r always; proxy_pass http://127.0.0.1:1; }
location ~ /regex/(?<name>[a-z]+) { return 200 "N:$name:$1"; }
location ~ ^/CaSe { return 200 O; }
location ~* ^/icase { return 200 P; }
location ^~ /stop/ { return 200 Q; }
location ~ /stop/ { return 200 R; }
location ~ \.php$ { return 200 S; location ~ ^/admin { return 200 T; } }
location @named { return 200 U; }
location /s/ { add_header X-Loc s always; proxy_pass http://127.0.0.1:1; }
location /s { return 200 V; }
location /t/ { return 200 W; }
location /u/ { add_header X-Loc u always; proxy_pass http://127.0.0.1:1; }
location = /u { return 200 X; }
  
`
const NGINX: Array<[string, string]> = [
  ["/", "A"],
  ["/index.html", "B"],
  ["/documents/document.html", "C"],
  ["/documents/1.jpg", "E"],
  ["/images/1.gif", "D"],
  ["/images/", "D"],
  ["/a", "F"],
  ["/a/", "F"],
  ["/ab", "F"],
  ["/a/b", "G"],
  ["/a/b/c", "G"],
  ["/a/b/c.x", "H"],
  ["/a/b/c.gif", "E"],
  ["/a/c", "I"],
  ["/a/cc.x", "I"],
  ["/a/d/1.gif", "E"],
  ["/a/b/exact", "K"],
  ["/a/b/exact/", "G"],
  ["/a-", "L"],
  ["/a-b.GIF", "E"],
  ["/p", "301 http://h:18931/p/"],
  ["/p/", "proxy:p"],
  ["/p/x", "proxy:p"],
  ["/q", "301 http://h:18931/q/"],
  ["/q/", "proxy:q"],
  ["/q/x", "B"],
  ["/r", "301 http://h:18931/r/"],
  ["/r/", "proxy:r"],
  ["/r-x", "M"],
  ["/regex/abc", "N:abc:abc"],
  ["/regex/ABC", "B"],
  ["/CaSe", "O"],
  ["/case", "B"],
  ["/ICASE", "P"],
  ["/icase", "P"],
  ["/stop/x.gif", "Q"],
  ["/stop/", "Q"],
  ["/stop", "V"],
  ["/x.php", "S"],
  ["/admin.php", "T"],
  ["/admin/x.php", "T"],
  ["/a/x.php", "S"],
  ["/@named", "B"],
  ["/s", "V"],
  ["/s/", "proxy:s"],
  ["/t", "B"],
  ["/u", "X"],
  ["/u/", "proxy:u"],
  ["/documents", "B"],
  ["/imagesx/1.gif", "E"],
  ["/images/x.php", "D"],
  ["/xgif", "B"],
  ["/x.gif", "E"],
  ["/a/b/cx", "G"],
]

test('every URI reaches the location nginx picks (nested, ^~, regex order, auto_redirect)', () => {
  const tree = buildLocations(conf(SERVER))
  for (const [uri, want] of NGINX) {
    const got = run(tree, uri)
    const expected = want.startsWith('301 ') ? '301 ' + new URL(want.slice(4)).pathname : want.startsWith('N:') ? 'N:$name:$1' : want
    assert.equal(got, expected, uri)
  }
})

test('regex captures are returned with the match', () => {
  const tree = buildLocations(conf(SERVER))
  const m = new LocationMatch()
  tree.match('/regex/abc', m)
  assert.equal(m.captures?.[1], 'abc')
  assert.equal(m.captures?.groups?.name, 'abc')
  assert.deepEqual(tree.captureNames, ['name'])
  tree.match('/x.php', m)
  assert.equal(m.captures, null)
})

test('named locations are found by name only', () => {
  const tree = buildLocations(conf(SERVER + ' location @named { return 200 second; }'))
  assert.equal(label(tree.findNamed('@named') ?? null), 'U')
  assert.equal(tree.findNamed('named'), undefined)
})

test('no location matches: null, the server configuration applies', () => {
  const tree = buildLocations(conf('location /a { } location = /b { } location ~ c$ { }'))
  const m = new LocationMatch()
  assert.equal(tree.match('/x', m), null)
  assert.equal(m.location, null)
  assert.equal(m.redirect, false)
  assert.equal(buildLocations([]).match('/', m), null)
})

test('longest prefix wins whatever the configuration order', () => {
  const names = ['/', '/a', '/a/b', '/a/b/c', '/a/bc', '/ab', '/a-', '/a/', '/b', '/a/b/c/d']
  // every rotation of the configuration order gives the same answers
  for (let r = 0; r < names.length; r++) {
    const order = names.slice(r).concat(names.slice(0, r))
    const tree = buildLocations(conf(order.map((n) => `location ${n} { return 200 ${n}; }`).join('\n')))
    const rows: Array<[string, string]> = [
      ['/', '/'],
      ['/x', '/'],
      ['/a', '/a'],
      ['/a/', '/a/'],
      ['/a/x', '/a/'],
      ['/a/b', '/a/b'],
      ['/a/b/', '/a/b'],
      ['/a/bcd', '/a/bc'],
      ['/a/b/c/d/e', '/a/b/c/d'],
      ['/a/b/c/x', '/a/b/c'],
      ['/a-x', '/a-'],
      ['/abc', '/ab'],
      ['/b/c', '/b'],
    ]
    for (const [uri, want] of rows) assert.equal(run(tree, uri), want, `${uri} with order ${order.join(' ')}`)
  }
})

test('exact beats an equal prefix; the exact one does not match longer URIs', () => {
  const tree = buildLocations(conf('location /x { return 200 P; } location = /x { return 200 E; }'))
  assert.equal(run(tree, '/x'), 'E')
  assert.equal(run(tree, '/xy'), 'P')
  assert.equal(run(tree, '/'), '(server)')
})

test('regexes are tried in configuration order; ~* is caseless, ~ is not', () => {
  const tree = buildLocations(
    conf(`
      location ~ ^/a { return 200 first; }
      location ~ ^/ab { return 200 second; }
      location ~* ^/CI { return 200 ci; }
      location ~ ^/cs { return 200 cs; }
    `),
  )
  assert.equal(run(tree, '/abc'), 'first')
  assert.equal(run(tree, '/ci'), 'ci')
  assert.equal(run(tree, '/CS'), '(server)')
})

test('configuration errors use nginx\'s words and the position of the culprit', () => {
  const rows: Array<[string, string, number]> = [
    ['location /a {}\nlocation /a {}', 'duplicate location "/a"', 2],
    ['location /a {}\nlocation ^~ /a {}', 'duplicate location "/a"', 2],
    ['location = /a {}\nlocation = /a {}', 'duplicate location "/a"', 2],
    ['location /a {\n location /b {} }', 'location "/b" is outside location "/a"', 2],
    ['location = /a {\n location /a/b {} }', 'location "/a/b" cannot be inside the exact location "/a"', 2],
    ['location @a {\n location /a/b {} }', 'location "/a/b" cannot be inside the named location "@a"', 2],
    ['location /a {\n location @b {} }', 'named location "@b" can be on the server level only', 2],
    ['location ~ ^/a {\n location /x {} }', 'location "/x" is outside location "^/a"', 2],
    ['location ~~ /a {}', 'invalid location modifier "~~"', 1],
    ['location = /a /b {}', 'invalid number of arguments in "location" directive', 1],
    ['location {}', 'invalid number of arguments in "location" directive', 1],
    ['location ~ (a {}', 'pcre2_compile() failed: Unterminated group in "(a"', 1],
  ]
  for (const [text, message, line] of rows) {
    assert.throws(
      () => buildLocations(conf(text)),
      (e: any) => e.code === 'E_CONFIG' && e.message === message && e.at.line === line,
      text,
    )
  }
})

test('what nginx accepts, we accept', () => {
  for (const text of [
    'location = /a {} location /a {}',
    'location ~ a {} location ~ a {}',
    'location @a {} location @a {}',
    'location /a { location /ab {} }',
    'location /a { location ~ b {} }',
    'location ~ ^/a { location ~ x {} }',
    'location /a { location /a {} }',
    'location / { location /a {} } location /a {}',
    'location =/a {} location ^~/b {} location ~*\\.x {} location ~\\.y {}',
  ]) {
    buildLocations(conf(text))
  }
})

test('the one-word forms =/a, ^~/b, ~*re, ~re, @n', () => {
  const tree = buildLocations(conf('location =/a {} location ^~/b {} location ~*\\.X$ {} location ~^/y {} location @n {}'))
  assert.deepEqual(
    tree.locations.map((l) => [l.kind, l.name]),
    [
      ['exact', '/a'],
      ['noregex', '/b'],
      ['iregex', '\\.X$'],
      ['regex', '^/y'],
      ['named', '@n'],
    ],
  )
  assert.equal(tree.match('/q.x', new LocationMatch())?.name, '\\.X$')
})

test('ids are dense in configuration order; parents and children are linked', () => {
  const tree = buildLocations(conf('location /a { location /a/b { location ~ c {} } } location /d {}'))
  assert.deepEqual(tree.locations.map((l) => l.id), [0, 1, 2, 3])
  assert.deepEqual(tree.locations.map((l) => l.name), ['/a', '/a/b', 'c', '/d'])
  assert.equal(tree.locations[2]!.parent, tree.locations[1])
  assert.deepEqual(tree.locations[0]!.children, [tree.locations[1]])
})

test('auto_redirect: the directive list is configurable, exact locations redirect too', () => {
  const tree = buildLocations(conf('location /x/ { dyups_interface; } location = /y/ { dyups_interface; }'), {
    redirectDirectives: ['dyups_interface'],
  })
  assert.equal(run(tree, '/x'), '301 /x/')
  assert.equal(run(tree, '/y'), '301 /y/')
  const plain = buildLocations(conf('location /x/ { dyups_interface; }'))
  assert.equal(run(plain, '/x'), '(server)')
})

test('PCRE spellings are translated', () => {
  assert.equal(pcreToJs('(?P<n>a)(?P=n)\\A\\z'), '(?<n>a)\\k<n>^$')
  const tree = buildLocations(conf('location ~ ^/(?P<id>[0-9]+)$ { }'))
  const m = new LocationMatch()
  assert.ok(tree.match('/42', m))
  assert.equal(m.captures?.groups?.id, '42')
})

test('many locations: the tree stays exact', () => {
  const names: string[] = []
  for (let i = 0; i < 300; i++) names.push(`/p${i}/`)
  const tree = buildLocations(conf(names.map((n) => `location ${n} { return 200 ${n}; }`).join('\n')))
  for (let i = 0; i < 300; i++) {
    assert.equal(run(tree, `/p${i}/x`), `/p${i}/`)
    assert.equal(run(tree, `/p${i}`), '(server)')
  }
})

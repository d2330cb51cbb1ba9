import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Target, parseTarget, decodeForDyups, splitPath } from './uri.js'

// [target, [$uri, $args, $request_uri] | null (= 400)], each row observed on nginx 1.22.1 (merge_slashes on)
// with `return 200 "[$uri][$args][$request_uri]"`.
const NGINX: Array<[string, [string, string, string] | null]> = [
  ["/", ["/", "", "/"]],
  ["/a/b", ["/a/b", "", "/a/b"]],
  ["/a//b", ["/a/b", "", "/a//b"]],
  ["/a/./b", ["/a/b", "", "/a/./b"]],
  ["/a/../b", ["/b", "", "/a/../b"]],
  ["/..", null],
  ["/a/..", ["/", "", "/a/.."]],
  ["/a/b/..", ["/a/", "", "/a/b/.."]],
  ["/a/b/.", ["/a/b/", "", "/a/b/."]],
  ["/a/.", ["/a/", "", "/a/."]],
  ["/./", ["/", "", "/./"]],
  ["/.", ["/", "", "/."]],
  ["/a%2Fb", ["/a/b", "", "/a%2Fb"]],
  ["/a%2fb/%2e%2e/c", ["/a/c", "", "/a%2fb/%2e%2e/c"]],
  ["/%2e%2e", null],
  ["/a%00b", null],
  ["/a%0", null],
  ["/a%zz", null],
  ["/a%", null],
  ["/a%3Fb?c", ["/a?b", "c", "/a%3Fb?c"]],
  ["/a%23b", ["/a#b", "", "/a%23b"]],
  ["/a%25b", ["/a%b", "", "/a%25b"]],
  ["/a#frag", ["/a", "", "/a#frag"]],
  ["/a?x#frag", ["/a", "x", "/a?x#frag"]],
  ["/a?x%00y", ["/a", "x%00y", "/a?x%00y"]],
  ["/a/%2E/b", ["/a/b", "", "/a/%2E/b"]],
  ["//a//b//", ["/a/b/", "", "//a//b//"]],
  ["/a/..?x", ["/", "x", "/a/..?x"]],
  ["/a/.?x", ["/a/", "x", "/a/.?x"]],
  ["/a/..#f", ["/", "", "/a/..#f"]],
  ["/a/.#f", ["/a/", "", "/a/.#f"]],
  ["/a%2F..%2Fb", ["/b", "", "/a%2F..%2Fb"]],
  ["/a/b%2F..", ["/a/", "", "/a/b%2F.."]],
  ["/%FF%fe", ["/\u00ff\u00fe", "", "/%FF%fe"]],
  ["/a+b", ["/a+b", "", "/a+b"]],
  ["/a/...", ["/a/...", "", "/a/..."]],
  ["/a/..b", ["/a/..b", "", "/a/..b"]],
  ["/a/.b/..", ["/a/", "", "/a/.b/.."]],
  ["/a?", ["/a", "", "/a?"]],
  ["/a?#x", ["/a", "", "/a?#x"]],
  ["?x", null],
  ["http://Ex.COM", ["/", "", "/"]],
  ["http://ex.com:80/a/../b?q", ["/b", "q", "/a/../b?q"]],
  ["http://ex.com?x=1", ["/", "x=1", "?x=1"]],
  ["HTTP://ex.com/x", ["/x", "", "/x"]],
  ["http://[::1]:8080/p", ["/p", "", "/p"]],
  ["/a/b/c/../../..", ["/", "", "/a/b/c/../../.."]],
  ["/a/b/c/../../../..", null],
  ["/a%2e%2e", ["/a..", "", "/a%2e%2e"]],
  ["/%2e/a", ["/a", "", "/%2e/a"]],
  ["/a/%2e%2e/%2e%2e", null],
  ["/a/b/%2e%2e%2f%2e%2e%2fc", ["/c", "", "/a/b/%2e%2e%2f%2e%2e%2fc"]],
  ["/a%2f%2f%2fb", ["/a/b", "", "/a%2f%2f%2fb"]],
  ["/a/%2e", ["/a/", "", "/a/%2e"]],
  ["/a/%2e%2e", ["/", "", "/a/%2e%2e"]],
  ["/a/....", ["/a/....", "", "/a/...."]],
  ["/a/.%2e/", ["/", "", "/a/.%2e/"]],
  ["http://h/..", null],
  ["http://a_b/x", null],
  ["http://h:/x", ["/x", "", "/x"]],
  ["/a?b?c", ["/a", "b?c", "/a?b?c"]],
  ["/a?b#c?d", ["/a", "b", "/a?b#c?d"]],
  ["/a/%2E%2E%2F..", null],
  ["/%", null],
  ["/%%41", null],
]

test('parseTarget matches nginx for every row', () => {
  const t = new Target()
  for (const [target, want] of NGINX) {
    const ok = parseTarget(target, t)
    if (want === null) {
      assert.equal(ok, false, `${target} should be 400`)
    } else {
      assert.equal(ok, true, `${target} should parse`)
      assert.deepEqual([t.uri, t.args, t.requestUri], want, target)
    }
  }
})

test('merge_slashes off keeps empty segments (nginx 1.22.1)', () => {
  const t = new Target()
  const rows: Array<[string, string]> = [
    ['/a//b', '/a//b'],
    ['//a//b//', '//a//b//'],
    ['/a%2f%2f%2fb', '/a///b'],
    ['/a//../b', '/a/b'],
    ['/a/./b', '/a/b'],
  ]
  for (const [target, uri] of rows) {
    assert.equal(parseTarget(target, t, false), true, target)
    assert.equal(t.uri, uri, target)
  }
})

test('absolute-form exposes the host as sent, port included', () => {
  const t = new Target()
  const rows: Array<[string, string]> = [
    ['http://Ex.COM', 'Ex.COM'],
    ['http://ex.com:80/a/../b?q', 'ex.com:80'],
    ['http://ex.com?x=1', 'ex.com'],
    ['http://[::1]:8080/p', '[::1]:8080'],
    ['http://h:/x', 'h:'],
    ['/origin/form', ''],
  ]
  for (const [target, host] of rows) {
    assert.equal(parseTarget(target, t), true, target)
    assert.equal(t.host, host, target)
  }
  for (const bad of ['http:/x', 'http//x', 'ht tp://x/', '1http://x/', 'http://h:80x/', 'http://[::1/', 'http://h\\x']) {
    assert.equal(parseTarget(bad, t), false, bad)
  }
})

test('control bytes, space and DEL in the target are rejected', () => {
  const t = new Target()
  for (const bad of ['', '/a b', '/a\tb', '/a\x7f', '/a?b c', '/\x00', '*']) {
    assert.equal(parseTarget(bad, t), false, JSON.stringify(bad))
  }
  // decoded control bytes other than NUL are data
  assert.equal(parseTarget('/a%01b', t), true)
  assert.equal(t.uri, '/a\x01b')
})

test('the fast path returns the target itself when nothing needs decoding', () => {
  const t = new Target()
  const s = '/plain/path.html'
  parseTarget(s, t)
  assert.equal(t.uri, s)
  assert.equal(t.requestUri, s)
})

test('decodeForDyups splits the decoded path (docs/api.md#general-rules)', () => {
  const rows: Array<[string, string[] | null]> = [
    ['/', []],
    ['/list', ['list']],
    ['/list/', ['list']],
    ['/detail?x=1', ['detail']],
    ['/upstream/my%20host', ['upstream', 'my host']],
    ['/upstream/a%2Fb', ['upstream', 'a', 'b']],
    ['//upstream///name//', ['upstream', 'name']],
    ['/upstream/%FF', ['upstream', '\xff']],
    ['/upstream/a.b-c', ['upstream', 'a.b-c']],
    ['/upstream/x/../y', ['upstream', 'y']],
    ['/upstream/name#frag', ['upstream', 'name']],
    ['/upstream/%3F', ['upstream', '?']],
    ['/..', null],
    ['/a%00', null],
    ['/bad%zz', null],
  ]
  for (const [target, want] of rows) assert.deepEqual(decodeForDyups(target), want, target)
  const long = 'n'.repeat(300)
  assert.deepEqual(decodeForDyups('/upstream/' + long), ['upstream', long])
})

test('splitPath drops empty segments', () => {
  assert.deepEqual(splitPath('//a///b/'), ['a', 'b'])
  assert.deepEqual(splitPath(''), [])
  assert.deepEqual(splitPath('/'), [])
})

test('a long complex URI decodes past the initial scratch size', () => {
  const t = new Target()
  const seg = '%41'.repeat(3000)
  assert.equal(parseTarget('/x/' + seg + '/./y', t), true)
  assert.equal(t.uri, '/x/' + 'A'.repeat(3000) + '/y')
})

test('escapeUri escapes what nginx escapes in a proxied URI', async () => {
  const { escapeUri } = await import('./uri.js')
  assert.equal(escapeUri('/a/b'), '/a/b')
  assert.equal(escapeUri('/a b#c%d?e'), '/a%20b%23c%25d%3Fe')
  assert.equal(escapeUri('/\x01\x7f\xff'), '/%01%7F%FF')
  assert.equal(escapeUri("/a!$&'()*+,;=:@~"), "/a!$&'()*+,;=:@~")
})

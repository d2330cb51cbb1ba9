import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, existsSync } from 'node:fs'
import type { Directive } from '../../config/index.js'
import { compileTypes, contentTypeFor, extensionOf, DEFAULT_TYPES, DEFAULT_TYPE, MimeTypes } from './mime.js'

const d = (name: string, args: string[], block: Directive[] | null = null, line = 1): Directive => ({
  name,
  args,
  block,
  file: 't.conf',
  line,
})

/** Just enough of nginx's syntax for a types file: words, `;`, `{`, `}`, `#` comments, no quotes. */
function typesBlock(text: string): Directive {
  const words = text.replace(/#[^\n]*/g, '').split(/(\s+|[;{}])/).filter((w) => w.trim() !== '')
  const entries: Directive[] = []
  let cur: string[] = []
  let depth = 0
  for (const w of words) {
    if (w === '{') depth++
    else if (w === '}') depth--
    else if (w === ';') {
      entries.push(d(cur[0]!, cur.slice(1)))
      cur = []
    } else if (depth > 0) cur.push(w)
  }
  return d('types', [], entries)
}

test('extensionOf: the extension nginx sees (rows checked on nginx 1.22.1)', () => {
  const rows: Array<[string, string]> = [
    ['/a.a', 'a'],
    ['/a.A', 'A'],
    ['/.htaccess', ''],
    ['/..x', ''],
    ['/...x', ''],
    ['/....x', 'x'],
    ['/a.b/c', ''],
    ['/a/x.', ''],
    ['/x.tar.gz', 'gz'],
    ['/a/.b.c', 'c'],
    ['/.a.b', 'b'],
    ['/a/..b', ''],
    ['/', ''],
    ['', ''],
    ['/noext', ''],
  ]
  for (const [uri, ext] of rows) assert.equal(extensionOf(uri), ext, uri)
})

test('contentTypeFor with a types block and default_type (nginx 1.22.1)', () => {
  const types = typesBlock('types { t/a a; t/b b; t/c c; t/x x; t/gz gz; t/htaccess htaccess; t/upper UP; }')
  const t = compileTypes(types)
  const rows: Array<[string, string]> = [
    ['/a.a', 't/a'],
    ['/a.A', 't/a'],
    ['/.htaccess', 't/default'],
    ['/....x', 't/x'],
    ['/x.tar.gz', 't/gz'],
    ['/a/.b.c', 't/c'],
    ['/a.up', 't/upper'],
    ['/a.UP', 't/upper'],
    ['/a.zzz', 't/default'],
    ['/a', 't/default'],
  ]
  for (const [uri, type] of rows) assert.equal(contentTypeFor(t, uri, 't/default'), type, uri)
})

test('nginx built-in types and default_type', () => {
  assert.equal(contentTypeFor(DEFAULT_TYPES, '/index.html'), 'text/html')
  assert.equal(contentTypeFor(DEFAULT_TYPES, '/a.GIF'), 'image/gif')
  assert.equal(contentTypeFor(DEFAULT_TYPES, '/a.jpg'), 'image/jpeg')
  assert.equal(contentTypeFor(DEFAULT_TYPES, '/a.jpeg'), 'text/plain')
  assert.equal(DEFAULT_TYPE, 'text/plain')
  assert.equal(contentTypeFor(new MimeTypes(new Map()), '/a.html', 'application/octet-stream'), 'application/octet-stream')
})

test('a later extension wins, with nginx\'s warning', () => {
  const warnings: string[] = []
  const t = compileTypes(d('types', [], [d('text/a', ['x', 'Y'], null, 2), d('text/b', ['y'], null, 3)]), (m, at) =>
    warnings.push(`${m} in ${at.file}:${at.line}`),
  )
  assert.equal(t.lookup('y'), 'text/b')
  assert.equal(t.lookup('x'), 'text/a')
  assert.deepEqual(warnings, ['duplicate extension "y", content type: "text/b", previous content type: "text/a" in t.conf:3'])
})

test('a types directive without a block is a configuration error', () => {
  assert.throws(() => compileTypes(d('types', [])), (e: any) => e.code === 'E_CONFIG')
})

test('Debian /etc/nginx/mime.types compiles', { skip: !existsSync('/etc/nginx/mime.types') }, () => {
  const warnings: string[] = []
  const t = compileTypes(typesBlock(readFileSync('/etc/nginx/mime.types', 'latin1')), (m) => warnings.push(m))
  assert.deepEqual(warnings, [])
  assert.ok(t.size > 80)
  const rows: Array<[string, string]> = [
    ['/index.html', 'text/html'],
    ['/a.htm', 'text/html'],
    ['/s.css', 'text/css'],
    ['/app.js', 'application/javascript'],
    ['/d.json', 'application/json'],
    ['/p.PNG', 'image/png'],
    ['/f.woff2', 'font/woff2'],
    ['/x.unknown', 'application/octet-stream'],
  ]
  for (const [uri, type] of rows) assert.equal(contentTypeFor(t, uri, 'application/octet-stream'), type, uri)
})

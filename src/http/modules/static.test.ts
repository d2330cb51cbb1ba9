import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseText } from '../../config/index.js'
import { DyupsError } from '../../errors.js'
import { compileHttp } from '../conf/compile.js'
import { LocationMatch } from '../conf/locations.js'
import { escapesRoot, mapUriToPath, openFailure, type PathSource } from './static.js'
import { errnoText } from '../../errno.js'
import { BasicVarSource } from '../lib/variables.js'

const PREFIX = '/srv/prefix/'

function compile(server: string) {
  const text = `events {}\nhttp {\naccess_log off;\n${server}\n}\n`
  return compileHttp({ prefix: PREFIX, confFile: '/srv/prefix/conf/nginx.conf', tree: parseText(text, 'conf') })
}

/** The file a URI maps to in the first server of `server`, as the static handler computes it. */
function pathOf(server: string, uri: string, args = '', addUriToAlias = false): string {
  const s = compile(server).servers[0]!
  const m = new LocationMatch()
  const loc = s.locations.match(uri, m)
  const lc = loc === null ? s.serverConf : s.locConfs[loc.id]!
  const src: PathSource = Object.assign(new BasicVarSource(), { uri, args, captures: m.captures, addUriToAlias })
  return mapUriToPath(lc.files, src)
}

test('mapUriToPath: root and alias as ngx_http_map_uri_to_path', () => {
  const cases: [string, string, string, string?][] = [
    ['server { listen 1; }', '/a/b.txt', '/srv/prefix/html/a/b.txt'],
    ['root www; server { listen 1; }', '/x', '/srv/prefix/www/x'],
    ['server { listen 1; root /var/www/; }', '/x', '/var/www/x'],
    ['server { listen 1; root /; }', '/etc/x', '/etc/x'],
    ['server { listen 1; root /a; location /l/ { root /b; } }', '/l/x', '/b/l/x'],
    ['server { listen 1; root /a; location /l/ { root /b; } }', '/m/x', '/a/m/x'],
    ['server { listen 1; location /i/ { alias /data/; } }', '/i/x/y', '/data/x/y'],
    ['server { listen 1; location /i/ { alias /data/; } }', '/i/', '/data/'],
    ['server { listen 1; location /i { alias /data; } }', '/i/x', '/data/x'],
    ['server { listen 1; location = /f { alias /data/file; } }', '/f', '/data/file'],
    ['server { listen 1; location /i/ { alias rel/; } }', '/i/x', '/srv/prefix/rel/x'],
    ['server { listen 1; location /i/ { alias /data/; location /i/n/ { } } }', '/i/n/x', '/data/n/x'],
    ['server { listen 1; location /i/ { alias /data/; location /i/n/ { root /r; } } }', '/i/n/x', '/r/i/n/x'],
    ['server { listen 1; location ~ ^/re/(.+)$ { alias /data/$1; } }', '/re/a/b', '/data/a/b'],
    ['server { listen 1; location ~ ^/re/ { alias /data/; } }', '/re/a/b', '/data/'],
    ['server { listen 1; location ~ ^/re/ { alias /data; } }', '/re/a', '/data/re/a', 'try_files'],
    ['server { listen 1; location /v/ { root $arg_r; } }', '/v/x', '/srv/prefix/dir/v/x'],
    ['server { listen 1; location /v/ { root /abs/$arg_r; } }', '/v/x', '/abs/dir/v/x'],
  ]
  for (const [server, uri, want, mark] of cases) {
    assert.equal(pathOf(`${server}`, uri, 'r=dir', mark !== undefined), want, `${server} ${uri}`)
  }
})

test('static settings: nginx\'s configuration errors', () => {
  const cases: [string, string][] = [
    ['location /a/ { root /x; alias /y/; }', '"alias" directive is duplicate, "root" directive was specified earlier in conf:6'],
    ['location /a/ { alias /y/; root /x; }', '"root" directive is duplicate, "alias" directive was specified earlier in conf:6'],
    ['location /a/ { root /x; root /y; }', '"root" directive is duplicate in conf:6'],
    ['location /a/ { root $document_root/x; }', 'the $document_root variable cannot be used in the "root" directive in conf:6'],
    ['location /a/ { alias ${realpath_root}; }', 'the $realpath_root variable cannot be used in the "alias" directive in conf:6'],
    ['location @n { alias /x/; }', 'the "alias" directive cannot be used inside the named location in conf:6'],
    ['location / { try_files $uri =40x; }', 'invalid code "=40x" in conf:6'],
    ['location / { try_files $uri =1000; }', 'invalid code "=1000" in conf:6'],
    ['location / { try_files $uri =; }', 'invalid code "=" in conf:6'],
  ]
  for (const [body, want] of cases) {
    let got = 'ok'
    try {
      compile(`server {\nlisten 1;\n${body}\n}`)
    } catch (e) {
      assert.ok(e instanceof DyupsError, String(e))
      got = `${e.message} in ${e.at?.file}:${e.at?.line}`
    }
    assert.equal(got, want, body)
  }
})

test('try_files: candidates, directories and the fallback', () => {
  const s = compile('server { listen 1; location / { try_files $uri $uri/ /x/$uri.html /fallback?a=1; } location /c/ { try_files a =418; } }').servers[0]!
  const tf = s.locConfs[0]!.tryFiles!
  assert.deepEqual(tf.files.map((f) => [f.name.text, f.dir]), [['$uri', false], ['$uri', true], ['/x/$uri.html', false]])
  assert.equal(tf.fallback?.text, '/fallback?a=1')
  assert.equal(tf.code, 0)
  const c = s.locConfs[1]!.tryFiles!
  assert.equal(c.fallback, null)
  assert.equal(c.code, 418)
  assert.equal(s.serverConf.tryFiles, null)
})

test('escapesRoot: a `..` segment anywhere, not `..` inside a name', () => {
  const cases: [string, boolean][] = [
    ['/data/../etc', true], ['/data/..', true], ['../x', true], ['..', true], ['/a/b/../../..', true],
    ['/data/..x', false], ['/data/x..', false], ['/data/.../x', false], ['/data/a..b/c', false], ['/data/.', false],
  ]
  for (const [p, want] of cases) assert.equal(escapesRoot(p), want, p)
})

test('openFailure and errnoText: nginx\'s status, level and message per errno', () => {
  const cases: [string, number, string, string][] = [
    ['ENOENT', 404, 'error', '2: No such file or directory'],
    ['ENOTDIR', 404, 'error', '20: Not a directory'],
    ['ENAMETOOLONG', 404, 'error', '36: File name too long'],
    ['EACCES', 403, 'error', '13: Permission denied'],
    ['ELOOP', 403, 'error', '40: Too many levels of symbolic links'],
    ['EMFILE', 500, 'crit', '24: Too many open files'],
    ['EIO', 500, 'crit', '5: Input/output error'],
  ]
  for (const [code, status, level, text] of cases) {
    assert.deepEqual(openFailure(code), [status, level], code)
    assert.equal(errnoText(Object.assign(new Error(code), { code })), text, code)
  }
  assert.equal(errnoText(Object.assign(new Error('x'), { code: 'EWEIRD', errno: -99 })), '99: EWEIRD')
})

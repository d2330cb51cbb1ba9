/**
 * The static-file directives in `-t`: what nginx refuses dyups refuses with the same message and line, what nginx
 * accepts dyups accepts, and the two settings dyups does not build yet are refused with their position.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { tempPrefix, writeConf } from './helpers.js'
import { dyupsTest, nginxTest, sideConf } from './nginx.js'

const UPSTREAM = '    upstream u {\n        server 127.0.0.1:1;\n    }'

/** The server's extra lines start at this line of sideConf's text. */
const FIRST = 18

/** [what, lines in the server block (after `location /`), nginx's message, its line offset]. */
const REFUSED: [string, string, string, number][] = [
  ['root then alias', 'location /a/ {\n root /x;\n alias /y/;\n }', '"alias" directive is duplicate, "root" directive was specified earlier', 2],
  ['alias then root', 'location /a/ {\n alias /y/;\n root /x;\n }', '"root" directive is duplicate, "alias" directive was specified earlier', 2],
  ['two aliases', 'location /a/ {\n alias /x/;\n alias /y/;\n }', '"alias" directive is duplicate', 2],
  ['alias in a named location', 'location @n {\n alias /x/;\n }', 'the "alias" directive cannot be used inside the named location', 1],
  ['alias in a server', 'alias /x/;', '"alias" directive is not allowed here', 0],
  ['$document_root in root', 'location /a/ {\n root $document_root/x;\n }', 'the $document_root variable cannot be used in the "root" directive', 1],
  ['$realpath_root in alias', 'location /a/ {\n alias ${realpath_root}/x;\n }', 'the $realpath_root variable cannot be used in the "alias" directive', 1],
  // nginx names the first argument, whichever is empty.
  ['empty index', 'index a.html "";', 'index "a.html" in "index" directive is invalid', 0],
  ['try_files with one argument', 'location /t/ {\n try_files $uri;\n }', 'invalid number of arguments in "try_files" directive', 1],
  ['try_files bad code', 'location /t/ {\n try_files $uri =4x;\n }', 'invalid code "=4x"', 1],
  ['try_files code too large', 'location /t/ {\n try_files $uri =1000;\n }', 'invalid code "=1000"', 1],
  ['try_files twice', 'location /t/ {\n try_files $uri =404;\n try_files $uri =403;\n }', '"try_files" directive is duplicate', 2],
  ['autoindex bad value', 'autoindex maybe;', 'invalid value "maybe" in "autoindex" directive, it must be "on" or "off"', 0],
  ['etag bad value', 'etag maybe;', 'invalid value "maybe" in "etag" directive, it must be "on" or "off"', 0],
  ['if_modified_since bad value', 'if_modified_since sometimes;', 'invalid value "sometimes"', 0],
  ['disable_symlinks bad value', 'disable_symlinks sometimes;', 'invalid parameter "sometimes"', 0],
]

function emerg(stderr: string): string {
  const m = /\[emerg\] (?:\d+#\d+: )?(.*)$/m.exec(stderr)
  return m === null ? `no [emerg] line in ${JSON.stringify(stderr)}` : m[1]!
}

test('static-file directives: nginx -t and dyups -t say the same', async (t) => {
  const check = async (server: string): Promise<{ ngx: string; dy: string; codes: [number | null, number | null]; file: string }> => {
    const prefix = tempPrefix(t)
    const file = writeConf(prefix, 'conf/nginx.conf', sideConf({ upstream: UPSTREAM }, 1, 'dyups', server + '\n'))
    const [n, d] = await Promise.all([nginxTest(prefix), dyupsTest(prefix)])
    return { ngx: emerg(n.stderr), dy: emerg(d.stderr + d.stdout), codes: [n.code, d.code], file }
  }
  const results: Promise<Awaited<ReturnType<typeof check>>>[] = []
  for (let i = 0; i < REFUSED.length; i++) {
    results.push(i < 3 ? check(REFUSED[i]![1]) : results[i - 3]!.then(() => check(REFUSED[i]![1])))
  }
  for (const [i, [what, , message, line]] of REFUSED.entries()) {
    await t.test(what, async () => {
      const r = await results[i]!
      assert.equal(r.ngx, `${message} in ${r.file}:${FIRST + line}`, 'nginx says what the table says')
      assert.deepEqual([r.dy, r.codes], [r.ngx, [1, 1]])
    })
  }

  await t.test("Debian's default site and the accepted settings", async () => {
    const r = await check(`root /var/www/html;
index index.html index.htm index.nginx-debian.html;
location /site/ { try_files $uri $uri/ =404; }
location /al/ { alias /srv/data/; }
location ~ ^/re/(.*)$ { alias /srv/data/$1; try_files "" /fallback; }
location /named/ { try_files $uri @n; }
location @n { return 200; }
autoindex off;
disable_symlinks off;
sendfile on;
tcp_nopush on;
open_file_cache max=1000 inactive=20s;
open_file_cache_valid 30s;
etag off;
if_modified_since before;
index /abs.html other.html;`)
    assert.deepEqual(r.codes, [0, 0], `nginx: ${r.ngx}\ndyups: ${r.dy}`)
  })
})

test('static-file settings dyups does not build yet are refused with their position', async (t) => {
  const cases: [string, string][] = [
    ['autoindex on;', '"autoindex on" is not supported by dyups yet'],
    ['disable_symlinks on;', '"disable_symlinks on" is not supported by dyups yet'],
    ['disable_symlinks if_not_owner from=/srv;', '"disable_symlinks if_not_owner" is not supported by dyups yet'],
  ]
  await Promise.all(cases.map(async ([line, message]) => {
    const prefix = tempPrefix(t)
    const file = writeConf(prefix, 'conf/nginx.conf', sideConf({ upstream: UPSTREAM }, 1, 'dyups', line + '\n'))
    const d = await dyupsTest(prefix)
    assert.deepEqual([emerg(d.stderr + d.stdout), d.code], [`${message} in ${file}:${FIRST}`, 1], line)
  }))
})

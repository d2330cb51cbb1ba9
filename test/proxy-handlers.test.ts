/**
 * The request path without a backend, as nginx does it: `return`, `echo` with variables and `set`, virtual server
 * selection by `server_name`, location precedence, `allow`/`deny`, and Content-Type from the stock Debian
 * `mime.types` pulled in with `include mime.types;`.
 */
import assert from 'node:assert/strict'
import { copyFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { errorPage, freePorts, request, startDyups, tempPrefix, writeConf } from './helpers.js'

const MIME = '/etc/nginx/mime.types'

test('return, echo, server_name, locations, access, types', async (t) => {
  const [port, other] = (await freePorts(2)) as [number, number]
  const prefix = tempPrefix(t)
  const haveMime = existsSync(MIME)
  if (haveMime) copyFileSync(MIME, join(prefix, 'conf/mime.types'))
  else writeConf(prefix, 'conf/mime.types', 'types {\n    text/html html;\n    application/json json;\n    image/png png;\n    text/css css;\n}\n')
  writeConf(prefix, 'conf/nginx.conf', `daemon off;
worker_processes 1;
error_log logs/error.log info;
events {}
http {
    include mime.types;
    default_type application/octet-stream;
    access_log off;
    server {
        listen 127.0.0.1:${port};
        server_name exact.test;
        location = /ret { return 200 "text"; }
        location = /ret-var { return 200 "host=$host uri=$uri"; }
        location = /moved { return 301 http://example.com/new?a=1; }
        location = /found { return 302 /elsewhere; }
        location = /teapot { return 418; }
        location /vars { echo "host=$host uri=$uri x=$arg_x foo=$http_x_foo method=$request_method args=$args"; }
        location /set { set $v "v-$arg_y"; set $w "$v+w"; echo $w; }
        location = /exact { echo "exact"; }
        location ^~ /static { echo "prefix-stop"; }
        location ~ \\.php$ { echo "regex"; }
        location ~* \\.JPG$ { echo "regex-caseless"; }
        location /static/longer { echo "longest-prefix"; }
        location /a { echo "short"; }
        location /a/b { echo "long"; }
        location / { echo "root"; }
        location /deny { deny all; echo "never"; }
        location /allow { allow 127.0.0.1; deny all; echo "allowed"; }
        location /deny-local { allow 10.0.0.0/8; deny 127.0.0.0/8; allow all; echo "never"; }
        location /t { echo "typed"; }
    }
    server {
        listen 127.0.0.1:${port};
        server_name *.wild.test;
        location / { echo "wildcard"; }
    }
    server {
        listen 127.0.0.1:${port};
        server_name www.wild.test;
        location / { echo "exact-beats-wildcard"; }
    }
    server {
        listen 127.0.0.1:${port};
        server_name ~^re(\\d+)\\.test$;
        location / { echo "regex-name"; }
    }
    server {
        listen 127.0.0.1:${port} default_server;
        server_name fallback.test;
        location / { echo "default"; }
    }
    server {
        listen 127.0.0.1:${other};
        server_name first.test;
        location / { echo "first-is-default"; }
    }
    server {
        listen 127.0.0.1:${other};
        server_name second.test;
        location / { echo "second"; }
    }
}
`)
  await startDyups(t, prefix, [port, other])
  const get = (path: string, host = 'exact.test', headers: Record<string, string> = {}, p = port) =>
    request(p, { path, host, headers })

  await t.test('return 200 "text" and with variables', async () => {
    const r = await get('/ret')
    assert.deepEqual([r.status, r.body, r.headers['content-length']], [200, 'text', '4'])
    assert.equal((await get('/ret-var?z=1', 'Exact.Test:99')).body, 'host=exact.test uri=/ret-var')
  })

  await t.test('return 301 URL: Location and the standard page; return CODE alone', async () => {
    const r = await get('/moved')
    assert.equal(r.status, 301)
    assert.equal(r.headers['location'], 'http://example.com/new?a=1')
    assert.equal(r.headers['content-type'], 'text/html')
    assert.equal(r.body, errorPage(301, 'Moved Permanently', r.headers['server']!))
    assert.equal((await get('/teapot')).status, 418)
  })

  await t.test('return 302 /path: nginx makes the Location absolute (absolute_redirect, port_in_redirect on)', async () => {
    const f = await get('/found')
    assert.equal(f.status, 302)
    // nginx makes a relative redirect absolute with the Host of the request (absolute_redirect on).
    assert.equal(f.headers['location'], `http://exact.test:${port}/elsewhere`)
  })

  await t.test('echo answers its text and a newline, with $host, $uri, $arg_x, $http_x_foo', async () => {
    const r = await get('/vars/p?x=1&y=2', 'EXACT.test', { 'X-Foo': 'bar baz' })
    assert.equal(r.status, 200)
    assert.equal(r.body, 'host=exact.test uri=/vars/p x=1 foo=bar baz method=GET args=x=1&y=2\n')
    // Missing variables are empty; %-escapes are decoded in $uri, not in $arg_x.
    const e = await get('/vars/a%20b?x=%41')
    assert.equal(e.body, 'host=exact.test uri=/vars/a b x=%41 foo= method=GET args=x=%41\n')
  })

  await t.test('set $v with variables, one set using another', async () => {
    assert.equal((await get('/set?y=3')).body, 'v-3+w\n')
    assert.equal((await get('/set')).body, 'v-+w\n')
  })

  await t.test('server_name: exact, exact over wildcard, *.wildcard, regex, default_server, first server', async () => {
    const cases: [string, string, number?][] = [
      ['exact.test', 'root\n'],
      ['EXACT.TEST:1234', 'root\n'],
      ['a.wild.test', 'wildcard\n'],
      ['x.y.wild.test', 'wildcard\n'],
      ['www.wild.test', 'exact-beats-wildcard\n'],
      ['re12.test', 'regex-name\n'],
      ['rex.test', 'default\n'],
      ['nomatch', 'default\n'],
      ['fallback.test', 'default\n'],
      ['nomatch', 'first-is-default\n', other],
      ['second.test', 'second\n', other],
    ]
    for (const [host, body, p] of cases) {
      const r = await get('/', host, {}, p ?? port)
      assert.deepEqual([r.status, r.body], [200, body], `${host} on ${p ?? port}`)
    }
  })

  await t.test('location precedence: =, ^~, regex in order, longest prefix', async () => {
    const cases: [string, string][] = [
      ['/exact', 'exact\n'],
      ['/exact/more', 'root\n'],
      ['/static/x.php', 'prefix-stop\n'],
      ['/static/longer/x.php', 'regex\n'],
      ['/static/longer/x', 'longest-prefix\n'],
      ['/q.php', 'regex\n'],
      ['/IMG.jpg', 'regex-caseless\n'],
      ['/a/b.php', 'regex\n'],
      ['/a/b/c', 'long\n'],
      ['/a/x', 'short\n'],
      ['/ab', 'short\n'],
      ['/', 'root\n'],
      ['/zzz', 'root\n'],
    ]
    for (const [path, body] of cases) assert.equal((await get(path)).body, body, path)
  })

  await t.test('allow/deny: 403 with the standard page', async () => {
    const r = await get('/deny')
    assert.equal(r.status, 403)
    assert.equal(r.headers['content-type'], 'text/html')
    assert.equal(r.body, errorPage(403, 'Forbidden', r.headers['server']!))
    assert.equal((await get('/deny-local')).status, 403)
    const ok = await get('/allow')
    assert.deepEqual([ok.status, ok.body], [200, 'allowed\n'])
  })

  await t.test(`Content-Type by extension from ${haveMime ? MIME : 'a small types file'}`, async () => {
    const cases: [string, string][] = [
      ['/t/x.json', 'application/json'],
      ['/t/x.html', 'text/html'],
      ['/t/x.HTML', 'text/html'],
      ['/t/x.css', 'text/css'],
      ['/t/x.png', 'image/png'],
      ['/t/x.unknownext', 'application/octet-stream'],
      ['/t/noext', 'application/octet-stream'],
    ]
    for (const [path, type] of cases) {
      const r = await get(path)
      assert.deepEqual([r.status, r.headers['content-type'], r.body], [200, type, 'typed\n'], path)
    }
  })
})

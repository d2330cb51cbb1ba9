/**
 * Real-world configurations, unchanged: Debian's stock `nginx.conf`, `mime.types`, `proxy_params`, `snippets/` and
 * `sites-available/default` (copies of Debian 12's nginx-common files in test/debian-nginx/, so that nothing depends
 * on which nginx packages the machine has or how its /etc/nginx was edited), and a reverse-proxy site written the
 * way operators write them (TLS, HTTP → HTTPS redirect, gzip, `map` for WebSocket, keepalive upstream, error_page).
 * Each runs on the real nginx and on dyups side by side: the same requests must get the same answers, and the
 * backends must receive the same requests.
 *
 * The stock files are copied into temp prefixes and only their absolute paths are rewritten, by explicit string
 * replacements that fail loudly when a stock file changes shape. A missing stock file fails the test, never skips.
 * The real nginx they are compared with is the machine's (/usr/sbin/nginx, which .ci/run installs).
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { chmodSync, existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { connect as tlsConnect } from 'node:tls'
import { WebSocket, WebSocketServer, type ClientOptions, type RawData } from 'ws'
import { ROOT, exchange, freePorts, readRequests, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'
import { dyupsTest, nginxTest, requireNginx, startNginx } from './nginx.js'
import { seen, type Seen } from './responses.js'
import { copyTestCertificates } from '../src/proxy/testing.js'
import { tlsExchange } from './tls-client.js'

/** Where the stock files are kept (test/debian-nginx/README.md). */
const STOCK = join(ROOT, 'test/debian-nginx')

/** A stock file's text. @throws when it is missing. */
function stock(name: string): string {
  const p = join(STOCK, name)
  if (!existsSync(p)) throw new Error(`${p} is missing: the copies of Debian's stock nginx files belong to the source tree`)
  return readFileSync(p, 'latin1')
}

/** `text` with each `from` (which must occur exactly once) replaced. @throws naming the file when one does not. */
function replaceEach(file: string, text: string, pairs: readonly [string, string][]): string {
  for (const [from, to] of pairs) {
    const n = text.split(from).length - 1
    if (n !== 1) throw new Error(`${file}: expected ${JSON.stringify(from)} exactly once, found ${n}; the stock file changed shape`)
    text = text.replace(from, () => to)
  }
  return text
}

/**
 * A HEAD answer as {@link seen} shows it, its Content-Length written as the GET of the same request shows it: a page
 * signed with the product name and version differs in length by nature (seen() evens that out for bodies only).
 */
async function seenHead(fetch: (raw: string) => Promise<string>, port: number, raw: string): Promise<Seen> {
  const get = await fetch(`GET${raw.slice(4)}`)
  const h = seen(await fetch(raw), port, { head: true })
  const len = /\r\ncontent-length: *(\d+)\r\n/i.exec(get.slice(0, get.indexOf('\r\n\r\n') + 2))?.[1]
  const shown = seen(get, port).headers.find((l) => l.startsWith('Content-Length: '))
  const i = h.headers.indexOf(`Content-Length: ${len}`)
  if (i >= 0 && shown !== undefined) h.headers[i] = shown
  return h
}

/** One request's answer, normalized; HEAD through {@link seenHead}. */
function answerOf(fetch: (raw: string) => Promise<string>, port: number, raw: string): Promise<Seen> {
  return raw.startsWith('HEAD ') ? seenHead(fetch, port, raw) : fetch(raw).then((text) => seen(text, port))
}

/** Paths nginx writes to outside the prefix by default; nginx alone gets them inside (dyups has no temp files). */
const NGINX_TEMP = 'client_body_temp_path tmp/body;\nproxy_temp_path tmp/proxy;\nfastcgi_temp_path tmp/fastcgi;\nuwsgi_temp_path tmp/uwsgi;\nscgi_temp_path tmp/scgi;\n'

/** A prefix for `kind`: conf/, logs/, and for nginx tmp/ plus conf/conf.d/temp.conf holding {@link NGINX_TEMP}. */
function prefixFor(t: TestContext, kind: 'nginx' | 'dyups'): string {
  const prefix = tempPrefix(t)
  mkdirSync(join(prefix, 'conf/conf.d'))
  if (kind === 'nginx') {
    mkdirSync(join(prefix, 'tmp'))
    writeConf(prefix, 'conf/conf.d/temp.conf', NGINX_TEMP)
  }
  return prefix
}

/**
 * A document root both sides serve (one directory, so ETag and Last-Modified agree), readable by the `www-data`
 * workers of a root nginx: index.html, a CSS, a JSON, an unknown extension, a subdirectory with its index, a 50x page
 * and a static/ directory.
 */
function documentRoot(t: TestContext): string {
  const www = join(tempPrefix(t), 'www')
  const files: Record<string, string> = {
    'index.html': '<!DOCTYPE html>\n<html><body><h1>Welcome to the stock site</h1></body></html>\n',
    'style.css': 'body { color: #333; font-family: sans-serif; margin: 0 auto; }\n',
    'data.json': '{"items":[1,2,3],"name":"stock site data, long enough to compress"}\n',
    'blob.xyz': 'unknown extension\n',
    'sub/index.html': '<html><body>sub index</body></html>\n',
    '50x.html': '<html><body><h1>Sorry, the backend is down.</h1></body></html>\n',
    'static/app.js': 'console.log("static file served through alias, with an expiry of one hour");\n',
  }
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(www, f, '..'), { recursive: true })
    writeFileSync(join(www, f), text)
    utimesSync(join(www, f), 1_700_000_000, 1_700_000_000)
  }
  for (const d of [join(www, '..'), www, join(www, 'sub'), join(www, 'static')]) chmodSync(d, 0o755)
  return www
}

// ---- part a: the stock nginx.conf ------------------------------------------------------------------------------

/** Debian's nginx.conf with its absolute paths pointed into the prefix; its includes kept, relative. */
function stockNginxConf(): string {
  const file = join(STOCK, 'nginx.conf')
  return replaceEach(file, stock('nginx.conf'), [
    // Kept as is: nginx run as root switches its workers to it (dyups does not; see docs/directives.md).
    ['user www-data;', 'user www-data;'],
    ['pid /run/nginx.pid;', 'pid logs/nginx.pid;'],
    ['error_log /var/log/nginx/error.log;', 'error_log logs/error.log;'],
    ['include /etc/nginx/modules-enabled/*.conf;', 'include modules-enabled/*.conf;'],
    ['include /etc/nginx/mime.types;', 'include mime.types;'],
    ['access_log /var/log/nginx/access.log;', 'access_log logs/access.log;'],
    ['include /etc/nginx/conf.d/*.conf;', 'include conf.d/*.conf;'],
    ['include /etc/nginx/sites-enabled/*;', 'include sites-enabled/*;'],
  ])
}

/** A default site like Debian's (sites-available/default without its comments), on `port`. */
function defaultSite(port: number, www: string): string {
  return `server {
	listen 127.0.0.1:${port} default_server;

	root ${www};

	index index.html index.htm index.nginx-debian.html;

	server_name _;

	location / {
		try_files $uri $uri/ =404;
	}
}
`
}

/** A prefix holding the stock nginx.conf and mime.types, the default site, and `modules` in modules-enabled/. */
function stockPrefix(t: TestContext, kind: 'nginx' | 'dyups', port: number, www: string, modules: Record<string, string>): string {
  const prefix = prefixFor(t, kind)
  writeConf(prefix, 'conf/nginx.conf', stockNginxConf())
  writeConf(prefix, 'conf/mime.types', stock('mime.types'))
  writeConf(prefix, 'conf/sites-enabled/default', defaultSite(port, www))
  mkdirSync(join(prefix, 'conf/modules-enabled'))
  for (const [f, text] of Object.entries(modules)) writeConf(prefix, `conf/modules-enabled/${f}`, text)
  return prefix
}

test("Debian's stock nginx.conf: its load_module include is refused naming the directive and file:line", async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = stockPrefix(t, 'dyups', port, documentRoot(t), { '50-mod-http-echo.conf': 'load_module modules/ngx_http_echo_module.so;\n' })
  const r = await dyupsTest(prefix)
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, new RegExp(`\\[emerg\\] "load_module" directive is not supported by dyups in ${prefix}/conf/modules-enabled/50-mod-http-echo\\.conf:1\\n`))
  assert.match(r.stderr, /configuration file .* test failed/)
})

test("Debian's stock nginx.conf and mime.types pass -t and serve the default site as nginx does", async (t) => {
  requireNginx()
  const www = documentRoot(t)
  const [pn, pd] = (await freePorts(2)) as [number, number]
  const xn = stockPrefix(t, 'nginx', pn, www, {})
  const xd = stockPrefix(t, 'dyups', pd, www, {})
  const tn = await nginxTest(xn)
  assert.equal(tn.code, 0, tn.stderr)
  const td = await dyupsTest(xd)
  assert.equal(td.code, 0, td.stderr)
  assert.match(td.stderr, /test is successful/)

  await startNginx(t, xn, [pn])
  await startDyups(t, xd, [pd], ['-g', 'daemon off;'])
  const get = (path: string, o: { method?: string; headers?: string } = {}): string =>
    `${o.method ?? 'GET'} ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n${o.headers ?? ''}\r\n`
  const gz = 'Accept-Encoding: gzip, deflate\r\n'
  const cases: [string, string, (s: Seen) => boolean][] = [
    ['index through the index directive', get('/'), (s) => s.status.endsWith('200 OK') && s.body.includes('Welcome')],
    ['index.html', get('/index.html'), (s) => s.headers.includes('Content-Type: text/html')],
    ['a CSS file, typed by mime.types', get('/style.css'), (s) => s.headers.includes('Content-Type: text/css')],
    ['a JSON file, not in gzip_types', get('/data.json', { headers: gz }), (s) => s.headers.includes('Content-Type: application/json')],
    ['an unknown extension gets default_type', get('/blob.xyz'), (s) => s.headers.includes('Content-Type: application/octet-stream')],
    ['a missing file: 404', get('/missing.html'), (s) => s.status.endsWith('404 Not Found')],
    ['a directory without its slash', get('/sub'), (s) => s.status.endsWith('301 Moved Permanently')],
    ['a directory with its slash', get('/sub/'), (s) => s.body.includes('sub index')],
    ['gzip on (the stock setting) compresses text/html', get('/', { headers: gz }), (s) => s.headers.includes('Content-Encoding: gzip') && s.body.startsWith('GZIP:')],
    ['gzip: a 404 page', get('/missing.html', { headers: gz }), (s) => s.status.endsWith('404 Not Found')],
    ['HEAD', get('/', { method: 'HEAD' }), (s) => s.body === '' && s.headers.some((h) => h.startsWith('Content-Length:'))],
    ['HEAD with gzip', get('/index.html', { method: 'HEAD', headers: gz }), (s) => s.body === ''],
    ['conditional GET', get('/index.html', { headers: 'If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n' }), (s) => s.status.endsWith('304 Not Modified')],
  ]
  for (const [name, raw, expect] of cases) {
    const n = await answerOf((r) => exchange(pn, r), pn, raw)
    const d = await answerOf((r) => exchange(pd, r), pd, raw)
    assert.ok(expect(n), `${name}: nginx answered ${JSON.stringify(n)}`)
    assert.deepEqual(d, n, name)
  }
  const logged = (prefix: string): number => readFileSync(join(prefix, 'logs/access.log'), 'latin1').split('\n').filter((l) => l !== '').length
  // Each HEAD case also sent its GET; lines are written after the answers.
  const want = cases.length + cases.filter(([, raw]) => raw.startsWith('HEAD ')).length
  assert.ok(await waitFor(() => logged(xn) === want && logged(xd) === want), `access.log lines: nginx ${logged(xn)}, dyups ${logged(xd)}, want ${want}`)
})

// ---- part b: a typical reverse-proxy site ---------------------------------------------------------------------

/** What a backend received: the request line and header lines as sent, and the body; plus the connection number. */
interface Received {
  head: string
  body: string
  conn: number
}

/**
 * An application backend: answers each request with a JSON body naming the method and target (long enough to be
 * compressed), keeps connections open unless told to close, and records what it received.
 */
async function appBackend(t: TestContext): Promise<{ port: number; got: Received[] }> {
  const got: Received[] = []
  const sockets = new Set<Socket>()
  let conns = 0
  const server = createServer((s) => {
    const conn = ++conns
    readRequests(s, sockets, (head, body) => {
      got.push({ head, body, conn })
      const line = head.slice(0, head.indexOf('\r\n'))
      const close = /\r\nconnection: *close/i.test(head)
      const out = JSON.stringify({ request: line, body, padding: 'the application answered this request'.repeat(2) })
      s.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${out.length}\r\nX-App: yes\r\n${close ? 'Connection: close\r\n' : ''}\r\n${out}`)
      if (close) s.end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy()
    server.close(() => r())
  }))
  return { port: (server.address() as AddressInfo).port, got }
}

/** A WebSocket backend echoing `echo:` + each message; records the headers of each upgrade request. */
async function wsBackend(t: TestContext): Promise<{ port: number; upgrades: Record<string, string | string[] | undefined>[] }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const upgrades: Record<string, string | string[] | undefined>[] = []
  wss.on('connection', (ws, req) => {
    upgrades.push({ ...req.headers, 'sec-websocket-key': 'KEY' })
    ws.on('message', (data: RawData) => ws.send(`echo:${String(data)}`))
  })
  t.after(() => {
    for (const c of wss.clients) c.terminate()
    wss.close()
  })
  return { port: (wss.address() as { port: number }).port, upgrades }
}

/** The site, as an operator writes it: HTTP redirects to HTTPS, which proxies to `app` and `ws_app`. */
function proxySite(o: { http: number; https: number; app: number; ws: number; dead: number; www: string }): string {
  return `map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
}

upstream app {
    server 127.0.0.1:${o.app};
    keepalive 16;
}

upstream ws_app {
    server 127.0.0.1:${o.ws};
}

upstream gone {
    server 127.0.0.1:${o.dead};
}

server {
    listen 127.0.0.1:${o.http};
    server_name a.test;
    return 301 https://$host$request_uri;
}

server {
    listen 127.0.0.1:${o.https} ssl;
    server_name a.test;

    ssl_certificate a.pem;
    ssl_certificate_key a.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    ssl_session_cache shared:SSL:10m;
    ssl_session_timeout 1d;

    client_max_body_size 1k;

    gzip on;
    gzip_vary on;
    gzip_proxied any;
    gzip_types text/plain text/css application/json application/javascript;

    error_page 502 /50x.html;
    location = /50x.html {
        root ${o.www};
    }

    location / {
        proxy_pass http://app;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
    }

    location /ws/ {
        proxy_pass http://ws_app;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_read_timeout 1h;
    }

    location /api/down/ {
        proxy_pass http://gone;
    }

    location /static/ {
        alias ${o.www}/static/;
        expires 1h;
    }
}
`
}

/** The main file around the sites: the stock mime.types, an access log, `user root` for a root nginx. */
function mainConf(): string {
  return `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {
    worker_connections 768;
}
http {
    include mime.types;
    default_type application/octet-stream;
    access_log logs/access.log;
    include conf.d/*.conf;
    include sites-enabled/*;
}
`
}


interface Side {
  prefix: string
  http: number
  https: number
  app: Awaited<ReturnType<typeof appBackend>>
  ws: Awaited<ReturnType<typeof wsBackend>>
}

/** One side of the proxy site: its backends, its prefix (certificates in conf/), started. */
async function proxySide(t: TestContext, kind: 'nginx' | 'dyups', www: string, dead: number): Promise<Side> {
  const [http, https] = (await freePorts(2)) as [number, number]
  const app = await appBackend(t)
  const ws = await wsBackend(t)
  const prefix = prefixFor(t, kind)
  copyTestCertificates(join(prefix, 'conf'))
  writeConf(prefix, 'conf/nginx.conf', mainConf())
  writeConf(prefix, 'conf/mime.types', stock('mime.types'))
  writeConf(prefix, 'conf/sites-enabled/app.conf', proxySite({ http, https, app: app.port, ws: ws.port, dead, www }))
  const check = kind === 'nginx' ? await nginxTest(prefix) : await dyupsTest(prefix)
  assert.equal(check.code, 0, `${kind} -t: ${check.stderr}`)
  if (kind === 'nginx') await startNginx(t, prefix, [http, https])
  else await startDyups(t, prefix, [http, https], ['-g', 'daemon off;'])
  return { prefix, http, https, app, ws }
}

test('a reverse-proxy site with TLS, redirect, gzip, keepalive, map and WebSocket behaves as on nginx', async (t) => {
  requireNginx()
  const www = documentRoot(t)
  const [dead] = (await freePorts(1)) as [number]
  const n = await proxySide(t, 'nginx', www, dead!)
  const d = await proxySide(t, 'dyups', www, dead!)
  const ca = readFileSync(join(n.prefix, 'conf/ca.pem'))

  // Plain HTTP: every request is redirected to HTTPS with its URI.
  for (const raw of ['GET /some/path?q=1&r=2 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n', 'HEAD /some/path?q=1 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n']) {
    const sn = await answerOf((r) => exchange(n.http, r), n.http, raw)
    const sd = await answerOf((r) => exchange(d.http, r), d.http, raw)
    assert.ok(sn.status.endsWith('301 Moved Permanently'), JSON.stringify(sn))
    assert.deepEqual(sd, sn, raw)
  }

  const req = (method: string, path: string, headers = '', body?: string): string =>
    `${method} ${path} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\nUser-Agent: real-configs\r\n${headers}${body !== undefined ? `Content-Length: ${body.length}\r\n` : ''}\r\n${body ?? ''}`
  const gz = 'Accept-Encoding: gzip\r\n'
  const cases: [string, string, (s: Seen) => boolean][] = [
    ['proxied GET', req('GET', '/app/page?x=1'), (s) => s.status.endsWith('200 OK') && s.headers.includes('X-App: yes')],
    ['proxied GET, gzip_proxied any', req('GET', '/app/page', gz), (s) => s.headers.includes('Content-Encoding: gzip')],
    ['proxied HEAD', req('HEAD', '/app/head'), (s) => s.status.endsWith('200 OK') && s.body === ''],
    ['proxied POST with a body under client_max_body_size', req('POST', '/app/form', 'Content-Type: application/x-www-form-urlencoded\r\nX-Forwarded-For: 10.0.0.1\r\n', 'a=1&b=2'), (s) => s.body.includes('a=1&b=2')],
    ['a body over client_max_body_size: 413', req('POST', '/app/upload', '', 'x'.repeat(2000)), (s) => s.status.endsWith('413 Request Entity Too Large')],
    ['a dead upstream: 502 with the error_page', req('GET', '/api/down/x'), (s) => s.status.endsWith('502 Bad Gateway') && s.body.includes('backend is down')],
    ['a static file through alias', req('GET', '/static/app.js', gz), (s) => s.status.endsWith('200 OK') && s.headers.includes('Content-Type: application/javascript')],
    ['a missing static file', req('GET', '/static/none.js'), (s) => s.status.endsWith('404 Not Found')],
  ]
  for (const [name, raw, expect] of cases) {
    const sn = await answerOf((r) => tlsExchange(n.https, ca, r), n.https, raw)
    const sd = await answerOf((r) => tlsExchange(d.https, ca, r), d.https, raw)
    if (name.startsWith('a static file')) {
      assert.ok(sn.headers.includes('Cache-Control: max-age=3600'), JSON.stringify(sn))
      // Expires is the time of the answer plus one hour: compared by shape.
      for (const s of [sn, sd]) {
        const i = s.headers.findIndex((h) => h.startsWith('Expires: '))
        assert.ok(i >= 0 && !Number.isNaN(Date.parse(s.headers[i]!.slice(9))), JSON.stringify(s))
        s.headers[i] = 'Expires: DATE'
      }
    }
    assert.ok(expect(sn), `${name}: nginx answered ${JSON.stringify(sn)}`)
    assert.deepEqual(sd, sn, name)
  }
  // The backend received the same requests (request line, headers in order, body), on one kept-alive connection.
  assert.deepEqual(d.app.got.map((g) => g.head + g.body), n.app.got.map((g) => g.head + g.body))
  assert.match(n.app.got[0]!.head, /^GET \/app\/page\?x=1 HTTP\/1\.1\r\nHost: a\.test\r\nX-Real-IP: 127\.0\.0\.1\r\nX-Forwarded-For: 127\.0\.0\.1\r\nX-Forwarded-Proto: https\r\n/)
  assert.deepEqual(d.app.got.map((g) => g.conn), n.app.got.map((g) => g.conn), 'keepalive reuses the backend connection as nginx')
  assert.equal(new Set(n.app.got.map((g) => g.conn)).size, 1)

  // WebSocket through the TLS listener, with Connection taken from the map.
  for (const side of [n, d]) {
    const ws = new WebSocket(`wss://127.0.0.1:${side.https}/ws/chat?room=1`, { ca, servername: 'a.test', headers: { Host: 'a.test' } } as ClientOptions)
    t.after(() => ws.terminate())
    await once(ws, 'open', { signal: AbortSignal.timeout(10_000) })
    const msg = once(ws, 'message', { signal: AbortSignal.timeout(10_000) })
    ws.send('hello')
    assert.equal(String((await msg)[0]), 'echo:hello')
    ws.close()
  }
  assert.equal(n.ws.upgrades.length, 1)
  assert.equal(n.ws.upgrades[0]!.connection, 'upgrade')
  assert.deepEqual(d.ws.upgrades, n.ws.upgrades, 'the upgrade request the backend received')
})

// ---- part c: proxy_params, snippets, sites-available/default ---------------------------------------------------

/** snippets/snakeoil.conf with its certificates pointed at the test certificate in the prefix. */
function snakeoil(): string {
  return replaceEach(join(STOCK, 'snippets/snakeoil.conf'), stock('snippets/snakeoil.conf'), [
    ['/etc/ssl/certs/ssl-cert-snakeoil.pem', 'a.pem'],
    ['/etc/ssl/private/ssl-cert-snakeoil.key', 'a.key'],
  ])
}

/** Whether a TLS handshake limited to `version` succeeds (the client allows every cipher, so the server decides). */
function handshake(port: number, ca: Buffer, version: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'): Promise<boolean> {
  return new Promise((res) => {
    const s = tlsConnect({ port, host: '127.0.0.1', ca, servername: 'a.test', minVersion: version, maxVersion: version, ciphers: 'DEFAULT:@SECLEVEL=0' })
    const timer = setTimeout(() => s.destroy(), 10_000)
    s.on('secureConnect', () => {
      clearTimeout(timer)
      s.destroy()
      res(true)
    })
    s.on('error', () => {
      clearTimeout(timer)
      res(false)
    })
    s.on('close', () => res(false))
  })
}

test("Debian's proxy_params and snippets/snakeoil.conf included from a site: -t and the backend's view as nginx", async (t) => {
  requireNginx()
  const sides: { prefix: string; port: number; app: Awaited<ReturnType<typeof appBackend>> }[] = []
  for (const kind of ['nginx', 'dyups'] as const) {
    const [port] = (await freePorts(1)) as [number]
    const app = await appBackend(t)
    const prefix = prefixFor(t, kind)
    copyTestCertificates(join(prefix, 'conf'))
    // The stock main file: its http-level `ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;` applies to the site.
    writeConf(prefix, 'conf/nginx.conf', stockNginxConf())
    mkdirSync(join(prefix, 'conf/modules-enabled'))
    writeConf(prefix, 'conf/mime.types', stock('mime.types'))
    writeConf(prefix, 'conf/proxy_params', stock('proxy_params'))
    writeConf(prefix, 'conf/snippets/snakeoil.conf', snakeoil())
    writeConf(prefix, 'conf/sites-enabled/app', `server {
    listen 127.0.0.1:${port} ssl;
    server_name a.test;
    include snippets/snakeoil.conf;
    location / {
        proxy_pass http://127.0.0.1:${app.port};
        include proxy_params;
    }
}
`)
    const check = kind === 'nginx' ? await nginxTest(prefix) : await dyupsTest(prefix)
    assert.equal(check.code, 0, `${kind} -t: ${check.stderr}`)
    if (kind === 'nginx') await startNginx(t, prefix, [port])
    else await startDyups(t, prefix, [port], ['-g', 'daemon off;'])
    sides.push({ prefix, port, app })
  }
  const [n, d] = sides as [typeof sides[0], typeof sides[0]]
  const ca = readFileSync(join(n.prefix, 'conf/ca.pem'))
  const raw = 'GET /x?y=1 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\nX-Forwarded-For: 192.0.2.7\r\n\r\n'
  const sn = seen(await tlsExchange(n.port, ca, raw), n.port)
  const sd = seen(await tlsExchange(d.port, ca, raw), d.port)
  assert.ok(sn.status.endsWith('200 OK'), JSON.stringify(sn))
  assert.deepEqual(sd, sn)
  assert.match(n.app.got[0]!.head, /\r\nHost: a\.test\r\nX-Real-IP: 127\.0\.0\.1\r\nX-Forwarded-For: 192\.0\.2\.7, 127\.0\.0\.1\r\nX-Forwarded-Proto: https\r\n/)
  assert.deepEqual(d.app.got.map((g) => g.head), n.app.got.map((g) => g.head))

  // TLS versions the stock line names: what the TLS library allows is served, the rest refused, on both alike.
  for (const v of ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const) {
    const hn = await handshake(n.port, ca, v)
    assert.equal(await handshake(d.port, ca, v), hn, v)
    if (v === 'TLSv1.2' || v === 'TLSv1.3') assert.ok(hn, v)
  }
})

test("Debian's sites-available/default as shipped passes -t on both; snippets/fastcgi-php.conf is refused clearly", async (t) => {
  requireNginx()
  const www = documentRoot(t)
  const site = replaceEach(join(STOCK, 'sites-available/default'), stock('sites-available/default'), [['root /var/www/html;', `root ${www};`]])
  for (const kind of ['nginx', 'dyups'] as const) {
    const prefix = prefixFor(t, kind)
    writeConf(prefix, 'conf/nginx.conf', stockNginxConf())
    writeConf(prefix, 'conf/mime.types', stock('mime.types'))
    mkdirSync(join(prefix, 'conf/modules-enabled'))
    writeConf(prefix, 'conf/sites-enabled/default', site)
    const r = kind === 'nginx' ? await nginxTest(prefix) : await dyupsTest(prefix)
    assert.equal(r.code, 0, `${kind} -t: ${r.stderr}`)
  }

  // PHP through FastCGI, as the commented block of the default site shows it: nginx accepts it, dyups refuses it
  // at its first FastCGI directive, naming it and where it is.
  const php = replaceEach(join(STOCK, 'sites-available/default'), site, [
    ['#location ~ \\.php$ {\n\t#\tinclude snippets/fastcgi-php.conf;', 'location ~ \\.php$ {\n\t\tinclude snippets/fastcgi-php.conf;'],
    ['\t#\tfastcgi_pass 127.0.0.1:9000;\n\t#}', '\t\tfastcgi_pass 127.0.0.1:9000;\n\t}'],
  ])
  const results: Record<string, { code: number | null; stderr: string; prefix: string }> = {}
  for (const kind of ['nginx', 'dyups'] as const) {
    const prefix = prefixFor(t, kind)
    writeConf(prefix, 'conf/nginx.conf', stockNginxConf())
    writeConf(prefix, 'conf/mime.types', stock('mime.types'))
    writeConf(prefix, 'conf/fastcgi.conf', stock('fastcgi.conf'))
    writeConf(prefix, 'conf/snippets/fastcgi-php.conf', stock('snippets/fastcgi-php.conf'))
    mkdirSync(join(prefix, 'conf/modules-enabled'))
    writeConf(prefix, 'conf/sites-enabled/default', php)
    const r = kind === 'nginx' ? await nginxTest(prefix) : await dyupsTest(prefix)
    results[kind] = { ...r, prefix }
  }
  assert.equal(results.nginx!.code, 0, results.nginx!.stderr)
  assert.equal(results.dyups!.code, 1)
  assert.match(results.dyups!.stderr, new RegExp(`\\[emerg\\] "fastcgi_split_path_info" directive is not supported by dyups in ${results.dyups!.prefix}/conf/snippets/fastcgi-php\\.conf:2\\n`))
})

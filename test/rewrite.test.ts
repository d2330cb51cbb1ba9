/**
 * The rewrite module (`rewrite`, `if`, `set`, `return`, `break`) side by side with the real nginx: the same
 * configuration, the same requests; the client's answer (status, Location, add_header, body) and the request line the
 * backend receives must be equal.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { backend, Conn, freePorts, request, startDyups, tempPrefix, writeConf } from './helpers.js'
import { dyupsTest, nginxTest, startNginx } from './nginx.js'

function conf(kind: 'nginx' | 'dyups', port: number, redirectPort: number, back: number): string {
  const user = kind === 'nginx' && process.getuid?.() === 0 ? 'user root;\n' : ''
  const temp = kind === 'nginx' ? '    client_body_temp_path tmp/body;\n    proxy_temp_path tmp/proxy;\n' : ''
  return `${user}worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    access_log off;
${temp}    upstream back { server 127.0.0.1:${back}; }
    server {
        listen 127.0.0.1:${port};
        rewrite ^/old/(.*)$ /new/$1 last;
        if ($http_x_block) { return 403; }
        set $level server;
        location /new/ { return 200 "new uri=$uri args=$args level=$level"; }
        location /perm { rewrite ^/perm/(.*)$ /target/$1 permanent; }
        location /redir { rewrite ^ http://example.com/x redirect; }
        location /abs { rewrite ^/abs/(.*)$ http://example.com/$1; }
        location /qs { rewrite ^/qs/(\\w+)$ /new/q?id=$1; }
        location /qsdrop { rewrite ^ /new/dropped? last; }
        location /qsredir { rewrite ^ /new/r?x=1 permanent; }
        location /brk { rewrite ^/brk/(.*)$ /other/$1 break; proxy_pass http://back; }
        location /brkuri/ { rewrite ^/brkuri/(.*)$ /z/$1 break; proxy_pass http://back/prefix/; }
        location /last { rewrite ^/last/(.*)$ /p/$1 last; return 500; }
        location /p/ { proxy_pass http://back; }
        location /pu/ { proxy_pass http://back/up/; }
        location /tou { rewrite ^/tou/(.*)$ /pu/$1 last; }
        location /chain { rewrite ^/chain/(.*)$ /p/$1; rewrite ^/p/a$ /p/b; }
        location /cycle { rewrite ^ /cycle last; }
        location /stop { rewrite ^ /new/stopped; break; return 500; }
        location /if {
            if ($arg_a = "1") { return 200 "a is one"; }
            if ($arg_b ~ ^(\\d+)-(\\d+)$) { return 200 "b=$2,$1"; }
            if ($arg_c !~* ^x) { set $c "not-x"; }
            if ($http_x_p) { proxy_pass http://back; }
            if ($request_method = POST) { return 405; }
            if ( $arg_d != "" ) { return 200 "d=$arg_d"; }
            return 200 "fallthrough c=$c";
        }
        location /ifhdr {
            if ($arg_x) { add_header X-If yes; }
            return 200 "ifhdr";
        }
        location /files {
            if (-d /tmp) { set $t "dir"; }
            if (!-e /nonexistent/file) { set $t "$t+missing"; }
            if (-f /etc/hostname) { set $t "$t+file"; }
            return 200 "t=$t";
        }
        location /deny { deny all; return 200 "returned before access"; }
        location /named {
            if ($uri ~ ^/named/(?<who>\\w+)) { return 200 "who=$who"; }
            return 404;
        }
    }
    server {
        listen 127.0.0.1:${redirectPort};
        return 301 https://$host$request_uri;
        location / { return 200 "never"; }
    }
}
`
}

interface Seen {
  status: number
  location: string | undefined
  xif: string | undefined
  body: string
  backend: string
}

const REQUESTS: { path: string; method?: string; headers?: Record<string, string> }[] = [
  { path: '/old/a?x=1' },
  { path: '/new/b' },
  { path: '/new/b', headers: { 'X-Block': '1' } },
  { path: '/perm/some/thing?k=v' },
  { path: '/redir?k=v' },
  { path: '/abs/y?k=v' },
  { path: '/qs/abc?orig=1' },
  { path: '/qs/abc' },
  { path: '/qsdrop?orig=1' },
  { path: '/qsredir?orig=1' },
  { path: '/brk/one%20two?q=1' },
  { path: '/brkuri/one?q=1' },
  { path: '/last/x?q=2' },
  { path: '/tou/deep/er?q=3' },
  { path: '/chain/a' },
  { path: '/chain/c' },
  { path: '/cycle' },
  { path: '/stop?z=1' },
  { path: '/if?a=1' },
  { path: '/if?b=12-34' },
  { path: '/if?c=yes' },
  { path: '/if?c=Xyes' },
  { path: '/if', headers: { 'X-P': 'on' } },
  { path: '/if', method: 'POST' },
  { path: '/if?d=4' },
  { path: '/ifhdr?x=1' },
  { path: '/ifhdr' },
  { path: '/files' },
  { path: '/deny' },
  { path: '/named/alice' },
  { path: '/named/' },
]

test('rewrite, if, set, return and break answer as nginx does', async (t) => {
  const [pn, pd, rn, rd] = (await freePorts(4)) as [number, number, number, number]
  const bn = await backend(t, 'nginx-back')
  const bd = await backend(t, 'dyups-back')
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  mkdirSync(join(xn, 'tmp'))
  writeConf(xn, 'conf/nginx.conf', conf('nginx', pn, rn, bn.port))
  writeConf(xd, 'conf/nginx.conf', conf('dyups', pd, rd, bd.port))
  await startNginx(t, xn, [pn, rn])
  await startDyups(t, xd, [pd, rd], ['-g', 'daemon off;'])

  const ask = async (port: number, b: { requests: string[] }, r: (typeof REQUESTS)[number]): Promise<Seen> => {
    const before = b.requests.length
    const res = await request(port, { path: r.path, method: r.method, headers: r.headers, body: r.method === 'POST' ? 'x' : undefined })
    const got = b.requests.slice(before)
    return {
      status: res.status,
      location: res.headers['location']?.replace(`:${port}/`, ':PORT/'),
      xif: res.headers['x-if'],
      // Error and redirect pages name the server ("nginx" / "dyups"): compare what the test controls.
      body: res.status >= 300 ? '' : res.body,
      backend: got.map((h) => h.slice(0, h.indexOf('\r\n'))).join(' | '),
    }
  }
  for (const r of REQUESTS) {
    const n = await ask(pn, bn, r)
    const d = await ask(pd, bd, r)
    assert.deepEqual(d, { ...n, body: n.body.replace('nginx-back', 'dyups-back') }, `${r.method ?? 'GET'} ${r.path} ${JSON.stringify(r.headers ?? {})}`)
  }
  // A sample of the table, spelled out, so a shared mistake of both sides would show too.
  const d = (path: string) => ask(pd, bd, { path })
  assert.deepEqual(await d('/old/a?x=1'), { status: 200, location: undefined, xif: undefined, body: 'new uri=/new/a args=x=1 level=', backend: '' })
  assert.equal((await d('/brk/one%20two?q=1')).backend, 'GET /other/one%20two?q=1 HTTP/1.0')
  assert.equal((await d('/perm/some/thing?k=v')).location, 'http://localhost:PORT/target/some/thing?k=v')
  assert.equal((await d('/cycle')).status, 500)

  const redirect = await request(rd, { path: '/a/b?c=d', host: 'example.org' })
  assert.deepEqual([redirect.status, redirect.headers['location']], [301, 'https://example.org/a/b?c=d'])
})

test('bad rewrite and if lines fail the configuration test as in nginx', async (t) => {
  const cases: [string, string][] = [
    ['rewrite ^/a /b bogus;', 'invalid parameter "bogus"'],
    ['rewrite ^/(a /b;', 'pcre2_compile() failed'],
    ['if ($arg_a) { rewrite ^ /x; }', ''],
    ['if $arg_a { return 200; }', 'invalid condition "$arg_a"'],
    ['if ($arg_a ! b) { return 200; }', 'unexpected "!" in condition'],
    ['if (-q /x) { return 200; }', 'invalid condition "-q"'],
    ['if ($arg_a = b c) { return 200; }', 'invalid condition "$arg_a"'],
    ['if ($arg_a) { if ($arg_b) { return 200; } }', '"if" directive is not allowed here'],
    ['break 1;', 'invalid number of arguments in "break" directive'],
  ]
  for (const [line, want] of cases) {
    const out: string[] = []
    for (const kind of ['nginx', 'dyups'] as const) {
      const x = tempPrefix(t)
      writeConf(x, 'conf/nginx.conf', `events {}\nhttp {\n    server {\n        listen 127.0.0.1:1;\n        location / {\n            ${line}\n        }\n    }\n}\n`)
      const r = kind === 'nginx' ? await nginxTest(x) : await dyupsTest(x)
      const emerg = /\[emerg\] (?:\d+#\d+: )?(.*) in .*nginx\.conf:(\d+)/.exec(r.stderr)?.slice(1).join(' at ') ?? ''
      // PCRE and JavaScript word a bad regex differently; the rest must agree.
      out.push(`${r.code === 0 ? 'ok' : 'failed'}: ${emerg.replace(/(pcre2_compile\(\) failed: ).*( in ")/, '$1…$2')}`)
    }
    assert.equal(out[1], out[0], line)
    if (want !== '') assert.match(out[1]!, new RegExp(want.replace(/[()$\\[\]*?]/g, '\\$&')), line)
  }
})

test('an answer made before the body is read drops the body and keeps the connection, as nginx does', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const x = tempPrefix(t)
  writeConf(x, 'conf/nginx.conf', `daemon off;
worker_processes 1;
error_log logs/error.log info;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:${port};
        location /ret { return 200 "ret"; }
        location /deny { deny all; }
        location /moved { rewrite ^ /elsewhere permanent; }
        location / { return 200 "next $uri"; }
    }
}
`)
  await startDyups(t, x, [port])
  const c = await Conn.open(port)
  t.after(() => c.close())
  const got: string[] = []
  const body = 'x'.repeat(100_000)
  got.push(String((await c.send(`POST /ret HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n${body}`)).status))
  got.push((await c.req({ path: '/one' })).body)
  got.push(String((await c.send('POST /deny HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')).status))
  got.push((await c.req({ path: '/two' })).body)
  // The body arrives after the answer: still read and dropped, not taken for the next request.
  const moved = c.send(`PUT /moved HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n`)
  got.push(String((await moved).status))
  got.push((await c.send('abcdefGET /three HTTP/1.1\r\nHost: a\r\n\r\n')).body)
  assert.deepEqual(got, ['200', 'next /one', '403', 'next /two', '301', 'next /three'])
})

/**
 * proxy_cookie_domain, proxy_cookie_path and proxy_cookie_flags side by side with the real nginx: prefix and whole-domain rules, regex
 * rules with captures, variables, a level's `off`, inheritance; Set-Cookie values in various shapes (attribute case,
 * spaces, a leading-dot domain, repeated attributes, empty values, a first part without `=`). Compared: the client's
 * whole answer and the access-log line ($upstream_cookie_NAME included).
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { closeServer, exchange, freePorts, readText, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'
import { dyupsTest, nginxOnlyLines, nginxTest, startNginx } from './nginx.js'

function conf(kind: 'nginx' | 'dyups', port: number, back: number): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  const px = `proxy_pass http://127.0.0.1:${back};`
  return `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    log_format b '$status|$request_uri|$upstream_cookie_a|$upstream_cookie_b|$upstream_cookie_flagonly';
    access_log logs/b.log b;
    server_tokens off;
    server {
        listen 127.0.0.1:${port};
        proxy_cookie_path /app /srv;
        location /c1/ { proxy_cookie_domain backend.local front.example; proxy_cookie_path /app/ /; ${px} }
        location /c2/ { proxy_cookie_domain ~^\\.?(.+)\\.local$ $1.example; proxy_cookie_path ~*^/APP(.*)$ /new$1; ${px} }
        location /c3/ { ${px} }
        location /c3off/ { proxy_cookie_path off; ${px} }
        location /c4/ { proxy_cookie_domain .BACKEND.local $host; proxy_cookie_path $arg_from $arg_to; ${px} }
        location /f1/ {
            proxy_cookie_flags a secure samesite=strict;
            proxy_cookie_flags ~^(c|h)$ nosecure nohttponly samesite=none;
            proxy_cookie_flags ~^SESS foo httponly;
            proxy_cookie_flags b nosamesite;
            ${px}
        }
        location /f2/ { proxy_cookie_flags h nosamesite nosecure; proxy_cookie_path /app /z; proxy_cookie_flags $arg_c $arg_f; ${px} }
        location /f3/ { proxy_cookie_flags off; ${px} }
        location /c5/ { proxy_cookie_domain other.example x.example; proxy_cookie_domain backend.local y.example; ${px} }
    }
${nginxOnly}}
${user}`
}

const COOKIES = [
  'a=1; Domain=backend.local; Path=/app/x; HttpOnly',
  'b=2; domain=.Backend.Local; path=/app',
  'c=3;Path=/application;  Domain=other.example ;Secure',
  'flagonly; Path=/app',
  'd=4',
  'e=5; Path=/app/y; Path=/app/z',
  'f=6; Domain=; Path=',
  'g=7; Path =/app; Max-Age=60',
  'h=8; SameSite=Lax; secure; HTTPONLY',
  'sess=9; Path=/',
]

async function backend(t: TestContext): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    let buf = ''
    s.on('data', (b: Buffer) => {
      buf += b.toString('latin1')
      if (!buf.includes('\r\n\r\n')) return
      s.end(`HTTP/1.1 200 OK\r\n${COOKIES.map((c) => `Set-Cookie: ${c}\r\n`).join('')}X-B: b\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n`)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => closeServer(server, sockets))
  return (server.address() as AddressInfo).port
}

const PATHS = ['/c1/', '/c2/', '/c3/', '/c3off/', '/c4/?from=/app/&to=/v/', '/c4/?from=/ap&to=', '/c5/', '/f1/', '/f2/?c=D&f=httponly', '/f2/?c=e&f=samesite=lax', '/f3/']
const REQUESTS = PATHS.map((p) => `GET ${p} HTTP/1.1\r\nHost: Front.Host\r\nConnection: close\r\n\r\n`)

async function run(port: number, prefix: string): Promise<{ answers: string[]; log: string[] }> {
  const answers: string[] = []
  for (const raw of REQUESTS) answers.push(raw.split('\r\n')[0] + '\n' + (await exchange(port, raw)).replace(/^(Date|Server): .*$/gm, '$1: X'))
  const file = join(prefix, 'logs/b.log')
  const lines = (): string[] => readText(file).split('\n').filter((l) => l !== '')
  assert.ok(await waitFor(() => lines().length >= REQUESTS.length, 10_000), `${lines().length} log lines`)
  return { answers, log: lines() }
}

test('proxy_cookie_domain, proxy_cookie_path and proxy_cookie_flags as nginx', async (t) => {
  const back = await backend(t)
  const [pn, pd] = (await freePorts(2)) as [number, number]
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  mkdirSync(join(xn, 'tmp'))
  writeConf(xn, 'conf/nginx.conf', conf('nginx', pn, back))
  writeConf(xd, 'conf/nginx.conf', conf('dyups', pd, back))
  await startNginx(t, xn, [pn])
  await startDyups(t, xd, [pd], ['-g', 'daemon off;'])
  const ngx = await run(pn, xn)
  const dy = await run(pd, xd)
  if (process.env.SIDE_DEBUG) console.log(JSON.stringify({ ngx, dy }, null, 1))
  for (let i = 0; i < REQUESTS.length; i++) assert.equal(dy.answers[i], ngx.answers[i])
  assert.deepEqual(dy.log, ngx.log)
  const all = ngx.answers.join('\n')
  for (const want of ['Set-Cookie: a=1; Domain=front.example; Path=/x; HttpOnly', 'domain=Backend.example', 'Path=/srv/x', 'domain=.front.host', 'SameSite=Strict', 'sess=9; Path=/; HttpOnly']) {
    assert.ok(all.includes(want), `nginx never sent ${JSON.stringify(want)}`)
  }
})

test('proxy_cookie_path and proxy_cookie_domain errors as nginx -t', async (t) => {
  for (const line of ['proxy_cookie_path foo;', 'proxy_cookie_path off; proxy_cookie_path / /x;', 'proxy_cookie_domain a b; proxy_cookie_domain off;', 'proxy_cookie_domain a;', 'proxy_cookie_flags a;', 'proxy_cookie_flags off; proxy_cookie_flags a secure;']) {
    const pn = tempPrefix(t), pd = tempPrefix(t)
    mkdirSync(join(pn, 'tmp'))
    const text = (kind: 'nginx' | 'dyups'): string => `pid logs/nginx.pid;\nevents {}\nhttp {\n    ${line}\n${nginxOnlyLines(kind).nginxOnly}}\n${nginxOnlyLines(kind).user}`
    writeConf(pn, 'conf/nginx.conf', text('nginx'))
    writeConf(pd, 'conf/nginx.conf', text('dyups'))
    const [n, d] = await Promise.all([nginxTest(pn), dyupsTest(pd)])
    const msg = (s: string, p: string): string => (/\[emerg\] (?:\d+#\d+: )?(.*)$/m.exec(s)?.[1] ?? s).replace(p, 'P')
    assert.equal(n.code, 1, line)
    assert.equal(msg(d.stderr + d.stdout, pd), msg(n.stderr, pn), line)
  }
  // A bad regex fails where it is written, in a level without proxy_pass too (JavaScript's words for the reason).
  const pd = tempPrefix(t)
  const file = writeConf(pd, 'conf/nginx.conf', 'pid logs/nginx.pid;\nevents {}\nhttp {\n    proxy_cookie_path ~(x a;\n}\n')
  const d = await dyupsTest(pd)
  assert.equal(d.code, 1)
  assert.match(d.stderr + d.stdout, new RegExp(`pcre2_compile\\(\\) failed: .* in "\\(x" in ${file}:4`))
})

/**
 * auth_basic, limit_except and satisfy side by side with the real nginx: both serve the same configuration and the
 * same user file (hashes of every format nginx accepts through Debian's crypt(3) and its own schemes), and each
 * request must get the same status, `WWW-Authenticate`, body and error-log lines from both. Then `$remote_user` in
 * the access logs, a user file edited while both run (no reload), and, dyups alone, the dyups interface with writes
 * behind limit_except + auth_basic, hashes only crypt(3) computes (500) and the `-t` warnings.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import bcrypt from 'bcryptjs'
import { freePorts, readText, request, runBin, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'
import { dyupsTest, nginxOnlyLines, nginxTest, startNginx } from './nginx.js'
import { ask, type Seen } from './responses.js'

const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64')
const basic = (user: string, pw: string): string => `Basic ${b64(`${user}:${pw}`)}`

function openssl(...args: string[]): string {
  const r = spawnSync('openssl', ['passwd', ...args], { encoding: 'latin1' })
  assert.equal(r.status, 0, `openssl passwd ${args.join(' ')}: ${r.stderr}`)
  return r.stdout.trim()
}

/** [user, password, hash]: generated here where a tool can, else made by libxcrypt 4.4.33 (perl's crypt()). */
function users(): Array<[string, string, string]> {
  const salt = Buffer.from('s@lt!')
  return [
    ['plain', 'plain-pw', '{PLAIN}plain-pw'],
    ['sha', 'sha-pw', '{SHA}' + createHash('sha1').update('sha-pw').digest('base64')],
    ['ssha', 'ssha-pw', '{SSHA}' + Buffer.concat([createHash('sha1').update('ssha-pw').update(salt).digest(), salt]).toString('base64')],
    ['apr1', 'apr1-pw', openssl('-apr1', 'apr1-pw')],
    ['md5', 'md5-pw', openssl('-1', 'md5-pw')],
    ['sha256', 'sha256-pw', openssl('-5', 'sha256-pw')],
    ['sha512', 'sha512-pw', openssl('-6', 'sha512-pw')],
    ['sha512r', 's6r-pw', '$6$rounds=2000$0123456789abcdef$RKCgxIvcGKwDRGqa7UqyOsSBT4eUzosdesSkrIHcd.Z2kc/2ZOml5/kpCK0uJhRMnp1zEzZO6Z7bwCnRX7/X0.'],
    ['bcrypt', 'bcrypt-pw', bcrypt.hashSync('bcrypt-pw', 4)],
    ['bcrypt2y', 'b2y-pw', '$2y$05$abcdefghijklmnopqrstuuOLPq.frUHRPbRYx.YQFAvi1oTrReeWm'],
    ['bcrypt2a', 'b2a-pw', '$2a$04$ZYXWVUTSRQPONMLKJIHGFeZsUMrG8D1OZmVbMTOn4ihRRsFJd79w6'],
    ['yescrypt', 'pw-yes', '$y$j7T$abcdefghijklmnop$fGSlc9skIO4yq2Adweq..b5sakzip6FEv57AB2.cRY8'],
    ['des', 'des-pw', 'XyvCiTHG2P/Q.'],
    ['utf8', 'p\xc3\xa4ss', '$6$saltutf$aCz9xK/mjoOaaZXt77H4z5BC4GJ.r.VsM5Lg2YdEBIBeuqab/84.g0gxlXoyIrxLCODhG32GlN1b.F.m/LTek.'],
  ]
}

function userFile(list: Array<[string, string, string]>): string {
  return [
    '# users of the side-by-side test',
    '',
    ...list.map(([u, , h]) => `${u}:${h}:a comment`),
    'locked:!',
    'empty:',
    '',
  ].join('\n')
}

function conf(port: number, back: number, kind: 'nginx' | 'dyups'): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  return `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    server_tokens off;
    log_format u '$remote_user|$status|$request_method $uri';
    access_log logs/u.log u;
    map $arg_f $uf { default htpasswd; two htpasswd2; }
    server {
        listen 127.0.0.1:${port};
        root html;
        auth_basic "Restricted Area";
        auth_basic_user_file htpasswd;
        location /open/ { auth_basic off; }
        location /var/ { auth_basic "realm of $host at $uri"; }
        location /uf/ { auth_basic_user_file $uf; }
        location /missing/ { auth_basic_user_file missing; }
        location /le/ { auth_basic off; limit_except GET { deny all; } }
        location /le-auth/ { auth_basic off; limit_except GET { auth_basic "writes"; auth_basic_user_file htpasswd; } }
        location /px/ { auth_basic off; proxy_pass http://127.0.0.1:${back}; limit_except GET { auth_basic "px"; auth_basic_user_file htpasswd; } }
        location /all/ { allow 127.0.0.1; deny all; }
        location /all-deny/ { deny all; }
        location /any/ { satisfy any; deny all; }
        location /any-allow/ { satisfy any; allow 127.0.0.1; deny all; }
        location /any-norule/ { satisfy any; allow 10.0.0.0/8; }
        location /any-off/ { satisfy any; deny all; auth_basic off; }
        location /any-missing/ { satisfy any; deny all; auth_basic_user_file missing; }
    }
${nginxOnly}}
${user}`
}

const DIRS = ['open', 'var', 'uf', 'missing', 'le', 'le-auth', 'all', 'all-deny', 'any', 'any-allow', 'any-norule', 'any-off', 'any-missing']

function layout(prefix: string, port: number, back: number, kind: 'nginx' | 'dyups', list: Array<[string, string, string]>): void {
  if (kind === 'nginx') mkdirSync(join(prefix, 'tmp'))
  writeConf(prefix, 'conf/nginx.conf', conf(port, back, kind))
  writeConf(prefix, 'conf/htpasswd', userFile(list))
  writeConf(prefix, 'conf/htpasswd2', 'second:{PLAIN}second-pw\n')
  writeConf(prefix, 'html/f.txt', 'top\n')
  for (const d of DIRS) writeConf(prefix, `html/${d}/f.txt`, `${d}\n`)
}

interface Side {
  port: number
  prefix: string
}

interface Outcome {
  status: string
  wwwAuthenticate: string | undefined
  body: string
  errors: string[]
}

const INTERESTING = /no user\/password|was not found in|password mismatch|access forbidden|open\(\)|pread\(\)/

async function run(side: Side, method: string, path: string, authorization?: string): Promise<Outcome> {
  const log = join(side.prefix, 'logs/error.log')
  const from = readText(log).length
  const auth = authorization === undefined ? '' : `Authorization: ${authorization}\r\n`
  const raw = `${method} ${path} HTTP/1.1\r\nHost: side\r\nConnection: close\r\n${auth}${method === 'POST' || method === 'PUT' ? 'Content-Length: 0\r\n' : ''}\r\n`
  const r: Seen = await ask(side.port, raw)
  const errors = readText(log).slice(from).split('\n').filter((l) => INTERESTING.test(l))
    .map((l) => l.replace(/^\S+ \S+ \[(\w+)\] \d+#\d+: (\*\d+ )?/, '[$1] ').split(side.prefix).join('PREFIX'))
  const www = r.headers.find((h) => h.toLowerCase().startsWith('www-authenticate:'))
  return { status: r.status, wwwAuthenticate: www, body: r.body, errors }
}

async function startBoth(t: TestContext, list: Array<[string, string, string]>): Promise<{ nginx: Side; dyups: Side }> {
  const [pn, pd, back] = (await freePorts(3)) as [number, number, number]
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => res.end(`backend saw ${req.method} ${req.url}\n`))
  })
  await new Promise<void>((r) => server.listen(back, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => server.close(() => r())))
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  layout(xn, pn, back, 'nginx', list)
  layout(xd, pd, back, 'dyups', list)
  await startNginx(t, xn, [pn])
  await startDyups(t, xd, [pd], ['-g', 'daemon off;'])
  return { nginx: { port: pn, prefix: xn }, dyups: { port: pd, prefix: xd } }
}

test('auth_basic, limit_except and satisfy answer as nginx does', async (t) => {
  const list = users()
  const s = await startBoth(t, list)
  const same = async (name: string, method: string, path: string, authorization?: string): Promise<Outcome> => {
    let ngx: Outcome | undefined
    await t.test(name, async () => {
      ngx = await run(s.nginx, method, path, authorization)
      const dy = await run(s.dyups, method, path, authorization)
      if (process.env['SIDE_DEBUG']) console.log(name, JSON.stringify(ngx))
      assert.deepEqual(dy, ngx)
    })
    return ngx!
  }

  // Every hash format: the right password, a wrong one.
  for (const [user, pw] of list) {
    const ok = await same(`${user}: right password`, 'GET', '/f.txt', basic(user, pw))
    assert.equal(ok.status, 'HTTP/1.1 200 OK', `${user} is accepted by nginx`)
    const bad = await same(`${user}: wrong password`, 'GET', '/f.txt', basic(user, pw + 'x'))
    assert.equal(bad.status, 'HTTP/1.1 401 Unauthorized')
  }
  await same('unknown user', 'GET', '/f.txt', basic('nobody', 'pw'))
  await same('a locked hash', 'GET', '/f.txt', basic('locked', '!'))
  await same('an empty hash', 'GET', '/f.txt', basic('empty', ''))
  await same('a comment line is no user', 'GET', '/f.txt', basic('# users of the side-by-side test', 'x'))

  // Credentials nginx does not read.
  await same('no Authorization', 'GET', '/f.txt')
  await same('Basic without credentials', 'GET', '/f.txt', 'Basic')
  await same('bad base64', 'GET', '/f.txt', 'Basic !!!!')
  await same('base64 of one character too many', 'GET', '/f.txt', `Basic ${b64('plain:plain-pw')}A`)
  await same('no colon', 'GET', '/f.txt', `Basic ${b64('plain')}`)
  await same('an empty user', 'GET', '/f.txt', `Basic ${b64(':plain-pw')}`)
  await same('another scheme', 'GET', '/f.txt', 'Bearer abc')
  await same('the scheme in lower case', 'GET', '/f.txt', `basic ${b64('plain:plain-pw')}`)
  await same('spaces before the credentials', 'GET', '/f.txt', `Basic    ${b64('plain:plain-pw')}`)
  await same('what follows padding is ignored', 'GET', '/f.txt', `Basic ${b64('plain:plain-pw1')}=junk`)

  // Levels, variables, files.
  await same('auth_basic off in a location', 'GET', '/open/f.txt')
  await same('a realm with variables', 'GET', '/var/f.txt')
  await same('a realm with variables, authenticated', 'GET', '/var/f.txt', basic('plain', 'plain-pw'))
  await same('the user file by a variable', 'GET', '/uf/f.txt?f=two', basic('second', 'second-pw'))
  await same('the user file by a variable, another user', 'GET', '/uf/f.txt?f=two', basic('plain', 'plain-pw'))
  await same('a missing user file without credentials', 'GET', '/missing/f.txt')
  await same('a missing user file', 'GET', '/missing/f.txt', basic('plain', 'plain-pw'))

  // limit_except
  for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE']) await same(`limit_except GET { deny all; }: ${m}`, m, '/le/f.txt')
  for (const m of ['GET', 'HEAD', 'POST', 'PUT']) {
    await same(`limit_except GET { auth_basic }: ${m}`, m, '/le-auth/f.txt')
    await same(`limit_except GET { auth_basic }: ${m}, authenticated`, m, '/le-auth/f.txt', basic('md5', 'md5-pw'))
  }
  for (const m of ['GET', 'POST']) {
    await same(`limit_except keeps proxy_pass: ${m}`, m, '/px/a')
    await same(`limit_except keeps proxy_pass: ${m}, authenticated`, m, '/px/a', basic('plain', 'plain-pw'))
  }

  // satisfy
  for (const [path, note] of [
    ['/all/', 'allowed address, satisfy all'], ['/all-deny/', 'denied address, satisfy all'], ['/any/', 'denied address, satisfy any'],
    ['/any-allow/', 'allowed address, satisfy any'], ['/any-norule/', 'no rule matches, satisfy any'],
    ['/any-off/', 'denied address, auth_basic off, satisfy any'], ['/any-missing/', 'denied address, missing file, satisfy any'],
  ] as const) {
    await same(`${note}: no credentials`, 'GET', `${path}f.txt`)
    await same(`${note}: right password`, 'GET', `${path}f.txt`, basic('sha', 'sha-pw'))
    await same(`${note}: wrong password`, 'GET', `${path}f.txt`, basic('sha', 'nope'))
  }

  await t.test('$remote_user in the access log', async () => {
    const lines = (p: string): string[] => readText(join(p, 'logs/u.log')).split('\n').filter((l) => l !== '')
    // nginx writes its line before it closes the connection; dyups writes unbuffered lines at the end of the loop
    // turn, which may come after the client saw the close: wait for as many lines as nginx wrote.
    const want = lines(s.nginx.prefix).length
    await waitFor(() => lines(s.dyups.prefix).length >= want, 5000)
    assert.deepEqual(lines(s.dyups.prefix), lines(s.nginx.prefix))
  })

  await t.test('an edited user file counts at once', async () => {
    for (const side of [s.nginx, s.dyups]) appendFileSync(join(side.prefix, 'conf/htpasswd'), 'late:{PLAIN}late-pw\n')
    const n = await run(s.nginx, 'GET', '/f.txt', basic('late', 'late-pw'))
    assert.equal(n.status, 'HTTP/1.1 200 OK')
    assert.deepEqual(await run(s.dyups, 'GET', '/f.txt', basic('late', 'late-pw')), n)
    for (const side of [s.nginx, s.dyups]) writeFileSync(join(side.prefix, 'conf/htpasswd'), 'late:{PLAIN}changed\n')
    const n2 = await run(s.nginx, 'GET', '/f.txt', basic('late', 'late-pw'))
    assert.equal(n2.status, 'HTTP/1.1 401 Unauthorized')
    assert.deepEqual(await run(s.dyups, 'GET', '/f.txt', basic('late', 'late-pw')), n2)
  })
})

test('the dyups interface: reads open, writes behind limit_except and auth_basic', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/htpasswd', `admin:${openssl('-6', 'admin-pw')}\n`)
  writeConf(prefix, 'conf/nginx.conf', `worker_processes 1;
error_log logs/error.log info;
events {}
http {
    access_log off;
    upstream app { server 127.0.0.1:9; }
    server {
        listen 127.0.0.1:${port};
        location / {
            dyups_interface;
            limit_except GET {
                auth_basic "dyups";
                auth_basic_user_file htpasswd;
            }
        }
    }
}
`)
  await startDyups(t, prefix, [port], ['-g', 'daemon off;'])
  const list = await request(port, { path: '/list' })
  assert.equal(list.status, 200)
  assert.equal(list.body, 'app\n')
  const anon = await request(port, { method: 'POST', path: '/upstream/web', body: 'server 127.0.0.1:8000;' })
  assert.equal(anon.status, 401)
  assert.equal(anon.headers['www-authenticate'], 'Basic realm="dyups"')
  const wrong = await request(port, { method: 'POST', path: '/upstream/web', body: 'server 127.0.0.1:8000;', headers: { Authorization: basic('admin', 'x') } })
  assert.equal(wrong.status, 401)
  const ok = await request(port, { method: 'POST', path: '/upstream/web', body: 'server 127.0.0.1:8000;', headers: { Authorization: basic('admin', 'admin-pw') } })
  assert.equal(ok.status, 200, ok.body)
  assert.equal((await request(port, { path: '/list' })).body, 'app\nweb\n')
  assert.equal((await request(port, { method: 'DELETE', path: '/upstream/web' })).status, 401)
  assert.equal((await request(port, { method: 'DELETE', path: '/upstream/web', headers: { Authorization: basic('admin', 'admin-pw') } })).status, 200)
  const log = readText(join(prefix, 'logs/error.log'))
  assert.match(log, /\[info\] .*no user\/password was provided for basic authentication/)
  assert.match(log, /\[error\] .*user "admin": password mismatch/)
})

test('hashes crypt(3) computes and dyups does not: 500 and a warning at -t; hashes nothing matches: a warning', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/htpasswd', [
    'gost:$gy$j9T$abcdefghijklmnop$.rI8y5nD12MSXgSWZ3gNuKBy73N8.qOb0JWdZUo/B70',
    'ok:{PLAIN}ok-pw',
    'locked:!',
    '',
  ].join('\n'))
  writeConf(prefix, 'conf/nginx.conf', `worker_processes 1;
error_log logs/error.log info;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:${port};
        location / { root html; auth_basic "r"; auth_basic_user_file htpasswd; }
    }
}
`)
  writeConf(prefix, 'html/index.html', 'in\n')
  const check = await runBin(['-t', '-p', prefix, '-c', 'conf/nginx.conf'])
  assert.equal(check.code, 0, check.stderr)
  const file = join(prefix, 'conf/htpasswd')
  assert.match(check.stderr, new RegExp(`\\[warn\\] the password hash of user "gost" is in a format dyups does not support: its requests get 500 in ${file}:1`))
  assert.match(check.stderr, new RegExp(`\\[warn\\] the password hash of user "locked" is in no known format: no password matches it in ${file}:3`))
  await startDyups(t, prefix, [port], ['-g', 'daemon off;'])
  assert.equal((await request(port, { headers: { Authorization: basic('gost', 'gy-pw') } })).status, 500)
  assert.equal((await request(port, { headers: { Authorization: basic('ok', 'ok-pw') } })).status, 200)
  assert.match(readText(join(prefix, 'logs/error.log')), /\[error\] .*user "gost": the password hash in ".*htpasswd" is in a format dyups does not support/)
})

test('-t refuses what nginx -t refuses, with the same message and line', async (t) => {
  const cases = [
    'location / { limit_except FOO { deny all; } }',
    'location / { limit_except GET { deny all; } limit_except POST { deny all; } }',
    'satisfy some;',
    'location / { if ($uri) { auth_basic "x"; } }',
    'limit_except GET { deny all; }',
    'location / { limit_except GET { return 403; } }',
    'auth_basic "a"; auth_basic "b";',
    'auth_basic_user_file a; auth_basic_user_file b;',
    'location / { limit_except get post { auth_basic off; } }',
    'location / { limit_except GET { proxy_pass http://127.0.0.1:1/x; } }',
    'location / { limit_except GET { proxy_pass http://127.0.0.1:1; allow all; auth_basic "w"; auth_basic_user_file f; } }',
  ]
  for (const c of cases) {
    await t.test(c, async () => {
      const out: string[] = []
      for (const kind of ['nginx', 'dyups'] as const) {
        const prefix = tempPrefix(t)
        writeConf(prefix, 'conf/nginx.conf', `error_log logs/error.log;\npid logs/n.pid;\nevents {}\nhttp {\n  server {\n    listen 127.0.0.1:1;\n    ${c}\n  }\n}\n`)
        const r = kind === 'nginx' ? await nginxTest(prefix) : await dyupsTest(prefix)
        const emerg = /\[emerg\] (?:\d+#\d+: )?(.*)/.exec(r.stderr)?.[1]?.split(prefix).join('PREFIX') ?? ''
        out.push(`${r.code === 0 ? 'ok' : 'failed'} ${emerg}`)
      }
      assert.notEqual(out[0], 'failed ', 'nginx failed with a message this test reads')
      assert.equal(out[1], out[0])
    })
  }
})

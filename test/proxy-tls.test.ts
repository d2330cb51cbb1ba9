/**
 * TLS end to end: `listen … ssl` with certificates chosen by SNI, plain HTTP on the ssl port (side by side with
 * nginx), `https://` upstreams with proxy_ssl_* (verification, SNI, session reuse, client certificates, keepalive
 * pools kept apart from plain ones), and the `-t` errors nginx gives for missing or broken certificates.
 *
 * The CA and every certificate are made here with the `openssl` command; without it the tests fail.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { connect as tlsConnect, createSecureContext, TLSSocket, type PeerCertificate } from 'node:tls'
import { exchange, freePorts, readRequests, runBin, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'
import { dyupsTest, nginxTest, requireNginx, startNginx } from './nginx.js'
import { copyTestCertificates } from '../src/proxy/testing.js'

// ---- certificates ---------------------------------------------------------------------------------------------

/** The test CA and certificates (src/proxy/testing.ts) in `dir`, a prefix's conf/. */
const makeAll = copyTestCertificates

// ---- a TLS client ---------------------------------------------------------------------------------------------

interface TlsAnswer {
  /** CN of the certificate the server showed. */
  cn: string
  raw: string
}

/** One or more raw requests over one TLS connection (the last with `Connection: close`), read until close. */
function tlsExchange(port: number, ca: string, servername: string | undefined, raw: string): Promise<TlsAnswer> {
  return new Promise((res, rej) => {
    const s = tlsConnect({ port, host: '127.0.0.1', ca, ...(servername !== undefined ? { servername } : {}), checkServerIdentity: () => undefined })
    const chunks: Buffer[] = []
    let cn = ''
    const timer = setTimeout(() => {
      s.destroy()
      rej(new Error(`no close from ${port} within 10 s`))
    }, 10_000)
    s.on('secureConnect', () => {
      cn = String((s.getPeerCertificate() as PeerCertificate).subject.CN)
      s.write(raw, 'latin1')
    })
    s.on('data', (b: Buffer) => chunks.push(b))
    s.on('error', (e) => {
      clearTimeout(timer)
      rej(e)
    })
    s.on('close', () => {
      clearTimeout(timer)
      res({ cn, raw: Buffer.concat(chunks).toString('latin1') })
    })
  })
}

const get = (path: string, host: string, close = true): string => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`

/** The bodies of the responses in `raw` (Content-Length framed). */
function bodies(raw: string): string[] {
  const out: string[] = []
  let i = 0
  while (i < raw.length) {
    const end = raw.indexOf('\r\n\r\n', i)
    if (end < 0) break
    const len = Number(/\r\ncontent-length: *(\d+)/i.exec(raw.slice(i, end))?.[1] ?? 0)
    out.push(raw.slice(end + 4, end + 4 + len))
    i = end + 4 + len
  }
  return out
}

// ---- a backend that speaks TLS and plain HTTP on one port -----------------------------------------------------

interface Seen {
  tls: boolean
  /** SNI the client sent, or '-'. */
  sni: string
  reused: boolean
  /** CN of the client certificate, or '-'. */
  client: string
  /** Connection number on this backend. */
  conn: number
  /** Request number on that connection. */
  n: number
}

/**
 * One port, both protocols (the first byte decides, as a TLS listener does): each answer's body is the JSON of
 * what the backend saw ({@link Seen}), so a test reads it through the proxy.
 */
async function dualBackend(t: TestContext, dir: string): Promise<{ port: number; conns: () => number }> {
  const ctx = createSecureContext({ cert: readFileSync(join(dir, 'backend.pem')), key: readFileSync(join(dir, 'backend.key')), ca: readFileSync(join(dir, 'ca.pem')), sessionIdContext: 'dyups-test' })
  const sockets = new Set<Socket>()
  let conns = 0
  const serve = (s: Socket, info: () => Omit<Seen, 'conn' | 'n'>): void => {
    const conn = ++conns
    let n = 0
    readRequests(s, sockets, (head) => {
      const body = JSON.stringify({ ...info(), conn, n: ++n })
      const close = /\r\nconnection: *close/i.test(head) || / HTTP\/1\.0\r\n/.test(head)
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${close ? 'Connection: close\r\n' : ''}\r\n${body}`)
      if (close) s.end()
    })
  }
  const server = createServer((raw) => {
    sockets.add(raw)
    raw.on('error', () => {})
    raw.once('data', (first: Buffer) => {
      raw.pause()
      raw.unshift(first)
      if (first[0] !== 0x16) {
        serve(raw, () => ({ tls: false, sni: '-', reused: false, client: '-' }))
        raw.resume()
        return
      }
      const s = new TLSSocket(raw, { isServer: true, secureContext: ctx, requestCert: true, rejectUnauthorized: false })
      s.on('error', () => {})
      serve(s, () => {
        const peer = s.getPeerCertificate()
        return {
          tls: true,
          sni: typeof (s as unknown as { servername: unknown }).servername === 'string' ? String((s as unknown as { servername: string }).servername) : '-',
          reused: s.isSessionReused(),
          client: peer !== null && peer.subject !== undefined ? String(peer.subject.CN) : '-',
        }
      })
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy()
    server.close(() => r())
  }))
  return { port: (server.address() as AddressInfo).port, conns: () => conns }
}

/** A port that speaks plain HTTP only: whatever comes gets an HTTP answer, so a TLS handshake to it fails. */
async function plainBackend(t: TestContext): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy()
    server.close(() => r())
  }))
  return (server.address() as AddressInfo).port
}

/** GET through the proxy's plain port; the answer parsed as {@link Seen} when it is 200. */
async function via(port: number, path: string): Promise<{ status: number; seen: Seen | null; body: string }> {
  const raw = await exchange(port, get(path, 'localhost'))
  const status = Number(raw.slice(9, 12))
  const body = bodies(raw)[0] ?? ''
  return { status, seen: status === 200 && body.startsWith('{') ? (JSON.parse(body) as Seen) : null, body }
}

// ---- the listening side ---------------------------------------------------------------------------------------

test('listen ssl: certificates by SNI, $scheme and $https, redirects, keep-alive', async (t) => {
  const prefix = tempPrefix(t)
  makeAll(join(prefix, 'conf'))
  const ca = readFileSync(join(prefix, 'conf/ca.pem'), 'latin1')
  const [port] = (await freePorts(1)) as [number]
  writeConf(prefix, 'conf/nginx.conf', `daemon off;
worker_processes 1;
error_log logs/error.log info;
events {}
http {
    access_log off;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 127.0.0.1:${port} ssl;
        server_name a.test;
        ssl_certificate a.pem;
        ssl_certificate_key a.key;
        location / { return 200 "$scheme $https $server_name\\n"; }
        location /r { return 301 /elsewhere; }
    }
    server {
        listen 127.0.0.1:${port};
        server_name b.test;
        ssl_certificate b.pem;
        ssl_certificate_key ${join(prefix, 'conf/b.key')};
        ssl_session_tickets off;
        location / { return 200 "$scheme $https $server_name\\n"; }
    }
}
`)
  await startDyups(t, prefix, [port])

  const cases: { sni: string | undefined; host: string; cn: string; body: string }[] = [
    { sni: 'a.test', host: 'a.test', cn: 'a.test', body: 'https on a.test\n' },
    { sni: 'b.test', host: 'b.test', cn: 'b.test', body: 'https on b.test\n' },
    // SNI matches names as Host does: case and a trailing dot do not matter.
    { sni: 'B.Test', host: 'b.test', cn: 'b.test', body: 'https on b.test\n' },
    // No SNI, or an unknown name: the default server's certificate.
    { sni: undefined, host: 'b.test', cn: 'a.test', body: 'https on b.test\n' },
    { sni: 'c.test', host: 'c.test', cn: 'a.test', body: 'https on a.test\n' },
  ]
  for (const c of cases) {
    const r = await tlsExchange(port, ca, c.sni, get('/', c.host))
    assert.equal(r.cn, c.cn, `certificate for SNI ${c.sni}`)
    assert.match(r.raw, /^HTTP\/1\.1 200 OK\r\n/)
    assert.deepEqual(bodies(r.raw), [c.body], `body for SNI ${c.sni}`)
  }

  // A client coming back resumes its session (a ticket of this worker).
  const resumed: boolean[] = []
  let session: Buffer | undefined
  for (let i = 0; i < 2; i++) {
    await new Promise<void>((res, rej) => {
      const s = tlsConnect({ port, host: '127.0.0.1', ca, servername: 'a.test', ...(session ? { session } : {}) })
      s.on('session', (b: Buffer) => (session = b))
      s.on('secureConnect', () => {
        resumed.push(s.isSessionReused())
        s.write(get('/', 'a.test'))
      })
      s.on('data', () => {})
      s.on('error', rej)
      s.on('close', () => res())
    })
  }
  assert.deepEqual(resumed, [false, true])

  // Two requests on one TLS connection, then an absolute redirect with the https scheme and the port.
  const two = await tlsExchange(port, ca, 'a.test', get('/', 'a.test', false) + get('/r', 'a.test'))
  assert.equal(bodies(two.raw)[0], 'https on a.test\n')
  assert.match(two.raw, new RegExp(`\\r\\nLocation: https://a\\.test:${port}/elsewhere\\r\\n`))
})

test('plain HTTP to an ssl port: the 400 page nginx sends', async (t) => {
  requireNginx()
  const conf = (kind: 'nginx' | 'dyups', port: number): string => `${kind === 'nginx' && process.getuid?.() === 0 ? 'user root;\n' : ''}pid logs/nginx.pid;
error_log logs/error.log info;
events {}
http {
    access_log logs/access.log;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    server {
        listen 127.0.0.1:${port} ssl;
        server_name a.test;
        ssl_certificate a.pem;
        ssl_certificate_key a.key;
        location / { return 200 "ok\\n"; }
    }
}
`.replace(/    (client_body|proxy|fastcgi|uwsgi|scgi)_temp_path .*\n/g, (l) => (kind === 'nginx' ? l : ''))
  const [pn, pd] = (await freePorts(2)) as [number, number]
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  makeAll(join(xn, 'conf'))
  makeAll(join(xd, 'conf'))
  mkdirSync(join(xn, 'tmp'))
  writeConf(xn, 'conf/nginx.conf', conf('nginx', pn))
  writeConf(xd, 'conf/nginx.conf', conf('dyups', pd))
  await startNginx(t, xn, [pn])
  await startDyups(t, xd, [pd], ['-g', 'daemon off;'])

  const shape = (raw: string): string =>
    raw.replace(/\r\nDate: [^\r]*/, '').replace(/(nginx|dyups)\/[\d.]+/g, 'SERVER').replace(/\r\nContent-Length: \d+/, '')
  const request = get('/', 'a.test', false)
  const [n, d] = [await exchange(pn, request), await exchange(pd, request)]
  assert.match(d, /^HTTP\/1\.1 400 Bad Request\r\n/)
  assert.match(d, /The plain HTTP request was sent to HTTPS port/)
  assert.equal(shape(d), shape(n))
  for (const raw of [n, d]) assert.equal(Number(/Content-Length: (\d+)/.exec(raw)![1]), raw.length - raw.indexOf('\r\n\r\n') - 4)
  // Both log the request with status 400.
  const line = (prefix: string): string => readFileSync(join(prefix, 'logs/access.log'), 'latin1').trim().split('\n').pop() ?? ''
  assert.ok(await waitFor(() => line(xd).includes('"GET / HTTP/1.1" 400 ')), line(xd))
  assert.ok(line(xn).includes('"GET / HTTP/1.1" 400 '), line(xn))
  assert.match(readFileSync(join(xd, 'logs/error.log'), 'latin1'), /\[info\] .*client sent plain HTTP request to HTTPS port while reading client request headers, client: 127\.0\.0\.1, server: a\.test, request: "GET \/ HTTP\/1\.1", host: "a\.test"/)
})

// ---- https upstreams ------------------------------------------------------------------------------------------

test('https upstreams: verification, SNI, session reuse, client certificates, keepalive pools', async (t) => {
  const prefix = tempPrefix(t)
  const dir = join(prefix, 'conf')
  makeAll(dir)
  const back = await dualBackend(t, dir)
  const plain = await plainBackend(t)
  const [port] = (await freePorts(1)) as [number]
  writeConf(prefix, 'conf/nginx.conf', `daemon off;
worker_processes 1;
error_log logs/error.log info;
events {}
http {
    log_format up '$request_uri $upstream_addr $upstream_status $status';
    access_log logs/access.log up;
    upstream tb { server 127.0.0.1:${back.port}; }
    upstream tbk { server 127.0.0.1:${back.port}; keepalive 4; }
    upstream mixed { server 127.0.0.1:${plain}; server 127.0.0.1:${back.port}; }
    server {
        listen 127.0.0.1:${port};
        location /default/ { proxy_pass https://tb; }
        location /verify/ { proxy_pass https://tb; proxy_ssl_verify on; proxy_ssl_trusted_certificate ca.pem; proxy_ssl_name backend.test; }
        location /wrongca/ { proxy_pass https://tb; proxy_ssl_verify on; proxy_ssl_trusted_certificate other-ca.pem; proxy_ssl_name backend.test; }
        location /wrongname/ { proxy_pass https://tb; proxy_ssl_verify on; proxy_ssl_trusted_certificate ca.pem; }
        location /sni/ { proxy_pass https://tb; proxy_ssl_server_name on; }
        location /sniname/ { proxy_pass https://tb; proxy_ssl_server_name on; proxy_ssl_name backend.test:8443; }
        location /reuse/ { proxy_pass https://tb; proxy_ssl_session_reuse on; }
        location /noreuse/ { proxy_pass https://tb; proxy_ssl_session_reuse off; }
        location /client/ { proxy_pass https://tb; proxy_ssl_certificate client.pem; proxy_ssl_certificate_key client.key; }
        location /literal/ { proxy_pass https://127.0.0.1:${back.port}; proxy_ssl_protocols TLSv1.3; }
        location /vars/ { proxy_pass $arg_scheme://127.0.0.1:${back.port}; }
        location /tlska/ { proxy_pass https://tbk; proxy_http_version 1.1; proxy_set_header Connection ""; }
        location /plainka/ { proxy_pass http://tbk; proxy_http_version 1.1; proxy_set_header Connection ""; }
        location /mixed/ { proxy_pass https://mixed; }
        location /notls/ { proxy_pass https://127.0.0.1:${plain}; }
        location /noport/ { proxy_pass https://127.0.0.1; proxy_connect_timeout 5s; }
    }
}
`)
  const d = await startDyups(t, prefix, [port])

  await t.test('proxy_ssl_verify with the right CA and name passes', async () => {
    const r = await via(port, '/verify/')
    assert.equal(r.status, 200)
    assert.equal(r.seen!.tls, true)
  })

  await t.test('a wrong CA or a wrong name is a 502, logged as nginx logs it', async () => {
    assert.equal((await via(port, '/wrongca/')).status, 502)
    assert.equal((await via(port, '/wrongname/')).status, 502)
    assert.equal((await via(port, '/notls/')).status, 502)
    const log = d.errorLog()
    const ctx = (path: string, addr: string) => `, client: 127.0.0.1, server: , request: "GET ${path} HTTP/1.1", upstream: "https://${addr}${path}", host: "localhost"`
    const at = `127.0.0.1:${back.port}`
    assert.match(log, new RegExp(`\\[error\\] .*upstream SSL certificate verify error: \\(\\d+:[a-z -]+\\) while SSL handshaking to upstream${esc(ctx('/wrongca/', at))}`))
    assert.match(log, new RegExp(`\\[error\\] .*upstream SSL certificate does not match "tb" while SSL handshaking to upstream${esc(ctx('/wrongname/', at))}`))
    assert.match(log, new RegExp(`\\[error\\] .*SSL_do_handshake\\(\\) failed \\(SSL: error:[0-9A-F]{8}:SSL routines::wrong version number\\) while SSL handshaking to upstream${esc(ctx('/notls/', `127.0.0.1:${plain}`))}`))
  })

  await t.test('SNI only with proxy_ssl_server_name on, named by proxy_ssl_name without its port', async () => {
    const table: [string, string][] = [['/default/', '-'], ['/sni/', 'tb'], ['/sniname/', 'backend.test'], ['/literal/', '-']]
    for (const [path, sni] of table) {
      const r = await via(port, path)
      assert.equal(r.status, 200, path)
      assert.equal(r.seen!.sni, sni, path)
      assert.equal(r.seen!.tls, true, path)
    }
  })

  await t.test('a URL with variables picks TLS by its scheme per request', async () => {
    assert.equal((await via(port, '/vars/?scheme=https')).seen!.tls, true)
    assert.equal((await via(port, '/vars/?scheme=http')).seen!.tls, false)
  })

  await t.test('sessions are resumed unless proxy_ssl_session_reuse is off', async () => {
    const reuse = [await via(port, '/reuse/'), await via(port, '/reuse/'), await via(port, '/reuse/')].map((r) => r.seen!.reused)
    assert.deepEqual(reuse, [false, true, true])
    const none = [await via(port, '/noreuse/'), await via(port, '/noreuse/')].map((r) => r.seen!.reused)
    assert.deepEqual(none, [false, false])
  })

  await t.test('proxy_ssl_certificate is shown to the backend', async () => {
    assert.equal((await via(port, '/client/')).seen!.client, 'dyups-client')
    assert.equal((await via(port, '/default/')).seen!.client, '-')
  })

  await t.test('keepalive: TLS and plain connections to one server live in separate pools', async () => {
    const before = back.conns()
    const seen: Seen[] = []
    for (const path of ['/tlska/', '/plainka/', '/tlska/', '/plainka/', '/tlska/']) {
      const r = await via(port, path)
      assert.equal(r.status, 200, `${path}: ${r.body}`)
      seen.push(r.seen!)
    }
    assert.deepEqual(seen.map((s) => s.tls), [true, false, true, false, true])
    // One connection of each kind, each reused for every request of its kind.
    assert.equal(back.conns() - before, 2)
    assert.deepEqual(seen.map((s) => s.n), [1, 1, 2, 2, 3])
    assert.equal(new Set(seen.filter((s) => s.tls).map((s) => s.conn)).size, 1)
  })

  const logLine = async (path: string): Promise<string> => {
    const line = (): string => readFileSync(join(prefix, 'logs/access.log'), 'latin1').split('\n').filter((l) => l.startsWith(path)).pop() ?? ''
    assert.ok(await waitFor(() => line() !== ''), `access log line for ${path}`)
    return line()
  }

  await t.test('a failed handshake is an error for proxy_next_upstream: the next server answers', async () => {
    const r = await via(port, '/mixed/')
    assert.equal(r.status, 200)
    assert.equal(r.seen!.tls, true)
    assert.equal(await logLine('/mixed/'), `/mixed/ 127.0.0.1:${plain}, 127.0.0.1:${back.port} 502, 200 200`)
  })

  await t.test('an https address without a port means port 443', async () => {
    await via(port, '/noport/')
    assert.match(await logLine('/noport/'), /^\/noport\/ 127\.0\.0\.1:443 /)
  })
})

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

// ---- -t ----------------------------------------------------------------------------------------------------------

/** `-t` on a configuration whose http block holds `server`, with the certificates in its conf/. */
async function checkConf(t: TestContext, server: string, withNginx: boolean): Promise<{ dyups: string; nginx: string; prefix: string }> {
  const prefix = tempPrefix(t)
  makeAll(join(prefix, 'conf'))
  writeConf(prefix, 'conf/nginx.conf', `pid logs/nginx.pid;
error_log logs/error.log;
events {}
http {
    server {
${server}
    }
}
`)
  const dy = await dyupsTest(prefix)
  assert.equal(dy.code, 1, dy.stderr)
  const dyups = /\[emerg\] (.*)/.exec(dy.stderr)?.[1] ?? dy.stderr
  if (!withNginx) return { dyups, nginx: '', prefix }
  const n = await nginxTest(prefix)
  assert.notEqual(n.code, 0, n.stderr)
  return { dyups, nginx: /\[emerg\] \d+#\d+: (.*)/.exec(n.stderr)?.[1] ?? n.stderr, prefix }
}

test('-t: certificate errors with nginx\'s words', async (t) => {
  requireNginx()
  // Messages nginx and dyups word alike, compared whole (with the file and line where nginx gives them). Other
  // files and values are checked against nginx's words in src/proxy/tls.test.ts and src/http/conf/tls.test.ts.
  const same: [string, string][] = [
    ['listen ssl without a certificate', 'listen 127.0.0.1:1 ssl;'],
    ['a certificate without a key', 'listen 127.0.0.1:1 ssl;\nssl_certificate a.pem;'],
    ['proxy_ssl_verify without trusted certificates', 'listen 127.0.0.1:1;\nlocation / { proxy_pass https://127.0.0.1:1; proxy_ssl_verify on; }'],
  ]
  // The configurations are tested all at once, the answers checked one by one.
  const runs = await Promise.all([...same.map(([, server]) => checkConf(t, server, true)), checkConf(t, 'listen 127.0.0.1:1 ssl;\nssl_certificate missing.pem;\nssl_certificate_key a.key;', true)])
  for (let i = 0; i < same.length; i++) {
    await t.test(same[i]![0], () => assert.equal(runs[i]!.dyups, runs[i]!.nginx))
  }
  assert.match(runs[0]!.dyups, / in \/.*\/conf\/nginx\.conf:5$/)
  await t.test('a missing certificate: named as nginx resolves it, relative to the configuration directory', () => {
    const r = runs[same.length]!
    const want = `cannot load certificate "${join(r.prefix, 'conf/missing.pem')}": BIO_new_file() failed (`
    assert.ok(r.dyups.startsWith(want), `dyups: ${r.dyups}`)
    assert.ok(r.nginx.startsWith(want), `nginx: ${r.nginx}`)
  })

  // A good configuration passes.
  const prefix = tempPrefix(t)
  makeAll(join(prefix, 'conf'))
  writeConf(prefix, 'conf/nginx.conf', `events {}
http {
    ssl_certificate a.pem;
    ssl_certificate_key a.key;
    ssl_session_cache shared:SSL:1m;
    ssl_session_timeout 10m;
    ssl_prefer_server_ciphers on;
    server { listen 127.0.0.1:1 ssl; location / { proxy_pass https://127.0.0.1:1; proxy_ssl_protocols TLSv1.2; proxy_ssl_verify_depth 2; proxy_ssl_ciphers HIGH; } }
}
`)
  const ok = await runBin(['-t', '-p', prefix, '-c', 'conf/nginx.conf'])
  assert.equal(ok.code, 0, ok.stderr)
})

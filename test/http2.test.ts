/**
 * HTTP/2 on listeners, side by side with Debian's nginx 1.22 on the same configuration: h2c with prior knowledge
 * and h2 over TLS (ALPN, with the HTTP/1.1 fallback); status, the decoded response header list (order and values),
 * bodies; return, rewrite, error_page, static files, gzip, proxy_pass (the request head the backend gets), many
 * streams on one connection, large bodies both ways, and the access-log lines.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import test, { type TestContext } from 'node:test'
import { copyTestCertificates, testCertificates } from '../src/proxy/testing.js'
import { freePorts, readText, startDyups, tempPrefix, waitFor, writeConf, request } from './helpers.js'
import { curl, h2request, h2requests, h2session, type H2Response } from './h2-client.js'
import { nginxOnlyLines, requireNginx, startNginx } from './nginx.js'

const BIG = 3 * 1024 * 1024 + 17

/** A deterministic body of `n` bytes. */
function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n)
  let x = seed
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    b[i] = x >>> 24
  }
  return b
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex').slice(0, 16)

/**
 * The backend: answers what it got — the request head as it came (method, target, version, each field in order)
 * and the body's length and hash — or, under /big, a large body (chunked, or with a length under /big-len).
 */
async function startBackend(t: TestContext): Promise<number> {
  const big = bytes(BIG, 7)
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = []
    req.on('data', (b: Buffer) => parts.push(b))
    req.on('end', () => {
      const body = Buffer.concat(parts)
      if (req.url!.startsWith('/p/big')) {
        res.setHeader('Content-Type', 'application/octet-stream')
        if (req.url!.startsWith('/p/big-len')) res.setHeader('Content-Length', String(big.length))
        res.end(big)
        return
      }
      if (req.url === '/p/missing') {
        res.writeHead(404, { 'Content-Type': 'text/plain' })
        res.end('nope\n')
        return
      }
      if (req.url === '/p/moved') {
        res.writeHead(302, { Location: 'http://u/elsewhere', 'Content-Type': 'text/plain' })
        res.end('moved\n')
        return
      }
      const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`]
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`)
      lines.push(`body ${body.length} ${sha(body)}`)
      res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Backend': 'b1', 'Set-Cookie': ['a=1', 'b=2'] })
      res.end(lines.join('\n') + '\n')
    })
  })
  server.keepAliveTimeout = 100
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  t.after(() => new Promise<void>((r) => {
    server.closeAllConnections()
    server.close(() => r())
  }))
  return (server.address() as { port: number }).port
}

const LOG = '$request|$status|$body_bytes_sent|$http2|$server_protocol|$scheme|$https|$uri|$args|$upstream_status'

function conf(kind: 'nginx' | 'dyups', ports: { h2c: number; tls: number; h1: number }, backend: number): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  return `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    log_format t '${LOG}';
    access_log logs/t.log t;
    server_tokens off;
    client_max_body_size 20m;
    http2_max_concurrent_streams 64;
    http2_body_preread_size 64k;
    http2_chunk_size 4k;
    http2_push off;
    upstream u { server 127.0.0.1:${backend}; keepalive 4; }
    server {
        listen 127.0.0.1:${ports.h2c} http2;
        listen 127.0.0.1:${ports.tls} ssl http2;
        listen 127.0.0.1:${ports.h1};
        server_name a.test;
        ssl_certificate a.pem;
        ssl_certificate_key a.key;
        root html;
        error_page 404 /err404.html;
        location = /r { return 200 "ret $http2|$server_protocol|$scheme|$https|$request_method|$http_x_a|$http_cookie|$host\\n"; }
        location = /redirect { return 301 /there; }
        location /rw { rewrite ^/rw/(.*)$ /r?from=$1 last; }
        location = /teapot { return 418; }
        location /gz { gzip on; gzip_types text/plain; gzip_min_length 1; alias html/gz.txt; }
        location = /head { add_header X-Added yes always; expires epoch; return 204; }
        location /p/ {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Proto $server_protocol;
        }
        location /nobuf/ {
            proxy_pass http://u/p/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_request_buffering off;
        }
        location /gzp/ { gzip on; gzip_proxied any; gzip_types text/plain application/octet-stream; proxy_pass http://u/p/; }
    }
${nginxOnly}}
${user}`
}

interface Side {
  kind: 'nginx' | 'dyups'
  ports: { h2c: number; tls: number; h1: number }
  prefix: string
  lines(): string[]
}

/** The same configuration, files (and their times) under nginx and dyups. */
async function startSides(t: TestContext): Promise<{ nginx: Side; dyups: Side; ca: string }> {
  requireNginx()
  const backend = await startBackend(t)
  const ps = await freePorts(6)
  const ca = readFileSync(join(testCertificates(), 'ca.pem'), 'latin1')
  const sides: Side[] = []
  for (const [i, kind] of (['nginx', 'dyups'] as const).entries()) {
    const ports = { h2c: ps[i * 3]!, tls: ps[i * 3 + 1]!, h1: ps[i * 3 + 2]! }
    const prefix = tempPrefix(t)
    mkdirSync(join(prefix, 'tmp'), { recursive: true })
    mkdirSync(join(prefix, 'conf'), { recursive: true })
    copyTestCertificates(join(prefix, 'conf'))
    writeConf(prefix, 'conf/nginx.conf', conf(kind, ports, backend))
    mkdirSync(join(prefix, 'html'), { recursive: true })
    const files: Record<string, string | Buffer> = {
      'index.html': '<p>index</p>\n',
      'err404.html': 'custom 404 page\n',
      'gz.txt': 'compress me '.repeat(500),
      'big.bin': bytes(BIG, 3),
    }
    for (const [f, body] of Object.entries(files)) {
      const p = join(prefix, 'html', f)
      writeFileSync(p, body)
      utimesSync(p, 1_700_000_000, 1_700_000_000)
    }
    if (kind === 'nginx') await startNginx(t, prefix, [ports.h2c, ports.tls, ports.h1])
    else await startDyups(t, prefix, [ports.h2c, ports.tls, ports.h1], ['-g', 'daemon off;'])
    sides.push({ kind, ports, prefix, lines: () => readText(join(prefix, 'logs/t.log')).split('\n').filter((l) => l !== '') })
  }
  return { nginx: sides[0]!, dyups: sides[1]!, ca }
}

/** A response with what differs between the two servers by nature taken out: the Date, the Server's name. */
function norm(r: H2Response, side: Side): { status: number; headers: string[]; body: string; rst: number } {
  const headers = r.headers.map(([n, v]) => {
    if (n === 'date') return 'date: D'
    if (n === 'server') return `server: ${v === side.kind ? 'S' : v}`
    return `${n}: ${v.split(String(side.ports.h2c)).join('PORT').split(String(side.ports.tls)).join('PORT')}`
  })
  let body = r.body.length > 2000 ? `${r.body.length} bytes ${sha(r.body)}` : r.body.toString('latin1')
  body = body.split(side.kind).join('S').split(String(side.ports.h2c)).join('PORT').split(String(side.ports.tls)).join('PORT')
  return { status: r.status, headers, body, rst: r.rstCode }
}

const get = (path: string, extra: Record<string, string | string[]> = {}): { headers: Record<string, string | string[]> } =>
  ({ headers: { ':method': 'GET', ':path': path, ':authority': 'a.test', ...extra } })

test('HTTP/2 side by side with nginx: local answers, rewrites, error pages, files, gzip, proxied requests', async (t) => {
  const { nginx, dyups, ca } = await startSides(t)
  const upload = bytes(200_000, 11)
  const reqs: { headers: Record<string, string | string[]>; body?: Buffer }[] = [
    get('/r', { 'x-a': 'one', cookie: ['c1=1', 'c2=2'] }),
    get('/redirect'),
    get('/rw/abc?q=1'),
    get('/teapot'),
    get('/r', { host: 'b.test' }),
    get('/missing.html'),
    get('/index.html'),
    get('/index.html', { 'if-modified-since': 'Tue, 14 Nov 2023 22:13:20 GMT' }),
    get('/big.bin', { range: 'bytes=10-19' }),
    get('/gz', { 'accept-encoding': 'gzip' }),
    { headers: { ':method': 'HEAD', ':path': '/index.html', ':authority': 'a.test' } },
    get('/head'),
    get('/p/echo?x=1', { 'x-a': 'one', 'user-agent': 'test-agent', cookie: ['c1=1', 'c2=2'], accept: '*/*' }),
    { headers: { ':method': 'POST', ':path': '/p/upload', ':authority': 'a.test', 'content-type': 'application/octet-stream' }, body: upload },
    { headers: { ':method': 'POST', ':path': '/nobuf/upload', ':authority': 'a.test', 'content-length': String(upload.length) }, body: upload },
    { headers: { ':method': 'POST', ':path': '/nobuf/upload2', ':authority': 'a.test' }, body: upload },
    get('/p/missing'),
    get('/p/moved'),
    get('/p/big'),
    get('/p/big-len'),
    get('/gzp/echo', { 'accept-encoding': 'gzip' }),
  ]
  for (const tlsSide of [false, true]) {
    await t.test(tlsSide ? 'h2 over TLS' : 'h2c', async () => {
      // One request at a time, so that the access logs list them in the same order.
      const seen: Record<string, unknown[]> = { nginx: [], dyups: [] }
      for (const side of [nginx, dyups]) {
        const s = await h2session(tlsSide ? side.ports.tls : side.ports.h2c, tlsSide ? { ca } : {})
        for (const r of reqs) seen[side.kind]!.push(norm(await h2request(s, r.headers, r.body), side))
        s.close()
      }
      for (let i = 0; i < reqs.length; i++) assert.deepEqual(seen.dyups![i], seen.nginx![i], `request ${i}: ${String(reqs[i]!.headers[':path'])}`)
    })
  }
  // Every request above, logged alike (the gzip body's length aside: zlib builds differ).
  const clean = (l: string): string => l.replace(/^(GET \/gz[^|]*\|200\|)\d+/, '$1N')
  assert.ok(await waitFor(() => dyups.lines().length >= reqs.length * 2 && nginx.lines().length >= reqs.length * 2))
  assert.deepEqual(dyups.lines().map(clean), nginx.lines().map(clean))
})

test('HTTP/2 side by side with nginx: curl over h2c and TLS, and ALPN http/1.1 fallback', async (t) => {
  const { nginx, dyups, ca } = await startSides(t)
  const caFile = join(tempPrefix(t), 'ca.pem')
  writeFileSync(caFile, ca)
  const runs = async (side: Side): Promise<string[]> => {
    const out: string[] = []
    const clean = (s: string): string => s.replace(/^date: .*$/gim, 'date: D').split(side.kind).join('S')
      .split(String(side.ports.h2c)).join('PORT').split(String(side.ports.tls)).join('PORT')
    const base = ['-sS', '-D', '-', '-w', '%{http_version}\n']
    const h2c = `http://127.0.0.1:${side.ports.h2c}`
    const tls = ['--cacert', caFile, '--resolve', `a.test:${side.ports.tls}:127.0.0.1`]
    for (const args of [
      ['--http2-prior-knowledge', `${h2c}/r`],
      ['--http2-prior-knowledge', '-H', 'X-A: q', `${h2c}/p/echo`],
      ['--http2-prior-knowledge', '--data-binary', 'hello body', `${h2c}/p/post`],
      ['--http2', ...tls, `https://a.test:${side.ports.tls}/r`],
      ['--http2', ...tls, `https://a.test:${side.ports.tls}/missing.html`],
      // A client that offers only http/1.1 gets it on the same address.
      ['--http1.1', ...tls, `https://a.test:${side.ports.tls}/r`],
    ]) {
      const r = await curl([...base, ...args])
      assert.equal(r.code, 0, `curl ${args.join(' ')} (${side.kind}): ${r.stderr} ${readText(join(side.prefix, 'logs/error.log')).slice(-3000)}`)
      out.push(clean(r.stdout.toString('latin1')))
    }
    return out
  }
  assert.deepEqual(await runs(dyups), await runs(nginx))
})

test('HTTP/2: many streams on one connection, large bodies both ways, a slow stream does not stall the others', async (t) => {
  const { nginx, dyups } = await startSides(t)
  const upload = bytes(BIG, 5)
  for (const side of [nginx, dyups]) {
    // http2_max_concurrent_streams (64) streams at once, several times over on one connection.
    const s = await h2session(side.ports.h2c)
    for (let round = 0; round < 5; round++) {
      const many = await Promise.all(Array.from({ length: 64 }, (_, i) => h2request(s, get(`/r?i=${i}`).headers)))
      const bad = many.filter((r) => !(r.status === 200 && r.body.toString().startsWith('ret h2c|HTTP/2.0')))
      assert.deepEqual(bad.map((r) => `${r.status} ${r.rstCode}`), [], side.kind)
    }
    s.close()
    const proxied = await h2requests(side.ports.h2c, {}, Array.from({ length: 64 }, (_, i) => get(`/p/echo?i=${i}`)))
    for (const [i, r] of proxied.entries()) assert.ok(r.body.toString().startsWith(`GET /p/echo?i=${i} HTTP/1.1`), `${side.kind} ${i}`)
    const [up, upStream, down, file] = await h2requests(side.ports.h2c, {}, [
      { headers: { ':method': 'PUT', ':path': '/p/up', ':authority': 'a.test' }, body: upload },
      { headers: { ':method': 'PUT', ':path': '/nobuf/up', ':authority': 'a.test' }, body: upload },
      get('/p/big'),
      get('/big.bin'),
    ])
    assert.match(up!.body.toString(), new RegExp(`body ${upload.length} ${sha(upload)}`), side.kind)
    assert.match(upStream!.body.toString(), new RegExp(`body ${upload.length} ${sha(upload)}`), side.kind)
    assert.equal(sha(down!.body), sha(bytes(BIG, 7)), side.kind)
    assert.equal(sha(file!.body), sha(bytes(BIG, 3)), side.kind)
  }
  // A stream whose reader stops (its window closes) while others on the connection go on.
  const s = await h2session(dyups.ports.h2c)
  t.after(() => s.close())
  const slow = s.request({ ':method': 'GET', ':path': '/big.bin', ':authority': 'a.test' })
  let slowBytes = 0
  let stalled = true
  slow.on('data', (b: Buffer) => {
    slowBytes += b.length
    if (stalled) slow.pause()
  })
  assert.ok(await waitFor(() => slowBytes > 0))
  const others = await Promise.all(Array.from({ length: 20 }, (_, i) => h2request(s, get(`/p/big-len?${i}`).headers)))
  for (const r of others) assert.equal(r.body.length, BIG)
  assert.ok(slowBytes < BIG)
  stalled = false
  slow.resume()
  assert.ok(await waitFor(() => slowBytes === BIG))
  // The HTTP/1.1 address of the same server keeps answering as before.
  const r = await request(dyups.ports.h1, { path: '/r', host: 'a.test' })
  assert.equal(r.body, 'ret |HTTP/1.1|http||GET|||a.test\n')
})

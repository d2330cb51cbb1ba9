/**
 * gzip side by side with the real nginx: which answers are compressed (proxied ones whatever their framing, local
 * ones, error pages), the headers in order (Vary, Content-Encoding, no Content-Length, chunked or close, weak ETag,
 * no Accept-Ranges) and the decompressed bodies must agree; the compressed bytes may differ.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Conn, sleep } from './helpers.js'
import { askBoth, req, seen, startResponses, type Seen } from './responses.js'

/** Static files both sides serve (one directory: same ETag); readable by a root nginx's workers. */
const FILES = mkdtempSync(join(tmpdir(), 'dyups-gzip-files-'))
process.once('exit', () => rmSync(FILES, { recursive: true, force: true }))
chmodSync(FILES, 0o755)
writeFileSync(join(FILES, 'small.html'), '<html><body>a static page long enough to be compressed</body></html>\n')
writeFileSync(join(FILES, 'large.html'), Array.from({ length: 20000 }, (_, i) => `<p>line ${i} of a large page</p>\n`).join(''))
writeFileSync(join(FILES, 'a.txt'), 'plain text, not in the default gzip_types\n')

const SERVER = `
        location /gzfile/ { gzip on; gzip_vary on; alias ${FILES}/; }
        location /gzfile10/ { gzip on; gzip_http_version 1.0; alias ${FILES}/; }
        location /gz/ { gzip on; proxy_pass http://u/; }
        location /gzv/ { gzip on; gzip_vary on; proxy_pass http://u/; }
        location /gzt/ { gzip on; gzip_types text/plain; proxy_pass http://u/; }
        location /gzall/ { gzip on; gzip_types *; gzip_min_length 0; proxy_pass http://u/; }
        location /gzmin/ { gzip on; gzip_min_length 1k; proxy_pass http://u/; }
        location /gzp/ { gzip on; gzip_proxied any; proxy_pass http://u/; }
        location /gzpexp/ { gzip on; gzip_types *; gzip_proxied expired no-cache no_etag; proxy_pass http://u/; }
        location /gzpauth/ { gzip on; gzip_types *; gzip_proxied auth no_last_modified; proxy_pass http://u/; }
        location /gz10/ { gzip on; gzip_http_version 1.0; proxy_pass http://u/; }
        location /gzdis/ { gzip on; gzip_disable msie6 "curl/7\\.\\d+"; proxy_pass http://u/; }
        location /gzlevel/ { gzip on; gzip_comp_level 9; gzip_buffers 16 8k; proxy_pass http://u/; }
        location /gzret/ { gzip on; gzip_vary on; gzip_types text/plain; return 200 "a local body that is long enough to be compressed\\n"; }
        location /gzret404/ { gzip on; return 404; }
        location /gzadd/ { gzip on; add_header X-Added yes; proxy_pass http://u/; }
        location /gzoff/ { gzip on; location /gzoff/in/ { gzip off; gzip_vary on; proxy_pass http://u/; } }
`

const AE = 'Accept-Encoding: gzip\r\n'
const ae = (v: string): string => `Accept-Encoding: ${v}\r\n`
const OLD_IE = 'User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)\r\n'
const hq = (pairs: Record<string, string>): string => Object.entries(pairs).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')

interface Case {
  name: string
  raw: string
  /** Whether nginx is expected to compress. */
  gzip: boolean
}

const CASES: Case[] = [
  { name: 'length body', raw: req('/gz/big/5000', { headers: AE }), gzip: true },
  { name: 'no Accept-Encoding', raw: req('/gz/big/5000'), gzip: false },
  { name: 'chunked body', raw: req('/gz/chunked/5000', { headers: AE }), gzip: true },
  { name: 'body until close', raw: req('/gz/close/5000', { headers: AE }), gzip: true },
  { name: 'below gzip_min_length', raw: req('/gz/big/19', { headers: AE }), gzip: false },
  { name: 'at gzip_min_length', raw: req('/gz/big/20', { headers: AE }), gzip: true },
  { name: 'gzip_min_length 1k', raw: req('/gzmin/big/1000', { headers: AE }), gzip: false },
  { name: 'gzip_min_length 1k, chunked', raw: req('/gzmin/chunked/100', { headers: AE }), gzip: true },
  { name: 'type not in gzip_types', raw: req('/gz/s/200/abcdefghijklmnopqrstuvwxyz', { headers: AE }), gzip: false },
  { name: 'gzip_types text/plain', raw: req('/gzt/s/200/abcdefghijklmnopqrstuvwxyz', { headers: AE }), gzip: true },
  { name: 'text/html is always in', raw: req('/gzt/big/500', { headers: AE }), gzip: true },
  { name: '404 compressed', raw: req('/gzt/s/404/abcdefghijklmnopqrstuvwxyz', { headers: AE }), gzip: true },
  { name: '500 not compressed', raw: req('/gzt/s/500/abcdefghijklmnopqrstuvwxyz', { headers: AE }), gzip: false },
  { name: 'gzip_vary without Accept-Encoding', raw: req('/gzv/big/100'), gzip: false },
  { name: 'gzip_vary with Accept-Encoding', raw: req('/gzv/big/100', { headers: AE }), gzip: true },
  { name: 'gzip_vary, HEAD', raw: req('/gzv/big/100', { method: 'HEAD', headers: AE }), gzip: false },
  { name: 'gzip_vary, too short', raw: req('/gzv/big/5', { headers: AE }), gzip: false },
  { name: 'q=0', raw: req('/gz/big/100', { headers: ae('gzip;q=0') }), gzip: false },
  { name: 'q=0.5', raw: req('/gz/big/100', { headers: ae('gzip; q=0.5') }), gzip: true },
  { name: 'q=1.5 (nginx reads it as too large)', raw: req('/gz/big/100', { headers: ae('gzip;q=1.5') }), gzip: false },
  { name: 'q=0.000', raw: req('/gz/big/100', { headers: ae('gzip;q=0.000') }), gzip: false },
  { name: 'second coding', raw: req('/gz/big/100', { headers: ae('deflate, gzip') }), gzip: true },
  { name: 'upper case', raw: req('/gz/big/100', { headers: ae('GZIP') }), gzip: true },
  { name: 'x-gzip', raw: req('/gz/big/100', { headers: ae('x-gzip') }), gzip: false },
  { name: 'gzipped', raw: req('/gz/big/100', { headers: ae('gzipped') }), gzip: false },
  { name: 'identity', raw: req('/gz/big/100', { headers: ae('identity') }), gzip: false },
  { name: 'Via, gzip_proxied off', raw: req('/gz/big/100', { headers: AE + 'Via: 1.1 p\r\n' }), gzip: false },
  { name: 'Via, gzip_proxied any', raw: req('/gzp/big/100', { headers: AE + 'Via: 1.1 p\r\n' }), gzip: true },
  { name: 'Via, expired Expires', raw: req(`/gzpexp/h/x?${hq({ Expires: 'Thu, 01 Jan 1970 00:00:00 GMT', _len: '100' })}`, { headers: AE + 'Via: 1.1 p\r\n' }), gzip: true },
  { name: 'Via, future Expires', raw: req(`/gzpexp/h/x?${hq({ Expires: 'Thu, 01 Jan 2099 00:00:00 GMT', _len: '100' })}`, { headers: AE + 'Via: 1.1 p\r\n' }), gzip: false },
  { name: 'Via, bad Expires', raw: req(`/gzpexp/h/x?${hq({ Expires: 'soon', _len: '100' })}`, { headers: AE + 'Via: 1.1 p\r\n' }), gzip: false },
  { name: 'Via, Cache-Control no-cache', raw: req(`/gzpexp/h/x?${hq({ 'Cache-Control': 'max-age=0, no-cache', _len: '100' })}`, { headers: AE + 'Via: 1.1 p\r\n' }), gzip: true },
  { name: 'Via, Cache-Control public', raw: req(`/gzpexp/h/x?${hq({ 'Cache-Control': 'public', _len: '100' })}`, { headers: AE + 'Via: 1.1 p\r\n' }), gzip: false },
  { name: 'Via, no ETag', raw: req(`/gzpexp/h/x?${hq({ _len: '100' })}`, { headers: AE + 'Via: 1.1 p\r\n' }), gzip: true },
  { name: 'Via, an ETag', raw: req(`/gzpexp/h/x?${hq({ ETag: '"e"', _len: '100' })}`, { headers: AE + 'Via: 1.1 p\r\n' }), gzip: false },
  { name: 'Via, Authorization', raw: req(`/gzpauth/h/x?${hq({ 'Last-Modified': 'Thu, 01 Jan 1970 00:00:00 GMT', _len: '100' })}`, { headers: AE + 'Via: 1.1 p\r\nAuthorization: Basic eDp5\r\n' }), gzip: true },
  { name: 'Via, Last-Modified', raw: req(`/gzpauth/h/x?${hq({ 'Last-Modified': 'Thu, 01 Jan 1970 00:00:00 GMT', _len: '100' })}`, { headers: AE + 'Via: 1.1 p\r\n' }), gzip: false },
  { name: 'HTTP/1.0 below gzip_http_version', raw: req('/gz/big/100', { headers: AE, version: '1.0' }), gzip: false },
  { name: 'HTTP/1.0 with gzip_http_version 1.0', raw: req('/gz10/big/100', { headers: AE, version: '1.0' }), gzip: true },
  { name: 'HTTP/1.0, chunked backend', raw: req('/gz10/chunked/3000', { headers: AE, version: '1.0' }), gzip: true },
  { name: 'HTTP/1.0, chunked backend, not compressed: the chunk framing comes off', raw: req('/gz/chunked/3000', { version: '1.0' }), gzip: false },
  { name: 'MSIE 6 disabled', raw: req('/gzdis/big/100', { headers: AE + OLD_IE }), gzip: false },
  { name: 'MSIE 6 SV1 allowed', raw: req('/gzdis/big/100', { headers: AE + 'User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)\r\n' }), gzip: true },
  { name: 'MSIE 6 elsewhere', raw: req('/gz/big/100', { headers: AE + OLD_IE }), gzip: true },
  { name: 'gzip_disable regex, caseless', raw: req('/gzdis/big/100', { headers: AE + 'User-Agent: CURL/7.1\r\n' }), gzip: false },
  { name: 'Content-Encoding already', raw: req(`/gzall/h/x?${hq({ 'Content-Encoding': 'br', _len: '100' })}`, { headers: AE }), gzip: false },
  { name: 'ETag weakened, Accept-Ranges dropped', raw: req(`/gzall/h/x?${hq({ 'Content-Type': 'text/html', ETag: '"abc"', 'Accept-Ranges': 'bytes', 'X-Z': '1', _len: '100' })}`, { headers: AE }), gzip: true },
  { name: 'weak ETag kept', raw: req(`/gzall/h/x?${hq({ ETag: 'W/"abc"', _len: '100' })}`, { headers: AE }), gzip: true },
  { name: 'unquoted ETag dropped', raw: req(`/gzall/h/x?${hq({ ETag: 'abc', _len: '100' })}`, { headers: AE }), gzip: true },
  { name: 'gzip_types * without Content-Type', raw: req(`/gzall/h/x?${hq({ _len: '0' })}`, { headers: AE }), gzip: true },
  { name: 'charset parameter', raw: req(`/gz/h/x?${hq({ 'Content-Type': 'text/html; charset=utf-8', _len: '100' })}`, { headers: AE }), gzip: true },
  { name: 'other parameter', raw: req(`/gz/h/x?${hq({ 'Content-Type': 'text/html; q=1', _len: '100' })}`, { headers: AE }), gzip: false },
  { name: 'upper-case type', raw: req(`/gz/h/x?${hq({ 'Content-Type': 'TEXT/HTML', _len: '100' })}`, { headers: AE }), gzip: true },
  { name: 'gzip_comp_level 9', raw: req('/gzlevel/big/20000', { headers: AE }), gzip: true },
  { name: 'local return', raw: req('/gzret/x', { headers: AE }), gzip: true },
  { name: 'local return, HEAD', raw: req('/gzret/x', { method: 'HEAD', headers: AE }), gzip: false },
  { name: 'error page', raw: req('/gzret404/x', { headers: AE }), gzip: true },
  { name: 'error page to HTTP/1.0', raw: req('/gzret404/x', { headers: AE, version: '1.0' }), gzip: false },
  { name: 'add_header before Content-Encoding', raw: req('/gzadd/big/100', { headers: AE }), gzip: true },
  { name: 'gzip off in a nested location', raw: req('/gzoff/in/big/100', { headers: AE }), gzip: false },
  { name: 'static file', raw: req('/gzfile/small.html', { headers: AE }), gzip: true },
  { name: 'static file, HEAD', raw: req('/gzfile/small.html', { method: 'HEAD', headers: AE }), gzip: false },
  { name: 'static file, large, compressed as read', raw: req('/gzfile/large.html', { headers: AE }), gzip: true },
  { name: 'static file, Range ignored', raw: req('/gzfile/small.html', { headers: AE + 'Range: bytes=0-9\r\n' }), gzip: true },
  { name: 'static file, Range without gzip', raw: req('/gzfile/small.html', { headers: 'Range: bytes=0-9\r\n' }), gzip: false },
  { name: 'static file, not in gzip_types', raw: req('/gzfile/a.txt', { headers: AE }), gzip: false },
  { name: 'static file, no Accept-Encoding', raw: req('/gzfile/small.html'), gzip: false },
  { name: 'static file to HTTP/1.0', raw: req('/gzfile10/large.html', { headers: AE, version: '1.0' }), gzip: true },
  { name: 'static file to HTTP/1.0, HEAD', raw: req('/gzfile10/small.html', { method: 'HEAD', headers: AE, version: '1.0' }), gzip: false },
]

const compressed = (s: Seen): boolean => s.body.startsWith('GZIP:')

test('gzip compresses what nginx compresses, with the same headers', async (t) => {
  const { pair } = await startResponses(t, { server: SERVER })
  for (const c of CASES) {
    await t.test(c.name, async () => {
      const [n, d] = await askBoth(pair, c.raw)
      assert.equal(compressed(n), c.gzip, `nginx answered ${JSON.stringify(n).slice(0, 600)}`)
      assert.deepEqual(d, n)
    })
  }

  await t.test('a large chunked body, decompressed equal', async () => {
    const [n, d] = await askBoth(pair, req('/gzlevel/chunked/3000000', { headers: AE }))
    assert.ok(compressed(n))
    assert.equal(d.body.length, n.body.length)
    assert.ok(d.body === n.body, 'bodies differ')
    assert.deepEqual(d.headers, n.headers)
  })

  await t.test('keep-alive: a compressed answer, then another on the same connection', async () => {
    const out: string[][] = []
    for (const port of [pair.nginx.port, pair.dyups.port]) {
      const c = await Conn.open(port)
      const got: string[] = []
      for (const [method, path] of [['GET', '/gz/chunked/4000'], ['HEAD', '/gz/big/3000'], ['GET', '/gz/big/3000'], ['HEAD', '/gzret/x'], ['GET', '/gzret/x'], ['GET', '/gz/close/2000'], ['GET', '/gz/big/10']] as const) {
        const r = await c.req({ method, path, headers: { 'Accept-Encoding': 'gzip' } })
        const body = r.headers['content-encoding'] === 'gzip' && method === 'GET' ? gunzipSync(Buffer.from(r.body, 'latin1')).toString('latin1') : r.body
        got.push(`${r.status} ${r.headers['transfer-encoding'] ?? '-'} ${r.headers.connection} ${body.length}`)
      }
      c.close()
      out.push(got)
    }
    assert.deepEqual(out[1], out[0])
  })
})

test('a client that does not read holds the backend back (backpressure through the compressor)', async (t) => {
  // Incompressible data, so that compressed bytes pile up as fast as the backend sends them.
  const TOTAL = 48 * 1024 * 1024
  const block = randomBytes(64 * 1024)
  let written = 0
  const sockets = new Set<Socket>()
  const srv = createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
    s.once('data', () => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${TOTAL}\r\n\r\n`)
      const pump = (): void => {
        while (written < TOTAL) {
          written += block.length
          if (!s.write(block)) return void s.once('drain', pump)
        }
      }
      pump()
    })
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  t.after(() => new Promise((r) => {
    for (const s of sockets) s.destroy()
    srv.close(r)
  }))
  const port = (srv.address() as AddressInfo).port
  const { pair } = await startResponses(t, {
    http: `    upstream slow { server 127.0.0.1:${port}; }\n`,
    server: '        location /slow/ { gzip on; gzip_types *; proxy_pass http://slow; }\n',
  })
  const client = connect(pair.dyups.port, '127.0.0.1')
  client.pause()
  await new Promise<void>((r) => client.once('connect', r))
  client.write('GET /slow/ HTTP/1.1\r\nHost: side\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n')
  // Wait until the backend makes no progress any more: everything in between is full.
  let last = -1
  for (let i = 0; i < 200 && written !== last; i++) {
    last = written
    await sleep(100)
  }
  assert.ok(written < TOTAL / 2, `the backend wrote ${written} of ${TOTAL} bytes to a client that reads nothing`)
  const chunks: Buffer[] = []
  client.on('data', (b: Buffer) => chunks.push(b))
  client.resume()
  await new Promise<void>((r) => client.once('close', r))
  const r = seen(Buffer.concat(chunks).toString('latin1'), pair.dyups.port)
  assert.ok(r.headers.includes('Content-Encoding: gzip'))
  assert.equal(r.body.length, 'GZIP:'.length + TOTAL)
  assert.equal(written, TOTAL)
})

test('gzip settings inherited from the http level as nginx', async (t) => {
  const { pair } = await startResponses(t, {
    http: '    gzip on;\n    gzip_vary on;\n    gzip_types text/plain;\n    gzip_min_length 30;\n',
    server: `
        location /off/ { gzip off; proxy_pass http://u/; }
        location /types/ { gzip_types text/css; proxy_pass http://u/; }
        location /len/ { gzip_min_length 0; proxy_pass http://u/; }
`,
  })
  const cases: [string, boolean][] = [
    ['/s/200/abcdefghijklmnopqrstuvwxyz', true],
    ['/s/200/a', false],
    ['/off/s/200/abcdefghijklmnopqrstuvwxyz', false],
    ['/types/s/200/abcdefghijklmnopqrstuvwxyz', false],
    ['/types/big/100', true],
    ['/len/s/200/a', true],
    ['/s/404/abcdefghijklmnopqrstuvwxyz', true],
    ['/s/502/abcdefghijklmnopqrstuvwxyz', false],
  ]
  for (const [path, gz] of cases) {
    const [n, d] = await askBoth(pair, req(path, { headers: AE }))
    assert.equal(compressed(n), gz, `${path}: nginx answered ${JSON.stringify(n).slice(0, 300)}`)
    assert.deepEqual(d, n, path)
  }
})

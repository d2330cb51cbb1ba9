/**
 * error_page, recursive_error_pages and proxy_intercept_errors side by side with the real nginx: the same
 * configuration, the same requests, and every answer (status line, headers in order, body), the backend's view and
 * the access log's upstream fields must agree.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ask, askBoth, keepAliveBoth, req, startResponses, type Seen } from './responses.js'
import { waitFor } from './helpers.js'

const SERVER = `
        error_page 403 =200 /e/403;
        error_page 404 /e/404;
        error_page 500 502 503 504 /e/50x;
        location /e/ { return 200 "page $uri $args $request_method\\n"; }
        location /none/ { }
        location /deny/ { deny all; }
        location /ret/ { return 404; }
        location /ret418/ { return 418; }
        location /rettext/ { return 404 "own text\\n"; }
        location /retredir/ { error_page 302 /e/302; return 302 /elsewhere; }
        location /retredir2/ { error_page 302 /e2/; return 302 /elsewhere; }
        location /e2/ { return 301 http://example.com/second; }
        location /own/ { error_page 404 = /e/own; return 404; }
        location /code/ { error_page 404 =202 /e/code; return 404; }
        location /url/ { error_page 404 http://example.com/nf?x=1; return 404; }
        location /url301/ { error_page 404 =301 http://example.com/nf; return 404; }
        location /url200/ { error_page 404 =200 http://example.com/nf; return 404; }
        location /named/ { error_page 404 @fallback; return 404; }
        location /namedproxy/ { error_page 404 = @toback; return 404; }
        location @fallback { return 200 "named $uri\\n"; }
        location @toback { proxy_pass http://u; }
        location /toproxy/ { error_page 404 /s/201/x?y=1; return 404; }
        location /toproxyown/ { error_page 404 = /s/201/x; return 404; }
        location /dead/ { proxy_pass http://dead; }
        location /small/ { client_max_body_size 1; error_page 413 /e/413; return 200 "small\\n"; }
        location /smallp/ { client_max_body_size 1; error_page 413 /e/413; proxy_pass http://u; }
        location /loop/ { error_page 404 /loop/again; return 404; }
        location /rloop/ { recursive_error_pages on; error_page 404 /rloop/x; return 404; }
        location /chain/ { recursive_error_pages on; error_page 404 /chain2/; return 404; }
        location /chain2/ { recursive_error_pages on; error_page 403 /e/chain; return 403; }
        location /replaced/ { error_page 500 /e/500; return 404; }
        location /var/ { error_page 404 /e/var?from=$uri; return 404; }
        location /varnamed/ { set $to @fallback; error_page 404 $to; return 404; }
        location /todeny/ { error_page 404 /deny/x; return 404; }
        location /nonamed/ { error_page 404 @missing; return 404; }
        location /icpt/ { proxy_intercept_errors on; error_page 404 /e/icpt; proxy_pass http://u/s/404/; }
        location /icpt500/ { proxy_intercept_errors on; error_page 404 /e/icpt; proxy_pass http://u/s/500/; }
        location /icptown/ { proxy_intercept_errors on; error_page 404 = /s/200/again; proxy_pass http://u/s/404/; }
        location /icptredir/ { proxy_intercept_errors on; error_page 301 302 http://example.com/moved; proxy_pass http://u/s/302/; }
        location /icpt401/ { proxy_intercept_errors on; error_page 401 /e/401; proxy_pass http://u/h/?_status=401&WWW-Authenticate=Basic%20realm%3Dx&X-Other=; }
        location /icpt401std/ { proxy_intercept_errors on; error_page 401 /e/401; proxy_pass http://u/s/401/; }
        location /noicpt/ { error_page 404 /e/x; proxy_pass http://u/s/404/; }
`

interface Case {
  name: string
  raw: string
  /** What nginx is expected to show, so that the configuration is known to exercise the feature. */
  expect: (s: Seen) => boolean
}

const status = (code: number) => (s: Seen) => s.status.startsWith(`HTTP/1.1 ${code} `)
const has = (code: number, text: string) => (s: Seen) => status(code)(s) && (s.body.includes(text) || s.headers.some((h) => h.includes(text)))

const CASES: Case[] = [
  { name: 'no handler: 404 → page, status kept', raw: req('/none/x'), expect: has(404, 'page /e/404') },
  { name: 'deny: 403 → =200 page', raw: req('/deny/x'), expect: has(200, 'page /e/403') },
  { name: 'return 404 → page', raw: req('/ret/x?q=1'), expect: has(404, 'page /e/404  GET') },
  { name: 'return without a page: standard', raw: req('/ret418/x'), expect: status(418) },
  { name: 'return with text: no error page', raw: req('/rettext/x'), expect: has(404, 'own text') },
  { name: 'return 302 follows error_page 302', raw: req('/retredir/x'), expect: has(302, 'page /e/302') },
  { name: 'a redirect in the page replaces the Location', raw: req('/retredir2/x'), expect: has(301, 'Location: http://example.com/second') },
  { name: '= takes the page\'s status', raw: req('/own/x'), expect: has(200, 'page /e/own') },
  { name: '=202', raw: req('/code/x'), expect: has(202, 'page /e/code') },
  { name: 'URL: 302', raw: req('/url/x'), expect: has(302, 'Location: http://example.com/nf?x=1') },
  { name: 'URL with =301', raw: req('/url301/x'), expect: has(301, 'Location: http://example.com/nf') },
  { name: 'URL with =200 is still 302', raw: req('/url200/x'), expect: has(302, 'Location: http://example.com/nf') },
  { name: 'named location keeps the URI', raw: req('/named/x'), expect: has(404, 'named /named/x') },
  { name: 'named location proxies the original target', raw: req('/namedproxy/a%20b?c=d'), expect: has(200, 'b 200 GET /namedproxy/a%20b?c=d') },
  { name: 'page proxied: backend head, error status', raw: req('/toproxy/x'), expect: has(404, 'b 201 GET /s/201/x?y=1') },
  { name: 'page proxied with =: backend status', raw: req('/toproxyown/x'), expect: has(201, 'b 201 GET /s/201/x') },
  { name: 'POST becomes GET', raw: req('/ret/x', { method: 'POST', body: 'abc' }), expect: has(404, 'page /e/404  GET') },
  { name: 'POST with a body, page proxied as GET', raw: req('/toproxy/x', { method: 'POST', body: 'abc' }), expect: has(404, 'b 201 GET /s/201/x?y=1') },
  { name: 'chunked body too large → page', raw: 'POST /smallp/x HTTP/1.1\r\nHost: side\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n', expect: has(413, 'page /e/413') },
  { name: 'HEAD stays HEAD', raw: req('/ret/x', { method: 'HEAD' }), expect: status(404) },
  { name: '502 from the proxy → page', raw: req('/dead/x'), expect: has(502, 'page /e/50x') },
  { name: '413 → page, connection closes', raw: req('/small/x', { method: 'POST', body: 'too long' }), expect: has(413, 'page /e/413') },
  { name: 'an error in the page: standard page', raw: req('/loop/x'), expect: status(404) },
  { name: 'recursive_error_pages: loop ends in 500', raw: req('/rloop/x'), expect: status(500) },
  { name: 'recursive_error_pages: chain', raw: req('/chain/x'), expect: has(403, 'page /e/chain') },
  { name: 'own list replaces the inherited one', raw: req('/replaced/x'), expect: status(404) },
  { name: 'variables in the URI, args split', raw: req('/var/x'), expect: has(404, 'page /e/var from=/var/x GET') },
  { name: 'named location from a variable', raw: req('/varnamed/x'), expect: has(404, 'named /varnamed/x') },
  { name: 'page denied: standard 403', raw: req('/todeny/x'), expect: status(403) },
  { name: 'missing named location: 500', raw: req('/nonamed/x'), expect: status(500) },
  { name: 'intercepted 404 → page', raw: req('/icpt/x'), expect: has(404, 'page /e/icpt') },
  { name: 'not intercepted without a page for 500', raw: req('/icpt500/x'), expect: has(500, 'b 500 GET /s/500/x') },
  { name: 'intercepted, page proxied with =', raw: req('/icptown/x'), expect: has(200, 'b 200 GET /s/200/again') },
  { name: 'intercepted 302 → URL', raw: req('/icptredir/x'), expect: has(302, 'Location: http://example.com/moved') },
  { name: 'intercepted 401 keeps WWW-Authenticate', raw: req('/icpt401/x'), expect: has(401, 'WWW-Authenticate: Basic realm=x') },
  { name: 'intercepted 401', raw: req('/icpt401std/x'), expect: has(401, 'page /e/401') },
  { name: 'intercept off: backend 404 passes', raw: req('/noicpt/x'), expect: has(404, 'b 404 GET /s/404/x') },
]

test('error_page and proxy_intercept_errors answer as nginx', async (t) => {
  const { pair, back } = await startResponses(t, { server: SERVER, http: '    upstream dead { server 127.0.0.1:1; }\n' })
  for (const c of CASES) {
    await t.test(c.name, async () => {
      back.seen.length = 0
      const [n, d] = await askBoth(pair, c.raw)
      const seenN = back.seen.splice(0)
      assert.ok(c.expect(n), `nginx answered ${JSON.stringify(n)}`)
      assert.deepEqual(d, n)
      // The backend saw the same requests from both (each side sent its own).
      assert.equal(seenN.length % 2, 0)
      assert.deepEqual(seenN.slice(seenN.length / 2), seenN.slice(0, seenN.length / 2))
    })
  }
  await t.test('the access log has the same upstream fields and statuses', async () => {
    // Lines are written after the answers: wait (bounded) for one per case on both sides.
    await waitFor(() => pair.nginx.lines().length >= CASES.length && pair.dyups.lines().length >= CASES.length)
    const strip = (lines: string[], port: number) =>
      lines.map((l) => l.split('|').slice(0, 3).join('|').split(`127.0.0.1:${back.port}`).join('B').split('127.0.0.1:1').join('D').split(`:${port}`).join(':PORT'))
    const n = strip(pair.nginx.lines(), pair.nginx.port)
    const d = strip(pair.dyups.lines(), pair.dyups.port)
    assert.equal(n.length, CASES.length)
    assert.deepEqual(d, n)
    assert.ok(n.includes('B : B|404 : 200|200'), `nginx log: ${n.join('\n')}`)
  })
  await t.test('keep-alive after an error page as nginx', async () => {
    const ka = (p: string) => `GET ${p} HTTP/1.1\r\nHost: side\r\n\r\n`
    for (const [a, b] of [['/ret/x', '/e/ok'], ['/icpt/x', '/e/ok'], ['/dead/x', '/e/ok'], ['/rloop/x', '/e/ok']] as const) {
      const [n, d] = await keepAliveBoth(pair, ka(a), ka(b))
      assert.deepEqual(d, n, `${a} then ${b}`)
    }
  })
})

test('an intercepted answer closes its backend connection as nginx', async (t) => {
  const { pair, back } = await startResponses(t, {
    upstream: 'keepalive 4;',
    http: '    proxy_http_version 1.1;\n    proxy_set_header Connection "";\n',
    server: `
        location /e/ { return 200 "page\\n"; }
        location /icpt/ { proxy_intercept_errors on; error_page 404 /e/404; proxy_pass http://u/s/404/; }
        location /icptchunked/ { proxy_intercept_errors on; error_page 404 /e/404; proxy_pass http://u/chunked/3000?status=404; }
`,
  })
  const conns: number[][] = []
  for (const side of [pair.nginx, pair.dyups]) {
    const before = back.conns
    const counts: number[] = []
    for (const path of ['/icpt/a', '/icpt/b', '/icpt/c', '/icptchunked/a', '/icptchunked/b']) {
      const s = await ask(side.port, req(path))
      assert.match(s.status, /^HTTP\/1\.1 404 /)
      counts.push(back.conns - before)
    }
    conns.push(counts)
  }
  assert.deepEqual(conns[1], conns[0])
})

test('error_page and proxy_intercept_errors inherited from the http level as nginx', async (t) => {
  const { pair } = await startResponses(t, {
    http: '    error_page 404 /e/http;\n    proxy_intercept_errors on;\n',
    server: `
        location /e/ { return 200 "page $uri\\n"; }
        location /none/ { }
        location /own/ { error_page 500 /e/own; return 404; }
        location /nested/ { location /nested/in/ { return 404; } }
        location /icpt/ { proxy_pass http://u/s/404/; }
        location /noicpt/ { proxy_intercept_errors off; proxy_pass http://u/s/404/; }
`,
  })
  const cases: [string, (s: Seen) => boolean][] = [
    ['/none/x', (s) => s.body === 'page /e/http\n'],
    ['/own/x', (s) => s.body.includes('<h1>404 Not Found</h1>')],
    ['/nested/in/x', (s) => s.body === 'page /e/http\n'],
    ['/icpt/x', (s) => s.body === 'page /e/http\n'],
    ['/noicpt/x', (s) => s.body === 'b 404 GET /s/404/x\n'],
  ]
  for (const [path, expect] of cases) {
    const [n, d] = await askBoth(pair, req(path))
    assert.ok(expect(n), `${path}: nginx answered ${JSON.stringify(n)}`)
    assert.deepEqual(d, n, path)
  }
})

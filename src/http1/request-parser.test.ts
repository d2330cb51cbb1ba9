import assert from 'node:assert/strict'
import test from 'node:test'
import { NEED_MORE, PARSE_ERROR } from './head.js'
import { RequestHeadParser, type HeadLimits } from './request-parser.js'
import { feedRequest, latin1, pieces, splits, type Outcome } from './testing.js'

/** The outcome fed whole; asserts every split (byte by byte, 20 seeded random cuts) gives the same. */
function parseAllWays(input: Buffer, limits: Partial<HeadLimits> = {}): Outcome {
  const whole = feedRequest(input, [], limits)
  for (const cuts of splits(input.length, 20)) {
    assert.deepEqual(feedRequest(input, cuts, limits), whole, `split at ${cuts.join(',')}`)
  }
  return whole
}

const BODY = 'BODY-BYTES'

interface Valid {
  name: string
  head: string
  expect: Record<string, unknown>
}

const valid: Valid[] = [
  {
    name: 'simple GET',
    head: 'GET / HTTP/1.1\r\nHost: example.com\r\n\r\n',
    expect: {
      method: 'GET', target: '/', path: '/', query: '', versionMinor: 1, headers: ['Host', 'example.com'],
      host: 'example.com', contentLength: -1, chunked: false, keepAlive: true, upgrade: null, expectContinue: false,
    },
  },
  {
    name: 'path and query split at the first ?',
    head: 'GET /a/b?x=1&y=?z HTTP/1.1\r\nHost: h\r\n\r\n',
    expect: { target: '/a/b?x=1&y=?z', path: '/a/b', query: 'x=1&y=?z' },
  },
  { name: 'empty query', head: 'GET /a? HTTP/1.1\r\nHost: h\r\n\r\n', expect: { path: '/a', query: '' } },
  {
    name: 'HTTP/1.0 without Host: no host, no keepalive',
    head: 'GET / HTTP/1.0\r\n\r\n',
    expect: { versionMinor: 0, host: null, keepAlive: false, headers: [] },
  },
  { name: 'HTTP/1.0 keep-alive', head: 'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n', expect: { keepAlive: true } },
  { name: 'HTTP/1.0 keep-alive and close', head: 'GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n', expect: { keepAlive: false } },
  { name: 'HTTP/1.1 close', head: 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', expect: { keepAlive: false } },
  { name: 'HTTP/1.1 CLOSE any case', head: 'GET / HTTP/1.1\r\nHost: h\r\nConnection: CLOSE\r\n\r\n', expect: { keepAlive: false } },
  {
    name: 'close in a second Connection header',
    head: 'GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nConnection: te, close\r\n\r\n',
    expect: { keepAlive: false },
  },
  { name: 'a token containing close is not close', head: 'GET / HTTP/1.1\r\nHost: h\r\nConnection: closed, x-close\r\n\r\n', expect: { keepAlive: true } },
  { name: 'junk elements in Connection are ignored', head: 'GET / HTTP/1.1\r\nHost: h\r\nConnection: "close", close x\r\n\r\n', expect: { keepAlive: true } },
  { name: 'HTTP/1.2 is treated as 1.1', head: 'GET / HTTP/1.2\r\nHost: h\r\n\r\n', expect: { versionMinor: 1, keepAlive: true } },
  {
    name: 'upgrade when Connection names it',
    head: 'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n',
    expect: { upgrade: 'websocket', keepAlive: true },
  },
  { name: 'Upgrade without Connection: upgrade is ignored', head: 'GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n', expect: { upgrade: null } },
  { name: 'Upgrade in HTTP/1.0 is ignored', head: 'GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n', expect: { upgrade: null } },
  { name: 'Expect: 100-continue', head: 'PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n', expect: { expectContinue: true, contentLength: 3 } },
  { name: 'Expect in HTTP/1.0 is ignored', head: 'PUT /x HTTP/1.0\r\nExpect: 100-continue\r\n\r\n', expect: { expectContinue: false } },
  { name: 'other Expect values are ignored', head: 'PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continuex\r\n\r\n', expect: { expectContinue: false } },
  { name: 'Content-Length 0', head: 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n', expect: { contentLength: 0, chunked: false } },
  { name: 'Content-Length with leading zeros', head: 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 00012\r\n\r\n', expect: { contentLength: 12 } },
  { name: 'Content-Length 2^53-1', head: 'POST / HTTP/1.1\r\nHost: h\r\ncontent-length: 9007199254740991\r\n\r\n', expect: { contentLength: 9007199254740991 } },
  { name: 'Content-Length with OWS', head: 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \t 7 \t\r\n\r\n', expect: { contentLength: 7, headers: ['Host', 'h', 'Content-Length', '7'] } },
  { name: 'chunked', head: 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', expect: { chunked: true, contentLength: -1 } },
  { name: 'chunked any case, OWS', head: 'POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding:  ChUnKeD \r\n\r\n', expect: { chunked: true } },
  {
    name: 'absolute-form: host from the target, like nginx',
    head: 'GET http://Example.COM:8080/p/q?x=y HTTP/1.1\r\nHost: other\r\n\r\n',
    expect: { target: 'http://Example.COM:8080/p/q?x=y', path: '/p/q', query: 'x=y', host: 'example.com' },
  },
  { name: 'absolute-form without a path', head: 'GET http://h.test HTTP/1.1\r\nHost: h\r\n\r\n', expect: { path: '/', query: '', host: 'h.test' } },
  { name: 'absolute-form with a query and no path', head: 'GET https://h.test?a=b HTTP/1.1\r\nHost: h\r\n\r\n', expect: { path: '/', query: 'a=b' } },
  { name: 'absolute-form in HTTP/1.0 without Host', head: 'GET HTTP://h.test/x HTTP/1.0\r\n\r\n', expect: { host: 'h.test', path: '/x' } },
  { name: 'OPTIONS *', head: 'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n', expect: { method: 'OPTIONS', target: '*', path: '*', query: '' } },
  {
    name: 'empty lines before the request line are skipped and counted',
    head: '\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n',
    expect: { method: 'GET', headBytes: 31 },
  },
  {
    name: 'values: obs-text, inner HTAB, trailing OWS trimmed, empty value',
    head: 'GET / HTTP/1.1\r\nHost: h\r\nX-A: caf\xe9 \xff\r\nX-B: a\tb  \t\r\nX-Empty:\r\nX-Spaces:    \r\n\r\n',
    expect: { headers: ['Host', 'h', 'X-A', 'caf\xe9 \xff', 'X-B', 'a\tb', 'X-Empty', '', 'X-Spaces', ''] },
  },
  { name: 'every tchar in a name', head: "GET / HTTP/1.1\r\nHost: h\r\n!#$%&'*+-.^_`|~09az: v\r\n\r\n", expect: { headers: ['Host', 'h', "!#$%&'*+-.^_`|~09az", 'v'] } },
  { name: 'names keep their case', head: 'GET / HTTP/1.1\r\nhOsT: h\r\nX-MiXeD: 1\r\n\r\n', expect: { headers: ['hOsT', 'h', 'X-MiXeD', '1'], host: 'h' } },
  { name: 'Host: IPv6 literal with port', head: 'GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n', expect: { host: '[::1]' } },
  { name: 'Host: trailing dot and case', head: 'GET / HTTP/1.1\r\nHost: WWW.Example.com.\r\n\r\n', expect: { host: 'www.example.com' } },
  { name: 'Host: port removed', head: 'GET / HTTP/1.1\r\nHost: a.b:80\r\n\r\n', expect: { host: 'a.b' } },
  { name: 'Host: bytes nginx allows', head: 'GET / HTTP/1.1\r\nHost: _a-b~\xc3\xa9\r\n\r\n', expect: { host: '_a-b~\xc3\xa9' } },
  { name: 'custom method', head: 'PURGE /x HTTP/1.1\r\nHost: h\r\n\r\n', expect: { method: 'PURGE' } },
  { name: 'methods are case-sensitive tokens', head: 'get / HTTP/1.1\r\nHost: h\r\n\r\n', expect: { method: 'get' } },
  { name: 'raw UTF-8 and odd bytes in the target', head: 'GET /caf\xc3\xa9/{x}|"<> HTTP/1.1\r\nHost: h\r\n\r\n', expect: { path: '/caf\xc3\xa9/{x}|"<>' } },
  { name: 'repeated ordinary headers stay separate', head: 'GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n', expect: { headers: ['Host', 'h', 'Cookie', 'a=1', 'Cookie', 'b=2'] } },
]

for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
  valid.push({ name: `method ${m}`, head: `${m} / HTTP/1.1\r\nHost: h\r\n\r\n`, expect: { method: m } })
}

test('valid request heads parse the same fed whole, byte by byte and split at random', () => {
  for (const c of valid) {
    const input = latin1(c.head + BODY)
    const o = parseAllWays(input)
    assert.equal(o.result, 'head', `${c.name}: ${JSON.stringify(o)}`)
    assert.equal(o.offset, latin1(c.head).length, `${c.name}: body offset`)
    const head = o.head as Record<string, unknown>
    for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(head[k], v, `${c.name}: ${k}`)
    if (!('headBytes' in c.expect)) assert.equal(head.headBytes, latin1(c.head).length, `${c.name}: headBytes`)
  }
})

interface Reject {
  name: string
  head: string
  status: number
  kind: string
}

const H = 'Host: h\r\n'
const rejects: Reject[] = [
  // framing: what smuggling needs
  { name: 'Content-Length and Transfer-Encoding', head: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`, status: 400, kind: 'length-and-chunked' },
  { name: 'Transfer-Encoding then Content-Length', head: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n`, status: 400, kind: 'length-and-chunked' },
  { name: 'unknown coding and Content-Length', head: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n`, status: 400, kind: 'length-and-chunked' },
  { name: 'Content-Length twice, equal', head: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\n`, status: 400, kind: 'duplicate-content-length' },
  { name: 'Content-Length twice, different', head: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\ncontent-length: 6\r\n\r\n`, status: 400, kind: 'duplicate-content-length' },
  ...['', 'abc', '-1', '+5', '1 2', '5,', '5, 5', '0x10', '1e3', '5.0', '\xb5', '9007199254740992', '99999999999999999999999'].map((v) => ({
    name: `Content-Length "${v}"`, head: `POST / HTTP/1.1\r\n${H}Content-Length: ${v}\r\n\r\n`, status: 400, kind: 'invalid-content-length',
  })),
  { name: 'Transfer-Encoding twice', head: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`, status: 400, kind: 'duplicate-transfer-encoding' },
  ...['gzip', 'identity', 'gzip, chunked', 'x;q="a,b", chunked', 'deflate ;a=b'].map((v) => ({
    name: `Transfer-Encoding "${v}" (not implemented)`, head: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: ${v}\r\n\r\n`, status: 501, kind: 'unknown-transfer-encoding',
  })),
  ...['', 'chunked, gzip', 'chunked, chunked', 'chunked;q=1', ',chunked', 'chunked,', 'chunked ,', 'gzip,,chunked', 'chu nked', '"chunked"', 'x;y, chunked', 'x;y="a, chunked'].map((v) => ({
    name: `Transfer-Encoding "${v}" (malformed)`, head: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: ${v}\r\n\r\n`, status: 400, kind: 'invalid-transfer-encoding',
  })),
  { name: 'Transfer-Encoding in HTTP/1.0', head: 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', status: 400, kind: 'transfer-encoding-http10' },
  // line syntax
  { name: 'obs-fold', head: `GET / HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n`, status: 400, kind: 'obs-fold' },
  { name: 'obs-fold with HTAB', head: `GET / HTTP/1.1\r\n${H}X-A: a\r\n\tb\r\n\r\n`, status: 400, kind: 'obs-fold' },
  { name: 'whitespace before the first header', head: `GET / HTTP/1.1\r\n ${H}\r\n`, status: 400, kind: 'obs-fold' },
  { name: 'bare LF ending the request line', head: `GET / HTTP/1.1\n${H}\r\n`, status: 400, kind: 'bare-lf' },
  { name: 'bare LF ending a header line', head: `GET / HTTP/1.1\r\nHost: h\n\r\n`, status: 400, kind: 'bare-lf' },
  { name: 'bare LF ending the head', head: `GET / HTTP/1.1\r\n${H}\n`, status: 400, kind: 'bare-lf' },
  { name: 'bare LF before the request line', head: `\nGET / HTTP/1.1\r\n${H}\r\n`, status: 400, kind: 'bare-lf' },
  { name: 'bare LF after the method', head: `GET\n`, status: 400, kind: 'bare-lf' },
  { name: 'bare CR in a value', head: `GET / HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`, status: 400, kind: 'bare-cr' },
  { name: 'bare CR ending the head', head: `GET / HTTP/1.1\r\n${H}\rX\r\n`, status: 400, kind: 'bare-cr' },
  { name: 'bare CR before the request line', head: `\rGET / HTTP/1.1\r\n${H}\r\n`, status: 400, kind: 'bare-cr' },
  { name: 'CR CR LF ending the request line', head: `GET / HTTP/1.1\r\r\n${H}\r\n`, status: 400, kind: 'bare-cr' },
  { name: 'whitespace before the colon', head: `GET / HTTP/1.1\r\nHost : h\r\n\r\n`, status: 400, kind: 'space-before-colon' },
  { name: 'HTAB before the colon', head: `GET / HTTP/1.1\r\n${H}Content-Length\t: 5\r\n\r\n`, status: 400, kind: 'space-before-colon' },
  ...['X(a): b', 'X@: b', 'X/Y: b', 'X[]: b', ': b', 'No-Colon', 'X"Y: b', 'X\x00: b', 'X\x7f: b', 'X\xe9: b', 'X,Y: b'].map((l) => ({
    name: `header line "${l}"`, head: `GET / HTTP/1.1\r\n${H}${l}\r\n\r\n`, status: 400, kind: 'invalid-header-name',
  })),
  ...['\x00', '\x01', '\x0b', '\x1f', '\x7f'].map((c) => ({
    name: `value with byte ${c.charCodeAt(0)}`, head: `GET / HTTP/1.1\r\n${H}X-A: a${c}b\r\n\r\n`, status: 400, kind: 'invalid-header-value',
  })),
  // request line
  ...['G@T', 'GE(T', '"GET"', 'GE\xc9T', 'GET\t/'].map((m) => ({
    name: `method "${m}"`, head: `${m} / HTTP/1.1\r\n${H}\r\n`, status: 400, kind: 'invalid-method',
  })),
  { name: 'empty method', head: ` / HTTP/1.1\r\n${H}\r\n`, status: 400, kind: 'invalid-method' },
  { name: 'two spaces before the target', head: `GET  / HTTP/1.1\r\n${H}\r\n`, status: 400, kind: 'invalid-target' },
  { name: 'two spaces before the version', head: `GET /  HTTP/1.1\r\n${H}\r\n`, status: 400, kind: 'invalid-version' },
  { name: 'HTAB in the target', head: `GET /a\tb HTTP/1.1\r\n${H}\r\n`, status: 400, kind: 'invalid-target' },
  { name: 'CTL in the target', head: `GET /a\x01b HTTP/1.1\r\n${H}\r\n`, status: 400, kind: 'invalid-target' },
  { name: 'DEL in the target', head: `GET /a\x7fb HTTP/1.1\r\n${H}\r\n`, status: 400, kind: 'invalid-target' },
  ...['foo', 'a/b', '1http://h/', 'http:/h/', 'http:h', 'ht^tp://h/', '?x', '%2F', '*x', 'http://user@h/', 'http://u:p@h/x'].map((t) => ({
    name: `target "${t}"`, head: `GET ${t} HTTP/1.1\r\n${H}\r\n`, status: 400, kind: 'invalid-target',
  })),
  { name: '* with GET', head: `GET * HTTP/1.1\r\n${H}\r\n`, status: 400, kind: 'invalid-target' },
  ...['http:///x', 'http://a..b/', 'http://./', 'http://:80/'].map((t) => ({
    name: `absolute-form host "${t}"`, head: `GET ${t} HTTP/1.1\r\n${H}\r\n`, status: 400, kind: 'invalid-host',
  })),
  { name: 'HTTP/0.9 request', head: 'GET /\r\n', status: 400, kind: 'http09' },
  { name: 'HTTP/0.9 version', head: `GET / HTTP/0.9\r\n${H}\r\n`, status: 400, kind: 'http09' },
  { name: 'HTTP/2.0', head: `GET / HTTP/2.0\r\n${H}\r\n`, status: 505, kind: 'version-not-supported' },
  { name: 'HTTP/3.0', head: `GET / HTTP/3.0\r\n${H}\r\n`, status: 505, kind: 'version-not-supported' },
  { name: 'HTTP/2 preface', head: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', status: 505, kind: 'version-not-supported' },
  ...['http/1.1', 'HTTP/1', 'HTTP/1.', 'HTTP/1.1x', 'HTTP/1.10', 'HTTP/11.1', 'HTTP/a.1', 'HTTP/1,1', 'HTTPS/1.1', 'HTTP/1.1 '].map((v) => ({
    name: `version "${v}"`, head: `GET / ${v}\r\n${H}\r\n`, status: 400, kind: 'invalid-version',
  })),
  { name: 'CONNECT', head: `CONNECT h:443 HTTP/1.1\r\n${H}\r\n`, status: 405, kind: 'method-not-allowed' },
  { name: 'TRACE', head: `TRACE / HTTP/1.1\r\n${H}\r\n`, status: 405, kind: 'method-not-allowed' },
  // Host
  { name: 'HTTP/1.1 without Host', head: 'GET / HTTP/1.1\r\nX: y\r\n\r\n', status: 400, kind: 'no-host' },
  { name: 'absolute-form does not replace a missing Host in HTTP/1.1', head: 'GET http://h/ HTTP/1.1\r\n\r\n', status: 400, kind: 'no-host' },
  { name: 'Host twice', head: `GET / HTTP/1.1\r\n${H}Host: h\r\n\r\n`, status: 400, kind: 'duplicate-host' },
  ...['', 'a..b', 'a/b', 'a b', '.', '..', 'a\tb', ':80', 'a.\\./'].map((v) => ({
    name: `Host "${v}"`, head: `GET / HTTP/1.1\r\nHost: ${v}\r\n\r\n`, status: 400, kind: 'invalid-host',
  })),
]

test('every rejection answers its status whichever way the bytes are split', () => {
  for (const c of rejects) {
    const o = parseAllWays(latin1(c.head + BODY))
    assert.equal(o.result, 'error', `${c.name}: ${JSON.stringify(o)}`)
    assert.equal(o.kind, c.kind, `${c.name}: kind`)
    assert.equal(o.status, c.status, `${c.name}: status`)
  }
})

test('errors carry nginx codes and titles and close the connection', () => {
  const p = new RequestHeadParser()
  assert.equal(p.execute(latin1(`GET / HTTP/1.1\r\nX: a\n`), 0), PARSE_ERROR)
  assert.equal(p.error?.code, 'E_BAD_REQUEST')
  assert.equal(p.error?.status, 400)
  assert.equal(p.error?.title, 'Bad Request')
  assert.equal(p.error?.closeConnection, true)
  assert.throws(() => p.execute(latin1('GET / HTTP/1.1\r\n'), 0), /reset/)

  const q = new RequestHeadParser()
  assert.equal(q.execute(latin1(`GET /${'a'.repeat(9000)}`), 0), PARSE_ERROR)
  assert.equal(q.error?.code, 'E_URI_TOO_LONG')
  assert.equal(q.error?.title, 'Request-URI Too Large')

  const r = new RequestHeadParser()
  assert.equal(r.execute(latin1(`GET / HTTP/1.1\r\nX: ${'a'.repeat(9000)}`), 0), PARSE_ERROR)
  assert.equal(r.error?.code, 'E_HEADER_TOO_LARGE')
  assert.equal(r.error?.status, 400)
  assert.equal(r.error?.title, 'Request Header Or Cookie Too Large')
})

test('incomplete heads need more, never an answer', () => {
  for (const s of ['', 'G', 'GET', 'GET ', 'GET /', 'GET / HTTP/1.1', 'GET / HTTP/1.1\r', 'GET / HTTP/1.1\r\nHost: h\r\n',
    'GET / HTTP/1.1\r\nHost: h\r\n\r', '\r\n', '\r\n\r', 'GET /\x01 HTTP/1.1', 'GE@T', `GET / HTTP/1.1\r\n${H}X: a\r`]) {
    const o = parseAllWays(latin1(s))
    assert.deepEqual(o, { result: 'more' }, JSON.stringify(s))
  }
})

// ---- limits ----

/** A request line of exactly `n` bytes, CRLF included. */
const requestLine = (n: number): string => `GET /${'a'.repeat(n - 16)} HTTP/1.1\r\n`
/** A header line of exactly `n` bytes, CRLF included. */
const headerLine = (n: number, name = 'X-Pad'): string => `${name}: ${'b'.repeat(n - name.length - 4)}\r\n`

test('request line: 8192 bytes pass, 8193 are 414', () => {
  assert.equal(requestLine(8192).length, 8192)
  const ok = parseAllWays(latin1(requestLine(8192) + `${H}\r\n`))
  assert.equal(ok.result, 'head')
  const over = parseAllWays(latin1(requestLine(8193) + `${H}\r\n`))
  assert.deepEqual([over.status, over.kind], [414, 'uri-too-long'])
})

test('a request line over the limit is refused before its end arrives', () => {
  const p = new RequestHeadParser()
  const line = latin1(requestLine(9000))
  assert.equal(p.execute(line.subarray(0, 8192), 0), NEED_MORE)
  assert.equal(p.execute(line.subarray(8192, 8193), 0), PARSE_ERROR)
  assert.equal(p.error?.status, 414)
  // In one chunk too, without any LF.
  const o = parseAllWays(latin1(`GET /${'a'.repeat(8200)}`))
  assert.deepEqual([o.status, o.kind], [414, 'uri-too-long'])
})

test('a bad byte in a line that grows past the limit reports the limit: the outcome must not depend on splits', () => {
  const o = parseAllWays(latin1(`GE@T /${'a'.repeat(8200)}`))
  assert.deepEqual([o.status, o.kind], [414, 'uri-too-long'])
  const short = parseAllWays(latin1(`GE@T /${'a'.repeat(100)} HTTP/1.1\r\n`))
  assert.deepEqual([short.status, short.kind], [400, 'invalid-method'])
})

test('header line: 8192 bytes pass, 8193 are 400 Request Header Or Cookie Too Large', () => {
  assert.equal(headerLine(8192).length, 8192)
  const ok = parseAllWays(latin1(`GET / HTTP/1.1\r\n${H}${headerLine(8192)}\r\n`))
  assert.equal(ok.result, 'head')
  const over = parseAllWays(latin1(`GET / HTTP/1.1\r\n${H}${headerLine(8193)}\r\n`))
  assert.deepEqual([over.status, over.kind], [400, 'header-too-large'])
  const open = parseAllWays(latin1(`GET / HTTP/1.1\r\n${H}X: ${'b'.repeat(8200)}`))
  assert.deepEqual([open.status, open.kind], [400, 'header-too-large'])
})

test('whole head: 32768 bytes pass, 32769 are 400', () => {
  const start = 'GET / HTTP/1.1\r\n' + H
  const fill = (total: number): string => {
    // header lines of 8000 bytes, then one that makes up the rest, then the blank line
    let s = start
    let i = 0
    while (total - s.length - 2 > 8000) s += headerLine(8000, `X-${i++}`)
    return s + headerLine(total - s.length - 2, `X-${i}`) + '\r\n'
  }
  assert.equal(fill(32768).length, 32768)
  const ok = parseAllWays(latin1(fill(32768) + BODY))
  assert.equal(ok.result, 'head')
  assert.equal(ok.offset, 32768)
  const over = parseAllWays(latin1(fill(32769)))
  assert.deepEqual([over.status, over.kind], [400, 'head-too-large'])
})

test('blank lines before the request line count toward the head limit', () => {
  const limits = { maxHeadBytes: 64, maxLine: 64 }
  const ok = parseAllWays(latin1('\r\n'.repeat(16) + 'GET / HTTP/1.1\r\nHost: hhhhhh\r\n\r\n'), limits)
  assert.equal(ok.result, 'head')
  assert.equal(ok.head?.headBytes, 64)
  const over = parseAllWays(latin1('\r\n'.repeat(17) + 'GET / HTTP/1.1\r\nHost: hhhhhh\r\n\r\n'), limits)
  assert.deepEqual([over.status, over.kind], [400, 'head-too-large'])
  const endless = parseAllWays(latin1('\r\n'.repeat(40)), limits)
  assert.deepEqual([endless.status, endless.kind], [400, 'head-too-large'])
})

test('414 or 400 at the boundary follows whichever limit is crossed first', () => {
  // Head limit smaller than the line limit: the head limit is crossed first → 400.
  const a = parseAllWays(latin1(requestLine(60)), { maxLine: 100, maxHeadBytes: 50 })
  assert.deepEqual([a.status, a.kind], [400, 'head-too-large'])
  // Equal limits: the line limit wins → 414.
  const b = parseAllWays(latin1(requestLine(65)), { maxLine: 64, maxHeadBytes: 64 })
  assert.deepEqual([b.status, b.kind], [414, 'uri-too-long'])
  const c = parseAllWays(latin1(requestLine(64)), { maxLine: 64, maxHeadBytes: 64 })
  assert.equal(c.result, 'more')
})

test('maxHeaders: exactly the limit passes, one more is 400', () => {
  const lines = (n: number): string => `GET / HTTP/1.1\r\n${H}` + Array.from({ length: n - 1 }, (_, i) => `X-${i}: v\r\n`).join('') + '\r\n'
  const ok = feedRequest(latin1(lines(10)), [], { maxHeaders: 10 })
  assert.equal(ok.result, 'head')
  assert.equal((ok.head?.headers as string[]).length, 20)
  const over = parseAllWays(latin1(lines(11)), { maxHeaders: 10 })
  assert.deepEqual([over.status, over.kind], [400, 'too-many-headers'])
  const many = feedRequest(latin1(lines(1000)), [])
  assert.equal(many.result, 'head')
  assert.equal(feedRequest(latin1(lines(1001)), []).kind, 'too-many-headers')
})

test('limits are checked up front', () => {
  assert.throws(() => new RequestHeadParser({ maxLine: 0 }), RangeError)
  assert.throws(() => new RequestHeadParser({ maxHeadBytes: 1.5 }), RangeError)
  assert.throws(() => new RequestHeadParser({ maxHeaders: -1 }), RangeError)
  assert.throws(() => new RequestHeadParser({ maxHeaderLine: Number.NaN }), /maxHeaderLine/)
})

// ---- pipelining and reuse ----

const PIPELINE =
  'GET /one HTTP/1.1\r\nHost: a\r\n\r\n' +
  'POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello' +
  '\r\n' + // a stray CRLF after a body, as some clients send
  'GET /three?x HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n'

/** Parses a pipelined stream chunk by chunk with one parser, skipping Content-Length bodies. */
function parsePipeline(chunks: Buffer[]): Array<[string, string, string]> {
  const p = new RequestHeadParser()
  const seen: Array<[string, string, string]> = []
  let skip = 0
  for (const chunk of chunks) {
    let at = 0
    while (at < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - at)
        skip -= n
        at += n
        continue
      }
      const r = p.execute(chunk, at)
      if (r === NEED_MORE) break
      assert.notEqual(r, PARSE_ERROR, p.error?.message)
      const h = p.head!
      seen.push([h.method, h.target, h.host ?? ''])
      skip = Math.max(0, h.contentLength)
      at = r
      p.reset()
    }
  }
  return seen
}

test('pipelined requests in one buffer: the parser stops exactly at each head end', () => {
  const expected = [['GET', '/one', 'a'], ['POST', '/two', 'a'], ['GET', '/three?x', 'b']]
  const input = latin1(PIPELINE)
  for (const cuts of splits(input.length, 30, 3)) {
    assert.deepEqual(parsePipeline(pieces(input, cuts)), expected, `cuts ${cuts.join(',')}`)
  }
})

test('execute(buf, start) with start > 0 parses from there and returns offsets in buf', () => {
  const buf = latin1('garbage' + 'GET /x HTTP/1.1\r\nHost: h\r\n\r\n' + 'tail')
  const p = new RequestHeadParser()
  assert.equal(p.execute(buf, 7), buf.length - 4)
  assert.equal(p.head?.target, '/x')
})

test('one parser serves many heads after reset(), and a head stays valid after reset()', () => {
  const p = new RequestHeadParser()
  const heads = []
  for (let i = 0; i < 200; i++) {
    const s = latin1(`GET /r${i} HTTP/1.1\r\nHost: h${i}\r\nX-N: ${i}\r\n\r\n`)
    const cut = i % s.length
    if (cut > 0) assert.equal(p.execute(s.subarray(0, cut), 0), NEED_MORE)
    assert.equal(p.execute(s.subarray(cut), 0), s.length - cut)
    heads.push(p.head!)
    p.reset()
  }
  heads.forEach((h, i) => {
    assert.equal(h.target, `/r${i}`)
    assert.equal(h.host, `h${i}`)
    assert.deepEqual(h.headers, ['Host', `h${i}`, 'X-N', String(i)])
  })
  // reset() in the middle of a head discards it
  assert.equal(p.execute(latin1('GET /half HTTP/1.1\r\nHo'), 0), NEED_MORE)
  assert.equal(p.inProgress, true)
  p.reset()
  assert.equal(p.inProgress, false)
  const next = latin1('GET /new HTTP/1.1\r\nHost: n\r\n\r\n')
  assert.equal(p.execute(next, 0), next.length)
  assert.equal(p.head?.target, '/new')
})

test('header access by name and index without building the array', () => {
  const p = new RequestHeadParser()
  p.execute(latin1('GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: curl/8\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n'), 0)
  const h = p.head!
  assert.equal(h.headerCount, 4)
  assert.equal(h.get('user-agent'), 'curl/8')
  assert.equal(h.get('accept'), null)
  assert.equal(h.indexOf('x-dup'), 2)
  assert.equal(h.indexOf('x-dup', 3), 3)
  assert.equal(h.name(1), 'User-Agent')
  assert.equal(h.value(3), '2')
  assert.equal(h.raw.slice(h.offsets[4], h.offsets[7]), 'User-Agent: curl/8')
})

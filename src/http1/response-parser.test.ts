import assert from 'node:assert/strict'
import test from 'node:test'
import { NEED_MORE, PARSE_ERROR } from './head.js'
import {
  BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BODY_UNTIL_CLOSE, ResponseHeadParser, bodyKind, type ResponseLimits,
} from './response-parser.js'
import { feedResponse, latin1, splits, type Outcome } from './testing.js'

function parseAllWays(input: Buffer, limits: Partial<ResponseLimits> = {}): Outcome {
  const whole = feedResponse(input, [], limits)
  for (const cuts of splits(input.length, 20, 2)) {
    assert.deepEqual(feedResponse(input, cuts, limits), whole, `split at ${cuts.join(',')}`)
  }
  return whole
}

const BODY = 'body bytes'

const valid: Array<{ name: string; head: string; expect: Record<string, unknown> }> = [
  {
    name: 'plain 200',
    head: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n',
    expect: {
      status: 200, reason: 'OK', versionMinor: 1, headers: ['Content-Length', '10'], contentLength: 10, chunked: false,
      connectionClose: false, keepAlive: true, upgrade: null, lengthAndChunked: false,
    },
  },
  { name: 'HTTP/1.0: no keepalive by default', head: 'HTTP/1.0 200 OK\r\n\r\n', expect: { versionMinor: 0, keepAlive: false, contentLength: -1 } },
  { name: 'HTTP/1.0 keep-alive', head: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n', expect: { keepAlive: true } },
  { name: 'HTTP/1.1 close', head: 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n', expect: { keepAlive: false, connectionClose: true } },
  { name: 'HTTP/1.9 counts as 1.1', head: 'HTTP/1.9 200 OK\r\n\r\n', expect: { versionMinor: 1 } },
  { name: 'no reason phrase', head: 'HTTP/1.1 204\r\n\r\n', expect: { status: 204, reason: '' } },
  { name: 'empty reason phrase', head: 'HTTP/1.1 200 \r\n\r\n', expect: { reason: '' } },
  { name: 'several spaces before the code', head: 'HTTP/1.1   404 Not Found\r\n\r\n', expect: { status: 404, reason: 'Not Found' } },
  { name: 'IIS sub-status', head: 'HTTP/1.1 403.1 Forbidden\r\n\r\n', expect: { status: 403, reason: '.1 Forbidden' } },
  { name: 'reason with obs-text and trailing space', head: 'HTTP/1.1 200 D\xe9j\xe0 vu  \r\n\r\n', expect: { reason: 'D\xe9j\xe0 vu' } },
  { name: 'status 999', head: 'HTTP/1.1 999 Odd\r\n\r\n', expect: { status: 999 } },
  {
    name: 'bare LF line endings (nginx accepts them from backends)',
    head: 'HTTP/1.1 200 OK\nContent-Length: 10\nX-A: b \n\n',
    expect: { contentLength: 10, headers: ['Content-Length', '10', 'X-A', 'b'] },
  },
  { name: 'mixed line endings', head: 'HTTP/1.1 200 OK\r\nA: 1\nB: 2\r\n\n', expect: { headers: ['A', '1', 'B', '2'] } },
  { name: 'odd header-name bytes are relayed', head: 'HTTP/1.1 200 OK\r\nX@Y[1]: v\r\n\r\n', expect: { headers: ['X@Y[1]', 'v'] } },
  { name: 'CTL in a value is relayed', head: 'HTTP/1.1 200 OK\r\nX: a\x01b\x7f\r\n\r\n', expect: { headers: ['X', 'a\x01b\x7f'] } },
  { name: 'chunked', head: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n', expect: { chunked: true, contentLength: -1, keepAlive: true } },
  {
    name: 'Content-Length and chunked: chunked, and the connection is not reused',
    head: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n',
    expect: { chunked: true, contentLength: -1, keepAlive: false, lengthAndChunked: true },
  },
  {
    name: '101 with Upgrade',
    head: 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    expect: { status: 101, upgrade: 'websocket' },
  },
  { name: 'Upgrade without Connection: upgrade', head: 'HTTP/1.1 200 OK\r\nUpgrade: h2c\r\n\r\n', expect: { upgrade: null } },
  { name: '100 Continue interim head', head: 'HTTP/1.1 100 Continue\r\n\r\n', expect: { status: 100, reason: 'Continue', headers: [] } },
]

test('valid response heads parse the same fed whole, byte by byte and split at random', () => {
  for (const c of valid) {
    const o = parseAllWays(latin1(c.head + BODY))
    assert.equal(o.result, 'head', `${c.name}: ${JSON.stringify(o)}`)
    assert.equal(o.offset, latin1(c.head).length, `${c.name}: body offset`)
    const head = o.head as Record<string, unknown>
    for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(head[k], v, `${c.name}: ${k}`)
    assert.equal(head.headBytes, latin1(c.head).length)
  }
})

const rejects: Array<{ name: string; head: string; kind: string }> = [
  ...['HTTP/2 200 OK', 'HTTP/2.0 200 OK', 'HTTP/0.9 200 OK', 'HTTP/1.1 20 OK', 'HTTP/1.1 2000 OK', 'HTTP/1.1 abc OK',
    'HTTP/1.1 099 Low', 'ICY 200 OK', 'http/1.1 200 OK', 'HTTP/1.1200 OK', 'HTTP/1.1 200xOK', '\r\nHTTP/1.1 200 OK',
    'HTTP/1.1 200 O\x00K'].map((l) => ({ name: `status line "${l}"`, head: `${l}\r\n\r\n`, kind: 'invalid-status-line' })),
  { name: 'obs-fold', head: 'HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n', kind: 'obs-fold' },
  { name: 'whitespace before the colon', head: 'HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n', kind: 'space-before-colon' },
  { name: 'line without a colon', head: 'HTTP/1.1 200 OK\r\nNoColon\r\n\r\n', kind: 'invalid-header-name' },
  { name: 'empty name', head: 'HTTP/1.1 200 OK\r\n: v\r\n\r\n', kind: 'invalid-header-name' },
  { name: 'NUL in a value', head: 'HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n', kind: 'invalid-header-value' },
  { name: 'bare CR in a value', head: 'HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n', kind: 'bare-cr' },
  { name: 'bare CR ending the status line', head: 'HTTP/1.1 200 OK\rX\r\n\r\n', kind: 'bare-cr' },
  { name: 'Content-Length twice', head: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n', kind: 'duplicate-content-length' },
  ...['', 'x', '-1', '5 5', '5,5', '99999999999999999999'].map((v) => ({
    name: `Content-Length "${v}"`, head: `HTTP/1.1 200 OK\r\nContent-Length: ${v}\r\n\r\n`, kind: 'invalid-content-length',
  })),
  { name: 'Transfer-Encoding twice', head: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', kind: 'duplicate-transfer-encoding' },
  ...['gzip', 'gzip, chunked', 'chunked, gzip', '', 'identity'].map((v) => ({
    name: `Transfer-Encoding "${v}"`, head: `HTTP/1.1 200 OK\r\nTransfer-Encoding: ${v}\r\n\r\n`, kind: 'unknown-transfer-encoding',
  })),
]

test('invalid backend heads are 502 whichever way the bytes are split', () => {
  for (const c of rejects) {
    const o = parseAllWays(latin1(c.head + BODY))
    assert.equal(o.result, 'error', `${c.name}: ${JSON.stringify(o)}`)
    assert.deepEqual([o.kind, o.status, o.code], [c.kind, 502, 'E_UPSTREAM'], c.name)
  }
})

test('head size: exactly maxHeadBytes passes, one byte more is 502 too big', () => {
  const head = (n: number): string => {
    const start = 'HTTP/1.1 200 OK\r\n'
    return start + `X: ${'v'.repeat(n - start.length - 7)}\r\n\r\n`
  }
  assert.equal(head(4096).length, 4096)
  const ok = parseAllWays(latin1(head(4096) + BODY))
  assert.equal(ok.result, 'head')
  const over = parseAllWays(latin1(head(4097)))
  assert.deepEqual([over.kind, over.status], ['head-too-large', 502])
  const endless = parseAllWays(latin1(`HTTP/1.1 200 OK\r\nX: ${'v'.repeat(5000)}`))
  assert.deepEqual([endless.kind, endless.status], ['head-too-large', 502])
  const bigger = parseAllWays(latin1(head(4097)), { maxHeadBytes: 8192 })
  assert.equal(bigger.result, 'head')
  const few = parseAllWays(latin1('HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n'), { maxHeaders: 2 })
  assert.deepEqual([few.kind, few.status], ['too-many-headers', 502])
})

test('incomplete heads need more', () => {
  for (const s of ['', 'H', 'HTTP/1.1', 'HTTP/1.1 200', 'HTTP/1.1 200 OK\r', 'HTTP/1.1 200 OK\r\nA: b', 'HTTP/1.1 200 OK\r\n\r', 'HTTP/1.1 200 OK\n']) {
    assert.deepEqual(parseAllWays(latin1(s)), { result: 'more' }, JSON.stringify(s))
  }
})

// The framing table of RFC 9112 §6.3 as the proxy needs it.
const framing: Array<[string, number, number, boolean, number]> = [
  // method, status, contentLength, chunked, expected
  ['HEAD', 200, 10, false, BODY_NONE],
  ['HEAD', 200, -1, true, BODY_NONE],
  ['GET', 100, -1, false, BODY_NONE],
  ['GET', 101, -1, false, BODY_NONE],
  ['GET', 103, 5, false, BODY_NONE],
  ['GET', 204, 10, false, BODY_NONE],
  ['GET', 204, -1, true, BODY_NONE],
  ['GET', 304, 10, false, BODY_NONE],
  ['GET', 200, -1, true, BODY_CHUNKED],
  ['POST', 500, -1, true, BODY_CHUNKED],
  ['GET', 200, 10, false, BODY_LENGTH],
  ['GET', 200, 0, false, BODY_LENGTH],
  ['GET', 205, 0, false, BODY_LENGTH],
  ['GET', 404, 15, false, BODY_LENGTH],
  ['GET', 200, -1, false, BODY_UNTIL_CLOSE],
  ['DELETE', 302, -1, false, BODY_UNTIL_CLOSE],
]

test('bodyKind: none for HEAD, 1xx, 204, 304; then chunked, length, until close', () => {
  for (const [method, status, cl, chunked, kind] of framing) {
    assert.equal(bodyKind(method, status, cl, chunked), kind, `${method} ${status} cl=${cl} chunked=${chunked}`)
  }
})

test('head.bodyKind() and reusable() follow the head', () => {
  const parse = (s: string) => {
    const p = new ResponseHeadParser()
    assert.ok(p.execute(latin1(s), 0) >= 0, p.error?.message)
    return p.head!
  }
  const len = parse('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n')
  assert.equal(len.bodyKind('GET'), BODY_LENGTH)
  assert.equal(len.bodyKind('HEAD'), BODY_NONE)
  assert.equal(len.reusable('GET'), true)
  const close = parse('HTTP/1.1 200 OK\r\n\r\n')
  assert.equal(close.bodyKind('GET'), BODY_UNTIL_CLOSE)
  assert.equal(close.reusable('GET'), false)
  assert.equal(close.reusable('HEAD'), true)
  const both = parse('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n')
  assert.equal(both.bodyKind('GET'), BODY_CHUNKED)
  assert.equal(both.reusable('GET'), false)
  const up = parse('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n')
  assert.equal(up.reusable('GET'), false)
  assert.equal(up.get('upgrade'), 'websocket')
})

test('an interim 100 head, then the final head, from one chunk', () => {
  const input = latin1('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n')
  const p = new ResponseHeadParser()
  const r1 = p.execute(input, 0)
  assert.equal(p.head?.status, 100)
  p.reset()
  const r2 = p.execute(input, r1)
  assert.equal(r2, input.length)
  assert.equal(p.head?.status, 201)
  assert.equal(p.head?.reason, 'Created')
})

test('parser protocol: reset required, errors are final', () => {
  const p = new ResponseHeadParser()
  assert.equal(p.execute(latin1('HTTP/1.1 200 OK\r\n'), 0), NEED_MORE)
  assert.equal(p.execute(latin1('\r\n'), 0), 2)
  assert.throws(() => p.execute(latin1('x'), 0), /reset/)
  p.reset()
  assert.equal(p.execute(latin1('HTTP/1.1 2x'), 0), NEED_MORE)
  assert.equal(p.execute(latin1('\r\n'), 0), PARSE_ERROR)
  assert.equal(p.error?.title, 'Bad Gateway')
  assert.throws(() => new ResponseHeadParser({ maxHeadBytes: 0 }), RangeError)
})

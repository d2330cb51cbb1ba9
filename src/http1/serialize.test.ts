import assert from 'node:assert/strict'
import test from 'node:test'
import { RequestHeadParser } from './request-parser.js'
import { ResponseHeadParser } from './response-parser.js'
import {
  STATUS_TEXT, formatHeaders, formatRequestHead, formatResponseHead, headBuffer, httpDate, isFieldValue, isToken,
  statusLine, wireStatus,
} from './serialize.js'

// What nginx's ngx_http_status_lines and error pages say, spelling included.
const NGINX: Array<[number, string]> = [
  [200, 'OK'], [201, 'Created'], [202, 'Accepted'], [204, 'No Content'], [206, 'Partial Content'],
  [301, 'Moved Permanently'], [302, 'Moved Temporarily'], [303, 'See Other'], [304, 'Not Modified'],
  [307, 'Temporary Redirect'], [308, 'Permanent Redirect'],
  [400, 'Bad Request'], [401, 'Unauthorized'], [402, 'Payment Required'], [403, 'Forbidden'], [404, 'Not Found'],
  [405, 'Not Allowed'], [406, 'Not Acceptable'], [408, 'Request Time-out'], [409, 'Conflict'], [410, 'Gone'],
  [411, 'Length Required'], [412, 'Precondition Failed'], [413, 'Request Entity Too Large'],
  [414, 'Request-URI Too Large'], [415, 'Unsupported Media Type'], [416, 'Requested Range Not Satisfiable'],
  [421, 'Misdirected Request'], [429, 'Too Many Requests'],
  [500, 'Internal Server Error'], [501, 'Not Implemented'], [502, 'Bad Gateway'],
  [503, 'Service Temporarily Unavailable'], [504, 'Gateway Time-out'], [505, 'HTTP Version Not Supported'],
  [507, 'Insufficient Storage'],
]

test('status lines are nginx\'s, byte for byte', () => {
  for (const [code, text] of NGINX) {
    assert.equal(STATUS_TEXT[code], text)
    assert.equal(statusLine(code), `HTTP/1.1 ${code} ${text}\r\n`)
  }
  assert.equal(statusLine(100), 'HTTP/1.1 100 Continue\r\n')
  assert.equal(statusLine(101), 'HTTP/1.1 101 Switching Protocols\r\n')
  // Codes nginx has no text for: the code and a space, as nginx's "%03ui ".
  for (const code of [203, 207, 300, 418, 422, 426, 451, 506, 599, 600, 999]) assert.equal(statusLine(code), `HTTP/1.1 ${code} \r\n`)
  assert.equal(STATUS_TEXT[494], 'Request Header Or Cookie Too Large')
  assert.equal(STATUS_TEXT[499], 'Client Closed Request')
  for (const code of [494, 495, 496, 497]) {
    assert.equal(wireStatus(code), 400)
    assert.equal(statusLine(code), 'HTTP/1.1 400 Bad Request\r\n')
  }
  assert.equal(wireStatus(499), 499)
  assert.equal(statusLine(200, 'Fine'), 'HTTP/1.1 200 Fine\r\n')
  assert.equal(statusLine(200, ''), 'HTTP/1.1 200 \r\n')
})

test('heads from flat header arrays', () => {
  assert.equal(formatHeaders([]), '')
  assert.equal(formatHeaders(['A', '1', 'b-B', '']), 'A: 1\r\nb-B: \r\n')
  assert.equal(
    formatResponseHead(404, ['Server', 'dyups', 'Content-Length', '0']),
    'HTTP/1.1 404 Not Found\r\nServer: dyups\r\nContent-Length: 0\r\n\r\n',
  )
  assert.equal(formatResponseHead(200, [], 'Custom'), 'HTTP/1.1 200 Custom\r\n\r\n')
  assert.equal(formatRequestHead('GET', '/x?y', ['Host', 'up']), 'GET /x?y HTTP/1.1\r\nHost: up\r\n\r\n')
  assert.equal(formatRequestHead('POST', '/', [], 0), 'POST / HTTP/1.0\r\n\r\n')
  assert.deepEqual([...headBuffer('\xff\xe9a')], [0xff, 0xe9, 0x61])
})

test('what the writer writes, the parsers read back unchanged', () => {
  const headers = ['Host', 'backend', 'X-Bytes', 'caf\xe9 \xff', 'Cookie', 'a=1; b=2', 'Content-Length', '0']
  const req = new RequestHeadParser()
  const wire = headBuffer(formatRequestHead('PUT', '/p%20q?r=s', headers))
  assert.equal(req.execute(wire, 0), wire.length)
  assert.deepEqual(req.head?.headers, headers)
  assert.equal(req.head?.target, '/p%20q?r=s')
  const res = new ResponseHeadParser()
  const out = headBuffer(formatResponseHead(504, headers.slice(2)))
  assert.equal(res.execute(out, 0), out.length)
  assert.equal(res.head?.reason, 'Gateway Time-out')
  assert.deepEqual(res.head?.headers, headers.slice(2))
})

test('isToken and isFieldValue guard configured names and values', () => {
  for (const s of ['Host', 'X-A', "!#$%&'*+-.^_`|~", 'a1']) assert.equal(isToken(s), true, s)
  for (const s of ['', 'a b', 'a:b', 'a\r', '\xe9', 'a\u0100', '(x)']) assert.equal(isToken(s), false, JSON.stringify(s))
  for (const s of ['', 'v', 'a b\tc', '\xe9\xff', ' lead', '"q"']) assert.equal(isFieldValue(s), true, JSON.stringify(s))
  for (const s of ['a\r\nX: y', 'a\nb', 'a\rb', 'a\x00', 'a\x7f', '\u0100']) assert.equal(isFieldValue(s), false, JSON.stringify(s))
})

test('httpDate is the IMF-fixdate, one string per second', () => {
  assert.equal(httpDate(784111777000), 'Sun, 06 Nov 1994 08:49:37 GMT')
  assert.equal(httpDate(784111777999), 'Sun, 06 Nov 1994 08:49:37 GMT')
  assert.equal(httpDate(784111778000), 'Sun, 06 Nov 1994 08:49:38 GMT')
  assert.match(httpDate(), /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/)
})

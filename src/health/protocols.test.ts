import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { CheckSpec } from '../upstream/index.js'
import {
  AGAIN, DOWN, UP, clientHello, fastcgiRequest, parseAjp, parseAnswer, parseFastcgi, parseHttp, parseMysql,
  parseSslHello, parseStatusLine, requestOf, statusClass,
} from './protocols.js'

test('status line: what Tengine accepts and refuses', () => {
  const cases: [string, number][] = [
    ['HTTP/1.1 200 OK\r\n', 200],
    ['HTTP/1.0 404 Not Found\r\n', 404],
    ['HTTP/1.1 204\r\n', 204],
    ['HTTP/1.1 301\n', 301],
    ['HTTP/1.1   500 x\r\n', 500],
    ['HTTP/1.1 403.1 Forbidden\r\n', 403],
    ['HTTP/2.0 200 OK\r\n', 200],
    ['HTTP/1.1 200 OK', -1],
    ['HTT', -1],
    ['', -1],
    ['HTTX/1.1 200 OK\r\n', -2],
    ['http/1.1 200 OK\r\n', -2],
    ['SSH-2.0-OpenSSH\r\n', -2],
    ['HTTP/0.9 200 OK\r\n', -2],
    ['HTTP/1.1 2000 OK\r\n', -2],
    ['HTTP/1.1 20 OK\r\n', -2],
    ['HTTP/1.1 200OK\r\n', -2],
    ['HTTP/1.1 200 O\rK\r\n', -2],
  ]
  for (const [line, want] of cases) assert.equal(parseStatusLine(line), want, JSON.stringify(line))
})

test('http: the status class decides', () => {
  const alive = ['http_2xx', 'http_3xx'] as const
  const cases: [string, number][] = [
    ['HTTP/1.1 200 OK\r\n\r\n', UP],
    ['HTTP/1.1 302 Found\r\n', UP],
    ['HTTP/1.1 500 Internal Server Error\r\n', DOWN],
    ['HTTP/1.1 404 Not Found\r\n', DOWN],
    ['HTTP/1.1 101 Switching\r\n', DOWN],
    ['HTTP/1.1 600 odd\r\n', DOWN],
    ['HTTP/1.1 200 O', AGAIN],
    ['garbage\r\n', DOWN],
  ]
  for (const [buf, want] of cases) assert.equal(parseHttp(buf, alive).verdict, want, buf)
  assert.equal(parseHttp('HTTP/1.1 500 x\r\n', ['http_5xx']).verdict, UP)
  assert.equal(parseHttp('HTTP/1.1 200 x\r\n', []).verdict, DOWN)
  assert.equal(parseHttp('HTTP/1.1 500 x\r\n', alive).reason, 'http status 500')
  assert.deepEqual([statusClass(100), statusClass(199), statusClass(250), statusClass(599), statusClass(600), statusClass(0)],
    ['http_1xx', 'http_1xx', 'http_2xx', 'http_5xx', null, null])
})

test('ssl_hello: a well-formed TLS 1.2 ClientHello; any TLS record answer is alive', () => {
  const h = clientHello()
  assert.equal(h[0], 0x16)
  assert.equal(h.readUInt16BE(3), h.length - 5) // record length
  assert.equal(h[5], 0x01) // ClientHello
  assert.equal((h[6]! << 16) | h.readUInt16BE(7), h.length - 9) // handshake length
  assert.deepEqual([h[9], h[10]], [3, 3])
  assert.notDeepEqual(clientHello().subarray(11, 43), h.subarray(11, 43)) // fresh random
  assert.equal(parseSslHello('\x16\x03\x03\x00\x4a\x02').verdict, UP)
  assert.equal(parseSslHello('\x15\x03\x03\x00\x02\x02\x28').verdict, UP)
  assert.equal(parseSslHello('\x16\x03').verdict, AGAIN)
  assert.equal(parseSslHello('HTTP/1.1 400 Bad Request\r\n').verdict, DOWN)
})

test('mysql greeting and ajp CPONG', () => {
  assert.equal(parseMysql('\x4a\x00\x00\x00\x0a5.7').verdict, UP)
  assert.equal(parseMysql('\x4a\x00\x00\x01\x0a').verdict, DOWN)
  assert.equal(parseMysql('\x4a\x00').verdict, AGAIN)
  assert.equal(parseAjp('AB\x00\x01\x09').verdict, UP)
  assert.equal(parseAjp('AB\x00\x01\x08').verdict, DOWN)
  assert.equal(parseAjp('AB').verdict, AGAIN)
})

test('fastcgi: request records and the Status header', () => {
  const req = fastcgiRequest([['SCRIPT_FILENAME', '/status'], ['REQUEST_METHOD', 'GET']])
  // BEGIN_REQUEST (8 + 8), PARAMS with the pairs, empty PARAMS, empty STDIN
  assert.deepEqual([...req.subarray(0, 8)], [1, 1, 0, 1, 0, 8, 0, 0])
  const types: number[] = []
  for (let i = 0; i < req.length;) {
    types.push(req[i + 1]!)
    i += 8 + req.readUInt16BE(i + 4) + req[i + 6]!
  }
  assert.deepEqual(types, [1, 4, 4, 5])
  assert.ok(req.toString('latin1').includes('\x0f\x07SCRIPT_FILENAME/status'))

  const rec = (type: number, data: string): string =>
    String.fromCharCode(1, type, 0, 1, data.length >> 8, data.length & 255, 0, 0) + data
  const alive = ['http_2xx', 'http_3xx'] as const
  assert.equal(parseFastcgi(rec(6, 'Content-Type: text/plain\r\n\r\nok'), alive).verdict, UP)
  assert.equal(parseFastcgi(rec(6, 'Status: 503 Busy\r\n\r\n'), alive).verdict, DOWN)
  assert.equal(parseFastcgi(rec(6, 'Status: 302\r\nLocation: /\r\n\r\n'), alive).verdict, UP)
  assert.equal(parseFastcgi(rec(6, 'Status: 503\r\n\r\n'), []).verdict, UP)
  assert.equal(parseFastcgi(rec(7, 'oops'), alive).verdict, DOWN)
  assert.equal(parseFastcgi(rec(6, ''), alive).verdict, DOWN)
  assert.equal(parseFastcgi(rec(6, 'Status: 200').slice(0, 12), alive).verdict, AGAIN)
})

test('requests per type, and the answer size limit', () => {
  const spec = (type: CheckSpec['type'], send = ''): CheckSpec => ({
    type, interval: 1000, timeout: 1000, rise: 1, fall: 1, defaultDown: false, unique: false, port: 0, send,
    expectAlive: ['http_2xx'], keepaliveRequests: 1, fastcgiParams: [],
  })
  assert.equal(requestOf(spec('tcp')), null)
  assert.equal(requestOf(spec('mysql')), null)
  assert.equal(requestOf(spec('http', 'HEAD / HTTP/1.0\r\n\r\n'))!.toString('latin1'), 'HEAD / HTTP/1.0\r\n\r\n')
  assert.deepEqual([...requestOf(spec('ajp'))!], [0x12, 0x34, 0, 1, 0x0a])
  assert.equal(requestOf(spec('ssl_hello'))![0], 0x16)
  assert.equal(parseAnswer(spec('http'), 'HTTP/1.1 200 OK\r\n').verdict, UP)
  assert.equal(parseAnswer(spec('mysql'), 'x'.repeat(20_000)).verdict, DOWN)
})

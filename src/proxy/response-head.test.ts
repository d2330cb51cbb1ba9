import assert from 'node:assert/strict'
import test from 'node:test'
import { ResponseHeadParser, type ResponseHead } from '../http1/index.js'
import { buildClientHead, defaultHide, type ClientHeadOptions } from './response-head.js'

function parse(head: string): ResponseHead {
  const p = new ResponseHeadParser()
  const r = p.execute(Buffer.from(head, 'latin1'))
  assert.ok(r > 0, `parsed ${JSON.stringify(head)}`)
  return p.head!
}

const BASE: ClientHeadOptions = { server: 'dyups', date: 'DATE', chunked: false, keepAlive: true, hide: defaultHide, extra: '' }

/** The head's lines after Connection (the backend's own, in order). */
function copied(backendHead: string, o: Partial<ClientHeadOptions> = {}): string[] {
  const h = buildClientHead(parse(backendHead), { ...BASE, ...o })
  const lines = h.split('\r\n')
  return lines.slice(lines.findIndex((l) => l.startsWith('Connection:')) + 1, -2)
}

test('lines are copied in order, name case kept, whatever their spacing', () => {
  const head = 'HTTP/1.1 200 OK\r\nServer: x\r\nX-A: 1\r\nx-b: 2\r\nDate: d\r\nX-C:3\r\nX-D:   4  \r\nX-E: \r\nX-F: 6\r\nX-G: 7\nConnection: keep-alive\r\nX-H: 8\r\nX-I: 9\r\n\r\n'
  assert.deepEqual(copied(head), ['X-A: 1', 'x-b: 2', 'X-C: 3', 'X-D: 4', 'X-E: ', 'X-F: 6', 'X-G: 7', 'X-H: 8', 'X-I: 9'])
})

test('hidden and hop-by-hop names are matched whatever their case; Content-Type and -Length move up', () => {
  const head = 'HTTP/1.1 200 OK\r\nX-PAD: p\r\ncontent-TYPE: text/plain\r\nKEEP-ALIVE: t=1\r\nX-Accel-Buffering: no\r\nX-Pads: kept\r\nCONTENT-LENGTH: 3\r\n\r\n'
  const h = buildClientHead(parse(head), BASE)
  assert.equal(h, 'HTTP/1.1 200 OK\r\nServer: dyups\r\nDate: DATE\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n' +
    'Connection: keep-alive\r\nX-Pads: kept\r\n\r\n')
  assert.deepEqual(copied(head, { hide: new Set([...defaultHide, 'x-pads']) }), [])
})

test('filters rewrite their lines in place, the others run on', () => {
  const head = 'HTTP/1.1 200 OK\r\nX-A: 1\r\nETag: "e"\r\nAccept-Ranges: bytes\r\nX-B: 2\r\nexpires: old\r\nCache-Control: a\r\nCache-Control: b\r\nX-C: 3\r\n\r\n'
  assert.deepEqual(copied(head), ['X-A: 1', 'ETag: "e"', 'Accept-Ranges: bytes', 'X-B: 2', 'expires: old', 'Cache-Control: a', 'Cache-Control: b', 'X-C: 3'])
  assert.deepEqual(copied(head, { gzip: true }).slice(0, -1), ['X-A: 1', 'ETag: W/"e"', 'X-B: 2', 'expires: old', 'Cache-Control: a', 'Cache-Control: b', 'X-C: 3'])
  assert.deepEqual(copied(head, { expires: { expires: 'E', cacheControl: 'max-age=1' } }),
    ['X-A: 1', 'ETag: "e"', 'Accept-Ranges: bytes', 'X-B: 2', 'expires: E', 'Cache-Control: max-age=1', 'X-C: 3'])
})

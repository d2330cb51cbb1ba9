import assert from 'node:assert/strict'
import test from 'node:test'
import { RequestHeadParser, type RequestHead } from '../http1/index.js'
import { buildRequestHead, CHUNKED_BODY, HeaderPlan } from './request-head.js'

function parse(head: string): RequestHead {
  const p = new RequestHeadParser()
  const r = p.execute(Buffer.from(head, 'latin1'))
  assert.ok(r > 0, `parsed ${JSON.stringify(head)}`)
  return p.head!
}

const PLAN = new HeaderPlan(['Host', 'Connection', 'X-Set'])

test('the client headers go on in order after the set ones, whatever their spacing; set and hop-by-hop ones do not', () => {
  const client = parse('GET /a?b HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-b: 2\r\nCONNECTION: keep-alive\r\nX-C:3\r\nX-D:  4 \t\r\n' +
    'X-E: \r\nX-F: 6\r\nx-set: dropped\r\nTE: trailers\r\nX-G: 7\r\nX-H: \xe9\r\n\r\n')
  assert.equal(buildRequestHead('GET', '/a?b', '1.1', PLAN, ['up', '', 'v'], client, -1),
    'GET /a?b HTTP/1.1\r\nHost: up\r\nX-Set: v\r\nX-A: 1\r\nx-b: 2\r\nX-C: 3\r\nX-D: 4\r\nX-E: \r\nX-F: 6\r\nX-G: 7\r\nX-H: \xe9\r\n\r\n')
})

test('the body length or chunked framing follows the set headers', () => {
  const client = parse('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX-A: 1\r\n\r\n')
  assert.equal(buildRequestHead('POST', '/', '1.0', PLAN, ['up', 'close', ''], client, 3),
    'POST / HTTP/1.0\r\nHost: up\r\nConnection: close\r\nContent-Length: 3\r\nX-A: 1\r\n\r\n')
  assert.equal(buildRequestHead('POST', '/', '1.1', PLAN, ['up', '', ''], client, CHUNKED_BODY),
    'POST / HTTP/1.1\r\nHost: up\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n')
})

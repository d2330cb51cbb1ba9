import assert from 'node:assert/strict'
import { connect, createServer, type Socket } from 'node:net'
import test from 'node:test'
import { ChunkedScanner } from './chunked.js'
import { NEED_MORE, PARSE_ERROR } from './head.js'
import { RequestHeadParser } from './request-parser.js'
import { BODY_LENGTH, ResponseHeadParser } from './response-parser.js'
import { formatResponseHead } from './serialize.js'
import { latin1, prng } from './testing.js'

/**
 * A tiny server on the codec alone: heads parsed across TCP reads, Content-Length and chunked bodies skipped, one
 * answer per request carrying "METHOD target bodyBytes", closing after a request that asks for it.
 */
function serve(sock: Socket): void {
  const parser = new RequestHeadParser()
  const chunked = new ChunkedScanner()
  let state: 'head' | 'length' | 'chunked' = 'head'
  let left = 0
  let answer = ''
  let close = false
  const respond = (): void => {
    const body = answer
    sock.write(formatResponseHead(200, ['Content-Length', String(body.length)]) + body, 'latin1')
    if (close) sock.end()
    state = 'head'
    parser.reset()
  }
  sock.on('data', (chunk: Buffer) => {
    let at = 0
    while (at < chunk.length && !close) {
      if (state === 'length') {
        const n = Math.min(left, chunk.length - at)
        left -= n
        at += n
        if (left === 0) respond()
        continue
      }
      if (state === 'chunked') {
        const r = chunked.execute(chunk, at)
        assert.notEqual(r, PARSE_ERROR)
        if (r === NEED_MORE) return
        answer += ` ${chunked.dataBytes}`
        at = r
        respond()
        continue
      }
      const r = parser.execute(chunk, at)
      if (r === NEED_MORE) return
      if (r === PARSE_ERROR) {
        sock.end(formatResponseHead(parser.error!.status, ['Connection', 'close']), 'latin1')
        close = true
        return
      }
      const h = parser.head!
      at = r
      answer = `${h.method} ${h.target}`
      close = !h.keepAlive
      if (h.chunked) {
        state = 'chunked'
        chunked.reset()
      } else if (h.contentLength > 0) {
        state = 'length'
        left = h.contentLength
        answer += ` ${h.contentLength}`
      } else respond()
    }
  })
}

/** Reads every response off the socket until it closes; returns their bodies. */
function readResponses(sock: Socket): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const parser = new ResponseHeadParser()
    const bodies: string[] = []
    let body: Buffer[] = []
    let left = -1
    sock.on('data', (chunk: Buffer) => {
      let at = 0
      while (at < chunk.length) {
        if (left < 0) {
          const r = parser.execute(chunk, at)
          if (r === NEED_MORE) return
          if (r === PARSE_ERROR) return reject(parser.error)
          const h = parser.head!
          assert.equal(h.bodyKind('GET'), BODY_LENGTH)
          left = h.contentLength
          at = r
        }
        const n = Math.min(left, chunk.length - at)
        body.push(chunk.subarray(at, at + n))
        left -= n
        at += n
        if (left === 0) {
          bodies.push(Buffer.concat(body).toString('latin1'))
          body = []
          left = -1
          parser.reset()
        }
      }
    })
    sock.on('end', () => resolve(bodies))
    sock.on('error', reject)
  })
}

const STREAM =
  'GET /a HTTP/1.1\r\nHost: h\r\n\r\n' +
  'POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world' +
  'PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n!\r\n0\r\nT: 1\r\n\r\n' +
  '\r\n' +
  'GET /d?q=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\n\r\n' +
  'DELETE /e HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n' +
  'GET /never HTTP/1.1\r\nHost: h\r\n\r\n'

const EXPECTED = ['GET /a', 'POST /b 11', 'PUT /c 6', 'GET /d?q=1', 'DELETE /e']

test('a pipelined request stream over a real socket, written in seeded random pieces', async (t) => {
  const server = createServer(serve)
  t.after(() => server.close())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const input = latin1(STREAM)
  const rnd = prng(42)
  for (let round = 0; round < 4; round++) {
    const sock = connect(port, '127.0.0.1')
    t.after(() => sock.destroy())
    sock.setNoDelay(true)
    const answers = readResponses(sock)
    await new Promise<void>((resolve) => sock.once('connect', resolve))
    // round 0: one write; then pieces of 1..40 bytes, each its own write on its own tick
    let at = 0
    while (at < input.length) {
      const n = round === 0 ? input.length : 1 + Math.floor(rnd() * 40)
      sock.write(input.subarray(at, at + n))
      at += n
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.deepEqual(await answers, EXPECTED, `round ${round}`)
  }
})

test('a malformed request on the socket is answered with its status and the connection closes', async (t) => {
  const server = createServer(serve)
  t.after(() => server.close())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const sock = connect(port, '127.0.0.1')
  t.after(() => sock.destroy())
  const chunks: Buffer[] = []
  sock.on('data', (c: Buffer) => chunks.push(c))
  const ended = new Promise((resolve) => sock.on('end', resolve))
  sock.write('GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n')
  await ended
  const p = new ResponseHeadParser()
  const all = Buffer.concat(chunks)
  // One head and nothing after it: neither the body nor the smuggled request got an answer.
  assert.equal(p.execute(all, 0), all.length)
  assert.equal(p.head?.status, 400)
  assert.equal(p.head?.get('connection'), 'close')
})

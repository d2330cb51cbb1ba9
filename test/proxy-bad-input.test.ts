/**
 * Bad input on the wire (docs/design.md, nginx's answers): every rejected request gets
 * nginx's status and page and its connection closed, and the server goes on answering new connections. Bodies
 * over `client_max_body_size` get 413, also when the client writes the whole body before reading.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { errorPage, exchange, parseResponse, request, startWithBack } from './helpers.js'

const HEAD_TOO_LARGE = (server: string): string =>
  '<html>\r\n<head><title>400 Request Header Or Cookie Too Large</title></head>\r\n<body>\r\n' +
  '<center><h1>400 Bad Request</h1></center>\r\n<center>Request Header Or Cookie Too Large</center>\r\n' +
  `<hr><center>${server}</center>\r\n</body>\r\n</html>\r\n`

test('malformed requests, limits and oversized bodies', async (t) => {
  const { port, back: a } = await startWithBack(t, 'backend', `        location / { return 200 "fine"; }
        location /small { client_max_body_size 1k; echo "small"; }
        location /proxy { proxy_pass http://back; }
`)
  const stillServing = async (what: string): Promise<void> => {
    const r = await request(port)
    assert.deepEqual([r.status, r.body], [200, 'fine'], `a new connection is answered after ${what}`)
  }

  await t.test('each bad request: nginx status and page, connection closed, next connection served', async () => {
    const big = 'a'.repeat(9000)
    const cases: [string, string, number, string][] = [
      ['malformed request line', 'GARBAGE\r\n\r\n', 400, 'Bad Request'],
      ['unknown HTTP version', 'GET / HTTP/3.7\r\nHost: x\r\n\r\n', 505, 'HTTP Version Not Supported'],
      ['request line over 8k', `GET /${big} HTTP/1.1\r\nHost: x\r\n\r\n`, 414, 'Request-URI Too Large'],
      ['Content-Length and Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'Bad Request'],
      ['Transfer-Encoding and Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n', 400, 'Bad Request'],
      ['duplicate Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na', 400, 'Bad Request'],
      ['malformed Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\na', 400, 'Bad Request'],
      ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  b\r\n\r\n', 400, 'Bad Request'],
      ['bare LF line ends', 'GET / HTTP/1.1\nHost: x\n\n', 400, 'Bad Request'],
      ['one bare LF among CRLFs', 'GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n', 400, 'Bad Request'],
      ['space before the colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n', 400, 'Bad Request'],
      ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\n\r\n', 400, 'Bad Request'],
      ['two Host headers', 'GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n', 400, 'Bad Request'],
    ]
    const failures: string[] = []
    for (const [what, raw, status, reason] of cases) {
      const text = await exchange(port, raw)
      let got: string
      try {
        const r = parseResponse(text)
        const server = r.headers['server'] ?? ''
        got = `${r.status} close=${r.headers['connection']?.toLowerCase() === 'close'} page=${r.body === errorPage(status, reason, server)}`
      } catch {
        got = JSON.stringify(text.slice(0, 120))
      }
      const want = `${status} close=true page=true`
      if (got !== want) failures.push(`${what}: ${JSON.stringify(raw.slice(0, 80))}\n  expected ${want}\n  got      ${got}`)
      await stillServing(what)
    }
    assert.equal(failures.length, 0, `\n${failures.join('\n')}`)
  })

  await t.test('a header over 8k: 400 "Request Header Or Cookie Too Large", as nginx', async () => {
    const text = await exchange(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(9000)}\r\n\r\n`)
    const r = parseResponse(text)
    assert.equal(r.status, 400)
    assert.equal(r.headers['connection']?.toLowerCase(), 'close')
    assert.equal(r.body, HEAD_TOO_LARGE(r.headers['server'] ?? ''))
    await stillServing('a header over 8k')
  })

  await t.test('headers over 32k in total: 400 "Request Header Or Cookie Too Large"', async () => {
    const many = Array.from({ length: 8 }, (_, i) => `X-H${i}: ${'c'.repeat(6000)}\r\n`).join('')
    const r = parseResponse(await exchange(port, `GET / HTTP/1.1\r\nHost: x\r\n${many}\r\n`))
    assert.equal(r.status, 400)
    assert.equal(r.body, HEAD_TOO_LARGE(r.headers['server'] ?? ''))
    await stillServing('headers over 32k')
  })

  await t.test('a body over client_max_body_size: 413 (Content-Length, chunked, written whole first)', async () => {
    const page = (server: string): string => errorPage(413, 'Request Entity Too Large', server)
    // Announced by Content-Length: nginx answers before reading the body.
    const r1 = parseResponse(await exchange(port, `POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n${'x'.repeat(4096)}`))
    assert.deepEqual([r1.status, r1.body], [413, page(r1.headers['server'] ?? '')])
    // Chunked: found out while reading.
    const chunk = 'y'.repeat(600)
    const chunked = `POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${`258\r\n${chunk}\r\n`.repeat(4)}0\r\n\r\n`
    const r2 = parseResponse(await exchange(port, chunked))
    assert.equal(r2.status, 413)
    // The default 1m, a client that writes 8 MB before it reads anything: the 413 still arrives.
    const body = Buffer.alloc(8 * 1024 * 1024, 0x7a)
    const head = Buffer.from(`POST /proxy/up HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1')
    const r3 = parseResponse(await exchange(port, Buffer.concat([head, body])))
    assert.deepEqual([r3.status, r3.body], [413, page(r3.headers['server'] ?? '')])
    assert.equal(a.requests.length, 0, 'nothing reached the backend')
    // At the limit is fine.
    const r4 = await request(port, { method: 'POST', path: '/small', body: 'k'.repeat(1024) })
    assert.deepEqual([r4.status, r4.body], [200, 'small\n'])
    await stillServing('oversized bodies')
  })
})

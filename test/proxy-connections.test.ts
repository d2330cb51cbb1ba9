/**
 * Client connections as nginx keeps them: keep-alive across handlers, pipelined requests answered in order,
 * request bodies consumed so the next request on the connection parses, and HTTP/1.0 / `Connection: close`.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { test } from 'node:test'
import { Conn, exchange, parseResponse, startWithBack, type Response } from './helpers.js'

/** Consecutive responses framed by Content-Length (what these handlers send), in order. */
function splitResponses(text: string): Response[] {
  const out: Response[] = []
  let rest = text
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n')
    assert.ok(end >= 0, `a complete head in ${JSON.stringify(rest)}`)
    const r = parseResponse(rest.slice(0, end + 4))
    const n = Number(r.headers['content-length'])
    assert.ok(Number.isInteger(n), `Content-Length in ${JSON.stringify(rest.slice(0, end))}`)
    r.body = rest.slice(end + 4, end + 4 + n)
    out.push(r)
    rest = rest.slice(end + 4 + n)
  }
  return out
}

test('keep-alive, pipelining and connection close', async (t) => {
  const { port, back: a } = await startWithBack(t, 'from-backend', `        location /echo { echo "echo $uri"; }
        location /ret { return 200 "ret $uri"; }
        location /proxy { proxy_pass http://back; }
`)

  await t.test('several requests on one connection, across handlers', async () => {
    const c = await Conn.open(port)
    t.after(() => c.close())
    const got: string[] = []
    for (const path of ['/echo/1', '/proxy/2', '/ret/3', '/proxy/4', '/echo/5']) {
      const r = await c.req({ path })
      assert.notEqual(r.headers['connection']?.toLowerCase(), 'close', path)
      got.push(`${r.status} ${r.body}`)
    }
    assert.deepEqual(got, ['200 echo /echo/1\n', '200 from-backend', '200 ret /ret/3', '200 from-backend', '200 echo /echo/5\n'])
    assert.equal(c.closed, false)
  })

  await t.test('pipelined requests in one write are answered in order', async () => {
    const c = await Conn.open(port)
    t.after(() => c.close())
    const one = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`
    // The proxied one in the middle is the slowest: the answers must still come back in request order.
    const first = await c.send(one('/echo/a') + one('/proxy/b') + one('/ret/c') + one('/echo/d'))
    const rest = [await c.read(), await c.read(), await c.read()]
    assert.deepEqual([first, ...rest].map((r) => `${r.status} ${r.body}`), ['200 echo /echo/a\n', '200 from-backend', '200 ret /ret/c', '200 echo /echo/d\n'])
  })

  await t.test('pipelined requests split at odd places, the last with Connection: close', async () => {
    const text = 'GET /ret/x HTTP/1.1\r\nHost: x\r\n\r\nGET /proxy/y HTTP/1.1\r\nHo' + 'st: x\r\n\r\nGET /echo/z HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
    const cuts = [3, 31, 40, 75, text.length]
    const got = await new Promise<string>((res, rej) => {
      const s = connect(port, '127.0.0.1')
      const chunks: Buffer[] = []
      const timer = setTimeout(() => {
        s.destroy()
        rej(new Error(`no close within 10 s: ${Buffer.concat(chunks).toString('latin1')}`))
      }, 10_000)
      s.on('data', (b) => chunks.push(b))
      s.on('error', () => {})
      s.on('close', () => {
        clearTimeout(timer)
        res(Buffer.concat(chunks).toString('latin1'))
      })
      s.on('connect', async () => {
        let from = 0
        for (const to of cuts) {
          s.write(text.slice(from, to))
          from = to
          await new Promise((r) => setTimeout(r, 15))
        }
      })
    })
    assert.deepEqual(splitResponses(got).map((r) => `${r.status} ${r.body}`), ['200 ret /ret/x', '200 from-backend', '200 echo /echo/z\n'])
  })

  await t.test('request bodies are consumed before the next request (Content-Length and chunked)', async () => {
    const c = await Conn.open(port)
    t.after(() => c.close())
    const r1 = await c.send('POST /echo/p HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world')
    const r2 = await c.send('POST /ret/q HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n')
    const r3 = await c.req({ path: '/echo/after' })
    assert.deepEqual([r1, r2, r3].map((r) => `${r.status} ${r.body}`), ['200 echo /echo/p\n', '200 ret /ret/q', '200 echo /echo/after\n'])
    const before = a.requests.length
    const r4 = await c.req({ method: 'POST', path: '/proxy/body', body: 'payload-1' })
    const r5 = await c.req({ path: '/proxy/next' })
    assert.deepEqual([r4.body, r5.body], ['from-backend', 'from-backend'])
    assert.match(a.requests[before]!, /^POST \/proxy\/body HTTP\/1\.[01]\r\n[\s\S]*\r\n\r\npayload-1$/)
    assert.match(a.requests[before + 1]!, /^GET \/proxy\/next HTTP\/1\.[01]\r\n/)
  })

  await t.test('HTTP/1.0 gets Connection: close and the connection is closed', async () => {
    for (const path of ['/echo/old', '/proxy/old', '/ret/old']) {
      const text = await exchange(port, `GET ${path} HTTP/1.0\r\nHost: x\r\n\r\n`)
      const r = parseResponse(text)
      assert.equal(r.status, 200, path)
      assert.equal(r.headers['connection']?.toLowerCase(), 'close', path)
      assert.equal(Number(r.headers['content-length'] ?? -1), r.body.length, `${path}: an HTTP/1.0 answer is framed by Content-Length`)
    }
  })

  await t.test('HTTP/1.0 with Connection: keep-alive stays open; HTTP/1.1 Connection: close closes', async () => {
    const c = await Conn.open(port)
    t.after(() => c.close())
    const r1 = await c.send('GET /ret/k HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n')
    assert.deepEqual([r1.status, r1.body, r1.headers['connection']?.toLowerCase()], [200, 'ret /ret/k', 'keep-alive'])
    const r2 = await c.send('GET /echo/k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert.deepEqual([r2.status, r2.body, r2.headers['connection']?.toLowerCase()], [200, 'echo /echo/k\n', 'close'])
    assert.equal(await c.waitClosed(), true)
  })

  await t.test('HEAD: the head only, then the connection goes on', async () => {
    const c = await Conn.open(port)
    t.after(() => c.close())
    const h = await c.send('HEAD /ret/h HTTP/1.1\r\nHost: x\r\n\r\n', { head: true })
    assert.equal(h.status, 200)
    const g = await c.req({ path: '/ret/after-head' })
    assert.deepEqual([g.status, g.body], [200, 'ret /ret/after-head'])
  })
})

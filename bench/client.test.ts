import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { Client, HttpConn } from './client.js'

/** A server that answers the n-th request on a connection with replies[n] verbatim (then closes if asked). */
async function rawServer(t: { after: (f: () => void) => void }, replies: string[], requests: string[]): Promise<number> {
  const socks: Socket[] = []
  const srv = createServer((s) => {
    socks.push(s)
    let n = 0
    let buf = ''
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1')
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end + 4)
        const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0)
        if (buf.length < end + 4 + len) return
        requests.push(buf.slice(0, end + 4 + len))
        buf = buf.slice(end + 4 + len)
        const r = replies[n++] ?? ''
        if (r.endsWith('<close>')) s.end(r.slice(0, -7), 'latin1')
        else s.write(r, 'latin1')
      }
    })
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  t.after(() => {
    for (const s of socks) s.destroy()
    srv.close()
  })
  return (srv.address() as AddressInfo).port
}

test('content-length, chunked, 204 and until-close bodies on one connection', async (t) => {
  const requests: string[] = []
  const port = await rawServer(t, [
    'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsuccess',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
    'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n',
    'HTTP/1.1 404 Not Found\r\nX-Y: z\r\n\r\nuntil close<close>',
  ], requests)
  const c = await HttpConn.open(port)
  const a = await c.request('POST', '/upstream/x', {}, 'server 1.2.3.4;')
  assert.deepEqual([a.status, a.body.toString()], [200, 'success'])
  const b = await c.request('GET', '/list', { Host: 'h' })
  assert.deepEqual([b.status, b.body.toString()], [200, 'abcde'])
  const d = await c.request('GET', '/x')
  assert.deepEqual([d.status, d.body.length], [204, 0])
  const e = await c.request('GET', '/y')
  assert.deepEqual([e.status, e.headers['x-y'], e.body.toString()], [404, 'z', 'until close'])
  assert.equal(requests[0], 'POST /upstream/x HTTP/1.1\r\nHost: bench\r\nContent-Length: 15\r\n\r\nserver 1.2.3.4;')
  assert.equal(requests[1], 'GET /list HTTP/1.1\r\nHost: h\r\n\r\n')
})

test('a response split into single bytes parses the same', async (t) => {
  const reply = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nA\n'
  const srv = createServer((s) => {
    s.once('data', async () => {
      for (const ch of reply) {
        s.write(ch)
        await new Promise((r) => setTimeout(r, 1))
      }
    })
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const c = await HttpConn.open((srv.address() as AddressInfo).port)
  t.after(() => {
    c.close()
    srv.close()
  })
  const r = await c.request('GET', '/')
  assert.deepEqual([r.status, r.body.toString('latin1')], [200, 'A\n'])
})

test('a connection closed mid-response rejects, and the connection is marked closed', async (t) => {
  const port = await rawServer(t, ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc<close>'], [])
  const c = await HttpConn.open(port)
  await assert.rejects(c.request('GET', '/'), /connection closed/)
  assert.equal(c.open, false)
  await assert.rejects(c.request('GET', '/'), /connection closed/)
})

test('Client opens a new connection after a Connection: close answer', async (t) => {
  const requests: string[] = []
  // Every connection answers its first request and closes: each request needs a connection of its own.
  const port = await rawServer(t, ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok<close>'], requests)
  const c = new Client(port)
  t.after(() => c.close())
  for (let i = 0; i < 3; i++) {
    const r = await c.request('POST', `/upstream/g${i}`, {}, 'server 1.2.3.4;')
    assert.deepEqual([r.status, r.body.toString()], [200, 'ok'])
  }
  assert.equal(requests.length, 3)
})

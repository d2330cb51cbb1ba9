/**
 * A request pins its group when its location is found: an upload whose group is deleted, or replaced, while its
 * body comes in still goes to that group's server — spooled (proxy_request_buffering on) or streamed (off).
 * The client waits for `100 Continue` (sent once the location is found and its body is to be read), then the group
 * changes, then the body goes out: the order is certain, no timing involved.
 */
import assert from 'node:assert/strict'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import test, { type TestContext } from 'node:test'
import { ans, answer, closeServer, Conn, idelete, iget, ipost, readRequests, startInterface } from './helpers.js'

/** A backend that answers each request with its name and the length of the body it received. */
async function counting(t: TestContext, name: string): Promise<{ port: number; bodies: number[] }> {
  const bodies: number[] = []
  const sockets = new Set<Socket>()
  const server = createServer((s) =>
    readRequests(s, sockets, (_head, body) => {
      bodies.push(body.length)
      const text = `${name} ${body.length}`
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${text.length}\r\n\r\n${text}`)
    }),
  )
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => closeServer(server, sockets))
  return { port: (server.address() as AddressInfo).port, bodies }
}

const BODY = 'x'.repeat(200_000)

for (const buffering of ['on', 'off']) {
  test(`proxy_request_buffering ${buffering}: a group deleted or replaced while the body comes in still serves the upload`, async (t) => {
    const a = await counting(t, 'a')
    const b = await counting(t, 'b')
    const s = await startInterface(t, { workers: 2, server: `        proxy_request_buffering ${buffering};\n        client_max_body_size 1m;\n` })
    for (const change of ['delete', 'replace'] as const) {
      assert.deepEqual(answer(await ipost(s.iface, '/upstream/up', `server 127.0.0.1:${a.port};`)), ans(200, 'success'))
      const c = await Conn.open(s.proxy)
      const cont = await c.send(`POST /upload HTTP/1.1\r\nHost: up\r\nContent-Length: ${BODY.length}\r\nExpect: 100-continue\r\n\r\n`)
      assert.equal(cont.status, 100)
      if (change === 'delete') assert.deepEqual(answer(await idelete(s.iface, '/upstream/up')), ans(200, 'success'))
      else assert.deepEqual(answer(await ipost(s.iface, '/upstream/up', `server 127.0.0.1:${b.port};`)), ans(200, 'success'))
      const r = await c.send(BODY)
      assert.equal(r.status, 200, `${change}: ${r.body}`)
      assert.equal(r.body, `a ${BODY.length}`, change)
      c.close()
      // The next request sees the change.
      const after = await Conn.open(s.proxy)
      const next = await after.req({ method: 'POST', path: '/upload', host: 'up', body: 'y' })
      after.close()
      if (change === 'delete') assert.equal(next.status, 502)
      else assert.equal(next.body, 'b 1')
    }
    assert.deepEqual(answer(await iget(s.iface, '/upstream/up')), ans(200, `server 127.0.0.1:${b.port}\n`))
  })
}

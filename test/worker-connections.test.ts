/**
 * `worker_connections`: a worker holds at most that many client connections; one more is closed at once with
 * nginx's alert, and room made by a closing client is used again.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Conn, freePorts, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'

test('worker_connections caps client connections per worker', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', `daemon off;
master_process off;
error_log logs/error.log info;
events { worker_connections 4; }
http {
    access_log off;
    server { listen 127.0.0.1:${port}; location / { return 200 "ok"; } }
}
`)
  const d = await startDyups(t, prefix, [port])
  const held: Conn[] = []
  t.after(() => held.forEach((c) => c.close()))
  for (let i = 0; i < 4; i++) {
    const c = await Conn.open(port)
    held.push(c)
    assert.equal((await c.req({ path: `/${i}` })).body, 'ok', `connection ${i}`)
  }
  const extra = await Conn.open(port)
  t.after(() => extra.close())
  assert.equal(await extra.waitClosed(), true, 'the fifth connection is closed')
  assert.ok(await waitFor(() => d.errorLog().includes('[alert]') && d.errorLog().includes('4 worker_connections are not enough')), d.errorLog())

  held.pop()!.close()
  // The worker sees the close a moment later: a new connection is served once it has (tried for up to 10 s).
  let served = false
  const deadline = Date.now() + 10_000
  while (!served && Date.now() < deadline) {
    const c = await Conn.open(port)
    try {
      served = (await c.req({ path: '/again' })).body === 'ok'
    } catch {
      await new Promise((r) => setTimeout(r, 20))
    } finally {
      c.close()
    }
  }
  assert.ok(served, 'a connection is served again once one closed')
})

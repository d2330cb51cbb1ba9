/** Millisecond timeouts are honoured as written (`300ms`), as nginx's msec directives are. */
import assert from 'node:assert/strict'
import { createServer, type Socket } from 'node:net'
import { test } from 'node:test'
import { freePorts, request, startDyups, tempPrefix, writeConf } from './helpers.js'

test('proxy_read_timeout 300ms turns a backend that never answers into a 504', async (t) => {
  const held = new Set<Socket>()
  const silent = createServer((s) => {
    held.add(s)
    s.on('error', () => {})
  })
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
  t.after(() => {
    for (const s of held) s.destroy()
    silent.close()
  })
  const port = (silent.address() as { port: number }).port
  const [p] = await freePorts(1)
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', `daemon off; master_process off; error_log logs/error.log info;
events {}
http {
    access_log off;
    upstream silent { server 127.0.0.1:${port}; }
    server {
        listen 127.0.0.1:${p};
        location / { proxy_pass http://silent; proxy_read_timeout 300ms; proxy_connect_timeout 250ms; }
    }
}
`)
  await startDyups(t, prefix, [p!])
  // request() gives up after 10 s: read as the 60 s default, 300ms would fail here rather than answer 504.
  const r = await request(p!)
  assert.equal(r.status, 504)
  assert.match(r.body, /504 Gateway Time-out/)
})

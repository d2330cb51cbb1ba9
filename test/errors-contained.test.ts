/**
 * A failing handler fails its own request only: a synchronous throw and a rejected promise in the content phase
 * (injected with DYUPS_FAILPOINTS=content), a Lua error and a throwing JS handler, each while keep-alive traffic
 * runs on the same worker — one 500 each, every other request answered, the worker still the same process.
 */
import assert from 'node:assert/strict'
import test from 'node:test'
import { backend, childPids, Conn, freePorts, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'

process.env['DYUPS_FAILPOINTS'] = 'content'

test('a throwing or rejecting handler answers 500 and the worker goes on', async (t) => {
  const prefix = tempPrefix(t)
  const back = await backend(t, 'back')
  const [port] = (await freePorts(1)) as [number]
  writeConf(prefix, 'conf/main.js', 'function boom(r) { throw new Error("js handler broke") }\nexport default { boom }\n')
  writeConf(
    prefix,
    'conf/nginx.conf',
    `daemon off;
worker_processes 1;
error_log logs/error.log info;
events { worker_connections 1024; }
http {
    access_log off;
    js_import main.js;
    upstream b { server 127.0.0.1:${back.port}; }
    server {
        listen 127.0.0.1:${port};
        location = /echo { echo $pid; }
        location = /proxy { proxy_pass http://b; }
        location = /lua { content_by_lua 'error("lua handler broke")'; }
        location = /js { js_content main.boom; }
    }
}
`,
  )
  const d = await startDyups(t, prefix, [port])
  const first = await Conn.open(port)
  const pid = (await first.req({ path: '/echo' })).body.trim()
  assert.deepEqual(childPids(d.pid).map(String), [pid])

  // Keep-alive traffic on the one worker while the failures happen; every answer is counted.
  let stop = false
  const seen: number[] = []
  const traffic = Array.from({ length: 8 }, async (_, i) => {
    const c = await Conn.open(port)
    try {
      for (let n = 0; n < 2000 && !stop; n++) {
        const r = await c.req({ path: i % 2 === 0 ? '/echo' : '/proxy' })
        seen.push(r.status)
        assert.equal(r.body.trim(), i % 2 === 0 ? pid : 'back')
      }
    } finally {
      c.close()
    }
  })

  assert.ok(await waitFor(() => seen.length >= 50), 'traffic runs')
  const failing: [string, Record<string, string>][] = [
    ['/echo', { 'X-Dyups-Failpoint': 'throw' }],
    ['/proxy', { 'X-Dyups-Failpoint': 'reject' }],
    ['/lua', {}],
    ['/js', {}],
    ['/echo', { 'X-Dyups-Failpoint': 'throw' }],
  ]
  for (const [path, headers] of failing) {
    const c = await Conn.open(port)
    const r = await c.req({ path, headers })
    assert.equal(r.status, 500, `${path} ${JSON.stringify(headers)}`)
    // As nginx after a 500: the answer says close, and the connection closes.
    assert.equal(r.headers['connection'], 'close')
    assert.ok(await c.waitClosed())
    assert.equal((await first.req({ path: '/echo' })).body.trim(), pid)
  }
  const during = seen.length
  assert.ok(await waitFor(() => seen.length >= during + 50), 'traffic goes on after the failures')
  stop = true
  await Promise.all(traffic)
  assert.deepEqual([...new Set(seen)], [200])
  assert.deepEqual(childPids(d.pid).map(String), [pid], 'the worker was not replaced')
  const log = d.errorLog()
  assert.match(log, /\[alert\] .*request handler failed: .*failpoint: content handler threw, client: 127\.0\.0\.1, server: , request: "GET \/echo HTTP\/1\.1", host: "localhost"/)
  assert.match(log, /request handler failed: .*failpoint: content handler rejected/)
  assert.match(log, /lua handler broke/)
  assert.match(log, /js handler broke/)
  first.close()
})

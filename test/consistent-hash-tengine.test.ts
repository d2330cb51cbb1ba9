/**
 * Tengine's `consistent_hash` in a real dyups: the configuration passes `-t`, and requests with the same key reach
 * the same backend, the one Tengine's module picks for this list (the fixed table of src/balancer/tengine-chash.test.ts
 * holds the algorithm; here the keys go through proxy_pass and the key's variable).
 */
import assert from 'node:assert/strict'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import { createBalancer } from '../src/balancer/balancer.js'
import { PeerStates } from '../src/balancer/peers.js'
import { group } from '../src/balancer/testing.js'
import { closeServer, exchange, freePorts, startDyups, tempPrefix, writeConf } from './helpers.js'
import { dyupsTest } from './nginx.js'

async function backend(t: TestContext, name: string): Promise<number> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    s.once('data', () => s.end(`HTTP/1.1 200 OK\r\nContent-Length: ${name.length}\r\nConnection: close\r\n\r\n${name}`))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => closeServer(server, sockets))
  return (server.address() as AddressInfo).port
}

test('consistent_hash: -t passes and each key reaches the server Tengine picks', async (t) => {
  const ports = [await backend(t, 'one'), await backend(t, 'two'), await backend(t, 'three')]
  const names = new Map(ports.map((p, i) => [`127.0.0.1:${p}`, ['one', 'two', 'three'][i]!]))
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  const servers = ports.map((p, i) => `server 127.0.0.1:${p}${i === 1 ? ' weight=2' : ''};`).join(' ')
  writeConf(prefix, 'conf/nginx.conf', `pid logs/nginx.pid;
error_log logs/error.log;
events {}
http {
    check_shm_size 1m;
    upstream u { consistent_hash $arg_k; ${servers} }
    server { listen 127.0.0.1:${port}; location / { proxy_pass http://u; } }
}
`)
  const r = await dyupsTest(prefix)
  assert.equal(r.code, 0, r.stderr)
  await startDyups(t, prefix, [port], ['-g', 'daemon off;'])
  const b = createBalancer(await group(`consistent_hash $arg_k; ${servers}`), new PeerStates())
  const seen = new Set<string>()
  for (let i = 0; i < 30; i++) {
    const key = `key${i}`
    const sel = b.begin({ clientAddr: '', hashKey: key, now: Date.now() })
    const want = names.get(sel.next()!.server.addr)!
    for (let round = 0; round < 2; round++) {
      const text = await exchange(port, `GET /?k=${key} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
      assert.equal(text.slice(text.indexOf('\r\n\r\n') + 4), want, key)
    }
    seen.add(want)
  }
  assert.equal(seen.size, 3)
})

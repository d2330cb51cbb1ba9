/**
 * Proxying to upstream groups named by `$host` (docs/api.md#group-names), one worker so balancing is deterministic: echo backends
 * served by dyups itself, exact round-robin alternation, `backup` only when every primary fails, and
 * `proxy_next_upstream` moving past a closed port (or not, when off).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { backend, freePorts, request, startDyups, tempPrefix, via, writeConf } from './helpers.js'

test('balancing across groups: echo backends, round robin, backup, next upstream', async (t) => {
  const [a, b, c] = await Promise.all(['A', 'B', 'C'].map((n) => backend(t, n)))
  // Free now and never listened on: connections to them are refused. Peer state is kept per address, so each
  // test of a failing server gets an address of its own.
  const [proxy, echo, dead, dead2, dead3] = (await freePorts(5)) as [number, number, number, number, number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', `daemon off;
worker_processes 1;
error_log logs/error.log info;
events {}
http {
    access_log off;
    upstream host1 { server 127.0.0.1:${echo}; }
    upstream pair { server 127.0.0.1:${a!.port}; server 127.0.0.1:${b!.port}; }
    upstream weighted { server 127.0.0.1:${a!.port} weight=3; server 127.0.0.1:${b!.port}; }
    upstream withbackup { server 127.0.0.1:${a!.port}; server 127.0.0.1:${c!.port} backup; }
    upstream deadprimary { server 127.0.0.1:${dead}; server 127.0.0.1:${c!.port} backup; }
    upstream deadfirst { server 127.0.0.1:${dead2}; server 127.0.0.1:${b!.port}; }
    upstream deadoff { server 127.0.0.1:${dead3}; server 127.0.0.1:${c!.port} backup; }
    upstream alldead { server 127.0.0.1:${dead}; server 127.0.0.1:${dead2}; }
    server {
        listen 127.0.0.1:${proxy};
        location / { proxy_pass http://$host; }
        location /explicit/ { proxy_next_upstream error; proxy_pass http://$host; }
        location /off/ { proxy_next_upstream off; proxy_pass http://$host; }
    }
    server {
        listen 127.0.0.1:${echo};
        location / { echo ${echo}; }
    }
}
`)
  await startDyups(t, prefix, [proxy, echo])
  const bodies = async (host: string, n: number, path = '/'): Promise<string[]> => {
    const out: string[] = []
    for (let i = 0; i < n; i++) {
      const r = await via(proxy, host, path)
      out.push(r.status === 200 ? r.body : `status ${r.status}`)
    }
    return out
  }

  await t.test('Host: host1 reaches the echo server, which answers its text and a newline', async () => {
    const r = await via(proxy, 'host1')
    assert.deepEqual([r.status, r.body, r.headers['content-length']], [200, `${echo}\n`, String(`${echo}\n`.length)])
    const direct = await request(echo, { path: '/anything' })
    assert.deepEqual([direct.status, direct.body], [200, `${echo}\n`])
  })

  await t.test('two equal servers alternate exactly, first server first', async () => {
    assert.deepEqual(await bodies('pair', 6), ['A', 'B', 'A', 'B', 'A', 'B'])
  })

  await t.test('weights 3:1 give 3:1 over every four requests', async () => {
    const got = await bodies('weighted', 8)
    assert.deepEqual(got.slice(0, 4).sort(), ['A', 'A', 'A', 'B'], got.join(' '))
    assert.deepEqual(got.slice(4).sort(), ['A', 'A', 'A', 'B'], got.join(' '))
  })

  await t.test('the request reaches the backend with its URI and the group name as Host', async () => {
    a!.requests.length = 0
    b!.requests.length = 0
    await request(proxy, { host: 'withbackup', path: '/some/path?q=1&r=%20' })
    assert.equal(a!.requests.length, 1, 'the primary took it')
    const req = a!.requests[0]!
    assert.match(req, /^GET \/some\/path\?q=1&r=%20 HTTP\/1\.[01]\r\n/, req)
    assert.match(req, /\r\nHost: withbackup\r\n/i, req)
  })

  await t.test('backup is never used while the primary answers', async () => {
    assert.deepEqual(await bodies('withbackup', 4), ['A', 'A', 'A', 'A'])
  })

  await t.test('a refused primary moves on to the backup (default proxy_next_upstream error)', async () => {
    assert.deepEqual(await bodies('deadprimary', 4), ['C', 'C', 'C', 'C'])
  })

  await t.test('a refused server moves on to the next primary (explicit proxy_next_upstream error)', async () => {
    assert.deepEqual(await bodies('deadfirst', 4, '/explicit/x'), ['B', 'B', 'B', 'B'])
  })

  await t.test('proxy_next_upstream off: the failing try is a 502, then the failed server is skipped', async () => {
    assert.deepEqual(await bodies('deadoff', 3, '/off/x'), ['status 502', 'C', 'C'])
  })

  await t.test('every server refused: 502 page', async () => {
    const r = await via(proxy, 'alldead')
    assert.equal(r.status, 502)
    assert.ok(r.body.includes('<center><h1>502 Bad Gateway</h1></center>'), r.body)
  })
})

/**
 * Upgrade (WebSocket and the like), configured as nginx documents it: the backend's 101 reaches the client with
 * `Connection: upgrade`, then bytes flow both ways until a side closes.
 */
import assert from 'node:assert/strict'
import { connect, createServer, type Socket } from 'node:net'
import { test } from 'node:test'
import { freePorts, startDyups, tempPrefix, writeConf } from './helpers.js'

test('a 101 to an Upgrade request turns the connection into a two-way tunnel', async (t) => {
  const seen: string[] = []
  const sockets = new Set<Socket>()
  const back = createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
    let head = ''
    let upgraded = false
    s.on('data', (b) => {
      if (upgraded) return void s.write(b.toString('latin1').toUpperCase())
      head += b.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      seen.push(head)
      upgraded = true
      s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: shout\r\nConnection: Upgrade\r\nX-Back: 1\r\n\r\nready;')
    })
  })
  await new Promise<void>((r) => back.listen(0, '127.0.0.1', r))
  t.after(() => {
    for (const s of sockets) s.destroy()
    back.close()
  })
  const [p] = await freePorts(1)
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', `daemon off; master_process off; error_log logs/error.log info;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:${p};
        location / {
            proxy_pass http://127.0.0.1:${(back.address() as { port: number }).port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }
    }
}
`)
  await startDyups(t, prefix, [p!])
  const c = connect(p!, '127.0.0.1')
  t.after(() => c.destroy())
  let got = ''
  const waitFor = (s: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${JSON.stringify(s)} within 10 s; got ${JSON.stringify(got)}`)), 10_000)
      const check = (): void => {
        if (!got.includes(s)) return
        clearTimeout(timer)
        c.off('data', onData)
        resolve()
      }
      const onData = (b: Buffer): void => {
        got += b.toString('latin1')
        check()
      }
      c.on('data', onData)
      check()
    })
  c.write('GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: shout\r\nConnection: Upgrade\r\n\r\n')
  await waitFor('ready;')
  assert.match(got, /^HTTP\/1\.1 101 Switching Protocols\r\nServer: dyups\/[^\r]+\r\nDate: [^\r]+\r\nConnection: upgrade\r\nUpgrade: shout\r\nX-Back: 1\r\n\r\nready;$/)
  assert.match(seen[0]!, /^GET \/chat HTTP\/1\.1\r\nUpgrade: shout\r\nConnection: upgrade\r\nHost: 127\.0\.0\.1:\d+\r\n/)
  c.write('hello, ')
  await waitFor('HELLO, ')
  c.write('tunnel')
  await waitFor('TUNNEL')
})

/**
 * WebSocket through dyups with a real WebSocket stack on both ends (the `ws` package), configured as nginx documents
 * it. The group behind the socket is replaced through the dyups interface while sockets are open: open sockets keep
 * their backend, new ones go to the new group.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test, type TestContext } from 'node:test'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import { ans, answer, ipost, startInterface } from './helpers.js'

const UPGRADE = `        location /ws/ {
            proxy_pass http://$host;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }
`

/** A WebSocket server that answers each message with `NAME:` + the message, and each ping with a pong. */
async function wsBackend(t: TestContext, name: string): Promise<{ port: number; paths: string[] }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const paths: string[] = []
  wss.on('connection', (ws, req) => {
    paths.push(req.url ?? '')
    ws.on('message', (data: RawData, binary: boolean) => {
      const b = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[])
      ws.send(Buffer.concat([Buffer.from(`${name}:`), b]), { binary })
    })
  })
  t.after(() => {
    for (const c of wss.clients) c.terminate()
    wss.close()
  })
  return { port: (wss.address() as { port: number }).port, paths }
}

/** Opens a WebSocket to dyups, routed to the group `group` by its Host header. */
async function open(t: TestContext, port: number, group: string, path = '/ws/chat'): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { Host: group }, maxPayload: 4 * 1024 * 1024 })
  t.after(() => ws.terminate())
  await once(ws, 'open')
  return ws
}

/** Sends one message and returns the next message received (bounded: fails after 10 s). */
async function roundTrip(ws: WebSocket, data: string | Buffer): Promise<Buffer> {
  const got = once(ws, 'message', { signal: AbortSignal.timeout(10_000) })
  ws.send(data)
  const [msg] = (await got) as [Buffer]
  return msg
}

test('WebSocket messages, binary frames, pings and the close handshake pass through', async (t) => {
  const a = await wsBackend(t, 'a')
  const s = await startInterface(t, { http: `    upstream chat { server 127.0.0.1:${a.port}; }\n`, server: UPGRADE })
  const ws = await open(t, s.proxy, 'chat')
  assert.equal((await roundTrip(ws, 'hello')).toString(), 'a:hello')

  const big = Buffer.alloc(1024 * 1024)
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff
  const echoed = await roundTrip(ws, big)
  assert.equal(echoed.length, big.length + 2)
  assert.ok(echoed.subarray(2).equals(big), '1 MiB binary frame came back intact')

  const pong = once(ws, 'pong', { signal: AbortSignal.timeout(10_000) })
  ws.ping(Buffer.from('p1'))
  assert.equal(((await pong) as [Buffer])[0].toString(), 'p1')

  const closed = once(ws, 'close', { signal: AbortSignal.timeout(10_000) })
  ws.close(4001, 'bye')
  const [code, reason] = (await closed) as [number, Buffer]
  assert.deepEqual([code, reason.toString()], [4001, 'bye'])
  assert.deepEqual(a.paths, ['/ws/chat'])
})

test('replacing the group keeps open sockets on their backend and sends new ones to the new servers', async (t) => {
  const [a, b] = [await wsBackend(t, 'a'), await wsBackend(t, 'b')]
  const s = await startInterface(t, { http: `    upstream chat { server 127.0.0.1:${a.port}; }\n`, server: UPGRADE })
  const before = await Promise.all([1, 2, 3].map(() => open(t, s.proxy, 'chat')))
  for (const ws of before) assert.equal((await roundTrip(ws, 'x')).toString(), 'a:x')

  assert.deepEqual(answer(await ipost(s.iface, '/upstream/chat', `server 127.0.0.1:${b.port};`)), ans(200, 'success'))
  const after = await open(t, s.proxy, 'chat')
  assert.equal((await roundTrip(after, 'y')).toString(), 'b:y')
  for (const ws of before) assert.equal((await roundTrip(ws, 'still')).toString(), 'a:still', 'an open socket keeps its backend')
})

test('without the Upgrade headers in the configuration the handshake fails, as in nginx', async (t) => {
  const a = await wsBackend(t, 'a')
  const s = await startInterface(t, { http: `    upstream chat { server 127.0.0.1:${a.port}; }\n` })
  // `location /` proxies with nginx's defaults: HTTP/1.0 and no Upgrade header, so the backend refuses the request.
  const ws = new WebSocket(`ws://127.0.0.1:${s.proxy}/plain`, { headers: { Host: 'chat' } })
  const [err] = (await once(ws, 'error', { signal: AbortSignal.timeout(10_000) }).catch((e: unknown) => [e])) as [Error]
  assert.match(err.message, /Unexpected server response: 4\d\d/)
})

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer as netServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { createSecureContext, TLSSocket } from 'node:tls'
import type { Keepalive, Server } from '../upstream/index.js'
import type { ConnUser, UpstreamConn } from './conn.js'
import { Pools } from './pool.js'
import { testCertificates } from './testing.js'
import { UpstreamTls, type UpstreamTlsOptions } from './tls.js'

const KA: Keepalive = { connections: 8, timeout: 60_000, requests: 1000, time: 3_600_000 }

/** A port that speaks TLS or plain TCP, as the first byte says; counts the connections of each kind. */
async function dual(t: import('node:test').TestContext): Promise<{ port: number; tls: number; plain: number }> {
  const dir = testCertificates()
  const ctx = createSecureContext({ cert: readFileSync(join(dir, 'backend.pem')), key: readFileSync(join(dir, 'backend.key')) })
  const seen = { port: 0, tls: 0, plain: 0 }
  const sockets = new Set<Socket>()
  const server = netServer((s) => {
    // A plain client here sends nothing: every connection counts as plain until its first byte says TLS.
    seen.plain++
    sockets.add(s)
    s.on('error', () => {})
    s.once('data', (b: Buffer) => {
      s.pause()
      s.unshift(b)
      if (b[0] !== 0x16) return
      seen.plain--
      seen.tls++
      new TLSSocket(s, { isServer: true, secureContext: ctx }).on('error', () => {})
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  seen.port = (server.address() as AddressInfo).port
  return seen
}

/** Resolves once `c` is connected (and, for TLS, its handshake and checks passed). */
function connected(c: UpstreamConn): Promise<void> {
  if (c.connected) return Promise.resolve()
  return new Promise((res, rej) => {
    const user: ConnUser = {
      onConnect: () => res(),
      onData: () => {},
      onEnd: () => rej(new Error('ended')),
      onError: (_c, e) => rej(e ?? new Error('closed')),
      onTimeout: () => rej(new Error('timeout')),
      onDrain: () => {},
    }
    c.user = user
  })
}

const opts: UpstreamTlsOptions = {
  serverName: true, verify: false, verifyDepth: 1, sessionReuse: true, protocols: ['TLSv1.2', 'TLSv1.3'],
  ciphers: 'DEFAULT', trusted: null, client: null,
}

test('plain and TLS connections to one server, or TLS ones for two names, never stand in for each other', async (t) => {
  const back = await dual(t)
  const server: Server = {
    addr: `127.0.0.1:${back.port}`, name: `127.0.0.1:${back.port}`, host: '127.0.0.1', port: back.port, unix: false,
    entry: 0, weight: 1, maxFails: 1, failTimeout: 10, maxConns: 0, backup: false, down: false, slowStart: 0, id: -1, drain: false,
  }
  const pools = new Pools()
  t.after(() => pools.closeIdle())
  const tls = new UpstreamTls(opts)

  // One of each kind, kept idle.
  const plain = pools.acquire(server)
  const a = pools.acquire(server, tls, 'a.test')
  const b = pools.acquire(server, tls, 'b.test')
  await Promise.all([connected(plain), connected(a), connected(b)])
  assert.deepEqual([back.plain, back.tls], [1, 2])
  for (const c of [plain, a, b]) pools.release(c, KA, 'g')

  // Each request gets back exactly its own kind.
  assert.equal(pools.acquire(server, tls, 'b.test'), b)
  assert.equal(pools.acquire(server), plain)
  assert.equal(pools.acquire(server, tls, 'a.test'), a)
  for (const c of [plain, a, b]) pools.release(c, KA, 'g')

  // Another TLS setting has a pool of its own: a new connection.
  const other = pools.acquire(server, new UpstreamTls(opts), 'a.test')
  assert.notEqual(other, a)
  await connected(other)
  assert.deepEqual([back.plain, back.tls], [1, 3])
  other.destroy()
})

test('a closed plain connection is opened again for the next new one, to any server, and reads on the new socket', async (t) => {
  // Each backend answers every read with its name.
  const names = ['one', 'two']
  const ports: number[] = []
  const sockets = new Set<Socket>()
  for (const name of names) {
    const s = netServer((c) => {
      sockets.add(c)
      c.on('error', () => {})
      c.on('data', () => c.write(name))
    })
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
    ports.push((s.address() as AddressInfo).port)
    t.after(() => s.close())
  }
  t.after(() => {
    for (const s of sockets) s.destroy()
  })
  const server = (port: number): Server => ({
    addr: `127.0.0.1:${port}`, name: `127.0.0.1:${port}`, host: '127.0.0.1', port, unix: false,
    entry: 0, weight: 1, maxFails: 1, failTimeout: 10, maxConns: 0, backup: false, down: false, slowStart: 0, id: -1, drain: false,
  })
  const pools = new Pools()
  t.after(() => pools.closeIdle())
  const ask = (c: UpstreamConn): Promise<string> => new Promise((res, rej) => {
    c.user = {
      onConnect: () => {},
      onData: (_c, b) => res(b.toString()),
      onEnd: () => rej(new Error('ended')),
      onError: (_c, e) => rej(e ?? new Error('closed')),
      onTimeout: () => rej(new Error('timeout')),
      onDrain: () => {},
    }
    c.socket.write('?')
  })
  const noUser: ConnUser = { onConnect: () => {}, onData: () => {}, onEnd: () => {}, onError: () => {}, onTimeout: () => {}, onDrain: () => {} }
  const closed = (c: UpstreamConn): Promise<void> => new Promise((res) => c.socket.once('close', () => setImmediate(res)))

  const a = pools.acquire(server(ports[0]!))
  await connected(a)
  assert.equal(await ask(a), 'one')
  const gone = closed(a)
  a.destroy()
  await gone

  // The next new connection, to the other server, is the same object on a new socket.
  const b = pools.acquire(server(ports[1]!))
  assert.equal(b, a)
  assert.equal(b.server.port, ports[1])
  assert.equal(b.closed, false)
  await connected(b)
  assert.equal(await ask(b), 'two')
  pools.release(b, KA, 'g')
  assert.equal(pools.acquire(server(ports[1]!)), b)

  // A refused connect closes it too; it is opened again all the same.
  const refused = await new Promise<number>((res) => {
    const s = netServer()
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port
      s.close(() => res(port))
    })
  })
  const down = closed(b)
  b.destroy()
  await down
  const c = pools.acquire(server(refused))
  assert.equal(c, a)
  const failed = closed(c)
  // As an exchange does: the failed connection is dropped when its error comes.
  c.user = { ...noUser, onError: () => c.destroy() }
  await failed
  const d = pools.acquire(server(ports[0]!))
  assert.equal(d, a)
  await connected(d)
  assert.equal(await ask(d), 'one')
  d.destroy()
})

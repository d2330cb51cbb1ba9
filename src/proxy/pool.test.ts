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
    entry: 0, weight: 1, maxFails: 1, failTimeout: 10, maxConns: 0, backup: false, down: false, slowStart: 0,
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

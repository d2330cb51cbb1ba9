/**
 * Routing by the table the interface manages (docs/api.md#group-names): `$host` and `set $var` pick the group, case-insensitive;
 * unknown and deleted groups answer 502 at once; balancing is nginx's smooth weighted round robin with backup and
 * down servers, dead servers skipped.
 */
import assert from 'node:assert/strict'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import { ans, answer, backend, freePorts, idelete, ipost, readRequests, request, startInterface, via } from './helpers.js'

const OK = ans(200, 'success')

/** A backend answering `name` that can be shut down, its open connections included. */
async function killable(t: TestContext, name: string): Promise<{ port: number; kill: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createServer((s) =>
    readRequests(s, sockets, () => s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${name.length}\r\n\r\n${name}`)),
  )
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  let closed = false
  const kill = async (): Promise<void> => {
    if (closed) return
    closed = true
    const done = new Promise((r) => server.close(r))
    for (const s of sockets) s.destroy()
    await done
  }
  t.after(kill)
  return { port: (server.address() as AddressInfo).port, kill }
}

async function bodies(port: number, host: string, n: number): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const r = await via(port, host)
    out.push(r.status === 200 ? r.body : `status ${r.status}`)
  }
  return out
}

const count = (xs: string[], x: string): number => xs.filter((v) => v === x).length

test('routing by $host with 2 workers', async (t) => {
  const [a, b, c] = await Promise.all(['ra', 'rb', 'rc'].map((n) => backend(t, n)))
  const [dead1, dead2] = await freePorts(2)
  const s = await startInterface(t, {
    workers: 2,
    accessLog: true,
    http: `    upstream alpha { server 127.0.0.1:${a!.port}; }\n    upstream fixedgrp { server 127.0.0.1:${c!.port}; }\n`,
    server: '        location /fixed { set $ups fixedgrp; proxy_pass http://$ups; }\n',
  })
  const I = s.iface, P = s.proxy

  await t.test('Host name:port routes to name; the match is case-insensitive', async () => {
    for (const h of ['alpha', 'alpha:80', `alpha:${P}`, 'ALPHA', 'Alpha:1234']) {
      const r = await via(P, h)
      assert.deepEqual([r.status, r.body], [200, 'ra'], h)
    }
    assert.deepEqual(answer(await ipost(I, '/upstream/UpperCase', `server 127.0.0.1:${b!.port};`)), OK)
    for (const h of ['uppercase', 'UpperCase', 'UPPERCASE:8000']) assert.equal((await via(P, h)).body, 'rb', h)
  })

  await t.test('set $ups NAME; proxy_pass http://$ups', async () => {
    const r = await request(P, { path: '/fixed/x', host: 'whatever' })
    assert.deepEqual([r.status, r.body], [200, 'rc'])
    assert.deepEqual(answer(await ipost(I, '/upstream/fixedgrp', `server 127.0.0.1:${a!.port};`)), OK)
    assert.equal((await request(P, { path: '/fixed/x', host: 'whatever' })).body, 'ra')
    assert.deepEqual(answer(await idelete(I, '/upstream/fixedgrp')), OK)
    assert.equal((await request(P, { path: '/fixed/x', host: 'whatever' })).status, 502)
  })

  await t.test('an unknown name answers 502 at once, without DNS', async () => {
    for (const h of ['nosuchgroup', 'no-such.example.com', 'localhost', 'x.invalid']) {
      const t0 = Date.now()
      const r = await via(P, h)
      const ms = Date.now() - t0
      assert.equal(r.status, 502, h)
      assert.match(r.body, /<title>502 Bad Gateway<\/title>/, h)
      // Generous: Tengine stalls on DNS for up to 30 s here.
      assert.ok(ms < 3000, `${h}: ${ms} ms`)
    }
  })

  await t.test('dead servers are skipped; all dead or down is 502', async () => {
    assert.deepEqual(answer(await ipost(I, '/upstream/half', `server 127.0.0.1:${dead1}; server 127.0.0.1:${a!.port};`)), OK)
    assert.deepEqual(await bodies(P, 'half', 8), Array(8).fill('ra'))
    assert.deepEqual(answer(await ipost(I, '/upstream/gone', `server 127.0.0.1:${dead1}; server 127.0.0.1:${dead2};`)), OK)
    assert.deepEqual(await bodies(P, 'gone', 3), Array(3).fill('status 502'))
    assert.deepEqual(answer(await ipost(I, '/upstream/alldown', `server 127.0.0.1:${a!.port} down; server 127.0.0.1:${b!.port} down;`)), OK)
    assert.deepEqual(await bodies(P, 'alldown', 3), Array(3).fill('status 502'))
  })

  await t.test('backup only when every primary is unavailable; down never', async () => {
    assert.deepEqual(answer(await ipost(I, '/upstream/bk', `server 127.0.0.1:${a!.port}; server 127.0.0.1:${b!.port}; server 127.0.0.1:${c!.port} backup;`)), OK)
    const r1 = await bodies(P, 'bk', 12)
    assert.equal(count(r1, 'rc'), 0, r1.join())
    assert.equal(count(r1, 'ra') + count(r1, 'rb'), 12, r1.join())
    assert.deepEqual(answer(await ipost(I, '/upstream/bk', `server 127.0.0.1:${dead1}; server 127.0.0.1:${a!.port} down; server 127.0.0.1:${c!.port} backup;`)), OK)
    assert.deepEqual(await bodies(P, 'bk', 6), Array(6).fill('rc'))
    assert.deepEqual(answer(await ipost(I, '/upstream/dn', `server 127.0.0.1:${a!.port} down; server 127.0.0.1:${b!.port};`)), OK)
    assert.deepEqual(await bodies(P, 'dn', 8), Array(8).fill('rb'))
  })

  await t.test('a primary that goes away mid-life hands over to the backup', async () => {
    const k = await killable(t, 'rk')
    assert.deepEqual(answer(await ipost(I, '/upstream/fo', `server 127.0.0.1:${k.port}; server 127.0.0.1:${b!.port} backup;`)), OK)
    assert.deepEqual(await bodies(P, 'fo', 6), Array(6).fill('rk'))
    await k.kill()
    assert.deepEqual(await bodies(P, 'fo', 6), Array(6).fill('rb'))
  })

  await t.test('deleted groups answer 502', async () => {
    for (const n of ['alpha', 'uppercase', 'half', 'bk']) {
      assert.deepEqual(answer(await idelete(I, `/upstream/${n}`)), OK, n)
      assert.equal((await via(P, n)).status, 502, n)
    }
  })
})

test('balancing on one worker (master_process off): exact alternation and 3:1', async (t) => {
  const [a, b, c] = await Promise.all(['wa', 'wb', 'wc'].map((n) => backend(t, n)))
  const s = await startInterface(t, {
    master: false,
    http: `    upstream eq { server 127.0.0.1:${a!.port}; server 127.0.0.1:${b!.port}; }\n`,
  })
  const I = s.iface, P = s.proxy
  const eq = await bodies(P, 'eq', 20)
  for (let i = 1; i < eq.length; i++) assert.notEqual(eq[i], eq[i - 1], eq.join())
  assert.equal(count(eq, 'wa'), 10)

  assert.deepEqual(answer(await ipost(I, '/upstream/w31', `server 127.0.0.1:${a!.port} weight=3; server 127.0.0.1:${b!.port};`)), OK)
  const w = await bodies(P, 'w31', 40)
  assert.deepEqual([count(w, 'wa'), count(w, 'wb')], [30, 10], w.join())
  // Smooth: every 4 consecutive answers hold exactly one wb.
  for (let i = 0; i + 4 <= w.length; i++) assert.equal(count(w.slice(i, i + 4), 'wb'), 1, w.join())

  // A replaced group balances by its new weights.
  assert.deepEqual(answer(await ipost(I, '/upstream/eq', `server 127.0.0.1:${a!.port}; server 127.0.0.1:${b!.port} weight=2; server 127.0.0.1:${c!.port};`)), OK)
  const r = await bodies(P, 'eq', 40)
  assert.deepEqual([count(r, 'wa'), count(r, 'wb'), count(r, 'wc')], [10, 20, 10], r.join())
})

test('balancing with worker_processes 1 under a primary: 3:1 is 30/10', async (t) => {
  const [a, b] = await Promise.all(['xa', 'xb'].map((n) => backend(t, n)))
  const s = await startInterface(t, { workers: 1 })
  assert.deepEqual(answer(await ipost(s.iface, '/upstream/w', `server 127.0.0.1:${b!.port}; server 127.0.0.1:${a!.port} weight=3;`)), OK)
  const w = await bodies(s.proxy, 'w', 40)
  assert.deepEqual([count(w, 'xa'), count(w, 'xb')], [30, 10], w.join())
  for (let i = 0; i + 4 <= w.length; i++) assert.equal(count(w.slice(i, i + 4), 'xb'), 1, w.join())
})

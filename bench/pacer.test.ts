import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { runPaced } from './pacer.js'

/** Answers every request with `status`, body = the Host header, on keepalive connections. */
async function server(t: { after: (f: () => void) => void }, status: number, hosts: string[]): Promise<number> {
  const socks: Socket[] = []
  const srv = createServer((s) => {
    socks.push(s)
    let buf = ''
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1')
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const host = /\r\nHost: ([^\r]*)/.exec(buf.slice(0, end))?.[1] ?? ''
        hosts.push(host)
        buf = buf.slice(end + 4)
        s.write(`HTTP/1.1 ${status} X\r\nContent-Length: ${host.length}\r\n\r\n${host}`)
      }
    })
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  t.after(() => {
    for (const s of socks) s.destroy()
    srv.close()
  })
  return (srv.address() as AddressInfo).port
}

test('sends rate × seconds requests, cycling the Host header', async (t) => {
  const hosts: string[] = []
  const port = await server(t, 200, hosts)
  const r = await runPaced({ port, rate: 200, seconds: 0.25, conns: 4, hosts: ['a', 'b', 'c'] })
  assert.deepEqual([r.sent, r.ok, r.failed, r.latencies.length], [50, 50, 0, 50])
  assert.deepEqual(r.failures, {})
  assert.equal(hosts.length, 50)
  assert.deepEqual(['a', 'b', 'c'].map((h) => hosts.filter((x) => x === h).length), [17, 17, 16])
})

test('non-200 answers are failures with their status as the reason', async (t) => {
  const port = await server(t, 503, [])
  const r = await runPaced({ port, rate: 100, seconds: 0.2, conns: 2, hosts: ['x'] })
  assert.deepEqual([r.sent, r.ok, r.failed, r.latencies.length], [20, 0, 20, 0])
  assert.deepEqual(r.failures, { 'status 503': 20 })
})

test('an abort stops scheduling early; nothing is counted as failed', async (t) => {
  const port = await server(t, 200, [])
  const stop = new AbortController()
  stop.abort()
  const r = await runPaced({ port, rate: 100, seconds: 60, conns: 2, hosts: ['x'], signal: stop.signal })
  assert.equal(r.failed, 0)
  assert.ok(r.sent <= 1, `sent ${r.sent}`)
})

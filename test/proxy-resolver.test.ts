/**
 * `resolver`: a proxy_pass host that is no group and no address is looked up in DNS (a real DNS server of the
 * test's own, on UDP 127.0.0.1), and without a resolver it is a 502 at once.
 */
import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import { test, type TestContext } from 'node:test'
import { backend, freePorts, request, startDyups, tempPrefix, writeConf } from './helpers.js'

/** Answers A queries for names under `.test` with 127.0.0.1 (TTL 60), NXDOMAIN for the rest. */
async function dnsServer(t: TestContext): Promise<{ port: number; queries: string[] }> {
  const queries: string[] = []
  const sock = createSocket('udp4')
  sock.on('message', (q, peer) => {
    let i = 12
    const labels: string[] = []
    while (q[i]! > 0) {
      labels.push(q.subarray(i + 1, i + 1 + q[i]!).toString('latin1'))
      i += q[i]! + 1
    }
    const qtype = q.readUInt16BE(i + 1)
    const question = q.subarray(12, i + 5)
    const name = labels.join('.')
    queries.push(`${name}/${qtype}`)
    const ok = name.endsWith('.test') && qtype === 1
    const head = Buffer.alloc(12)
    q.copy(head, 0, 0, 2)
    head.writeUInt16BE(0x8180 | (name.endsWith('.test') ? 0 : 3), 2)
    head.writeUInt16BE(1, 4)
    head.writeUInt16BE(ok ? 1 : 0, 6)
    const answer = ok ? Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]) : Buffer.alloc(0)
    sock.send(Buffer.concat([head, question, answer]), peer.port, peer.address)
  })
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r))
  t.after(() => sock.close())
  return { port: sock.address().port, queries }
}

test('a name proxy_pass cannot find among groups is resolved through the configured resolver', async (t) => {
  const dns = await dnsServer(t)
  const b = await backend(t, 'resolved')
  const [p] = await freePorts(1)
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', `daemon off; master_process off; error_log logs/error.log info;
events {}
http {
    access_log off;
    resolver 127.0.0.1:${dns.port} valid=30s;
    resolver_timeout 2s;
    server {
        listen 127.0.0.1:${p};
        location /svc { proxy_pass http://svc.test:${b.port}; }
        location /nx { proxy_pass http://nothing.invalid:${b.port}; }
    }
}
`)
  const d = await startDyups(t, prefix, [p!])
  const r1 = await request(p!, { path: '/svc' })
  assert.equal(r1.status, 200)
  assert.equal(r1.body, 'resolved')
  assert.match(b.requests[0]!, /^GET \/svc HTTP\/1\.0\r\nHost: svc\.test:\d+\r\n/)
  assert.equal((await request(p!, { path: '/svc' })).body, 'resolved')
  assert.equal(dns.queries.filter((q) => q === 'svc.test/1').length, 1, `cached for valid=: ${dns.queries.join(' ')}`)
  const r2 = await request(p!, { path: '/nx' })
  assert.equal(r2.status, 502)
  assert.match(d.errorLog(), /nothing\.invalid:\d+ could not be resolved/)
})

test('without a resolver a name that is no group answers 502 at once and says why', async (t) => {
  const [p] = await freePorts(1)
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', `daemon off; master_process off; error_log logs/error.log info;
events {}
http { access_log off; server { listen 127.0.0.1:${p}; location / { proxy_pass http://$host; } } }
`)
  const d = await startDyups(t, prefix, [p!])
  const r = await request(p!, { host: 'unknown.example' })
  assert.equal(r.status, 502)
  assert.match(d.errorLog(), /no resolver defined to resolve unknown\.example/)
})

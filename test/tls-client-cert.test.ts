/**
 * Client certificates on `listen … ssl` (docs/tls.md#client-certificates): `ssl_verify_client on|optional|
 * optional_no_ca` with `ssl_client_certificate`, the 400 pages nginx answers a missing or unverified certificate
 * with, and `$ssl_client_verify`, `$ssl_client_s_dn`, `$ssl_client_i_dn`, `$ssl_client_serial` — side by side with the
 * real nginx; and the dyups interface behind a client certificate.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { test, type TestContext } from 'node:test'
import { copyTestCertificates } from '../src/proxy/testing.js'
import { freePorts, startDyups, tempPrefix, writeConf } from './helpers.js'
import { dyupsTest, nginxOnlyLines, nginxTest, startNginx } from './nginx.js'

const MODES = ['on', 'optional', 'optional_no_ca', 'off'] as const

function conf(ports: readonly number[], iface: number, kind: 'nginx' | 'dyups'): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  const server = (port: number, mode: string, ca: string): string => `    server {
        listen 127.0.0.1:${port} ssl;
        server_name a.test;
        ssl_certificate a.pem;
        ssl_certificate_key a.key;
        ssl_client_certificate ${ca};
        ssl_verify_client ${mode};
        location / { return 200 "verify=$ssl_client_verify s_dn=$ssl_client_s_dn i_dn=$ssl_client_i_dn serial=$ssl_client_serial\\n"; }
    }
`
  // Each mode twice: trusting the CA that signed the client's certificate, and trusting another.
  let servers = ''
  MODES.forEach((m, i) => {
    servers += server(ports[2 * i]!, m, 'ca.pem') + server(ports[2 * i + 1]!, m, 'other-ca.pem')
  })
  const dyupsIface = kind === 'nginx' ? '' : `    server {
        listen 127.0.0.1:${iface} ssl;
        ssl_certificate a.pem;
        ssl_certificate_key a.key;
        ssl_client_certificate ca.pem;
        ssl_verify_client on;
        location / { dyups_interface; }
    }
`
  return `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    server_tokens off;
${servers}${dyupsIface}${nginxOnly}}
${user}`
}

interface Answer { status: string; headers: string[]; body: string }

/** One GET over TLS, with the client certificate `client` (a name of the test certificates) or none. */
function get(port: number, dir: string, client: string | null, path = '/'): Promise<Answer> {
  const pem = (n: string): string => readFileSync(join(dir, n), 'latin1')
  return new Promise((res, rej) => {
    const s = tlsConnect({
      port, host: '127.0.0.1', servername: 'a.test', ca: pem('ca.pem'),
      ...(client === null ? {} : { cert: pem(`${client}.pem`), key: pem(`${client.replace('-chain', '')}.key`) }),
    })
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      s.destroy()
      rej(new Error(`no close from ${port} within 10 s`))
    }, 10_000)
    s.on('secureConnect', () => s.write(`GET ${path} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n`))
    s.on('data', (b: Buffer) => chunks.push(b))
    s.on('error', (e) => {
      clearTimeout(timer)
      rej(e)
    })
    s.on('close', () => {
      clearTimeout(timer)
      const raw = Buffer.concat(chunks).toString('latin1')
      const end = raw.indexOf('\r\n\r\n')
      const lines = raw.slice(0, end).split('\r\n')
      // Date and Server differ by nature; the rest of the head is compared.
      const headers = lines.slice(1).filter((l) => !/^(date|server):/i.test(l))
      res({ status: lines[0]!, headers, body: raw.slice(end + 4).replace(/<center>(nginx|dyups)[^<]*<\/center>/g, '<center>SERVER</center>') })
    })
  })
}

async function startBoth(t: TestContext): Promise<{ nginx: number[]; dyups: number[]; iface: number; dir: string }> {
  const ports = await freePorts(2 * MODES.length * 2 + 1)
  const pn = ports.slice(0, 2 * MODES.length)
  const pd = ports.slice(2 * MODES.length, 4 * MODES.length)
  const iface = ports[4 * MODES.length]!
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  for (const [x, kind, p] of [[xn, 'nginx', pn], [xd, 'dyups', pd]] as const) {
    writeConf(x, 'conf/nginx.conf', conf(p, iface, kind))
    copyTestCertificates(join(x, 'conf'))
  }
  const { mkdirSync } = await import('node:fs')
  mkdirSync(join(xn, 'tmp'), { recursive: true })
  await startNginx(t, xn, pn)
  await startDyups(t, xd, [...pd, iface], ['-g', 'daemon off;'])
  return { nginx: pn, dyups: pd, iface, dir: join(xd, 'conf') }
}

test('ssl_verify_client on, optional, optional_no_ca, off: statuses, pages and $ssl_client_* as nginx', async (t) => {
  const s = await startBoth(t)
  const seen: Record<string, string> = {}
  for (let i = 0; i < s.nginx.length; i++) {
    const mode = MODES[i >> 1]!
    const trusted = i % 2 === 0 ? 'ca' : 'other-ca'
    for (const client of [null, 'client', 'deep-chain'] as const) {
      const name = `ssl_verify_client ${mode}, trusting ${trusted}, ${client === null ? 'no certificate' : client === 'client' ? 'a certificate signed by ca' : 'a certificate signed by an intermediate of ca'}`
      await t.test(name, async () => {
        const ngx = await get(s.nginx[i]!, s.dir, client)
        const dy = await get(s.dyups[i]!, s.dir, client)
        assert.deepEqual(dy, ngx)
        seen[name] = `${ngx.status} ${ngx.body.split('\n')[0]}`
      })
    }
  }
  if (process.env['SIDE_DEBUG']) console.log(JSON.stringify(seen, null, 1))
  // What nginx answered, so the comparison covers each case that matters.
  assert.match(seen['ssl_verify_client on, trusting ca, no certificate']!, /^HTTP\/1\.1 400 Bad Request <html>/)
  assert.match(seen['ssl_verify_client on, trusting ca, a certificate signed by ca']!, /^HTTP\/1\.1 200 OK verify=SUCCESS s_dn=CN=dyups-client i_dn=CN=ca serial=04/)
  assert.match(seen['ssl_verify_client on, trusting other-ca, a certificate signed by ca']!, /^HTTP\/1\.1 400 Bad Request/)
  assert.match(seen['ssl_verify_client on, trusting ca, a certificate signed by an intermediate of ca']!, /^HTTP\/1\.1 200 OK verify=SUCCESS s_dn=CN=deep\.test i_dn=CN=mid serial=06/)
  assert.match(seen['ssl_verify_client optional, trusting ca, no certificate']!, /^HTTP\/1\.1 200 OK verify=NONE s_dn= /)
  assert.match(seen['ssl_verify_client optional_no_ca, trusting other-ca, a certificate signed by ca']!, /^HTTP\/1\.1 200 OK verify=FAILED:self-signed certificate in certificate chain /)
})

test('the dyups interface behind ssl_verify_client on: a client without a certificate gets 400, one with it is served', async (t) => {
  const s = await startBoth(t)
  const none = await get(s.iface, s.dir, null, '/list')
  assert.equal(none.status, 'HTTP/1.1 400 Bad Request')
  assert.match(none.body, /No required SSL certificate was sent/)
  const ok = await get(s.iface, s.dir, 'client', '/api/upstreams')
  assert.equal(ok.status, 'HTTP/1.1 200 OK')
  assert.equal(JSON.parse(ok.body).version, 0)
})

test('-t: ssl_verify_client mistakes are refused with nginx\'s messages', async (t) => {
  const cases: [string, string][] = [
    ['on without a CA', 'ssl_verify_client on;'],
    ['optional without a CA', 'ssl_verify_client optional;'],
    ['a bad value', 'ssl_verify_client maybe; ssl_client_certificate ca.pem;'],
    ['a missing CA file', 'ssl_verify_client on; ssl_client_certificate nosuch.pem;'],
    ['optional_no_ca needs no CA', 'ssl_verify_client optional_no_ca;'],
  ]
  for (const [name, lines] of cases) {
    await t.test(name, async () => {
      const out: string[] = []
      for (const kind of ['nginx', 'dyups'] as const) {
        const prefix = tempPrefix(t)
        copyTestCertificates(writeConf(prefix, 'conf/nginx.conf',
          `error_log logs/error.log;\npid logs/nginx.pid;\nevents {}\nhttp {\n    server {\n        listen 127.0.0.1:1 ssl;\n        ssl_certificate a.pem;\n        ssl_certificate_key a.key;\n        ${lines}\n    }\n}\n`).replace(/nginx\.conf$/, ''))
        const r = kind === 'nginx' ? await nginxTest(prefix) : await dyupsTest(prefix)
        const emerg = /\[emerg\] (?:\d+#\d+: )?(.*)/.exec(r.stderr)?.[1]?.split(prefix).join('PREFIX').replace(/ \((SSL: |\d+: ).*/, '') ?? ''
        out.push(`${r.code === 0 ? 'ok' : 'failed'} ${emerg}`)
      }
      assert.equal(out[1], out[0])
    })
  }
})

test('ssl_verify_client holds over HTTP/2 too: no certificate, 400; a trusted one, served with $ssl_client_*', async (t) => {
  const { connect: h2connect } = await import('node:http2')
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  copyTestCertificates(join(prefix, 'conf'))
  writeConf(prefix, 'conf/nginx.conf', `worker_processes 1;
error_log logs/error.log info;
events {}
http {
    server {
        listen 127.0.0.1:${port} ssl http2;
        server_name a.test;
        ssl_certificate a.pem;
        ssl_certificate_key a.key;
        ssl_client_certificate ca.pem;
        ssl_verify_client on;
        location / { return 200 "verify=$ssl_client_verify s_dn=$ssl_client_s_dn\\n"; }
    }
}
`)
  await startDyups(t, prefix, [port], ['-g', 'daemon off;'])
  const dir = join(prefix, 'conf')
  const pem = (n: string): string => readFileSync(join(dir, n), 'latin1')
  const h2get = (client: string | null): Promise<{ status: number; body: string; alpn: string }> => new Promise((res, rej) => {
    const session = h2connect(`https://127.0.0.1:${port}`, {
      servername: 'a.test', ca: pem('ca.pem'), ...(client === null ? {} : { cert: pem(`${client}.pem`), key: pem(`${client}.key`) }),
    })
    session.on('error', rej)
    const req = session.request({ ':path': '/', ':authority': 'a.test' })
    let status = 0
    const chunks: Buffer[] = []
    req.on('response', (h) => { status = Number(h[':status']) })
    req.on('data', (b: Buffer) => chunks.push(b))
    req.on('error', rej)
    req.on('end', () => {
      const alpn = (session.socket as unknown as { alpnProtocol: string }).alpnProtocol
      session.close()
      res({ status, body: Buffer.concat(chunks).toString('latin1'), alpn })
    })
    req.end()
  })
  const none = await h2get(null)
  assert.deepEqual([none.alpn, none.status], ['h2', 400])
  assert.match(none.body, /No required SSL certificate was sent/)
  const ok = await h2get('client')
  assert.deepEqual([ok.alpn, ok.status, ok.body], ['h2', 200, 'verify=SUCCESS s_dn=CN=dyups-client\n'])
})

/**
 * The TLS variables of a listening connection (docs/tls.md#variables) side by side with the real nginx:
 * `$ssl_protocol`, `$ssl_cipher`, `$ssl_server_name`, `$ssl_session_reused`, `$ssl_early_data` over TLS 1.3 and 1.2,
 * with and without SNI, on a resumed session, and their absence on a plain connection.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect as netConnect } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import { test } from 'node:test'
import { copyTestCertificates } from '../src/proxy/testing.js'
import { freePorts, startDyups, tempPrefix, writeConf } from './helpers.js'
import { nginxOnlyLines, startNginx } from './nginx.js'

const SHOW = '"[$ssl_protocol|$ssl_cipher|$ssl_server_name|$ssl_session_reused|$ssl_early_data|$https]\\n"'

function conf(kind: 'nginx' | 'dyups', tls: number, plain: number): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  return `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:${tls} ssl;
        listen 127.0.0.1:${plain};
        server_name a.test;
        ssl_certificate a.pem;
        ssl_certificate_key a.key;
        # nginx 1.22's default leaves TLS 1.3 out; both sides offer the same versions here.
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { return 200 ${SHOW}; }
    }
${nginxOnly}}
${user}`
}

interface Got { body: string; session: Buffer | undefined }

/** One GET over TLS (`opts` add SNI, versions, a session); the body and the session to resume. */
function get(port: number, opts: ConnectionOptions): Promise<Got> {
  return new Promise((res, rej) => {
    let session: Buffer | undefined
    const s = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...opts })
    s.on('session', (b: Buffer) => { session = b })
    const chunks: Buffer[] = []
    s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n'))
    s.on('data', (b: Buffer) => chunks.push(b))
    s.on('error', rej)
    s.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1')
      res({ body: text.slice(text.indexOf('\r\n\r\n') + 4), session })
    })
  })
}

function plainGet(port: number): Promise<string> {
  return new Promise((res, rej) => {
    const s = netConnect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n'))
    const chunks: Buffer[] = []
    s.on('data', (b: Buffer) => chunks.push(b))
    s.on('error', rej)
    s.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1')
      res(text.slice(text.indexOf('\r\n\r\n') + 4))
    })
  })
}

test('$ssl_protocol, $ssl_cipher, $ssl_server_name, $ssl_session_reused, $ssl_early_data as nginx sets them', async (t) => {
  const [nt, np, dt, dp] = (await freePorts(4)) as [number, number, number, number]
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  for (const [x, kind, tls, plain] of [[xn, 'nginx', nt, np], [xd, 'dyups', dt, dp]] as const) {
    copyTestCertificates(join(x, 'conf'))
    writeConf(x, 'conf/nginx.conf', conf(kind, tls, plain))
  }
  const { mkdirSync } = await import('node:fs')
  mkdirSync(join(xn, 'tmp'), { recursive: true })
  await startNginx(t, xn, [nt, np])
  await startDyups(t, xd, [dt, dp], ['-g', 'daemon off;'])
  const ca = readFileSync(join(xd, 'conf', 'ca.pem'), 'latin1')

  const cases: [string, ConnectionOptions][] = [
    ['TLS 1.3 with SNI', { servername: 'a.test', ca }],
    ['TLS 1.3 without SNI', {}],
    ['TLS 1.2, one cipher', { servername: 'a.test', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }],
  ]
  for (const [name, opts] of cases) {
    await t.test(name, async () => {
      const n = await get(nt, opts)
      const d = await get(dt, opts)
      assert.equal(d.body, n.body)
    })
  }
  const body13 = (await get(dt, { servername: 'a.test' })).body
  assert.match(body13, /^\[TLSv1\.3\|TLS_AES_\w+\|a\.test\|\.\|\|on\]\n$/)
  assert.equal((await get(dt, { servername: 'a.test', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' })).body,
    '[TLSv1.2|ECDHE-ECDSA-AES128-GCM-SHA256|a.test|.||on]\n')

  await t.test('a resumed TLS 1.2 session', async () => {
    const opts: ConnectionOptions = { servername: 'a.test', maxVersion: 'TLSv1.2' }
    for (const port of [nt, dt]) {
      const first = await get(port, opts)
      assert.ok(first.session !== undefined, 'a session to resume')
      const again = await get(port, { ...opts, session: first.session })
      assert.match(again.body, /^\[TLSv1\.2\|[\w-]+\|a\.test\|r\|\|on\]\n$/, `port ${port}`)
    }
  })

  await t.test('a plain connection: none of them is found', async () => {
    assert.equal(await plainGet(dp), await plainGet(np))
    assert.equal(await plainGet(dp), '[|||||]\n')
  })
})

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer as createTlsServer } from 'node:tls'
import type { AddressInfo } from 'node:net'
import type { CheckSpec } from '../upstream/index.js'
import { Checker } from './checker.js'
import { deadPort, fakeBackend, rawServer, spec, until } from './testing.js'

const run = (c: Checker): Promise<[boolean, string]> => new Promise((r) => c.run((ok, reason) => r([ok, reason])))
const at = (port: number) => ({ host: '127.0.0.1', port, path: null })

test('tcp: a listener is up, a closed port is down', async (t) => {
  const b = await rawServer(t, () => {})
  assert.deepEqual(await run(new Checker(at(b.port), spec({ type: 'tcp' }))), [true, ''])
  const [ok, reason] = await run(new Checker(at(await deadPort()), spec({ type: 'tcp' })))
  assert.equal(ok, false)
  assert.match(reason, /ECONNREFUSED/)
})

test('http: sends check_http_send, the status class decides', async (t) => {
  const b = await fakeBackend(t, 200)
  const c = new Checker(at(b.port), spec({ send: 'HEAD /health HTTP/1.0\r\n\r\n' }))
  assert.deepEqual(await run(c), [true, ''])
  b.answer = 500
  assert.deepEqual(await run(c), [false, 'http status 500'])
  b.answer = 302
  assert.deepEqual(await run(c), [true, ''])
  assert.equal(b.connections, 3) // check_keepalive_requests 1: a connection per check
})

test('http: an answer that never comes is a timeout, within timeout', async (t) => {
  const b = await fakeBackend(t, 'hang')
  // Long enough for the backend, in this same process, to have read the request before the timeout on a busy machine.
  const c = new Checker(at(b.port), spec({ timeout: 1000 }))
  assert.deepEqual(await run(c), [false, 'check time out'])
  assert.equal(b.requests, 1)
})

test('http: a connection closed before the status line is down', async (t) => {
  const b = await rawServer(t, (s) => s.end())
  const [ok, reason] = await run(new Checker(at(b.port), spec()))
  assert.equal(ok, false)
  assert.match(reason, /closed|ECONNRESET|EPIPE/)
})

test('check_keepalive_requests: one connection serves that many checks; a bad answer closes it', async (t) => {
  const b = await fakeBackend(t, 200)
  b.close = false
  const c = new Checker(at(b.port), spec({ keepaliveRequests: 3, send: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' }))
  for (let i = 0; i < 7; i++) assert.deepEqual(await run(c), [true, ''])
  assert.equal(b.requests, 7)
  assert.equal(b.connections, 3) // 3 + 3 + 1
  b.answer = 503
  assert.equal((await run(c))[0], false)
  b.answer = 200
  assert.equal((await run(c))[0], true)
  assert.equal(b.connections, 4)
  c.close()
})

test('ssl_hello: a real TLS server answers our ClientHello; plain HTTP does not', async (t) => {
  const server = createTlsServer({ key: KEY, cert: CERT }, (s) => s.end())
  server.on('tlsClientError', () => {})
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => server.close(() => r())))
  const port = (server.address() as AddressInfo).port
  assert.deepEqual(await run(new Checker(at(port), spec({ type: 'ssl_hello' }))), [true, ''])
  const b = await fakeBackend(t, 200)
  const http = await rawServer(t, (s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')))
  assert.deepEqual(await run(new Checker(at(http.port), spec({ type: 'ssl_hello' }))), [false, 'ssl_hello answer is not TLS'])
  assert.equal(b.connections, 0)
})

test('mysql, ajp and fastcgi against servers that speak them', async (t) => {
  const mysql = await rawServer(t, (s) => s.write(Buffer.from([0x0a, 0, 0, 0, 0x0a, 0x35, 0x2e, 0x37, 0, 0])))
  assert.deepEqual(await run(new Checker(at(mysql.port), spec({ type: 'mysql' }))), [true, ''])
  const ajp = await rawServer(t, (s) => s.once('data', (d) => {
    if (d.equals(Buffer.from([0x12, 0x34, 0, 1, 0x0a]))) s.write(Buffer.from([0x41, 0x42, 0, 1, 9]))
  }))
  assert.deepEqual(await run(new Checker(at(ajp.port), spec({ type: 'ajp' }))), [true, ''])
  let got = ''
  const fcgi = await rawServer(t, (s) => s.on('data', (d) => {
    got += d.toString('latin1')
    // after the empty STDIN record: answer
    if (got.endsWith('\x01\x05\x00\x01\x00\x00\x00\x00')) {
      const out = 'Status: 503 Unavailable\r\n\r\n'
      s.end(Buffer.from(String.fromCharCode(1, 6, 0, 1, 0, out.length, 0, 0) + out, 'latin1'))
    }
  }))
  const fs: Partial<CheckSpec> = { type: 'fastcgi', expectAlive: ['http_2xx'], fastcgiParams: [['SCRIPT_FILENAME', '/ping']] }
  assert.deepEqual(await run(new Checker(at(fcgi.port), spec(fs))), [false, 'fastcgi status 503'])
  assert.ok(got.includes('SCRIPT_FILENAME/ping'))
})

test('close(): the probe in flight never reports and its connection goes', async (t) => {
  const b = await fakeBackend(t, 'hang')
  const TIMEOUT = 500
  // The probe is closed in flight: its request at the backend, its timeout not reported. (Should a busy machine let
  // the timeout pass before the backend saw the request, that probe proves nothing: another one.)
  let c: Checker
  let reported = false
  for (let tries = 0; ; tries++) {
    const n = b.requests
    let done = false
    c = new Checker(at(b.port), spec({ timeout: TIMEOUT }))
    c.run(() => (done = reported = true))
    assert.ok(await until(() => b.requests > n || done, 10_000), 'the probe reached the backend')
    if (!done) break
    assert.ok(tries < 5, 'every probe timed out before the backend read it')
  }
  c.close()
  // A probe started now with the same timeout reports it after the closed one's timeout would have fired.
  assert.deepEqual(await run(new Checker(at(b.port), spec({ timeout: TIMEOUT }))), [false, 'check time out'])
  assert.equal(reported, false)
  assert.equal(c.busy, false)
})

const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7sG+fbBiI5JZIAQK
Bkp7uWeHavPE9SCjsOEYPvi7E4KhRANCAAQVO7nxg/6sbRTeuLxMCAzEz+QTmuEr
gsc2qAaZnTlJZupJEirCkTYqqD03aPsR8ndO/5hguuCQHeySfCdb+Dfz
-----END PRIVATE KEY-----
`
const CERT = `-----BEGIN CERTIFICATE-----
MIIBfjCCASWgAwIBAgIUUaVv1cc13rb4tlWywj86F2VF+FQwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNTE1NTIzOVoYDzIxMjYxMTAx
MTU1MjM5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQVO7nxg/6sbRTeuLxMCAzEz+QTmuErgsc2qAaZnTlJZupJEirCkTYq
qD03aPsR8ndO/5hguuCQHeySfCdb+Dfzo1MwUTAdBgNVHQ4EFgQUn1xXjlNhVKZK
mc3dvHzRhkW2LtAwHwYDVR0jBBgwFoAUn1xXjlNhVKZKmc3dvHzRhkW2LtAwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBx1tisDxKClxZBOZ0jHHlv
EGHu74HXewSDDP50GGzrggIgIiF6DSEOyHyNEpoUueN7EI7j8vz3BhhbxbhlC4/W
KVE=
-----END CERTIFICATE-----
`

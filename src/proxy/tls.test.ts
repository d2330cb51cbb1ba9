import assert from 'node:assert/strict'
import { constants } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { connect, createServer, type TLSSocket } from 'node:tls'
import { DyupsError } from '../errors.js'
import { testCertificates } from './testing.js'
import {
  readCertificate, readKey, readTrusted, secureContext, sslErrorText, sslName, tlsVersions, UpstreamTls,
  verifyErrorText, type UpstreamTlsOptions,
} from './tls.js'

const dir = testCertificates()
const file = (n: string): string => join(dir, n)
const pem = (n: string): string => readFileSync(file(n), 'latin1')

/** The message of the DyupsError `f` throws. */
function thrown(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    assert.ok(e instanceof DyupsError, String(e))
    assert.equal(e.code, 'E_CONFIG')
    return e.message
  }
  assert.fail('no error thrown')
}

test('tlsVersions: the range listed, gaps turned off, SSLv3 left out', () => {
  const cases: [string[], object][] = [
    [['TLSv1.2', 'TLSv1.3'], { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', secureOptions: 0 }],
    [['tlsv1.3'], { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', secureOptions: 0 }],
    [['SSLv3', 'TLSv1.1'], { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', secureOptions: 0 }],
    [['TLSv1', 'TLSv1.2'], { minVersion: 'TLSv1', maxVersion: 'TLSv1.2', secureOptions: constants.SSL_OP_NO_TLSv1_1 }],
    [['TLSv1', 'TLSv1.3'], { minVersion: 'TLSv1', maxVersion: 'TLSv1.3', secureOptions: constants.SSL_OP_NO_TLSv1_1 | constants.SSL_OP_NO_TLSv1_2 }],
  ]
  for (const [list, want] of cases) assert.deepEqual(tlsVersions(list, 'ssl_protocols'), want, list.join(' '))
  assert.equal(thrown(() => tlsVersions(['SSLv2', 'SSLv3'], 'ssl_protocols')), 'no TLS version in "ssl_protocols": dyups speaks TLSv1 to TLSv1.3')
})

test('sslName drops the port $proxy_host may carry', () => {
  const cases: [string, string][] = [
    ['backend.test', 'backend.test'],
    ['backend.test:8443', 'backend.test'],
    ['127.0.0.1:443', '127.0.0.1'],
    ['[::1]:443', '::1'],
    ['[::1]', '::1'],
    ['', ''],
  ]
  for (const [input, want] of cases) assert.equal(sslName(input), want, input)
})

test('sslErrorText: OpenSSL lines as nginx prints them, other errors as they are', () => {
  const e = new Error('C0B7E2F7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/ssl/record/ssl3_record.c:354:\n')
  assert.equal(sslErrorText(e), 'SSL: error:0A00010B:SSL routines::wrong version number')
  assert.equal(sslErrorText(new Error('error:0A0000B9:SSL routines::no cipher match')), 'SSL: error:0A0000B9:SSL routines::no cipher match')
  assert.equal(sslErrorText(new Error('socket hang up')), 'socket hang up')
  assert.equal(verifyErrorText('UNABLE_TO_GET_ISSUER_CERT_LOCALLY'), '20:unable to get local issuer certificate')
  assert.equal(verifyErrorText('SOMETHING_NEW'), 'SOMETHING_NEW')
})

test('PEM files: read, or refused with nginx\'s words naming the file', () => {
  assert.match(readCertificate(file('a.pem')), /BEGIN CERTIFICATE/)
  assert.match(readKey(file('a.key')), /PRIVATE KEY/)
  assert.match(readTrusted(file('ca.pem')), /BEGIN CERTIFICATE/)
  const cases: [() => unknown, string][] = [
    [() => readCertificate(file('missing.pem')), `cannot load certificate "${file('missing.pem')}": BIO_new_file() failed (2: No such file or directory)`],
    [() => readCertificate(file('garbage.pem')), `cannot load certificate "${file('garbage.pem')}": PEM_read_bio_X509_AUX() failed (SSL: error:0480006C:PEM routines::no start line)`],
    [() => readCertificate(file('a.key')), `cannot load certificate "${file('a.key')}": PEM_read_bio_X509_AUX() failed (SSL: error:0480006C:PEM routines::no start line)`],
    [() => readKey(file('missing.key')), `cannot load certificate key "${file('missing.key')}": BIO_new_file() failed (2: No such file or directory)`],
    [() => readKey(dir), `cannot load certificate key "${dir}": BIO_new_file() failed (21: Is a directory)`],
    [() => readTrusted(file('missing.pem')), `SSL_CTX_load_verify_locations("${file('missing.pem')}") failed (2: No such file or directory)`],
    [() => readTrusted(file('garbage.pem')), `SSL_CTX_load_verify_locations("${file('garbage.pem')}") failed (no certificate in the file)`],
  ]
  for (const [f, want] of cases) assert.equal(thrown(f), want)
  // A key that is no key: nginx's call and file; OpenSSL's reason follows.
  assert.ok(thrown(() => readKey(file('a.pem'))).startsWith(`cannot load certificate key "${file('a.pem')}": PEM_read_bio_PrivateKey() failed (SSL: error:`))
})

test('secureContext: OpenSSL refusals in nginx\'s words', () => {
  const pair = (c: string, k: string) => ({ cert: pem(`${c}.pem`), key: pem(`${k}.key`), certPath: file(`${c}.pem`), keyPath: file(`${k}.key`) })
  const p = pair('a', 'a')
  secureContext({ cert: p.cert, key: p.key }, [p])
  assert.equal(
    thrown(() => secureContext({ cert: p.cert, key: p.key, ciphers: 'NOSUCHCIPHER' }, [p])),
    'SSL_CTX_set_cipher_list("NOSUCHCIPHER") failed (SSL: error:0A0000B9:SSL routines::no cipher match)',
  )
  const bad = pair('a', 'b')
  assert.equal(
    thrown(() => secureContext({ cert: bad.cert, key: bad.key }, [bad])),
    `SSL_CTX_use_PrivateKey("${file('b.key')}") failed (SSL: error:05800074:x509 certificate routines::key values mismatch)`,
  )
})

const base: UpstreamTlsOptions = {
  serverName: false, verify: false, verifyDepth: 1, sessionReuse: true, protocols: ['TLSv1.2', 'TLSv1.3'],
  ciphers: 'DEFAULT', trusted: null, client: null,
}

test('UpstreamTls: pools apart by settings, and by name only where the name is used', () => {
  const plain = new UpstreamTls(base)
  const other = new UpstreamTls(base)
  const sni = new UpstreamTls({ ...base, serverName: true })
  assert.notEqual(plain.poolKey('127.0.0.1:443', 'x'), '127.0.0.1:443')
  assert.notEqual(plain.poolKey('127.0.0.1:443', 'x'), other.poolKey('127.0.0.1:443', 'x'))
  assert.equal(plain.poolKey('127.0.0.1:443', 'x'), plain.poolKey('127.0.0.1:443', 'y'))
  assert.notEqual(sni.poolKey('127.0.0.1:443', 'x'), sni.poolKey('127.0.0.1:443', 'y'))
  // SNI: only when asked for, and never for an IP address (as nginx).
  const table: [UpstreamTls, string, string | undefined][] = [
    [plain, 'backend.test', undefined],
    [sni, 'backend.test', 'backend.test'],
    [sni, '127.0.0.1', undefined],
    [sni, '::1', undefined],
    [sni, '', undefined],
  ]
  for (const [t, name, want] of table) assert.equal(t.connectOptions(name, undefined).servername, want, name)
  assert.throws(() => new UpstreamTls({ ...base, protocols: ['SSLv3'] }), /no TLS version in "proxy_ssl_protocols"/)
})

test('UpstreamTls.checkPeer: chain, depth and name with proxy_ssl_verify on', async (t) => {
  const listen = async (cert: string, key: string): Promise<number> => {
    const server = createServer({ cert: pem(cert), key: pem(key) }, (s) => s.end())
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    t.after(() => server.close())
    return (server.address() as AddressInfo).port
  }
  const ports = { backend: await listen('backend.pem', 'backend.key'), deep: await listen('deep-chain.pem', 'deep.key') }
  const peer = (port: number, tls: UpstreamTls, name: string): Promise<string | null> =>
    new Promise((res, rej) => {
      const s: TLSSocket = connect({ port, host: '127.0.0.1', ...tls.connectOptions(name, undefined) })
      s.once('secureConnect', () => {
        res(tls.checkPeer(s, name))
        s.destroy()
      })
      s.once('error', rej)
    })
  const trusted = pem('ca.pem')
  const verify = (o: Partial<UpstreamTlsOptions>): UpstreamTls => new UpstreamTls({ ...base, verify: true, trusted, ...o })
  const tooLong = 'upstream SSL certificate verify error: (22:certificate chain too long)'
  const cases: [string, number, UpstreamTls, string, string | null][] = [
    ['verify off accepts anything', ports.backend, new UpstreamTls(base), 'whatever', null],
    ['the right CA and name', ports.backend, verify({}), 'backend.test', null],
    ['a wrong name', ports.backend, verify({}), 'other.test', 'upstream SSL certificate does not match "other.test"'],
    ['a wrong CA', ports.backend, verify({ trusted: pem('other-ca.pem') }), 'backend.test', 'upstream SSL certificate verify error: (21:unable to verify the first certificate)'],
    // OpenSSL's depth: the CAs allowed between the peer and the trust anchor.
    ['depth 0, signed by the trusted CA', ports.backend, verify({ verifyDepth: 0 }), 'backend.test', null],
    ['depth 0, one intermediate', ports.deep, verify({ verifyDepth: 0 }), 'deep.test', tooLong],
    ['depth 1, one intermediate', ports.deep, verify({ verifyDepth: 1 }), 'deep.test', null],
  ]
  for (const [name, port, tls, host, want] of cases) assert.equal(await peer(port, tls, host), want, name)
})

import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { SecureContext } from 'node:tls'
import { parseText } from '../../config/index.js'
import { DyupsError } from '../../errors.js'
import { copyTestCertificates } from '../../proxy/testing.js'
import { compileHttp } from './compile.js'
import type { HttpConfig, ProxyPass } from './types.js'

/** A prefix with the test certificates in conf/, and a compiler for an http block's inside. */
function setup(t: import('node:test').TestContext): { conf: string; compile: (http: string) => HttpConfig } {
  const prefix = mkdtempSync(join(tmpdir(), 'dyups-tls-'))
  t.after(() => rmSync(prefix, { recursive: true, force: true }))
  const conf = join(prefix, 'conf')
  mkdirSync(conf)
  copyTestCertificates(conf)
  const confFile = join(conf, 'nginx.conf')
  return {
    conf,
    compile: (http) => {
      const c = compileHttp({ prefix, confFile, tree: parseText(`http {\n${http}\n}\n`, confFile) })
      c.logFiles.close()
      return c
    },
  }
}

/** The context the SNI lookup of `key` gives for `name`. */
function sni(c: HttpConfig, key: string, name: string): SecureContext {
  let got: SecureContext | undefined
  c.tls.get(key)!.options.SNICallback!(name, (err, ctx) => {
    assert.equal(err, null)
    got = ctx
  })
  assert.ok(got !== undefined, `no context for ${name}`)
  return got
}

function message(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    assert.ok(e instanceof DyupsError, String(e))
    return e.message
  }
  assert.fail('no error thrown')
}

test('SNI picks the context of the server whose name matches, as Host picks the server', (t) => {
  const { compile } = setup(t)
  const c = compile(`
    access_log off;
    server { listen 127.0.0.1:8443 ssl; server_name a.test; ssl_certificate a.pem; ssl_certificate_key a.key; }
    server { listen 127.0.0.1:8443; server_name b.test *.b.test; ssl_certificate b.pem; ssl_certificate_key b.key; }
    server { listen 127.0.0.1:8444; server_name plain.test; }
  `)
  assert.deepEqual([...c.tls.keys()], ['127.0.0.1:8443'])
  const a = c.tls.get('127.0.0.1:8443')!.options.secureContext!
  const b = sni(c, '127.0.0.1:8443', 'b.test')
  assert.notEqual(a, b)
  const table: [string, SecureContext][] = [
    ['a.test', a], ['b.test', b], ['B.TEST.', b], ['www.b.test', b], ['unknown.test', a], ['', a],
  ]
  for (const [name, want] of table) assert.equal(sni(c, '127.0.0.1:8443', name), want, name)
})

test('servers inheriting the http block\'s certificate share one context', (t) => {
  const { compile } = setup(t)
  const c = compile(`
    access_log off;
    ssl_certificate a.pem;
    ssl_certificate_key a.key;
    server { listen 127.0.0.1:8443 ssl; server_name one.test; }
    server { listen 127.0.0.1:8443; server_name two.test; }
    server { listen 127.0.0.1:9443 ssl; server_name three.test; ssl_protocols TLSv1.3; }
  `)
  const ctx = c.tls.get('127.0.0.1:8443')!.options.secureContext
  assert.equal(sni(c, '127.0.0.1:8443', 'two.test'), ctx)
  assert.notEqual(c.tls.get('127.0.0.1:9443')!.options.secureContext, ctx)
})

test('compile errors: nginx\'s words, paths relative to the configuration directory', (t) => {
  const { conf, compile } = setup(t)
  const server = (lines: string): string => `access_log off; server { listen 127.0.0.1:8443 ssl; ${lines} }`
  const cases: [string, string][] = [
    [server('ssl_certificate a.pem;'), 'no "ssl_certificate_key" is defined for certificate "a.pem"'],
    [server('ssl_certificate a.pem; ssl_certificate_key b.key;'), `SSL_CTX_use_PrivateKey("${join(conf, 'b.key')}") failed (SSL: error:05800074:x509 certificate routines::key values mismatch)`],
    [server('ssl_certificate a.pem; ssl_certificate_key a.key; ssl_ciphers NOSUCHCIPHER;'), 'SSL_CTX_set_cipher_list("NOSUCHCIPHER") failed (SSL: error:0A0000B9:SSL routines::no cipher match)'],
    [server('ssl_certificate sub/missing.pem; ssl_certificate_key a.key;'), `cannot load certificate "${join(conf, 'sub/missing.pem')}": BIO_new_file() failed (2: No such file or directory)`],
    // A server that does not listen with ssl still has its certificate read, as nginx does.
    ['access_log off; server { listen 127.0.0.1:8080; ssl_certificate garbage.pem; ssl_certificate_key a.key; }', `cannot load certificate "${join(conf, 'garbage.pem')}": PEM_read_bio_X509_AUX() failed (SSL: error:0480006C:PEM routines::no start line)`],
    ['access_log off; server { listen 127.0.0.1:8080; location / { proxy_pass https://127.0.0.1; proxy_ssl_verify on; } }', 'no proxy_ssl_trusted_certificate for proxy_ssl_verify'],
    ['access_log off; server { listen 127.0.0.1:8080; location / { proxy_pass https://127.0.0.1; proxy_ssl_certificate client.pem; } }', 'no "proxy_ssl_certificate_key" is defined for certificate "client.pem"'],
    ['access_log off; server { listen 127.0.0.1:8080; location / { proxy_pass https://127.0.0.1; proxy_ssl_trusted_certificate none.pem; } }', `SSL_CTX_load_verify_locations("${join(conf, 'none.pem')}") failed (2: No such file or directory)`],
  ]
  for (const [http, want] of cases) assert.equal(message(() => compile(http)), want, http)
  // proxy_ssl_* only matter where proxy_pass may be https: a plain http:// location does not read them.
  compile('access_log off; server { listen 127.0.0.1:8080; location / { proxy_pass http://127.0.0.1; proxy_ssl_verify on; } }')
})

test('proxy_pass https: TLS settings inherited by directive, shared by locations with the same ones', (t) => {
  const { compile } = setup(t)
  const c = compile(`
    access_log off;
    proxy_ssl_server_name on;
    server {
      listen 127.0.0.1:8080;
      location /a { proxy_pass https://127.0.0.1; }
      location /b { proxy_pass https://127.0.0.1:8443; }
      location /c { proxy_pass https://127.0.0.1; proxy_ssl_name backend.test; }
      location /d { proxy_pass http://127.0.0.1; }
      location /e { proxy_pass $arg_u; }
    }
  `)
  const pass = (i: number): ProxyPass => {
    const h = c.servers[0]!.locConfs[i]!.handler
    assert.equal(h.kind, 'proxy')
    return (h as { kind: 'proxy'; pass: ProxyPass }).pass
  }
  const [a, b, cc, d, e] = [0, 1, 2, 3, 4].map(pass) as [ProxyPass, ProxyPass, ProxyPass, ProxyPass, ProxyPass]
  assert.deepEqual([a.https, b.https, cc.https, d.https, e.https], [true, true, true, false, false])
  assert.equal(a.tls!.tls, b.tls!.tls)
  assert.notEqual(a.tls!.tls, cc.tls!.tls)
  assert.equal(a.tls!.tls.serverName, true)
  assert.equal(a.tls!.name, null)
  assert.equal(cc.tls!.name!.constant, 'backend.test')
  assert.equal(d.tls, null)
  // With variables the scheme is known per request: TLS is ready in case.
  assert.ok(e.tls !== null)
})

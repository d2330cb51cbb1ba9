import { test } from 'node:test'
import assert from 'node:assert/strict'
import { inet6Addr, inet6Ntop, inetAddr, isUtf8, parseAddress } from './address.js'

test('server addresses as ngx_parse_url reads them', () => {
  const cases: [string, unknown][] = [
    ['127.0.0.1:8088', { kind: 'ip', host: '127.0.0.1', port: 8088, addr: '127.0.0.1:8088' }],
    ['127.0.0.1', { kind: 'ip', host: '127.0.0.1', port: 80, addr: '127.0.0.1:80' }],
    ['010.0.0.001:08088', { kind: 'ip', host: '10.0.0.1', port: 8088, addr: '10.0.0.1:8088' }],
    ['0.0.0.0:1', { kind: 'ip', host: '0.0.0.0', port: 1, addr: '0.0.0.0:1' }],
    ['[::1]:8088', { kind: 'ip', host: '::1', port: 8088, addr: '[::1]:8088' }],
    ['[::1]', { kind: 'ip', host: '::1', port: 80, addr: '[::1]:80' }],
    ['[2001:DB8:0:0:0:0:0:1]:443', { kind: 'ip', host: '2001:db8::1', port: 443, addr: '[2001:db8::1]:443' }],
    ['[::ffff:10.1.2.3]:80', { kind: 'ip', host: '::ffff:10.1.2.3', port: 80, addr: '[::ffff:10.1.2.3]:80' }],
    ['unix:/tmp/a.sock', { kind: 'unix', path: '/tmp/a.sock' }],
    ['UNIX:/tmp/a.sock', { kind: 'unix', path: '/tmp/a.sock' }],
    ['localhost:8088', { kind: 'name', host: 'localhost', port: 8088 }],
    ['backend', { kind: 'name', host: 'backend', port: 80 }],
    ['999.1.1.1:80', { kind: 'name', host: '999.1.1.1', port: 80 }],
    ['127.0.0.1:0', { kind: 'error', err: 'invalid port' }],
    ['127.0.0.1:65536', { kind: 'error', err: 'invalid port' }],
    ['127.0.0.1:', { kind: 'error', err: 'invalid port' }],
    ['127.0.0.1:http', { kind: 'error', err: 'invalid port' }],
    ['127.0.0.1:-1', { kind: 'error', err: 'invalid port' }],
    ['::1', { kind: 'error', err: 'invalid port' }],
    [':80', { kind: 'error', err: 'no host' }],
    ['', { kind: 'error', err: 'no host' }],
    ['a/b', { kind: 'error', err: 'invalid host' }],
    ['a:80/x', { kind: 'error', err: 'invalid host' }],
    ['a?b', { kind: 'error', err: 'invalid host' }],
    ['[::1', { kind: 'error', err: 'invalid host' }],
    ['[::1]x', { kind: 'error', err: 'invalid host' }],
    ['[::1]:', { kind: 'error', err: 'invalid port' }],
    ['[]:80', { kind: 'error', err: 'no host' }],
    ['[zz::1]:80', { kind: 'error', err: 'invalid IPv6 address' }],
    ['[1.2.3.4]:80', { kind: 'error', err: 'invalid IPv6 address' }],
    ['unix:', { kind: 'error', err: 'no path in the unix domain socket' }],
    ['unix:/' + 'a'.repeat(107), { kind: 'error', err: 'too long path in the unix domain socket' }],
    ['unix:/tmp/\xff.sock', { kind: 'error', err: 'invalid host' }],
  ]
  for (const [url, want] of cases) assert.deepEqual(parseAddress(url), want, url)
  assert.equal(parseAddress('unix:/' + 'a'.repeat(106)).kind, 'unix')
})

test('ngx_inet_addr', () => {
  const cases: [string, string | null][] = [
    ['1.2.3.4', '1.2.3.4'],
    ['255.255.255.255', '255.255.255.255'],
    ['01.002.3.4', '1.2.3.4'],
    ['1..2.3', '1.0.2.3'],
    ['256.1.1.1', null],
    ['999.1.1.1', null],
    ['1.2.3', null],
    ['1.2.3.4.5', null],
    ['1.2.3.a', null],
    ['', null],
  ]
  for (const [s, want] of cases) assert.equal(inetAddr(s), want, s)
})

test('ngx_inet6_addr and ngx_inet6_ntop round trips', () => {
  const cases: [string, string | null][] = [
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['1::2', '1::2'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::1.2.3.4', '::1.2.3.4'],
    ['fe80::1:2', 'fe80::1:2'],
    ['ABCD::EF', 'abcd::ef'],
    ['1:2:3:4:5:6:7:8:9', null],
    ['1:::2', null],
    ['1::2::3', null],
    ['12345::', null],
    ['g::', null],
    ['1:2', null],
    ['', null],
  ]
  for (const [s, want] of cases) {
    const b = new Uint8Array(16)
    const ok = inet6Addr(s, b)
    assert.equal(ok ? inet6Ntop(b) : null, want, s)
  }
})

test('UTF-8 validity of latin1 byte strings', () => {
  assert.equal(isUtf8('plain'), true)
  assert.equal(isUtf8('\xc3\xa9'), true) // é
  assert.equal(isUtf8('\xe2\x82\xac'), true) // €
  assert.equal(isUtf8('\xf0\x9f\x98\x80'), true) // emoji
  assert.equal(isUtf8('\xff'), false)
  assert.equal(isUtf8('\xc3'), false)
  assert.equal(isUtf8('\xc0\xaf'), false) // overlong
  assert.equal(isUtf8('\xed\xa0\x80'), false) // surrogate
})

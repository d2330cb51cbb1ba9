import { test } from 'node:test'
import assert from 'node:assert/strict'
import { matchComponent, hasGlobMagic } from './glob.js'
import { parseAddress, isCidr } from './addresses.js'

const matches: [string, string, boolean][] = [
  ['*.conf', 'a.conf', true],
  ['*.conf', 'a.conf.bak', false],
  ['*.conf', '.a.conf', false],
  ['.*.conf', '.a.conf', true],
  ['?.conf', 'ab.conf', false],
  ['??.conf', 'ab.conf', true],
  ['[ab].conf', 'b.conf', true],
  ['[!ab].conf', 'b.conf', false],
  ['[^ab].conf', 'c.conf', true],
  ['[a-c]*', 'bx', true],
  ['[a-c]*', 'dx', false],
  ['[]]', ']', true],
  ['[', '[', true],
  ['a\\*', 'a*', true],
  ['a\\*', 'ab', false],
  ['*', '', true],
  ['*a*b*', 'xaybz', true],
  ['*a*b*', 'xbya', false],
]

for (const [pat, name, want] of matches) {
  test(`glob: ${pat} ~ ${JSON.stringify(name)} = ${want}`, () => assert.equal(matchComponent(pat, name), want))
}

test('glob: magic characters are those nginx tests with strpbrk("*?[")', () => {
  assert.equal(hasGlobMagic('a/*.conf'), true)
  assert.equal(hasGlobMagic('a/b?.conf'), true)
  assert.equal(hasGlobMagic('a/[b].conf'), true)
  assert.equal(hasGlobMagic('a/b.conf'), false)
})

test('addresses: ngx_parse_url forms', () => {
  assert.deepEqual(parseAddress('80', { listen: true }), { family: 'inet', host: '*', port: 80, wildcard: true, name: false })
  assert.deepEqual(parseAddress('[::]:8080', { listen: true }), { family: 'inet6', host: '[::]', port: 8080, wildcard: true, name: false })
  assert.deepEqual(parseAddress('127.0.0.1'), { family: 'inet', host: '127.0.0.1', port: null, wildcard: false, name: false })
  assert.deepEqual(parseAddress('backend:81/x', { uriPart: true }), { family: 'inet', host: 'backend', port: 81, wildcard: false, name: true })
  assert.deepEqual(parseAddress('unix:/tmp/s'), { family: 'unix', host: '/tmp/s', port: null, wildcard: false, name: false })
  assert.equal(parseAddress(`unix:/${'a'.repeat(107)}`), 'too long path in the unix domain socket')
  assert.equal(parseAddress('a:0'), 'invalid port')
  assert.equal(parseAddress('a:1:2'), 'invalid port')
  assert.equal(parseAddress('256.1.1.1'), 'host not found')
  assert.equal(parseAddress('[fe80::1%eth0]:80'), 'invalid IPv6 address')
})

test('addresses: CIDR', () => {
  for (const ok of ['10.0.0.0/8', '1.2.3.4', '::1', '2001:db8::/32', '0.0.0.0/0']) assert.equal(isCidr(ok), true, ok)
  for (const bad of ['1.2.3.4/33', '::/129', 'x', '1.2.3/8', '1.2.3.4/', '1.2.3.4/a']) assert.equal(isCidr(bad), false, bad)
})

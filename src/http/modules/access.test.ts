import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Directive } from '../../config/index.js'
import { compileAccess, inheritAccess, parseCidr } from './access.js'
import { parseIPv4, parseIPv6 } from '../lib/ip.js'

let line = 0
const d = (name: string, ...args: string[]): Directive => ({ name, args, block: null, file: 'a.conf', line: ++line })

function rules(spec: string, warnings?: string[]) {
  // "allow 10.0.0.0/8; deny all" → directives
  const ds = spec
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const [name, ...args] = s.split(/\s+/)
      return d(name!, ...args)
    })
  return compileAccess(ds, (m) => warnings?.push(m))
}

// [value, nginx -t outcome on 1.22.1: 'ok' | 'warn' (low address bits) | 'invalid']
const PARSE: Array<[string, 'ok' | 'warn' | 'invalid']> = [
  ['10.0.0.1/8', 'warn'],
  ['10.0.0.0/8', 'ok'],
  ['1.2.3.4', 'ok'],
  ['1..2.3', 'ok'],
  ['255.255.255.255', 'invalid'],
  ['256.1.1.1', 'invalid'],
  ['1.2.3', 'invalid'],
  ['1.2.3.4.5', 'invalid'],
  ['1.2.3.4/33', 'invalid'],
  ['1.2.3.4/', 'invalid'],
  ['1.2.3.4/x', 'invalid'],
  ['::1', 'ok'],
  ['::', 'ok'],
  ['::/0', 'ok'],
  ['2001:db8::1/32', 'warn'],
  ['2001:db8::/32', 'ok'],
  ['::ffff:1.2.3.4', 'ok'],
  ['1::', 'ok'],
  ['1:2:3:4:5:6:7:8', 'ok'],
  ['1:2:3:4:5:6:7:8:9', 'invalid'],
  ['1:2:3:4:5:6:7::', 'invalid'],
  ['1::2::3', 'invalid'],
  [':1', 'invalid'],
  ['fe80::1%eth0', 'invalid'],
  ['12345::', 'invalid'],
  ['::1.2.3.4', 'ok'],
  ['1:2:3:4:5:6:1.2.3.4', 'ok'],
  ['1:2:3:4:5:6:7:1.2.3.4', 'invalid'],
  ['::/129', 'invalid'],
  ['all', 'ok'],
  ['unix:', 'ok'],
  ['ALL', 'invalid'],
  ['0.0.0.0/0', 'ok'],
  ['1.2.3.4/0', 'warn'],
  ['g::1', 'invalid'],
  ['1.2.3.04', 'ok'],
]

test('allow values: accepted, warned and rejected as nginx -t does', () => {
  for (const [value, want] of PARSE) {
    const warnings: string[] = []
    let got: string
    try {
      rules(`allow ${value}`, warnings)
      got = warnings.length ? 'warn' : 'ok'
      if (want === 'warn') assert.deepEqual(warnings, [`low address bits of ${value} are meaningless`])
    } catch (e: any) {
      assert.equal(e.code, 'E_CONFIG')
      assert.equal(e.message, `invalid parameter "${value}"`)
      assert.deepEqual(e.at, { file: 'a.conf', line })
      got = 'invalid'
    }
    assert.equal(got, want, value)
  }
})

test('parsers give the right numbers', () => {
  assert.equal(parseIPv4('10.1.2.3'), 0x0a010203)
  assert.equal(parseIPv4('1..2.3'), 0x01000203)
  assert.equal(parseIPv4('0.0.0.0'), 0)
  const b = new Uint8Array(16)
  assert.equal(parseIPv6('2001:db8::ff:1', b), true)
  assert.deepEqual([...b], [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 1])
  assert.equal(parseIPv6('::ffff:1.2.3.4', b), true)
  assert.deepEqual([...b], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4])
  assert.equal(parseIPv6('1::', b), true)
  assert.deepEqual([...b], [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
  const c = parseCidr('10.0.0.1/8')!
  assert.equal(c.addr4, 0x0a000000)
  assert.equal(c.mask4, 0xff000000)
  assert.equal(c.trimmed, true)
  const c6 = parseCidr('2001:db8::1/33')!
  assert.deepEqual([...c6.mask6.slice(0, 6)], [0xff, 0xff, 0xff, 0xff, 0x80, 0])
})

test('first matching rule decides; no match allows', () => {
  // [rules, client address, allowed]
  const rows: Array<[string, string, boolean]> = [
    ['deny 192.168.1.1; allow 192.168.1.0/24; allow 10.1.1.0/16; allow 2001:0db8::/32; deny all', '192.168.1.1', false],
    ['deny 192.168.1.1; allow 192.168.1.0/24; allow 10.1.1.0/16; allow 2001:0db8::/32; deny all', '192.168.1.2', true],
    ['deny 192.168.1.1; allow 192.168.1.0/24; allow 10.1.1.0/16; allow 2001:0db8::/32; deny all', '10.1.200.7', true],
    ['deny 192.168.1.1; allow 192.168.1.0/24; allow 10.1.1.0/16; allow 2001:0db8::/32; deny all', '10.2.0.1', false],
    ['deny 192.168.1.1; allow 192.168.1.0/24; allow 10.1.1.0/16; allow 2001:0db8::/32; deny all', '2001:db8:1::5', true],
    ['deny 192.168.1.1; allow 192.168.1.0/24; allow 10.1.1.0/16; allow 2001:0db8::/32; deny all', '2001:db9::5', false],
    ['deny 192.168.1.1; allow 192.168.1.0/24; allow 10.1.1.0/16; allow 2001:0db8::/32; deny all', '::ffff:192.168.1.1', false],
    ['deny 192.168.1.1; allow 192.168.1.0/24; allow 10.1.1.0/16; allow 2001:0db8::/32; deny all', '::ffff:192.168.1.9', true],
    ['deny 192.168.1.1; allow 192.168.1.0/24; allow 10.1.1.0/16; allow 2001:0db8::/32; deny all', 'unix:', false],
    ['allow 127.0.0.1; deny all', '127.0.0.1', true],
    ['allow 127.0.0.1; deny all', '::ffff:127.0.0.1', true],
    ['allow 127.0.0.1; deny all', '127.0.0.2', false],
    ['allow 127.0.0.1; deny all', '::1', false],
    ['allow ::1; deny all', '::1', true],
    ['allow ::1; deny all', '0:0:0:0:0:0:0:1', true],
    ['allow ::1; deny all', '127.0.0.1', false],
    // Rules of one family never decide for another.
    ['deny 10.0.0.0/8', '::1', true],
    ['deny ::/0', '10.0.0.1', true],
    ['deny ::/0', '::ffff:10.0.0.1', false], // no IPv4 rules: a mapped address is checked as IPv6
    ['deny 10.0.0.0/8', '::ffff:10.0.0.1', false],
    ['deny unix:; allow all', 'unix:', false],
    ['allow unix:; deny all', 'unix:', true],
    ['allow unix:; deny all', '10.0.0.1', false],
    ['deny all', 'fe80::1%eth0', false],
    ['allow fe80::/10; deny all', 'fe80::1%eth0', true],
    ['deny 0.0.0.0/0', '203.0.113.9', false],
    ['deny 10.0.0.1/8', '10.9.9.9', false], // low bits cleared, as nginx does
    ['allow 10.0.0.0/8', '10.0.0.1', true],
    ['deny 10.0.0.0/8', 'not-an-address', true],
    ['deny all', '', true],
  ]
  for (const [spec, addr, allowed] of rows) assert.equal(rules(spec)!.allows(addr), allowed, `${spec} / ${addr}`)
})

test('no allow/deny → null, and inheritance takes the parent only then', () => {
  assert.equal(compileAccess([d('proxy_pass', 'http://x')]), null)
  const parent = rules('deny all')!
  const own = rules('allow all')!
  assert.equal(inheritAccess(null, parent), parent)
  assert.equal(inheritAccess(own, parent), own)
  assert.equal(inheritAccess(null, null), null)
})

test('argument count is checked', () => {
  assert.throws(
    () => compileAccess([d('deny')]),
    (e: any) => e.code === 'E_CONFIG' && e.message === 'invalid number of arguments in "deny" directive',
  )
})

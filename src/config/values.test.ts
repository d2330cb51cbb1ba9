import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseTime, parseSize, parseOffset, parseFlag, parseNumber, parsePositive } from './values.js'
import { DyupsError } from '../errors.js'

// Each row was checked against nginx 1.22 (`nginx -t` with proxy_read_timeout / ssl_session_timeout).
const times: [string, 's' | 'ms', number | null][] = [
  ['10', 's', 10_000],
  ['10', 'ms', 10_000],
  ['10s', 's', 10_000],
  ['500ms', 'ms', 500],
  ['500ms', 's', null],
  ['1m', 'ms', 60_000],
  ['1h30m', 'ms', 5_400_000],
  ['1h 30m', 'ms', 5_400_000],
  ['1d', 's', 86_400_000],
  ['2w', 's', 1_209_600_000],
  ['1M', 's', 2_592_000_000],
  ['1y', 's', 31_536_000_000],
  ['1y', 'ms', null],
  ['1M', 'ms', null],
  ['1m1h', 'ms', null],
  ['1s1s', 'ms', null],
  ['1h1', 'ms', 3_601_000],
  ['10ms5', 'ms', 5010],
  ['5 1', 'ms', 6000],
  ['', 'ms', null],
  ['s', 'ms', null],
  ['1x', 'ms', null],
  ['-1', 'ms', null],
  ['1.5s', 'ms', null],
  ['99999999999999999999', 'ms', null],
]

for (const [s, unit, want] of times) {
  test(`parseTime(${JSON.stringify(s)}, ${unit}) = ${want}`, () => assert.equal(parseTime(s, unit), want))
}

test('parseTime defaults to second semantics', () => {
  assert.equal(parseTime('1y'), 31_536_000_000)
  assert.equal(parseTime('1ms'), null)
})

const sizes: [string, number | null, number | null][] = [
  ['0', 0, 0],
  ['512', 512, 512],
  ['8k', 8192, 8192],
  ['8K', 8192, 8192],
  ['2m', 2_097_152, 2_097_152],
  ['2M', 2_097_152, 2_097_152],
  ['1g', null, 1_073_741_824],
  ['1G', null, 1_073_741_824],
  ['2MB', null, null],
  ['k', null, null],
  ['', null, null],
  ['-1', null, null],
  ['1.5m', null, null],
  [' 1', null, null],
]

for (const [s, size, offset] of sizes) {
  test(`parseSize/parseOffset(${JSON.stringify(s)})`, () => {
    assert.equal(parseSize(s), size)
    assert.equal(parseOffset(s), offset)
  })
}

test('parseNumber and parsePositive', () => {
  assert.equal(parseNumber('0'), 0)
  assert.equal(parseNumber('42'), 42)
  assert.equal(parseNumber(''), null)
  assert.equal(parseNumber('+1'), null)
  assert.equal(parseNumber('1e3'), null)
  assert.equal(parseNumber('9'.repeat(30)), null)
  assert.equal(parsePositive('0'), null)
  assert.equal(parsePositive('3'), 3)
})

test('parseFlag', () => {
  const d = (v: string) => ({ name: 'daemon', args: [v], block: null, file: 'f', line: 3 })
  assert.equal(parseFlag(d('on')), true)
  assert.equal(parseFlag(d('OFF')), false)
  assert.throws(
    () => parseFlag(d('yes')),
    (e: unknown) =>
      e instanceof DyupsError &&
      e.code === 'E_CONFIG' &&
      e.message === 'invalid value "yes" in "daemon" directive, it must be "on" or "off"' &&
      e.at?.line === 3,
  )
})

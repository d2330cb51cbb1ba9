import assert from 'node:assert/strict'
import { test } from 'node:test'
import { etagListMatches, etagOf, parseHttpTime, parseRanges, RANGE_DECLINED, RANGE_NOT_SATISFIABLE } from './conditional.js'

test('etagOf: nginx\'s "mtime-size" in lower-case hex', () => {
  assert.equal(etagOf(1_700_000_000, 16), '"6553f100-10"')
  assert.equal(etagOf(0, 0), '"0-0"')
  assert.equal(etagOf(0x7fffffff, 50 * 1024 * 1024), '"7fffffff-3200000"')
})

test('parseHttpTime: the three formats of ngx_parse_http_time, -1 for anything else', () => {
  const t = 784111777 // Sun, 06 Nov 1994 08:49:37 GMT
  const cases: [string, number][] = [
    ['Sun, 06 Nov 1994 08:49:37 GMT', t],
    ['Sunday, 06-Nov-94 08:49:37 GMT', t],
    ['Sun Nov  6 08:49:37 1994', t],
    ['Sun Nov 06 08:49:37 1994', t],
    ['Xyz, 06 Nov 1994 08:49:37 GMT', t],
    ['Tue, 14 Nov 2023 22:13:20 GMT', 1_700_000_000],
    ['Thu, 29 Feb 2024 00:00:00 GMT', Date.UTC(2024, 1, 29) / 1000],
    ['Thursday, 01-Jan-70 00:00:00 GMT', 0],
    ['Wed, 01-Jan-69 00:00:00 GMT', Date.UTC(2069, 0, 1) / 1000],
    ['yesterday', -1],
    ['', -1],
    ['Sun, 06 Foo 1994 08:49:37 GMT', -1],
    ['Sun, 31 Nov 1994 08:49:37 GMT', -1],
    ['Sun, 29 Feb 2023 08:49:37 GMT', -1],
    ['Sun, 06 Nov 1994 24:00:00 GMT', -1],
    ['Sun, 06 Nov 1994 08:60:00 GMT', -1],
    ['Sun, 6 Nov 1994 08:49:37 GMT', -1],
    ['Sun, 06 Nov 94 08:49:37 GMT', -1],
    ['Sun, 06 Nov 1994 08:49', -1],
  ]
  for (const [s, want] of cases) assert.equal(parseHttpTime(s), want, s)
})

test('etagListMatches: If-Match (strong) and If-None-Match (weak) lists', () => {
  const e = '"abc-1"'
  const cases: [string, string | null, boolean, boolean][] = [
    ['"abc-1"', e, false, true],
    ['*', e, false, true],
    ['*', null, false, true],
    ['"abc-1"', null, false, false],
    ['"x", "abc-1"', e, false, true],
    ['"x","abc-1"', e, false, true],
    ['"abc-1" , "x"', e, false, true],
    ['"abc-1"\t', e, false, true],
    ['"abc-12"', e, false, false],
    ['"abc-"', e, false, false],
    ['W/"abc-1"', e, false, false],
    ['W/"abc-1"', e, true, true],
    ['"x", W/"abc-1"', e, true, true],
    ['"abc-1"', 'W/"abc-1"', true, true],
    ['"abc-1"', 'W/"abc-1"', false, false],
    ['', e, true, false],
    [' * ', e, true, false],
  ]
  for (const [list, etag, weak, want] of cases) assert.equal(etagListMatches(list, etag, weak), want, `${list} ${etag} ${weak}`)
})

test('parseRanges: ngx_http_range_parse', () => {
  const N = RANGE_NOT_SATISFIABLE, D = RANGE_DECLINED
  const cases: [string, number, ReturnType<typeof parseRanges>][] = [
    ['0-0', 10, [{ start: 0, end: 1 }]],
    ['2-4', 10, [{ start: 2, end: 5 }]],
    ['7-', 10, [{ start: 7, end: 10 }]],
    ['-3', 10, [{ start: 7, end: 10 }]],
    ['-100', 10, [{ start: 0, end: 10 }]],
    ['5-100', 10, [{ start: 5, end: 10 }]],
    [' 2 - 4 ', 10, [{ start: 2, end: 5 }]],
    ['0-1,3-4', 10, [{ start: 0, end: 2 }, { start: 3, end: 5 }]],
    ['0-1, 3-4', 10, [{ start: 0, end: 2 }, { start: 3, end: 5 }]],
    ['10-', 10, N],
    ['10-20', 10, N],
    ['5-2', 10, N],
    ['x-y', 10, N],
    ['', 10, N],
    ['-', 10, N],
    ['1-2x', 10, N],
    ['1-2,', 10, N],
    ['99999999999999999999-', 10, N],
    ['-0', 10, N],
    ['0-0', 0, D],
    ['-5', 0, D],
    ['0-9,0-9', 10, D],
    ['5-2,1-1', 10, [{ start: 1, end: 2 }]],
    ['0-1,2-3', 10, D, ],
  ]
  for (const [spec, len, want] of cases) {
    const max = spec === '0-1,2-3' ? 1 : undefined
    assert.deepEqual(parseRanges(spec, len, max), want, spec)
  }
})

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { charsetOf, charsetSuffix } from './charset.js'

test('charsetOf: off is null, a name its suffix', () => {
  assert.equal(charsetOf('off'), null)
  assert.equal(charsetOf('utf-8'), '; charset=utf-8')
})

test('charsetSuffix: charset_types without parameters only', () => {
  const u = charsetOf('utf-8')
  const cases: [string | null, string | undefined, string][] = [
    [u, 'text/html', '; charset=utf-8'],
    [u, 'TEXT/Plain', '; charset=utf-8'],
    [u, 'application/javascript', '; charset=utf-8'],
    [u, 'application/rss+xml', '; charset=utf-8'],
    [u, 'text/xml', '; charset=utf-8'],
    [u, 'text/css', ''],
    [u, 'application/json', ''],
    [u, 'text/html; charset=iso-8859-1', ''],
    [u, 'text/html; q=1', ''],
    [u, '', ''],
    [u, undefined, ''],
    [null, 'text/html', ''],
  ]
  for (const [suffix, type, want] of cases) assert.equal(charsetSuffix(suffix, type), want, `${suffix} ${type}`)
})

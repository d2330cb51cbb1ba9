import { test } from 'node:test'
import assert from 'node:assert/strict'
import { gunzipSync } from 'node:zlib'
import { parseText } from '../../config/index.js'
import { acceptsGzip, GZIP_DEFAULT, gzipLevel, gzipWhole, isMsie6, typeKey } from './gzip.js'

test('Accept-Encoding read as nginx reads it', () => {
  const cases: [string, boolean][] = [
    ['gzip', true], ['GZIP', true], ['deflate, gzip', true], ['deflate,gzip', true], ['gzip;q=0', false],
    ['gzip; q=0.5', true], ['gzip;q=1', true], ['gzip;q=1.0', true], ['gzip;q=1.5', false], ['gzip;q=0.000', false],
    ['gzip;q=0.0001', false], ['x-gzip', false], ['gzipped', false], ['identity', false], ['gzip ;q=0', false],
    ['br, gzip;q=0.1, *', true], ['gzip;x=1', false], ['gzip;q', false], ['gzip;', true],
  ]
  for (const [v, want] of cases) assert.equal(acceptsGzip(v), want, v)
})

test('MSIE 4-6 without SV1 is msie6, Opera never', () => {
  assert.equal(isMsie6('Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)'), true)
  assert.equal(isMsie6('Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)'), true)
  assert.equal(isMsie6('Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)'), false)
  assert.equal(isMsie6('Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)'), false)
  assert.equal(isMsie6('Opera/9.0 (compatible; MSIE 6.0; Windows NT 5.1)'), false)
  assert.equal(isMsie6('MSIE 6.0'), true)
  assert.equal(isMsie6('MSIE 6.'), false)
})

test('the type compared with gzip_types drops only a charset parameter', () => {
  assert.equal(typeKey('text/html'), 'text/html')
  assert.equal(typeKey('text/html; charset=utf-8'), 'text/html')
  assert.equal(typeKey('text/html;CHARSET=x'), 'text/html')
  assert.equal(typeKey('text/html; q=1'), 'text/html; q=1')
  assert.equal(typeKey('text/html; q=1; charset=x'), 'text/html; q=1')
  assert.equal(typeKey('text/html; '), 'text/html; ')
})

test('levels inherit each setting on its own', () => {
  const http = gzipLevel(GZIP_DEFAULT, parseText('gzip on; gzip_types text/css; gzip_disable msie6 ~x; gzip_proxied expired any;', 't.conf'))
  assert.equal(http.enable, true)
  assert.deepEqual([...http.types!].sort(), ['text/css', 'text/html'])
  assert.equal(http.disableMsie6, true)
  assert.equal(http.disable.length, 1)
  const loc = gzipLevel(http, parseText('gzip_comp_level 5; gzip_min_length 2k; gzip_types *;', 't.conf'))
  assert.equal(loc.level, 5)
  assert.equal(loc.minLength, 2048)
  assert.equal(loc.types, null)
  assert.equal(loc.enable, true)
  assert.equal(loc.disableMsie6, true)
  assert.equal(gzipLevel(loc, parseText('set $a 1;', 't.conf')), loc)
  const off = gzipLevel(loc, parseText('gzip off; gzip_disable ~y;', 't.conf'))
  assert.equal(off.enable, false)
  assert.equal(off.disableMsie6, true, 'msie6 is inherited unless set')
  assert.equal(off.disable.length, 1)
})

test('a whole body is one chunk and the last chunk', () => {
  const framed = gzipWhole('hello hello hello', 1, true).toString('latin1')
  const eol = framed.indexOf('\r\n')
  const n = parseInt(framed.slice(0, eol), 16)
  assert.equal(framed.slice(eol + 2 + n), '\r\n0\r\n\r\n')
  assert.equal(gunzipSync(Buffer.from(framed.slice(eol + 2, eol + 2 + n), 'latin1')).toString(), 'hello hello hello')
  assert.equal(gunzipSync(gzipWhole(Buffer.from('x'), 9, false)).toString(), 'x')
})

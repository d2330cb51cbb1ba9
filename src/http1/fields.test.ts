import assert from 'node:assert/strict'
import test from 'node:test'
import {
  CONN_CLOSE, CONN_KEEP_ALIVE, CONN_UPGRADE, TE_CHUNKED, TE_INVALID, TE_UNKNOWN, isChunked, normalizeHost,
  parseConnection, parseContentLength, parseTransferEncoding,
} from './fields.js'
import { latin1 } from './testing.js'

const on = <T>(f: (b: Uint8Array, s: number, e: number) => T, v: string): T => {
  // Surround the value so the functions must respect [s, e).
  const b = latin1(`<<${v}>>`)
  return f(b, 2, b.length - 2)
}

test('normalizeHost is nginx\'s $host: lowercase, no port, no trailing dot; null where nginx says 400', () => {
  const table: Array<[string, string | null]> = [
    ['example.com', 'example.com'], ['Example.COM', 'example.com'], ['example.com:8080', 'example.com'],
    ['example.com.', 'example.com'], ['example.com.:80', 'example.com'], ['[::1]', '[::1]'], ['[::1]:80', '[::1]'],
    ['[FE80::1]', '[fe80::1]'], ['.example.com', '.example.com'], ['a:b:c', 'a'], ['_x-y~', '_x-y~'], ['\xe9t\xe9', '\xe9t\xe9'],
    ['', null], ['.', null], ['..', null], ['a..b', null], ['a/b', null], ['a b', null], ['a\tb', null], ['a\x7fb', null],
    [':80', null], ['a\x00', null],
  ]
  for (const [v, want] of table) assert.equal(normalizeHost(v), want, JSON.stringify(v))
})

test('parseContentLength: digits only, up to 2^53-1', () => {
  const table: Array<[string, number]> = [
    ['0', 0], ['7', 7], ['007', 7], ['9007199254740991', 9007199254740991],
    ['', -1], [' 7', -1], ['7 ', -1], ['-7', -1], ['+7', -1], ['7a', -1], ['9007199254740992', -1], ['1'.repeat(30), -1],
  ]
  for (const [v, want] of table) assert.equal(on(parseContentLength, v), want, JSON.stringify(v))
})

test('parseConnection: tokens, any case, elements that are not a lone token ignored', () => {
  const table: Array<[string, number]> = [
    ['close', CONN_CLOSE], ['Keep-Alive', CONN_KEEP_ALIVE], ['UPGRADE', CONN_UPGRADE],
    ['keep-alive, Upgrade', CONN_KEEP_ALIVE | CONN_UPGRADE], [' ,close,, ', CONN_CLOSE], ['te,\tclose', CONN_CLOSE],
    ['closed', 0], ['x-close', 0], ['close x', 0], ['"close"', 0], ['', 0], ['close;q=1', 0],
  ]
  for (const [v, want] of table) assert.equal(on(parseConnection, v), want, JSON.stringify(v))
})

test('parseTransferEncoding: chunked last and once, others unknown, the rest invalid', () => {
  const table: Array<[string, number]> = [
    ['chunked', TE_CHUNKED], ['CHUNKED', TE_CHUNKED], ['gzip, chunked', TE_UNKNOWN], ['gzip', TE_UNKNOWN],
    ['x;a=b;c="d,e", chunked', TE_UNKNOWN], ['x ; a = "q\\"" , y', TE_UNKNOWN],
    ['', TE_INVALID], ['chunked, gzip', TE_INVALID], ['chunked,chunked', TE_INVALID], ['chunked;a=b', TE_INVALID],
    [',chunked', TE_INVALID], ['chunked,', TE_INVALID], ['x;a', TE_INVALID], ['x;a=', TE_INVALID], ['x;a="b', TE_INVALID],
    ['x;a="b\\', TE_INVALID], ['x y', TE_INVALID], ['@', TE_INVALID],
  ]
  for (const [v, want] of table) assert.equal(on(parseTransferEncoding, v), want, JSON.stringify(v))
  assert.equal(on(isChunked, 'Chunked'), true)
  assert.equal(on(isChunked, 'chunked, chunked'), false)
})

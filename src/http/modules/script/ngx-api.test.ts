import assert from 'node:assert/strict'
import { test } from 'node:test'
import { API_DISABLED, levelOf, parseArgs, ScriptResponse, unescapeUri } from './ngx-api.js'

test('unescapeUri decodes bytes, keeps broken escapes, turns + into a space only when asked', () => {
  const cases: [string, boolean, string][] = [
    ['plain', true, 'plain'],
    ['a%20b', false, 'a b'],
    ['a+b', false, 'a+b'],
    ['a+b', true, 'a b'],
    ['%ff%00%C3%A9', false, '\xff\x00\xc3\xa9'],
    ['100%', true, '100%'],
    ['%zz%4', true, '%zz%4'],
    ['%41%4', false, 'A%4'],
  ]
  for (const [input, plus, want] of cases) assert.equal(unescapeUri(input, plus), want, input)
})

test('parseArgs: decoded pairs in order, bare names, empty parts and names skipped, a limit', () => {
  assert.deepEqual(parseArgs('', 0), [])
  assert.deepEqual(parseArgs('a=1&b&c=&a=2&&=x&d=x+y%21', 0), [
    ['a', '1'], ['b', true], ['c', ''], ['a', '2'], ['d', 'x y!'],
  ])
  assert.deepEqual(parseArgs('a=1&b=2&c=3', 2), [['a', '1'], ['b', '2']])
  assert.deepEqual(parseArgs('n%FF=%FE', 0), [['n\xff', '\xfe']])
})

test('levelOf maps nginx numbers (ngx.ERR, ngx.INFO…) to levels and rejects others', () => {
  const table: [number, string | null][] = [
    [0, 'emerg'], [1, 'emerg'], [2, 'alert'], [3, 'crit'], [4, 'error'], [5, 'warn'], [6, 'notice'], [7, 'info'],
    [8, 'debug'], [9, null], [-1, null], [1.5, null],
  ]
  for (const [n, want] of table) assert.equal(levelOf(n), want, String(n))
})

test('ScriptResponse headers: replace by name in any case, _ for -, Content-Type apart, owned ones ignored', () => {
  const r = new ScriptResponse()
  assert.equal(r.setHeader('X_Test', ['a', 'b']), true)
  assert.deepEqual(r.getHeader('x-test'), ['a', 'b'])
  assert.deepEqual(r.getHeader('X_TEST'), ['a', 'b'])
  r.setHeader('x-test', ['c'])
  assert.deepEqual(r.getHeader('X-Test'), ['c'])
  r.setHeader('x-test', [])
  assert.deepEqual(r.getHeader('X-Test'), [])
  r.setHeader('content_type', ['text/x'])
  assert.equal(r.contentType, 'text/x')
  assert.deepEqual(r.getHeader('Content-Type'), ['text/x'])
  r.setHeader('Content-Length', ['5'])
  assert.deepEqual(r.getHeader('Content-Length'), [])
  assert.equal(r.setHeader('bad name', ['x']), false)
  r.setHeader('X-Inject', ['a\r\nSet-Cookie: x'])
  assert.deepEqual(r.getHeader('x-inject'), ['a%0D%0ASet-Cookie: x'])
})

test('ScriptResponse keeps what is written until it is sent', () => {
  const r = new ScriptResponse()
  r.write('ab')
  r.write('')
  r.write('\xff')
  assert.equal(r.bodySize, 3)
  r.sent = true
  r.write('more')
  assert.equal(r.bodySize, 3)
})

test("Tengine's answer without a dyups_interface", () => {
  assert.deepEqual({ ...API_DISABLED }, { status: 405, body: 'API disabled\n' })
})

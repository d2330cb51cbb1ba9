import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeRecords, encodeRecord } from './record.js'

const rec = (s: string): Buffer => encodeRecord(Buffer.from(s, 'utf8'))
const texts = (b: Buffer): string[] => decodeRecords(b).payloads.map((p) => p.toString('utf8'))

test('records round-trip, including an empty payload', () => {
  const buf = Buffer.concat([rec('{"a":1}'), rec(''), rec('ÿ\u00ff')])
  assert.deepEqual(texts(buf), ['{"a":1}', '', 'ÿ\u00ff'])
  assert.equal(decodeRecords(buf).end, buf.length)
})

test('a torn or corrupt last record is dropped and end points before it', () => {
  const good = Buffer.concat([rec('one'), rec('two')])
  const third = rec('three')
  const cases: Array<[string, Buffer]> = [
    ['header cut', Buffer.concat([good, third.subarray(0, 5)])],
    ['payload cut', Buffer.concat([good, third.subarray(0, third.length - 1)])],
    ['payload flipped', Buffer.concat([good, Buffer.from(third).fill(0x41, 8, 9)])],
    ['length flipped', Buffer.concat([good, Buffer.from(third).fill(0x04, 0, 1)])],
    ['huge length', Buffer.concat([good, Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])])],
    ['zeros', Buffer.concat([good, Buffer.alloc(64)])],
  ]
  for (const [what, buf] of cases) {
    assert.deepEqual(texts(buf), ['one', 'two'], what)
    assert.equal(decodeRecords(buf).end, good.length, what)
  }
})

test('nothing valid: end is 0', () => {
  assert.deepEqual(decodeRecords(Buffer.from('garbage garbage')), { payloads: [], end: 0 })
  assert.deepEqual(decodeRecords(Buffer.alloc(0)), { payloads: [], end: 0 })
})

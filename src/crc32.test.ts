import { test } from 'node:test'
import assert from 'node:assert/strict'
import { crc32 } from './crc32.js'

test('crc32 matches the IEEE check values', () => {
  assert.equal(crc32('123456789'), 0xcbf43926)
  assert.equal(crc32(''), 0)
  assert.equal(crc32(Buffer.from('The quick brown fox jumps over the lazy dog')), 0x414fa339)
})

test('crc32 continues across pieces', () => {
  assert.equal(crc32('56789', crc32('1234')), crc32('123456789'))
})

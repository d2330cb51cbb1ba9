import { test } from 'node:test'
import assert from 'node:assert/strict'
import { crc32 } from './crc32.js'

test('crc32 matches the IEEE check values, for strings and bytes', () => {
  assert.equal(crc32('123456789'), 0xcbf43926)
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926)
  assert.equal(crc32(''), 0)
  assert.equal(crc32(new Uint8Array(0)), 0)
  assert.equal(crc32('The quick brown fox jumps over the lazy dog'), 0x414fa339)
  assert.equal(crc32(Buffer.from('The quick brown fox jumps over the lazy dog')), 0x414fa339)
  // Four zero bytes and 32 bytes of 0xff: values from the CRC-32 catalogue's test vectors.
  assert.equal(crc32(new Uint8Array(4)), 0x2144df1c)
  assert.equal(crc32(new Uint8Array(32).fill(0xff)), 0xff6cab0b)
})

test('a string is hashed as latin1 bytes (one per char), as nginx hashes the request bytes', () => {
  // 0xe9 alone (latin1 "é"): not the two UTF-8 bytes c3 a9.
  assert.equal(crc32('\u00e9'), crc32(Uint8Array.of(0xe9)))
  assert.notEqual(crc32('\u00e9'), crc32(Uint8Array.of(0xc3, 0xa9)))
  const all = Buffer.alloc(256)
  for (let i = 0; i < 256; i++) all[i] = i
  assert.equal(crc32(all.toString('latin1')), crc32(all))
  assert.equal(crc32(all), 0x29058c73)
})

test('crc32 continues across pieces, mixing strings and bytes', () => {
  assert.equal(crc32('56789', crc32('1234')), 0xcbf43926)
  assert.equal(crc32(Buffer.from('56789'), crc32('1234')), 0xcbf43926)
  assert.equal(crc32('56789', crc32(Buffer.from('1234'))), 0xcbf43926)
})

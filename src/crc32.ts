/**
 * CRC-32 (IEEE 802.3, the polynomial nginx's ngx_crc32_long and zlib use).
 * A leaf module: the balancer uses it for nginx-compatible hashing of latin1 strings, the store for journal records.
 *
 * Bytes go to Node's own `zlib.crc32` (Node >= 22.2). Strings stay with the table below: dyups keeps request data as
 * latin1 strings (one byte per char) and nginx hashes those bytes, while `zlib.crc32` hashes a string's UTF-8
 * encoding (different for any char >= 0x80); and for the short keys the balancer hashes (an address, a URI) the
 * table loop measured as fast as zlib.crc32 or faster, where converting to a Buffer first was always slower.
 */
import { crc32 as zlibCrc32 } from 'node:zlib'

const TABLE = new Int32Array(256)
for (let n = 0; n < 256; n++) {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  TABLE[n] = c
}

/** CRC-32 of `data` (bytes, or a latin1 string: one byte per char), continuing from `crc` (0 to start). */
export function crc32(data: Uint8Array | string, crc = 0): number {
  if (typeof data !== 'string') return zlibCrc32(data, crc)
  let c = ~crc
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data.charCodeAt(i)) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}

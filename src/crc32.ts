/**
 * CRC-32 (IEEE 802.3, the polynomial nginx's ngx_crc32_long and zlib use). Node 20's zlib has no crc32().
 * A leaf module: the balancer uses it for nginx-compatible hashing, the store for journal records.
 */
const TABLE = new Int32Array(256)
for (let n = 0; n < 256; n++) {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  TABLE[n] = c
}

/** CRC-32 of `data` (a Buffer, or a latin1 string: one byte per char), continuing from `crc` (0 to start). */
export function crc32(data: Uint8Array | string, crc = 0): number {
  let c = ~crc
  if (typeof data === 'string') {
    for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data.charCodeAt(i)) & 0xff]! ^ (c >>> 8)
  } else {
    for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
  }
  return ~c >>> 0
}

/**
 * Journal record framing: [u32 LE length][u32 LE crc32(length bytes + payload)][payload].
 *
 * A crash in the middle of an append leaves a record whose length runs past the end of the file or whose CRC does
 * not match; reading stops there and the caller truncates the tail. Appends that follow a failed one are written
 * at the last good offset, so a bad record is never followed by a good one.
 */
import { crc32 } from '../crc32.js'

const HEADER = 8
/** A record longer than this is taken for garbage (a torn length field), not for a real batch. */
const MAX_PAYLOAD = 1 << 30

/** Frames `payload` (the bytes of one record). */
export function encodeRecord(payload: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(HEADER + payload.length)
  buf.writeUInt32LE(payload.length, 0)
  buf.writeUInt32LE(crc32(payload, crc32(buf.subarray(0, 4))), 4)
  buf.set(payload, HEADER)
  return buf
}

export interface Decoded {
  /** Payloads of the complete, intact records, in order. */
  readonly payloads: Buffer[]
  /** Bytes taken by those records: the offset where the next append belongs. */
  readonly end: number
}

/** Splits `buf` into records, stopping at the first torn or corrupt one. */
export function decodeRecords(buf: Buffer): Decoded {
  const payloads: Buffer[] = []
  let off = 0
  while (buf.length - off >= HEADER) {
    const len = buf.readUInt32LE(off)
    if (len > MAX_PAYLOAD || len > buf.length - off - HEADER) break
    const payload = buf.subarray(off + HEADER, off + HEADER + len)
    if (crc32(payload, crc32(buf.subarray(off, off + 4))) !== buf.readUInt32LE(off + 4)) break
    payloads.push(payload)
    off += HEADER + len
  }
  return { payloads, end: off }
}

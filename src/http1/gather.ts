/**
 * Where a head that arrives in pieces is gathered. Most heads arrive whole in one chunk and are parsed in place;
 * only a split head is copied here, one chunk at a time, never beyond the head size limit + 1 byte.
 *
 * The buffer is kept per connection while it is small (nginx keeps its 1k client_header_buffer the same way);
 * one grown for a large head is dropped once that head is done, so idle keepalive connections stay cheap.
 */

/** Buffers up to this size survive between heads. */
const KEEP = 1024

export class Gather {
  buf: Buffer | null = null
  len = 0

  /** @param cap the most bytes ever gathered (the head limit + 1) */
  constructor(private readonly cap: number) {}

  /** Starts over with src[start, end). */
  keep(src: Buffer, start: number, end: number): void {
    this.len = 0
    this.append(src, start, end)
  }

  /**
   * Appends src[start..] up to the cap; returns how many bytes were taken.
   */
  append(src: Buffer, start: number, end: number): number {
    const old = this.len
    let n = end - start
    if (n > this.cap - old) n = this.cap - old
    let buf = this.buf
    if (buf === null || buf.length < old + n) {
      const bigger = Buffer.allocUnsafe(Math.min(Math.max((old + n) * 2, KEEP), this.cap))
      if (buf !== null && old > 0) buf.copy(bigger, 0, 0, old)
      this.buf = buf = bigger
    }
    src.copy(buf, old, start, start + n)
    this.len = old + n
    return n
  }

  /** Empties it; drops a buffer that grew past KEEP. */
  clear(): void {
    this.len = 0
    if (this.buf !== null && this.buf.length > KEEP) this.buf = null
  }
}

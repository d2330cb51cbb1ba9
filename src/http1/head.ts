/**
 * What both head parsers hand out: the head as one latin1 string plus the offsets of each header's name and value
 * in it. Header strings are cut from `raw` only when asked for, so a relay that copies header lines by offset, or
 * reads two headers by name, never pays for the rest.
 */

/** execute(): the head is not complete; every byte given was taken, feed the next chunk. */
export const NEED_MORE = -1
/** execute(): the head was rejected; the parser's `error` says why. */
export const PARSE_ERROR = -2

/** Four numbers per header, relative to `raw`: name start, name end, value start, value end (OWS trimmed). */
export const OFFSETS_PER_HEADER = 4

export class MessageHead {
  private flat: string[] | null = null

  constructor(
    /** The head's bytes as latin1, from the start line to the blank line that ends it (inclusive). */
    readonly raw: string,
    /** Header positions in `raw`, OFFSETS_PER_HEADER per header. */
    readonly offsets: number[],
    /** Number of header lines. */
    readonly headerCount: number,
  ) {}

  /** Headers as `[name, value, name, value, …]`: original name case, raw latin1 values, OWS trimmed. Cached. */
  get headers(): string[] {
    if (this.flat !== null) return this.flat
    const raw = this.raw, o = this.offsets, n = this.headerCount
    const flat: string[] = []
    for (let i = 0; i < n; i++) {
      const k = i * OFFSETS_PER_HEADER
      flat.push(raw.slice(o[k], o[k + 1]), raw.slice(o[k + 2], o[k + 3]))
    }
    this.flat = flat
    return flat
  }

  /** Name of header `i` (0-based), original case. */
  name(i: number): string {
    const k = i * OFFSETS_PER_HEADER
    return this.raw.slice(this.offsets[k], this.offsets[k + 1])
  }

  /** Value of header `i` (0-based). */
  value(i: number): string {
    const k = i * OFFSETS_PER_HEADER
    return this.raw.slice(this.offsets[k + 2], this.offsets[k + 3])
  }

  /**
   * Index of the first header named `lower` (ASCII case-insensitive), from index `from`, or -1.
   * @param lower the name in lowercase, e.g. `user-agent`
   */
  indexOf(lower: string, from = 0): number {
    const raw = this.raw, o = this.offsets, len = lower.length
    for (let i = from; i < this.headerCount; i++) {
      const k = i * OFFSETS_PER_HEADER
      const s = o[k]
      if (o[k + 1] - s !== len) continue
      let j = 0
      while (j < len) {
        let c = raw.charCodeAt(s + j)
        if (c >= 0x41 && c <= 0x5a) c |= 0x20
        if (c !== lower.charCodeAt(j)) break
        j++
      }
      if (j === len) return i
    }
    return -1
  }

  /** Value of the first header named `lower` (ASCII case-insensitive), or null. */
  get(lower: string): string | null {
    const i = this.indexOf(lower)
    return i < 0 ? null : this.value(i)
  }
}

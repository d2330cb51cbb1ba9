/**
 * nginx's address parsers (ngx_inet_addr, ngx_inet6_addr), for access rules and the variables. They parse a range of
 * a string in place, with no allocation, because they run per request on the client's address; the configuration's
 * whole-string parsers are in src/upstream/address.ts.
 */

/** `ngx_inet_addr`: dotted quad, each octet ≤ 255, exactly three dots; empty octets count as 0, as in nginx. */
export function parseIPv4(s: string, from = 0, to = s.length): number {
  let addr = 0
  let octet = 0
  let dots = 0
  if (from >= to) return -1
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x30 && c <= 0x39) {
      octet = octet * 10 + (c - 0x30)
      if (octet > 255) return -1
      continue
    }
    if (c === 0x2e) {
      addr = addr * 256 + octet
      octet = 0
      dots++
      continue
    }
    return -1
  }
  if (dots !== 3) return -1
  addr = addr * 256 + octet
  // nginx returns INADDR_NONE for 255.255.255.255 and so cannot tell it from an error.
  return addr === 0xffffffff ? -1 : addr
}

/**
 * `ngx_inet6_addr`: hex groups, one `::`, an optional trailing dotted IPv4 part.
 * @returns true and the 16 bytes in `out`, or false.
 */
export function parseIPv6(s: string, out: Uint8Array, from = 0, to = s.length): boolean {
  let len = to - from
  if (len === 0) return false
  let p = from
  let o = 0
  let zero = -1
  let digit = -1
  let nibbles = 0
  let word = 0
  let n = 8
  if (s.charCodeAt(p) === 0x3a) {
    p++
    len--
  }
  for (; len > 0; len--) {
    let c = s.charCodeAt(p++)
    if (c === 0x3a) {
      if (nibbles) {
        digit = p
        out[o++] = word >> 8
        out[o++] = word & 0xff
        if (--n) {
          nibbles = 0
          word = 0
          continue
        }
      } else if (zero < 0) {
        digit = p
        zero = o
        continue
      }
      return false
    }
    if (c === 0x2e && nibbles) {
      if (n < 2 || digit < 0) return false
      const v4 = parseIPv4(s, digit, to)
      if (v4 < 0) return false
      out[o++] = (v4 >>> 24) & 0xff
      out[o++] = (v4 >>> 16) & 0xff
      word = v4 & 0xffff
      n--
      nibbles = 1
      break
    }
    if (++nibbles > 4) return false
    if (c >= 0x30 && c <= 0x39) {
      word = word * 16 + (c - 0x30)
      continue
    }
    c |= 0x20
    if (c >= 0x61 && c <= 0x66) {
      word = word * 16 + (c - 0x61) + 10
      continue
    }
    return false
  }
  if (nibbles === 0 && zero < 0) return false
  out[o++] = word >> 8
  out[o++] = word & 0xff
  if (--n) {
    if (zero < 0) return false
    // Shift the groups after "::" to the end and zero the gap.
    const gap = n * 2
    for (let i = o - 1; i >= zero; i--) out[i + gap] = out[i]!
    out.fill(0, zero, zero + gap)
    return true
  }
  return zero < 0
}

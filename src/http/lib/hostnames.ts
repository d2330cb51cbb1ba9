/** Host name helpers shared by server_name, map's `hostnames` and the variables. */

/** Lower-case A–Z only: latin1 bytes >= 0x80 are left alone (String#toLowerCase would change 0xC0–0xDE). */
export function asciiLower(s: string): string {
  let upper = false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) return asciiLowerSlow(s)
    if (c >= 0x41 && c <= 0x5a) upper = true
  }
  // Pure ASCII: the native conversion is exactly nginx's.
  return upper ? s.toLowerCase() : s
}

function asciiLowerSlow(s: string): string {
  let out = ''
  let from = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x41 && c <= 0x5a) {
      out += s.slice(from, i) + String.fromCharCode(c | 0x20)
      from = i + 1
    }
  }
  return from === 0 ? s : out + s.slice(from)
}

/**
 * ngx_hash_add_key's rules for names that may be wildcards (`server_name`, `map … { hostnames; }`):
 * `*.x` and `.x` lead, `x.*` trails; null = NGX_DECLINED (invalid).
 */
export function wildcardKind(name: string): 'exact' | 'head' | 'tail' | null {
  let stars = 0
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c === 0x2a && ++stars > 1) return null
    if (c === 0x2e && name.charCodeAt(i + 1) === 0x2e) return null
    if (c === 0) return null
  }
  if (name.length > 1 && name.charCodeAt(0) === 0x2e) return 'head'
  if (name.length > 2) {
    if (name.charCodeAt(0) === 0x2a && name.charCodeAt(1) === 0x2e) return 'head'
    if (name.charCodeAt(name.length - 2) === 0x2e && name.charCodeAt(name.length - 1) === 0x2a) return 'tail'
  }
  return stars > 0 ? null : 'exact'
}

/**
 * The table key of a group name. Names are byte strings (latin1, one char per byte) compared case-insensitively
 * as nginx does (ngx_strncasecmp): only ASCII A-Z fold; bytes 0x80-0xFF stay as they are.
 */
export function groupKey(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c >= 0x41 && c <= 0x5a) return fold(name, i)
  }
  return name
}

function fold(name: string, from: number): string {
  let out = name.slice(0, from)
  for (let i = from; i < name.length; i++) {
    const c = name.charCodeAt(i)
    out += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 0x20) : name[i]
  }
  return out
}

import { readdirSync, lstatSync } from 'node:fs'

/** Paths handled here are latin1 strings (one char per byte); the file system sees the same bytes. */
const bytes = (p: string): Buffer => Buffer.from(p, 'latin1')

/** True when nginx would expand `path` with glob(3) rather than open it: it has `*`, `?` or `[`. */
export const hasGlobMagic = (path: string): boolean => /[*?[]/.test(path)

/**
 * One bracket expression `[...]` at `p` in `pat` against char `c`.
 * @returns the index after the bracket and whether it matched, or null when the bracket is not closed (then `[`
 *   is an ordinary character, as in glibc).
 */
function bracket(pat: string, p: number, c: string): { end: number; ok: boolean } | null {
  let i = p + 1
  let negate = false
  if (pat[i] === '!' || pat[i] === '^') {
    negate = true
    i++
  }
  let ok = false
  let first = true
  while (i < pat.length && (first || pat[i] !== ']')) {
    first = false
    let lo = pat[i]
    if (lo === '\\' && i + 1 < pat.length) lo = pat[++i]
    i++
    if (pat[i] === '-' && i + 1 < pat.length && pat[i + 1] !== ']') {
      let hi = pat[i + 1]
      i += 2
      if (hi === '\\' && i < pat.length) hi = pat[i++]
      if (c >= lo && c <= hi) ok = true
    } else if (c === lo) {
      ok = true
    }
  }
  if (i >= pat.length) return null
  return { end: i + 1, ok: ok !== negate }
}

/**
 * fnmatch(3) for one path component, with glob(3)'s rule that a leading `.` must be matched by a literal `.`.
 * Backslash escapes the next character.
 */
export function matchComponent(pat: string, name: string): boolean {
  if (name.startsWith('.') && !(pat.startsWith('.') || pat.startsWith('\\.'))) return false
  return match(pat, 0, name, 0)
}

function match(pat: string, p: number, s: string, i: number): boolean {
  while (p < pat.length) {
    const c = pat[p]
    if (c === '*') {
      while (pat[p] === '*') p++
      if (p === pat.length) return true
      for (let k = i; k <= s.length; k++) if (match(pat, p, s, k)) return true
      return false
    }
    if (i >= s.length) return false
    if (c === '?') {
      p++
      i++
      continue
    }
    if (c === '[') {
      const b = bracket(pat, p, s[i])
      if (b !== null) {
        if (!b.ok) return false
        p = b.end
        i++
        continue
      }
    }
    let lit = c
    if (c === '\\' && p + 1 < pat.length) lit = pat[++p]
    if (lit !== s[i]) return false
    p++
    i++
  }
  return i === s.length
}

const unescapeLiteral = (s: string): string => s.replace(/\\(.)/g, '$1')

function exists(p: string): boolean {
  try {
    lstatSync(bytes(p))
    return true
  } catch {
    return false
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(bytes(dir), { encoding: 'buffer' }).map((b) => b.toString('latin1'))
  } catch {
    // glob(3) without GLOB_ERR skips directories it cannot read.
    return []
  }
}

/**
 * glob(3) as nginx calls it for `include` (flags 0): `*`, `?` and `[...]` in any component of an absolute
 * pattern; the matches sorted bytewise (strcoll in the C locale); no match is an empty list, not an error.
 */
export function globSync(pattern: string): string[] {
  const parts = pattern.split('/').filter((c) => c.length > 0)
  let current = ['']
  for (const part of parts) {
    const next: string[] = []
    if (!hasGlobMagic(part)) {
      const lit = unescapeLiteral(part)
      for (const base of current) next.push(`${base}/${lit}`)
    } else {
      for (const base of current) {
        for (const name of list(base === '' ? '/' : base)) {
          if (matchComponent(part, name)) next.push(`${base}/${name}`)
        }
      }
    }
    current = next
    if (current.length === 0) return []
  }
  return current.filter(exists).sort()
}

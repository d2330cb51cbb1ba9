/** nginx's regexes (PCRE) in JavaScript: the syntax translated, compile errors in nginx's words, captures counted. */
import { DyupsError } from '../../errors.js'

/** A PCRE construct JavaScript cannot express: `-t` fails naming it rather than match differently. */
class Unsupported extends Error {}

/** PCRE's `\h` and `\v` without UTF (nginx compiles its regexes so): the bytes they match, for a class. */
const H_CLASS = '\\t \\xA0'
const V_CLASS = '\\n\\x0B\\f\\r\\x85'

/**
 * A PCRE pattern (as nginx hands it to PCRE2, without UTF) as a JavaScript RegExp source and flags. Read token by
 * token so that what PCRE means is kept: `(?P<n>…)`, `(?'n'…)`, `(?P=n)`, `\k{n}`, `\g{N}`; `\A`, `\z`, `\Z`; `\h`,
 * `\H`, `\v`, `\V`, `\R`, `\e`, `\a`, `\x{HH}`, `\Q…\E`; `(?#…)` comments; inline flags `(?i)`, `(?s)`, `(?m)`,
 * `(?-i)` (as flags of the RegExp at the very start, else `(?i:…)` groups up to each `|` and the group's end). Atomic groups,
 * possessive quantifiers, recursion, conditionals, branch reset, backtracking verbs, `\K`, `\G` and `(?x)` have no
 * JavaScript equivalent: they throw with their name.
 */
export function translatePcre(pattern: string, caseless: boolean): { source: string; flags: string } {
  let out = ''
  let flags = caseless ? 'i' : ''
  let i = 0
  const n = pattern.length
  // Per open group (the pattern itself first): the `(?flags:` groups inline flags opened in it, closed with it and
  // around each `|` (PCRE's inline flags hold to the end of the group, across its later alternatives).
  const groups: string[][] = [[]]
  let inClass = false
  // After a quantifier: a `+` makes it possessive (`*+`, `++`, `?+`, `{n,m}+`).
  const quantifierEnd = (): void => {
    if (pattern[i] === '+') throw new Unsupported('possessive quantifiers')
  }
  while (i < n) {
    const c = pattern[i]!
    if (c === '\\') {
      const e = pattern[i + 1]
      if (e === undefined) {
        out += '\\\\'
        i++
        continue
      }
      i += 2
      switch (e) {
        case 'h': out += inClass ? H_CLASS : `[${H_CLASS}]`; break
        case 'v': out += inClass ? V_CLASS : `[${V_CLASS}]`; break
        case 'H': case 'V':
          if (inClass) throw new Unsupported(`"\\${e}" in a character class`)
          out += `[^${e === 'H' ? H_CLASS : V_CLASS}]`
          break
        case 'R':
          if (inClass) throw new Unsupported('"\\R" in a character class')
          out += `(?:\\r\\n|[${V_CLASS}])`
          break
        case 'e': out += '\\x1B'; break
        case 'a': out += '\\x07'; break
        case 'A': if (inClass) out += 'A'; else out += '^'; break
        case 'z': if (inClass) out += 'z'; else out += '$'; break
        case 'Z': if (inClass) out += 'Z'; else out += '(?=\\n?$)'; break
        case 'Q': {
          const q = pattern.indexOf('\\E', i)
          const lit = q < 0 ? pattern.slice(i) : pattern.slice(i, q)
          out += lit.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')
          i = q < 0 ? n : q + 2
          break
        }
        case 'E': break
        case 'x':
          if (pattern[i] === '{') {
            const close = pattern.indexOf('}', i)
            const hex = close < 0 ? '' : pattern.slice(i + 1, close)
            if (!/^[0-9a-fA-F]{1,2}$/.test(hex)) throw new Unsupported(`"\\x{${hex}}"`)
            out += '\\x' + hex.padStart(2, '0')
            i = close + 1
          } else out += '\\x'
          break
        case 'k': {
          const open = pattern[i]
          const close = open === '{' ? '}' : open === "'" ? "'" : open === '<' ? '>' : ''
          const end = close === '' ? -1 : pattern.indexOf(close, i + 1)
          if (end < 0) throw new Unsupported('"\\k" without a name')
          out += `\\k<${pattern.slice(i + 1, end)}>`
          i = end + 1
          break
        }
        case 'g': {
          const m = /^(?:\{(\d+)\}|(\d+))/.exec(pattern.slice(i))
          if (m === null) throw new Unsupported('"\\g" references other than by number')
          out += `\\${m[1] ?? m[2]}`
          i += m[0].length
          break
        }
        case 'K': case 'G': case 'C': case 'X': case 'N': throw new Unsupported(`"\\${e}"`)
        default: out += '\\' + e
      }
      continue
    }
    if (inClass) {
      if (c === ']') inClass = false
      // A nested `[` is literal in PCRE (outside `[:name:]`); JavaScript without the v flag agrees.
      if (c === '[' && pattern[i + 1] === ':') {
        const end = pattern.indexOf(':]', i + 2)
        const name = end < 0 ? '' : pattern.slice(i + 2, end)
        const posix = POSIX[name]
        if (posix === undefined) throw new Unsupported(`POSIX class "[:${name}:]"`)
        out += posix
        i = end + 2
        continue
      }
      out += c
      i++
      continue
    }
    if (c === '[') {
      inClass = true
      out += c
      i++
      // `]` first in a class (after an optional `^`) is literal in PCRE.
      if (pattern[i] === '^') {
        out += '^'
        i++
      }
      if (pattern[i] === ']') {
        out += '\\]'
        i++
      }
      continue
    }
    if (c === '(') {
      if (pattern[i + 1] === '*') throw new Unsupported('backtracking verbs "(*...)"')
      if (pattern[i + 1] !== '?') {
        out += '('
        groups.push([])
        i++
        continue
      }
      const rest = pattern.slice(i + 2)
      if (rest.startsWith('#')) {
        const end = pattern.indexOf(')', i)
        i = end < 0 ? n : end + 1
        continue
      }
      if (rest.startsWith('P<')) {
        out += '(?<'
        groups.push([])
        i += 4
        continue
      }
      if (rest.startsWith('P=')) {
        const end = pattern.indexOf(')', i)
        out += `\\k<${pattern.slice(i + 4, end)}>`
        i = end + 1
        continue
      }
      if (rest.startsWith("'")) {
        const end = pattern.indexOf("'", i + 3)
        out += `(?<${pattern.slice(i + 3, end)}>`
        groups.push([])
        i = end + 1
        continue
      }
      if (rest.startsWith('>')) throw new Unsupported('atomic groups "(?>...)"')
      if (rest.startsWith('|')) throw new Unsupported('branch reset groups "(?|...)"')
      if (rest.startsWith('(')) throw new Unsupported('conditional groups "(?(...)...)"')
      if (/^(?:R|[+-]?\d|&|P>)/.test(rest)) throw new Unsupported('recursion "(?R)"')
      if (rest.startsWith('C')) throw new Unsupported('callouts "(?C)"')
      const fm = /^([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])/.exec(rest)
      if (fm !== null && (fm[1] !== '' || fm[2] !== undefined)) {
        const on = fm[1]!, off = fm[2] ?? ''
        for (const f of on + off) if (!'ims'.includes(f)) throw new Unsupported(`the inline flag "${f}"`)
        i += 2 + fm[0].length
        const mod = `${on}${off === '' ? '' : '-' + off}`
        if (fm[3] === ':') {
          out += `(?${mod}:`
          groups.push([])
          continue
        }
        // `(?i)` at the very start: the RegExp's own flags.
        if (groups.length === 1 && out === '') {
          for (const f of on) if (!flags.includes(f)) flags += f
          for (const f of off) flags = flags.replace(f, '')
          continue
        }
        out += `(?${mod}:`
        groups[groups.length - 1]!.push(mod)
        continue
      }
      // (?: (?= (?! (?<= (?<! (?<name> as they are.
      out += '(?'
      groups.push([])
      i += 2
      continue
    }
    if (c === ')') {
      // An unbalanced `)` is left to RegExp to report.
      const mods = groups.length > 1 ? groups.pop()! : []
      out += ')'.repeat(mods.length) + ')'
      i++
      continue
    }
    if (c === '|') {
      const mods = groups[groups.length - 1]!
      out += ')'.repeat(mods.length) + '|' + mods.map((m) => `(?${m}:`).join('')
      i++
      continue
    }
    out += c
    i++
    if (c === '*' || c === '+' || c === '?') {
      // `*?` lazy then possessive is not a thing; `a+?` is lazy.
      if (pattern[i] === '?') {
        out += '?'
        i++
      } else quantifierEnd()
    } else if (c === '}' && /\{\d+(?:,\d*)?$/.test(out.slice(0, -1))) {
      if (pattern[i] === '?') {
        out += '?'
        i++
      } else quantifierEnd()
    }
  }
  // Inline flags of the pattern's own level end with it.
  out += ')'.repeat(groups[0]!.length)
  return { source: out, flags }
}

/** POSIX classes inside `[…]`, as PCRE reads them without UTF. */
const POSIX: Record<string, string> = {
  alpha: 'a-zA-Z', digit: '0-9', alnum: 'a-zA-Z0-9', upper: 'A-Z', lower: 'a-z', space: '\\t\\n\\x0B\\f\\r ',
  blank: ' \\t', punct: '!-\\/:-@\\[-`{-~', xdigit: '0-9A-Fa-f', word: '\\w', cntrl: '\\x00-\\x1F\\x7F',
  print: ' -~', graph: '!-~', ascii: '\\x00-\\x7F',
}

/** The pattern's source only (tests and callers that need no flags). */
export function pcreToJs(pattern: string): string {
  return translatePcre(pattern, false).source
}

/**
 * Compile a pattern as nginx compiles regexes of `location`, `server_name` and `map`.
 * @throws DyupsError E_CONFIG `pcre2_compile() failed: <reason> in "<pattern>"`, or for PCRE syntax JavaScript
 *   cannot express, `<construct> in "<pattern>" are not supported by dyups`
 */
export function compileRegex(pattern: string, caseless: boolean, at: { file: string; line: number }): RegExp {
  let t: { source: string; flags: string }
  try {
    t = translatePcre(pattern, caseless)
  } catch (e) {
    if (!(e instanceof Unsupported)) throw e
    throw new DyupsError('E_CONFIG', `regex "${pattern}" uses ${e.message}, which dyups does not support`, at)
  }
  try {
    return new RegExp(t.source, t.flags)
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e)
    const reason = msg.slice(msg.lastIndexOf(': ') + 2)
    throw new DyupsError('E_CONFIG', `pcre2_compile() failed: ${reason} in "${pattern}"`, at)
  }
}

/** Capture groups of a compiled pattern: [count of groups, names of named groups]. */
export function regexCaptures(re: RegExp): [number, string[]] {
  const m = new RegExp(re.source + '|', re.flags).exec('')!
  return [m.length - 1, m.groups ? Object.keys(m.groups) : []]
}

/** nginx's regexes (PCRE) in JavaScript: the syntax translated, compile errors in nginx's words, captures counted. */
import { DyupsError } from '../../errors.js'

/**
 * PCRE syntax nginx users write that JavaScript spells differently: `(?P<name>…)`, `(?P=name)`, `\A`, `\z`, `\Z`.
 * Anything else is passed through and must be valid JavaScript RegExp syntax.
 */
export function pcreToJs(pattern: string): string {
  return pattern
    .replace(/\(\?P</g, '(?<')
    .replace(/\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/g, '\\k<$1>')
    .replace(/\\A/g, '^')
    .replace(/\\[zZ]/g, '$')
}

/**
 * Compile a pattern as nginx compiles regexes of `location`, `server_name` and `map`.
 * @throws DyupsError E_CONFIG `pcre2_compile() failed: <reason> in "<pattern>"`
 */
export function compileRegex(pattern: string, caseless: boolean, at: { file: string; line: number }): RegExp {
  try {
    return new RegExp(pcreToJs(pattern), caseless ? 'i' : '')
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

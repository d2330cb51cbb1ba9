/**
 * `proxy_cookie_domain` and `proxy_cookie_path`, as nginx's proxy module rewrites a backend's Set-Cookie
 * (ngx_http_proxy_rewrite_cookie): the value is cut at `;` into `name=value` and attributes; the first `domain=`
 * and `path=` attribute values go through their rules, the first rule that matches wins, and a cookie that changed
 * is written again with its parts joined by `; ` (one that did not is sent as it came).
 *
 * - domain `FROM TO`: FROM (variables allowed, a leading `.` dropped) must be the whole domain, caselessly; a
 *   leading `.` of the cookie's domain stays.
 * - path `FROM TO`: FROM (variables allowed) must start the path, case-sensitively; it is replaced by TO.
 * - `~FROM TO` / `~*FROM TO`: a regular expression searched in the value (`~*` caseless); the whole value is replaced
 *   by TO, which can use the captures.
 * - `off`: no rewriting. A level that sets the directive replaces the rules it would inherit.
 *
 * `proxy_cookie_flags NAME FLAG…` adds or takes out Secure, HttpOnly and SameSite (see editFlags).
 */
import type { Directive } from '../../config/index.js'
import { DyupsError } from '../../errors.js'
import { compileRegex } from '../lib/regex.js'
import type { Request } from '../lib/request.js'
import type { Template, Variables } from '../lib/variables.js'

interface Rule {
  readonly from: Template | null
  readonly regex: RegExp | null
  readonly to: Template
}

const DOMAIN = 0
const PATH = 1

/** A proxy_cookie_flags rule: the cookie's name (text with variables, caseless; or a caseless regex) and its flags. */
interface FlagRule {
  readonly name: Template | null
  readonly regex: RegExp | null
  readonly flags: readonly Template[]
}

/** The Set-Cookie rewriting of one proxy_pass. */
export class ProxyCookies {
  /** @internal use {@link compileProxyCookies} */
  constructor(
    private readonly domains: readonly Rule[] | null,
    private readonly paths: readonly Rule[] | null,
    private readonly flags: readonly FlagRule[] | null,
  ) {}

  /** The Set-Cookie value rewritten, or null when no rule changed it. */
  rewrite(req: Request, value: string): string | null {
    const parts = value.split(';')
    // The first part must be `name=value`.
    const eq0 = parts[0]!.indexOf('=')
    if (eq0 < 0) return null
    let changed = false
    for (let i = 1; i < parts.length; i++) {
      const p = parts[i]!
      const eq = p.indexOf('=')
      if (eq < 0) continue
      const key = p.slice(0, eq).trim().toLowerCase()
      const kind = key === 'domain' && this.domains !== null ? DOMAIN : key === 'path' && this.paths !== null ? PATH : -1
      if (kind < 0) continue
      const v = apply(req, p.slice(eq + 1).trim(), kind === DOMAIN ? this.domains! : this.paths!, kind)
      if (v === null) continue
      parts[i] = p.slice(0, eq).trim() + '=' + v
      changed = true
    }
    if (this.flags !== null && editFlags(req, parts, parts[0]!.slice(0, eq0).trim(), this.flags)) changed = true
    if (!changed) return null
    // nginx writes every part again: names and values without the spaces around them, `; ` between.
    let out = tidy(parts[0]!)
    for (let i = 1; i < parts.length; i++) if (parts[i] !== REMOVED) out += '; ' + tidy(parts[i]!)
    return out
  }
}

/** A part proxy_cookie_flags took out. */
const REMOVED = '\0'

const SECURE_ON = 1, SECURE_OFF = 2, HTTPONLY_ON = 4, HTTPONLY_OFF = 8, SAMESITE_OFF = 16
const SAMESITE_VALUES: Record<string, string> = { 'samesite=strict': 'Strict', 'samesite=lax': 'Lax', 'samesite=none': 'None' }

/**
 * nginx's ngx_http_proxy_rewrite_cookie_flags: the first rule naming the cookie applies its flags — `secure`,
 * `httponly` and `samesite=…` add the attribute (samesite replaces the value of one already there), `nosecure`,
 * `nohttponly` and `nosamesite` take it out; other words are ignored. The parts are edited in place.
 * @returns whether a rule named the cookie (nginx then writes the cookie again even if nothing changed)
 */
function editFlags(req: Request, parts: string[], name: string, rules: readonly FlagRule[]): boolean {
  let rule: FlagRule | null = null
  for (const r of rules) {
    if (r.regex !== null ? r.regex.test(name) : r.name!.eval(req).toLowerCase() === name.toLowerCase()) {
      rule = r
      break
    }
  }
  if (rule === null) return false
  let bits = 0
  let samesite: string | null = null
  for (const f of rule.flags) {
    const v = f.eval(req).toLowerCase()
    switch (v) {
      case 'secure': bits |= SECURE_ON; break
      case 'nosecure': bits |= SECURE_OFF; break
      case 'httponly': bits |= HTTPONLY_ON; break
      case 'nohttponly': bits |= HTTPONLY_OFF; break
      case 'nosamesite': bits |= SAMESITE_OFF; break
      default: samesite = SAMESITE_VALUES[v] ?? samesite
    }
  }
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!
    const eq = p.indexOf('=')
    const key = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase()
    if (key === 'secure') {
      if (bits & SECURE_ON) bits &= ~SECURE_ON
      else if (bits & SECURE_OFF) parts[i] = REMOVED
    } else if (key === 'httponly') {
      if (bits & HTTPONLY_ON) bits &= ~HTTPONLY_ON
      else if (bits & HTTPONLY_OFF) parts[i] = REMOVED
    } else if (key === 'samesite') {
      if (samesite !== null) {
        parts[i] = (eq < 0 ? p : p.slice(0, eq)).trim() + '=' + samesite
        samesite = null
      } else if (bits & SAMESITE_OFF) parts[i] = REMOVED
    }
  }
  if (bits & SECURE_ON) parts.push('Secure')
  if (bits & HTTPONLY_ON) parts.push('HttpOnly')
  if (samesite !== null) parts.push(`SameSite=${samesite}`)
  return true
}

/** `name = value ` as nginx's cookie parser reads it, written `name=value` (`name` alone when there is no `=`). */
function tidy(part: string): string {
  const eq = part.indexOf('=')
  return eq < 0 ? part.trim() : `${part.slice(0, eq).trim()}=${part.slice(eq + 1).trim()}`
}

function apply(req: Request, value: string, rules: readonly Rule[], kind: number): string | null {
  for (const r of rules) {
    if (r.regex !== null) {
      const m = r.regex.exec(value)
      if (m === null) continue
      req.captures = m
      return r.to.eval(req)
    }
    let from = r.from!.eval(req)
    if (kind === DOMAIN) {
      const dot = value.startsWith('.') ? '.' : ''
      if (from.startsWith('.')) from = from.slice(1)
      if (value.length - dot.length !== from.length || value.slice(dot.length).toLowerCase() !== from.toLowerCase()) continue
      return dot + r.to.eval(req)
    }
    if (!value.startsWith(from)) continue
    return r.to.eval(req) + value.slice(from.length)
  }
  return null
}

/** A level's proxy_cookie_domain, proxy_cookie_path or proxy_cookie_flags directives: undefined (it has none, it inherits), 'off' or them. */
export function levelCookieRules(block: readonly Directive[], name: string): readonly Directive[] | 'off' | undefined {
  let out: Directive[] | 'off' | undefined
  for (const d of block) {
    if (d.name !== name) continue
    // `off` and rules do not mix in one level (nginx's "is duplicate", whichever comes first).
    if (out === 'off' || (out !== undefined && d.args.length === 1)) {
      throw new DyupsError('E_CONFIG', `"${name}" directive is duplicate`, { file: d.file, line: d.line })
    }
    // A regex is checked where it is written, as nginx compiles it there (a level without proxy_pass included).
    if (d.args.length >= 2 && d.args[0]!.startsWith('~')) cookieRegex(name, d.args[0]!, { file: d.file, line: d.line })
    if (d.args.length === 1) out = 'off'
    else if (out === undefined) out = [d]
    else out.push(d)
  }
  return out
}

/** A rule's regex: proxy_cookie_domain's and proxy_cookie_flags' are always caseless (`~` only); proxy_cookie_path has `~` and `~*`. */
export function cookieRegex(name: string, arg: string, at: { file: string; line: number }): RegExp {
  if (name !== 'proxy_cookie_path') return compileRegex(arg.slice(1), true, at)
  const caseless = arg.startsWith('~*')
  return compileRegex(arg.slice(caseless ? 2 : 1), caseless, at)
}

function compileRules(dirs: readonly Directive[] | 'off' | null, vars: Variables): Rule[] | null {
  if (dirs === null || dirs === 'off') return null
  return dirs.map((d) => {
    const at = { file: d.file, line: d.line }
    const a0 = d.args[0]!
    const to = vars.compile(d.args[1]!, at)
    if (a0.startsWith('~')) return { from: null, regex: cookieRegex(d.name, a0, at), to }
    return { from: vars.compile(a0, at), regex: null, to }
  })
}

function compileFlags(dirs: readonly Directive[] | 'off' | null, vars: Variables): FlagRule[] | null {
  if (dirs === null || dirs === 'off') return null
  return dirs.map((d) => {
    const at = { file: d.file, line: d.line }
    const a0 = d.args[0]!
    const flags = d.args.slice(1).map((f) => vars.compile(f, at))
    // The cookie's name is matched caselessly, a regex too.
    if (a0.startsWith('~')) return { name: null, regex: cookieRegex(d.name, a0, at), flags }
    return { name: vars.compile(a0, at), regex: null, flags }
  })
}

/** The rewriting of one proxy_pass, or null when none of the three directives is in effect. */
export function compileProxyCookies(
  domains: readonly Directive[] | 'off' | null,
  paths: readonly Directive[] | 'off' | null,
  flags: readonly Directive[] | 'off' | null,
  vars: Variables,
): ProxyCookies | null {
  const d = compileRules(domains, vars)
  const p = compileRules(paths, vars)
  const f = compileFlags(flags, vars)
  return d === null && p === null && f === null ? null : new ProxyCookies(d, p, f)
}

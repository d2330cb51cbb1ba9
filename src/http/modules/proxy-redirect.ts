/**
 * `proxy_redirect`, as nginx's proxy module does it (ngx_http_proxy_rewrite_redirect and its handlers): the
 * `Location` header of a proxied answer, and the URL after `url=` in `Refresh`, go through the rules in order; the
 * first that matches rewrites them.
 *
 * - `FROM TO`: FROM (variables allowed) must start the value, case-sensitively; it is replaced by TO.
 * - `~FROM TO` / `~*FROM TO`: a regular expression searched in the value (`~*` caseless); the whole value is
 *   replaced by TO, which can use the captures (`$1`…).
 * - `default`: FROM is proxy_pass's URL and TO the location's name when the URL has a URI part; otherwise FROM is the
 *   URL with `/` added and TO is `/`. It is also what a location with proxy_pass gets when no level sets
 *   proxy_redirect (and proxy_pass has no variables).
 * - `off`: no rewriting.
 *
 * A level that sets proxy_redirect replaces the list it would inherit.
 */
import type { Directive } from '../../config/index.js'
import { DyupsError } from '../../errors.js'
import { compileRegex } from '../lib/regex.js'
import type { Request } from '../lib/request.js'
import type { Variables } from '../lib/variables.js'

/** A Template, or a plain string (the default rule's: a `$` in a URL is text there). */
interface Text {
  eval(req: Request): string
}

class Fixed implements Text {
  constructor(private readonly s: string) {}
  eval(): string {
    return this.s
  }
}

interface Rule {
  /** A prefix (null for a regex rule). */
  readonly from: Text | null
  readonly regex: RegExp | null
  readonly to: Text
}

/** The proxy_redirect rules in effect for one proxy_pass. */
export class ProxyRedirect {
  /** @internal use {@link compileProxyRedirect} */
  constructor(private readonly rules: readonly Rule[]) {}

  /**
   * The value rewritten from `prefix` on by the first rule that matches, or null when none does.
   * A regex rule leaves its captures in `req.captures`, as nginx leaves them in r->captures.
   */
  rewrite(req: Request, value: string, prefix: number): string | null {
    const rules = this.rules
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!
      if (r.regex !== null) {
        const m = r.regex.exec(prefix === 0 ? value : value.slice(prefix))
        if (m === null) continue
        req.captures = m
        return value.slice(0, prefix) + r.to.eval(req)
      }
      const from = r.from!.eval(req)
      if (!value.startsWith(from, prefix)) continue
      return value.slice(0, prefix) + r.to.eval(req) + value.slice(prefix + from.length)
    }
    return null
  }

  /** `Refresh: 5; url=…`: the URL part rewritten, or null (no `url=`, or no rule matched). */
  rewriteRefresh(req: Request, value: string): string | null {
    const i = value.toLowerCase().indexOf('url=')
    return i < 0 ? null : this.rewrite(req, value, i + 4)
  }
}

/** What the rules of one proxy_pass are made from. */
export interface RedirectSource {
  /** proxy_redirect directives in effect, in order; 'off'; or null: none set at any level (the default). */
  directives: readonly Directive[] | 'off' | null
  /** proxy_pass's URL as written, or null when it has variables. */
  url: string | null
  /** Whether the URL has a URI part (`http://u/x/`, not `http://u`). */
  hasUri: boolean
  /** The location's name (`/one/`), '' outside a location. */
  location: string
}

/**
 * The rules for one proxy_pass, or null when nothing is rewritten.
 * @throws DyupsError E_CONFIG `"proxy_redirect default" cannot be used with "proxy_pass" directive with variables`,
 *   `pcre2_compile() failed: …`
 */
export function compileProxyRedirect(src: RedirectSource, vars: Variables): ProxyRedirect | null {
  if (src.directives === 'off') return null
  const def = (): Rule | null => {
    if (src.url === null) return null
    return src.hasUri
      ? { from: new Fixed(src.url), regex: null, to: new Fixed(src.location) }
      : { from: new Fixed(src.url + '/'), regex: null, to: new Fixed('/') }
  }
  if (src.directives === null) {
    const r = def()
    return r === null ? null : new ProxyRedirect([r])
  }
  const rules: Rule[] = []
  for (const d of src.directives) {
    const at = { file: d.file, line: d.line }
    const a0 = d.args[0]!
    if (d.args.length === 1) {
      // `default` (off was handled by the caller).
      if (src.url === null) {
        throw new DyupsError('E_CONFIG', '"proxy_redirect default" cannot be used with "proxy_pass" directive with variables', at)
      }
      rules.push(def()!)
      continue
    }
    const to = vars.compile(d.args[1]!, at)
    if (a0.startsWith('~')) {
      const caseless = a0.startsWith('~*')
      rules.push({ from: null, regex: compileRegex(a0.slice(caseless ? 2 : 1), caseless, at), to })
    } else {
      rules.push({ from: vars.compile(a0, at), regex: null, to })
    }
  }
  return rules.length === 0 ? null : new ProxyRedirect(rules)
}

/**
 * The proxy_redirect directives of one level, checked as nginx's directive handler checks them: `off` (or
 * `false`) with other proxy_redirect directives before it in the block is a duplicate, anything after it is
 * ignored; `default` must come after proxy_pass in the same block.
 * @returns undefined when the level has none (it inherits), 'off', or the directives
 * @throws DyupsError E_CONFIG
 */
export function levelRedirects(block: readonly Directive[]): readonly Directive[] | 'off' | undefined {
  let out: Directive[] | 'off' | undefined
  let pass = false
  for (const d of block) {
    if (d.name === 'proxy_pass') pass = true
    if (d.name !== 'proxy_redirect' || out === 'off') continue
    const at = { file: d.file, line: d.line }
    const a0 = d.args[0]!
    if (d.args.length === 1 && (a0 === 'off' || a0 === 'false')) {
      if (out !== undefined) throw new DyupsError('E_CONFIG', '"proxy_redirect" directive is duplicate', at)
      out = 'off'
      continue
    }
    if (d.args.length === 1 && a0 === 'default' && !pass) {
      throw new DyupsError('E_CONFIG', '"proxy_redirect default" should be placed after the "proxy_pass" directive', at)
    }
    if (out === undefined) out = [d]
    else out.push(d)
  }
  return out
}

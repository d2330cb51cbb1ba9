/**
 * The static-file settings of a location, compiled once: `root` / `alias` (ngx_http_core_root), `index`
 * (ngx_http_index_set_index), `etag`, `if_modified_since`, `log_not_found`, `max_ranges` (inherited http → server → location), and `try_files`
 * (ngx_http_core_try_files; not inherited, as in nginx).
 */
import type { Directive } from '../../config/index.js'
import { DyupsError, type Pos } from '../../errors.js'
import type { Location } from './locations.js'
import type { Template, Variables } from '../lib/variables.js'

/** `alias` of a regex location: the alias is the whole path, the URI is not appended. */
export const ALIAS_WHOLE = -1

export type IfModifiedSince = 'off' | 'exact' | 'before'

export interface DocRoot {
  /** The path as configured: made absolute under the prefix when it has no variables, a root's trailing `/` cut. */
  readonly text: string
  /** Evaluated per request (then made absolute under the prefix), or null when `text` is the path. */
  readonly tpl: Template | null
  /**
   * 0: `root`, the whole URI is appended. > 0: `alias` of a prefix location, the URI past this many bytes (the
   * location's name) is appended. ALIAS_WHOLE: `alias` of a regex location.
   */
  readonly alias: number
}

export interface StaticSettings {
  /** The prefix, for roots whose value is known only per request. */
  readonly prefix: string
  readonly root: DocRoot
  /** Whether `root` came from an `alias` (its length is fixed by the location that has it). */
  readonly isAlias: boolean
  readonly index: readonly Template[]
  readonly etag: boolean
  readonly ifModifiedSince: IfModifiedSince
  /** `log_not_found`: a 404 for a missing file writes its error-log line. */
  readonly logNotFound: boolean
  /** `max_ranges`: 0 turns ranges off (no Accept-Ranges either); unlimited unless set. */
  readonly maxRanges: number
}

export interface TryFile {
  readonly name: Template
  /** Written with a trailing `/`: only a directory matches. */
  readonly dir: boolean
}

export interface TryFiles {
  /** The candidates, tried in order. */
  readonly files: readonly TryFile[]
  /** The last parameter: a URI (or `@named` location) to redirect to; null when it is `=code`. */
  readonly fallback: Template | null
  readonly code: number
}

const at = (d: Directive): Pos => ({ file: d.file, line: d.line })

/** ngx_conf_full_name: a relative path is taken from the prefix (no normalization, as nginx). */
export function fullName(prefix: string, path: string): string {
  if (path.startsWith('/')) return path
  return prefix.endsWith('/') ? prefix + path : `${prefix}/${path}`
}

/** What applies when nothing is configured: `root html`, `index index.html`, `etag on`, `if_modified_since exact`. */
export function staticDefaults(prefix: string, vars: Variables): StaticSettings {
  return {
    prefix,
    root: { text: fullName(prefix, 'html'), tpl: null, alias: 0 },
    isAlias: false,
    index: [vars.compile('index.html')],
    etag: true,
    ifModifiedSince: 'exact',
    logNotFound: true,
    maxRanges: Number.MAX_SAFE_INTEGER,
  }
}

/**
 * The settings of one level (http, server or location block) over the inherited ones.
 * @throws DyupsError E_CONFIG with nginx's wording for `root` and `alias` together and `$document_root` in them.
 */
export function staticLevel(parent: StaticSettings, block: readonly Directive[], vars: Variables): StaticSettings {
  let root = parent.root
  let isAlias = parent.isAlias
  let index: Template[] | null = null
  let etag = parent.etag
  let ims = parent.ifModifiedSince
  let logNotFound = parent.logNotFound
  let maxRanges = parent.maxRanges
  let rootDirective: Directive | null = null
  for (const d of block) {
    switch (d.name) {
      case 'root':
      case 'alias': {
        const alias = d.name === 'alias'
        if (rootDirective !== null) {
          if ((rootDirective.name === 'alias') === alias) throw new DyupsError('E_CONFIG', `"${d.name}" directive is duplicate`, at(d))
          throw new DyupsError('E_CONFIG', `"${d.name}" directive is duplicate, "${rootDirective.name}" directive was specified earlier`, at(d))
        }
        rootDirective = d
        let v = d.args[0]!
        for (const bad of ['document_root', 'realpath_root']) {
          if (v.includes(`$${bad}`) || v.includes(`\${${bad}}`)) {
            throw new DyupsError('E_CONFIG', `the $${bad} variable cannot be used in the "${d.name}" directive`, at(d))
          }
        }
        // `root /` is '' (the URI alone): absolute before its slash is cut, as nginx tests the first byte.
        const relative = !v.startsWith('/') && !v.startsWith('$')
        if (!alias && v.endsWith('/')) v = v.slice(0, -1)
        if (relative) v = fullName(parent.prefix, v)
        const tpl = vars.compile(v, at(d))
        root = { text: v, tpl: tpl.constant === null ? tpl : null, alias: 0 }
        isAlias = alias
        break
      }
      case 'index': {
        index ??= []
        // An absolute name before the last is only a warning in nginx: the redirect to it happens when reached.
        for (const a of d.args) index.push(vars.compile(a, at(d)))
        break
      }
      case 'etag':
        etag = d.args[0]!.toLowerCase() === 'on'
        break
      case 'if_modified_since':
        ims = d.args[0]!.toLowerCase() as IfModifiedSince
        break
      case 'log_not_found':
        logNotFound = d.args[0]!.toLowerCase() === 'on'
        break
      case 'max_ranges':
        maxRanges = Number(d.args[0])
        break
    }
  }
  return { prefix: parent.prefix, root, isAlias, index: index ?? parent.index, etag, ifModifiedSince: ims, logNotFound, maxRanges }
}

/**
 * The settings as a location sees them: an inherited `alias` takes its length from the location that has it
 * (nginx's clcf->alias = the location name's length; the whole path in a regex location).
 * @throws DyupsError E_CONFIG `the "alias" directive cannot be used inside the named location`
 */
export function staticOfLocation(s: StaticSettings, loc?: Location): StaticSettings {
  if (!s.isAlias || loc === undefined) return s
  for (let l: Location | null = loc; l !== null; l = l.parent) {
    const d = (l.directive.block ?? []).find((x) => x.name === 'alias' || x.name === 'root')
    if (d === undefined) continue
    if (d.name !== 'alias') return s
    if (l.kind === 'named') throw new DyupsError('E_CONFIG', 'the "alias" directive cannot be used inside the named location', at(d))
    const whole = l.kind === 'regex' || l.kind === 'iregex'
    return { ...s, root: { ...s.root, alias: whole ? ALIAS_WHOLE : l.name.length } }
  }
  return s
}

/**
 * `try_files file ... uri|=code` of one block (not inherited).
 * @throws DyupsError E_CONFIG `invalid code "=x"`
 */
export function compileTryFiles(block: readonly Directive[], vars: Variables): TryFiles | null {
  const d = block.find((x) => x.name === 'try_files')
  if (d === undefined) return null
  const n = d.args.length
  const files: TryFile[] = []
  for (let k = 0; k < n - 1; k++) {
    let a = d.args[k]!
    const dir = a.endsWith('/')
    if (dir) a = a.slice(0, -1)
    files.push({ name: vars.compile(a, at(d)), dir })
  }
  const last = d.args[n - 1]!
  if (last.startsWith('=')) {
    const digits = last.slice(1)
    const code = /^\d+$/.test(digits) ? Number(digits) : -1
    if (code < 0 || code > 999) throw new DyupsError('E_CONFIG', `invalid code "${last}"`, at(d))
    return { files, fallback: null, code }
  }
  return { files, fallback: vars.compile(last, at(d)), code: 0 }
}

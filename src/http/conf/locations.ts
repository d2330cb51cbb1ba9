/**
 * `location` matching, as nginx does it (ngx_http_core_find_location, ngx_http_core_find_static_location and the
 * tree built by ngx_http_init_static_location_trees in src/http/ngx_http.c):
 *
 *  1. `= /exact` that equals the URI wins at once;
 *  2. otherwise the longest matching prefix (`/p` or `^~ /p`) is remembered, and the locations nested inside it are
 *     searched the same way (their prefixes, then their regexes);
 *  3. then, unless that longest prefix is `^~`, the regexes of the level (`~` case-sensitive, `~*` caseless) are
 *     tried in configuration order, the first match wins (and its own nested locations are searched);
 *  4. otherwise the longest prefix is used.
 *  A prefix location ending in `/` whose block has `proxy_pass` (or another `*_pass`) answers the same URI without
 *  the slash with a 301 to it (nginx's auto_redirect). Named `@locations` are never matched; find them by name.
 *
 * Prefixes live in nginx's own structure: per level, a binary tree of names sorted with `/` as the lowest byte, each
 * node holding the tree of the longer names it is a prefix of, with the shared prefix cut off. Per request that is
 * O(log n + length of the URI) byte comparisons, then at most one RegExp test per regex location of the levels
 * visited. No allocation unless a matching regex has capture groups (then RegExp#exec's array).
 */
import { DyupsError } from '../../errors.js'
import type { Directive } from '../../config/index.js'
import { compileRegex, regexCaptures } from '../lib/regex.js'

export type LocationKind = 'exact' | 'prefix' | 'noregex' | 'regex' | 'iregex' | 'named'

/** One `location` block. */
export interface Location {
  /** Dense index in configuration order (depth-first), for per-location tables kept by the caller. */
  readonly id: number
  readonly kind: LocationKind
  /** As nginx names it: the URI of `=`/prefix/`^~`, the pattern of a regex, `@name`. */
  readonly name: string
  /** The `location` directive; its block holds the location's configuration. */
  readonly directive: Directive
  readonly parent: Location | null
  readonly children: readonly Location[]
  /** `^~`: a matching prefix stops the regex search. */
  readonly noregex: boolean
  /** 301 to `name` when the URI is `name` without its trailing slash. */
  readonly autoRedirect: boolean
  /** Compiled pattern of a regex location, else null. */
  readonly regex: RegExp | null
  /** Whether the pattern has capture groups ($1…, named ones). */
  readonly captures: boolean
}

/** Filled by {@link LocationTree.match}; one per request (or per connection), reused. */
export class LocationMatch {
  location: Location | null = null
  /** True when nginx would answer 301 to `location.name` (auto_redirect) instead of serving the location. */
  redirect = false
  /** Groups of the last regex location that matched with capture groups, else null. */
  captures: RegExpExecArray | null = null
}

export interface LocationOptions {
  /**
   * Directives whose presence in a prefix location ending with `/` turns on nginx's auto_redirect.
   * @default ['proxy_pass', 'fastcgi_pass', 'uwsgi_pass', 'scgi_pass', 'memcached_pass', 'grpc_pass']
   */
  readonly redirectDirectives?: readonly string[]
}

// Results of the static search, named as in nginx.
const DECLINED = 0
const AGAIN = 1
const OK = 2
const DONE = 3

interface Node {
  left: Node | null
  right: Node | null
  tree: Node | null
  exact: Loc | null
  inclusive: Loc | null
  autoRedirect: boolean
  /** The name with the prefix shared with the parent tree cut off. */
  name: string
}

/** The searchable locations of one level (the server, or one location's nested ones). */
interface Level {
  tree: Node | null
  regexes: Loc[]
}

interface Loc extends Location {
  children: Loc[]
  level: Level
}

/** ngx_filename_cmp (case-sensitive filesystems): byte compare where '/' sorts below every other byte. */
function filenameCmp(a: string, ai: number, b: string, bi: number, n: number): number {
  for (let k = 0; k < n; k++) {
    let c1 = a.charCodeAt(ai + k)
    let c2 = b.charCodeAt(bi + k)
    if (c1 === c2) continue
    if (c1 === 0x2f) c1 = 0
    if (c2 === 0x2f) c2 = 0
    return c1 - c2
  }
  return 0
}

/** ngx_http_cmp_locations for two static names: filename order, shorter first, `=` before the same inclusive. */
function cmpStatic(a: Loc, b: Loc): number {
  const n = Math.min(a.name.length, b.name.length)
  const rc = filenameCmp(a.name, 0, b.name, 0, n)
  if (rc !== 0) return rc
  if (a.name.length !== b.name.length) return a.name.length - b.name.length
  if (a.kind !== 'exact' && b.kind === 'exact') return 1
  if (a.kind === 'exact' && b.kind !== 'exact') return -1
  return 0
}

interface Queued {
  name: string
  exact: Loc | null
  inclusive: Loc | null
  list: Queued[]
}

const PASS_DIRECTIVES = ['proxy_pass', 'fastcgi_pass', 'uwsgi_pass', 'scgi_pass', 'memcached_pass', 'grpc_pass']

/** The compiled `location` blocks of one server. */
export class LocationTree {
  /** Every location, by id. */
  readonly locations: readonly Location[]
  /** Names of named captures in regex locations: the caller declares them as variables. */
  readonly captureNames: readonly string[]
  private readonly root: Level
  private readonly named: ReadonlyMap<string, Location>
  /** The location found by the last static search (nginx's r->loc_conf). */
  private hit: Loc | null = null
  private caps: RegExpExecArray | null = null

  /** @internal use {@link buildLocations} */
  constructor(all: Loc[], root: Level, named: Map<string, Location>, captureNames: string[]) {
    this.locations = all
    this.root = root
    this.named = named
    this.captureNames = captureNames
  }

  /**
   * Find the location for a normalized `$uri`.
   * @returns the location (also in `m.location`), or null when no location matches (the server's own
   *   configuration applies). `m.redirect` tells a 301 to `location.name` is due instead.
   */
  match(uri: string, m: LocationMatch): Location | null {
    this.hit = null
    this.caps = null
    const rc = this.find(this.root, uri)
    m.location = this.hit
    m.redirect = rc === DONE
    m.captures = this.caps
    return this.hit
  }

  /** A named location (`@name`, the `@` included), as `error_page`/`try_files` reach it. */
  findNamed(name: string): Location | undefined {
    return this.named.get(name)
  }

  /** ngx_http_core_find_location: static tree, nested levels, then regexes. */
  private find(level: Level, uri: string): number {
    let noregex = false
    let rc = this.findStatic(level.tree, uri)
    if (rc === AGAIN) {
      const hit = this.hit!
      noregex = hit.noregex
      rc = this.find(hit.level, uri)
    }
    if (rc === OK || rc === DONE) return rc
    if (!noregex) {
      const rs = level.regexes
      for (let i = 0; i < rs.length; i++) {
        const loc = rs[i]!
        const re = loc.regex!
        if (loc.captures) {
          const caps = re.exec(uri)
          if (caps === null) continue
          this.caps = caps
        } else if (!re.test(uri)) {
          continue
        }
        this.hit = loc
        this.find(loc.level, uri)
        return OK
      }
    }
    return rc
  }

  /** ngx_http_core_find_static_location. */
  private findStatic(start: Node | null, uri: string): number {
    let node = start
    let off = 0
    let len = uri.length
    let rv = DECLINED
    while (node !== null) {
      const nlen = node.name.length
      const n = len <= nlen ? len : nlen
      const rc = filenameCmp(uri, off, node.name, 0, n)
      if (rc !== 0) {
        node = rc < 0 ? node.left : node.right
        continue
      }
      if (len > nlen) {
        if (node.inclusive !== null) {
          this.hit = node.inclusive
          rv = AGAIN
          node = node.tree
          off += n
          len -= n
          continue
        }
        node = node.right
        continue
      }
      if (len === nlen) {
        if (node.exact !== null) {
          this.hit = node.exact
          return OK
        }
        this.hit = node.inclusive
        return AGAIN
      }
      if (len + 1 === nlen && node.autoRedirect) {
        this.hit = node.exact ?? node.inclusive
        rv = DONE
      }
      node = node.left
    }
    return rv
  }
}

/**
 * Compile the `location` blocks of one server.
 * @param serverBlock the children of the `server` block
 * @throws DyupsError E_CONFIG with nginx's wording: `duplicate location "/x"`, `invalid location modifier "~~"`,
 *   `location "/b" is outside location "/a"`, `location "/a/b" cannot be inside the exact location "/a"`,
 *   `location "/a/b" cannot be inside the named location "@a"`, `named location "@b" can be on the server level
 *   only`, `invalid number of arguments in "location" directive`, `pcre2_compile() failed: … in "…"`
 */
export function buildLocations(serverBlock: readonly Directive[], opts: LocationOptions = {}): LocationTree {
  const redirectOn = opts.redirectDirectives ?? PASS_DIRECTIVES
  const all: Loc[] = []
  const named = new Map<string, Location>()
  const captureNames: string[] = []

  function parse(d: Directive, parent: Loc | null): Loc {
    const at = { file: d.file, line: d.line }
    if (d.args.length < 1 || d.args.length > 2) {
      throw new DyupsError('E_CONFIG', 'invalid number of arguments in "location" directive', at)
    }
    let kind: LocationKind
    let name: string
    if (d.args.length === 2) {
      const mod = d.args[0]!
      name = d.args[1]!
      if (mod === '=') kind = 'exact'
      else if (mod === '^~') kind = 'noregex'
      else if (mod === '~') kind = 'regex'
      else if (mod === '~*') kind = 'iregex'
      else throw new DyupsError('E_CONFIG', `invalid location modifier "${mod}"`, at)
    } else {
      const v = d.args[0]!
      if (v.startsWith('=')) {
        kind = 'exact'
        name = v.slice(1)
      } else if (v.startsWith('^~')) {
        kind = 'noregex'
        name = v.slice(2)
      } else if (v.startsWith('~*')) {
        kind = 'iregex'
        name = v.slice(2)
      } else if (v.startsWith('~')) {
        kind = 'regex'
        name = v.slice(1)
      } else {
        kind = v.startsWith('@') ? 'named' : 'prefix'
        name = v
      }
    }
    const isRegex = kind === 'regex' || kind === 'iregex'
    let regex: RegExp | null = null
    let captures = false
    if (isRegex) {
      regex = compileRegex(name, kind === 'iregex', at)
      const [count, names] = regexCaptures(regex)
      captures = count > 0
      for (const n of names) if (!captureNames.includes(n)) captureNames.push(n)
    }

    if (parent !== null) {
      if (parent.kind === 'exact') {
        throw new DyupsError('E_CONFIG', `location "${name}" cannot be inside the exact location "${parent.name}"`, at)
      }
      if (parent.kind === 'named') {
        throw new DyupsError('E_CONFIG', `location "${name}" cannot be inside the named location "${parent.name}"`, at)
      }
      if (kind === 'named') {
        throw new DyupsError('E_CONFIG', `named location "${name}" can be on the server level only`, at)
      }
      if (!isRegex && !name.startsWith(parent.name)) {
        throw new DyupsError('E_CONFIG', `location "${name}" is outside location "${parent.name}"`, at)
      }
    }

    const block = d.block ?? []
    const loc: Loc = {
      id: all.length,
      kind,
      name,
      directive: d,
      parent,
      children: [],
      noregex: kind === 'noregex',
      autoRedirect: name.endsWith('/') && block.some((c) => redirectOn.includes(c.name)),
      regex,
      captures,
      level: { tree: null, regexes: [] },
    }
    all.push(loc)
    for (const c of block) if (c.name === 'location') loc.children.push(parse(c, loc))
    return loc
  }

  const top: Loc[] = []
  for (const d of serverBlock) if (d.name === 'location') top.push(parse(d, null))

  const root: Level = { tree: null, regexes: [] }
  initLevel(root, top, named)
  for (const loc of all) initLevel(loc.level, loc.children, null)
  return new LocationTree(all, root, named, captureNames)
}

/** ngx_http_init_locations + ngx_http_init_static_location_trees for one level. */
function initLevel(level: Level, locs: Loc[], named: Map<string, Location> | null): void {
  const statics: Loc[] = []
  for (const l of locs) {
    if (l.kind === 'regex' || l.kind === 'iregex') level.regexes.push(l)
    else if (l.kind === 'named') {
      // nginx keeps duplicates and finds the first one.
      if (named !== null && !named.has(l.name)) named.set(l.name, l)
    } else statics.push(l)
  }
  if (statics.length === 0) return
  // Array#sort is stable, like nginx's insertion sort.
  statics.sort(cmpStatic)

  // ngx_http_join_exact_locations: `= /x` and `/x` share one entry; two of a kind are a duplicate.
  const queue: Queued[] = []
  for (const l of statics) {
    const last = queue[queue.length - 1]
    const exact = l.kind === 'exact'
    if (last !== undefined && last.name === l.name) {
      if ((exact && last.exact !== null) || (!exact && last.inclusive !== null)) {
        throw new DyupsError('E_CONFIG', `duplicate location "${l.name}"`, {
          file: l.directive.file,
          line: l.directive.line,
        })
      }
      if (exact) last.exact = l
      else last.inclusive = l
      continue
    }
    queue.push({ name: l.name, exact: exact ? l : null, inclusive: exact ? null : l, list: [] })
  }

  level.tree = createTree(createList(queue), 0)
}

/** ngx_http_create_locations_list: each inclusive entry adopts the following entries it is a prefix of. */
function createList(items: Queued[]): Queued[] {
  const out: Queued[] = []
  let i = 0
  while (i < items.length) {
    const q = items[i]!
    out.push(q)
    i++
    if (q.inclusive === null) continue
    const len = q.name.length
    let j = i
    while (j < items.length) {
      const x = items[j]!
      if (len > x.name.length || filenameCmp(q.name, 0, x.name, 0, len) !== 0) break
      j++
    }
    if (j > i) q.list = createList(items.slice(i, j))
    i = j
  }
  return out
}

/** ngx_http_create_locations_tree: balanced by taking the middle entry (ngx_queue_middle) as the root. */
function createTree(list: Queued[], prefix: number): Node | null {
  if (list.length === 0) return null
  const m = list.length >> 1
  const q = list[m]!
  const node: Node = {
    left: createTree(list.slice(0, m), prefix),
    right: createTree(list.slice(m + 1), prefix),
    tree: null,
    exact: q.exact,
    inclusive: q.inclusive,
    autoRedirect: (q.exact !== null && q.exact.autoRedirect) || (q.inclusive !== null && q.inclusive.autoRedirect),
    name: q.name.slice(prefix),
  }
  node.tree = createTree(q.list, q.name.length)
  return node
}

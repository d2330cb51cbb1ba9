import type { Directive } from './types.js'
import { Lexer } from './lexer.js'

export interface ParseOptions {
  /** Parse as nginx parses the `-g` string: no blocks, "unexpected end of parameter" at the end. */
  readonly param?: boolean
  /**
   * Expands an `include` directive in place: appends the included directives to `into` (the children of the
   * block the include appears in). Without it, `include` is kept as a plain directive.
   */
  readonly include?: (d: Directive, into: Directive[]) => void
}

/**
 * Blocks nested deeper than this are refused. The parser and every pass over the tree after it (checks, the http
 * compiler) recurse once per level, so without a bound `a {` repeated ten thousand times — a 30 KB configuration
 * or POST body — overflowed the stack (a RangeError instead of a configuration error). nginx has no explicit bound
 * (its C stack is the bound); real configurations nest fewer than ten levels.
 */
export const MAX_BLOCK_DEPTH = 200

/** A directive under construction: the same shape as {@link Directive}, written to while its block is parsed. */
interface Building {
  name: string
  args: string[]
  block: Directive[] | null
  file: string
  line: number
  endLine?: number
  luaBlock?: boolean
}

/**
 * Parses one text into directives; `include` is left as a directive (not expanded).
 * @example parseText('server 127.0.0.1:8088 weight=2;\nkeepalive 8;', 'body')
 * @throws DyupsError E_CONFIG with nginx's wording and the position of the error.
 */
export function parseText(text: string, file: string, opts: ParseOptions = {}): Directive[] {
  const out: Directive[] = []
  parseInto(text, file, out, opts)
  return out
}

/**
 * Parses `text` and appends its directives to `out` as they are read, so that after an error `out` holds the
 * partial tree up to that point (blocks are appended before their children are read). nginx checks each directive
 * as soon as its `;` or `{` is read; a caller can reproduce that order by checking the partial tree first.
 * @throws DyupsError E_CONFIG
 */
export function parseInto(text: string, file: string, out: Directive[], opts: ParseOptions = {}): void {
  const lx = new Lexer(text, file, opts.param === true)
  parseBlock(lx, out, 0, opts)
}

function parseBlock(lx: Lexer, out: Directive[], depth: number, opts: ParseOptions): number {
  const inBlock = depth > 0
  for (;;) {
    const st = lx.next()

    if (st.end === '}') {
      if (!inBlock) lx.fail('unexpected "}"')
      return st.line
    }
    if (st.end === 'eof') {
      if (inBlock) lx.fail('unexpected end of file, expecting "}"')
      return st.line
    }
    if (st.end === '{' && lx.param) lx.fail('block directives are not supported in -g option')

    const name = st.args[0]
    const args = st.args.slice(1)

    if (st.end === '{' && name.endsWith('_by_lua_block')) {
      args.push(lx.readLuaBlock())
      const d: Building = { name, args, block: null, file: lx.file, line: st.line, luaBlock: true }
      out.push(d)
      continue
    }

    if (name === 'include' && opts.include !== undefined) {
      // nginx checks `include` like any other directive before it opens anything.
      if (st.end !== ';') lx.fail('directive "include" is not terminated by ";"', st.line)
      if (args.length !== 1) lx.fail('invalid number of arguments in "include" directive', st.line)
      opts.include({ name, args, block: null, file: lx.file, line: st.line }, out)
      continue
    }

    if (st.end === ';') {
      out.push({ name, args, block: null, file: lx.file, line: st.line })
      continue
    }

    if (depth >= MAX_BLOCK_DEPTH) lx.fail(`blocks nested deeper than ${MAX_BLOCK_DEPTH} levels`, st.line)
    const children: Directive[] = []
    const d: Building = { name, args, block: children, file: lx.file, line: st.line }
    out.push(d)
    d.endLine = parseBlock(lx, children, depth + 1, opts)
  }
}

import type { Pos } from '../errors.js'

/** The contexts a directive may appear in, named as nginx names them. */
export type Context =
  | 'main'
  | 'events'
  | 'http'
  | 'server'
  | 'location'
  | 'upstream'
  | 'if'
  | 'limit_except'
  | 'map'
  | 'types'
  | 'geo'
  | 'split_clients'

/**
 * One directive as written: `name arg1 "arg 2";` or `name args { ... }`.
 * Arguments are the tokens after lexing: quotes removed, escapes applied, `$var`/`${var}` left as text
 * (variables are compiled by whoever evaluates the argument).
 */
export interface Directive {
  readonly name: string
  readonly args: readonly string[]
  /** Children of a block directive; null for a simple one (`;`). */
  readonly block: readonly Directive[] | null
  readonly file: string
  /**
   * The line on which the directive ended (its `;` or `{`): the line nginx names in its messages, which is the line
   * of the name unless the directive spans lines.
   */
  readonly line: number
  /**
   * For a block directive, the line of its closing `}` (nginx reports end-of-block checks such as
   * "no servers are inside upstream" there). Absent while a block is incomplete, in the partial tree of a failed parse.
   */
  readonly endLine?: number
  /** True for a `*_by_lua_block { ... }` directive: its last argument is the raw Lua text between the braces. */
  readonly luaBlock?: boolean
}

export type { Pos }

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
  readonly line: number
}

export type { Pos }

/**
 * config/: nginx-syntax lexer and parser, `include`, the directive registry, value parsers.
 * Imports nothing of ours but the errors leaf.
 */
export type { Directive, Context } from './types.js'

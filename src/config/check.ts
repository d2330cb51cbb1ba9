import { DyupsError } from '../errors.js'
import type { Context, Directive } from './types.js'
import { configError, type CheckContext, type Registry, type DirectiveSpec } from './registry.js'
import { defaultRegistry } from './directives.js'

export interface CheckOptions {
  /** The context of the top-level directives. @default 'main' */
  readonly context?: Context
  /** @default the registry of every directive dyups knows */
  readonly registry?: Registry
  /**
   * The tree is what was read before a syntax error: skip checks made when a block closes for blocks that never
   * closed, and the checks made once the whole configuration is read.
   */
  readonly partial?: boolean
}

function argsOk(spec: DirectiveSpec, n: number): boolean {
  if (typeof spec.args === 'number') return n === spec.args
  return n >= spec.args[0] && n <= spec.args[1]
}

/**
 * Checks a directive tree in order, as nginx does while it reads the file, and throws the first error nginx would
 * report: `unknown directive "x"`, `"x" directive is not supported by dyups`, `"x" directive is not allowed here`,
 * `directive "x" is not terminated by ";"`, `directive "x" has no opening "{"`,
 * `invalid number of arguments in "x" directive`, `"x" directive is duplicate`, then the directive's own checks.
 * @throws DyupsError E_CONFIG at the directive's position.
 */
export function checkTree(tree: readonly Directive[], opts: CheckOptions = {}): void {
  const registry = opts.registry ?? defaultRegistry
  const context = opts.context ?? 'main'
  const cx: CheckContext = { parents: [], state: new Map() }
  checkBlock(tree, context, cx, registry, opts.partial === true)
  if (context === 'main' && opts.partial !== true && !tree.some((d) => d.name === 'events')) {
    throw new DyupsError('E_CONFIG', 'no "events" section in configuration')
  }
}

function checkBlock(
  children: readonly Directive[],
  context: Context,
  cx: CheckContext,
  registry: Registry,
  partial: boolean,
): void {
  const seen = new Set<string>()
  for (const d of children) {
    const spec = registry.find(d.name, context)
    if (spec === undefined) {
      if (registry.lookup(d.name) !== undefined) throw configError(d, `"${d.name}" directive is not allowed here`)
      if (registry.isUnsupported(d.name)) throw configError(d, `"${d.name}" directive is not supported by dyups`)
      throw configError(d, `unknown directive "${d.name}"`)
    }

    if (spec.luaBlock === true) {
      if (d.luaBlock !== true) throw configError(d, `directive "${d.name}" has no opening "{"`)
    } else if (spec.block === undefined) {
      if (d.block !== null || d.luaBlock === true) throw configError(d, `directive "${d.name}" is not terminated by ";"`)
    } else if (d.block === null) {
      throw configError(d, `directive "${d.name}" has no opening "{"`)
    }

    const n = d.luaBlock === true ? d.args.length - 1 : d.args.length
    if (!argsOk(spec, n)) throw configError(d, `invalid number of arguments in "${d.name}" directive`)

    if (spec.unique !== undefined && spec.unique !== false) {
      const key = spec.unique === true ? d.name : spec.unique
      if (seen.has(key)) throw configError(d, `"${d.name}" directive is duplicate`)
      seen.add(key)
    }

    spec.validate?.(d, cx)

    if (spec.block !== undefined && d.block !== null) {
      const inner: CheckContext = { parents: [...cx.parents, d], state: cx.state }
      if (spec.raw === true) {
        for (const e of d.block) {
          if (e.block !== null || e.luaBlock === true) throw configError(e, 'unexpected "{"')
          spec.entry?.(e, inner)
        }
      } else {
        checkBlock(d.block, spec.block, inner, registry, partial)
      }
      if (d.endLine !== undefined) spec.close?.(d, cx)
      else if (!partial) spec.close?.(d, cx)
    }
  }
}

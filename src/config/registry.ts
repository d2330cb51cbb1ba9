import { DyupsError, type Pos } from '../errors.js'
import type { Context, Directive } from './types.js'

/** What a directive's checks can see besides the directive itself. */
export interface CheckContext {
  /** The block directives enclosing this one, outermost first (empty at the top level). */
  readonly parents: readonly Directive[]
  /** Scratch space shared by one {@link checkTree} run, e.g. the `log_format` names defined so far. */
  readonly state: Map<string, unknown>
}

export interface DirectiveSpec {
  readonly name: string
  /** Where it may appear. */
  readonly contexts: readonly Context[]
  /** Argument count, or [min, max] (max may be Infinity). A lua block's body is not counted. */
  readonly args: number | readonly [number, number]
  /** For a block directive: the context of its children. */
  readonly block?: Context
  /** The children are free-form entries (`map`, `types`): not looked up, only checked by {@link entry}. */
  readonly raw?: boolean
  /** Checks one entry of a raw block. */
  readonly entry?: (d: Directive, cx: CheckContext) => void
  /** A `*_by_lua_block { ... }` directive. */
  readonly luaBlock?: boolean
  /**
   * nginx refuses a second occurrence in one block with `"x" directive is duplicate`. A string names a setting several
   * directives share (the content_by_lua family): any two of them in one block are a duplicate.
   */
  readonly unique?: boolean | string
  /** Value checks, run after the context, argument-count and duplicate checks. */
  readonly validate?: (d: Directive, cx: CheckContext) => void
  /** Checks run when the block is closed (nginx reports them at the `}` line). */
  readonly close?: (d: Directive, cx: CheckContext) => void
  /** Accepted and checked, but dyups does nothing with it. */
  readonly noop?: boolean
  /** One line for the documentation table. */
  readonly docs?: string
  /** nginx's default, for the documentation table. */
  readonly default?: string
}

/** The position of a directive (or of its closing brace), for errors. */
export const posOf = (d: Directive, line = d.line): Pos => ({ file: d.file, line })

/** @returns a DyupsError E_CONFIG at `d`. */
export function configError(d: Directive, message: string, line = d.line): DyupsError {
  return new DyupsError('E_CONFIG', message, posOf(d, line))
}

/** Directive specs by name; a name may have one spec per context (`server` in `http` and in `upstream`). */
export class Registry {
  private readonly byName = new Map<string, DirectiveSpec[]>()
  private readonly unsupported = new Set<string>()

  /** @throws Error when a spec for the same name already covers one of the contexts. */
  add(...specs: DirectiveSpec[]): this {
    for (const spec of specs) {
      const list = this.byName.get(spec.name) ?? []
      for (const other of list) {
        if (other.contexts.some((c) => spec.contexts.includes(c))) {
          throw new Error(`directive "${spec.name}" registered twice for one context`)
        }
      }
      list.push(spec)
      this.byName.set(spec.name, list)
    }
    return this
  }

  /** Real nginx directives dyups refuses with `"x" directive is not supported by dyups`. */
  addUnsupported(names: Iterable<string>): this {
    for (const n of names) this.unsupported.add(n)
    return this
  }

  /** Every spec registered under `name`, or undefined. */
  lookup(name: string): readonly DirectiveSpec[] | undefined {
    return this.byName.get(name)
  }

  /** The spec of `name` that applies in `context`, if any. */
  find(name: string, context: Context): DirectiveSpec | undefined {
    return this.byName.get(name)?.find((s) => s.contexts.includes(context))
  }

  isUnsupported(name: string): boolean {
    return this.unsupported.has(name)
  }

  /** All specs, in registration order. */
  specs(): DirectiveSpec[] {
    return [...this.byName.values()].flat()
  }

  unsupportedNames(): string[] {
    return [...this.unsupported].sort()
  }
}

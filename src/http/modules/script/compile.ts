/**
 * The scripted content handlers of a configuration: `content_by_lua '…'`, `content_by_lua_block { … }`,
 * `content_by_lua_file PATH` and `js_import` + `js_content`, turned into handler objects when the configuration is
 * compiled. JavaScript modules are read and compiled here (errors fail `-t`, as in njs); Lua is compiled in the
 * worker on first use, as lua-nginx-module does.
 */
import { dirname, resolve } from 'node:path'
import type { Directive } from '../../../config/index.js'
import { DyupsError, type Pos } from '../../../errors.js'
import { JsContent, JsModule } from './js.js'
import { LuaScript } from './lua.js'

/** A `js_import` in force: the name `js_content` uses, and the module. */
export interface JsImport {
  name: string
  module: JsModule
}

export type ScriptHandler = { kind: 'lua'; script: LuaScript } | { kind: 'js'; content: JsContent }

const at = (d: Directive): Pos => ({ file: d.file, line: d.line })

function has(tree: readonly Directive[], name: string): boolean {
  for (const d of tree) if (d.name === name || (d.block !== null && has(d.block, name))) return true
  return false
}

/** Builds the script handlers of one configuration; JavaScript modules are shared by every location importing them. */
export class ScriptCompiler {
  /** A `dyups_interface` anywhere turns the scripts' dyups API on, as in Tengine. */
  readonly api: boolean
  private readonly prefix: string
  private readonly confDir: string
  private readonly modules = new Map<string, JsModule>()

  constructor(src: { prefix: string; confFile: string; tree: readonly Directive[] }) {
    this.api = has(src.tree, 'dyups_interface')
    this.prefix = resolve(src.prefix)
    this.confDir = dirname(resolve(this.prefix, src.confFile))
  }

  /** The `js_import`ed modules: a worker's JavaScript engine evaluates them when it starts. */
  get jsModules(): JsModule[] {
    return [...this.modules.values()]
  }

  /**
   * The script handler of a location's directives, or null when it has none.
   * @param imports the `js_import`s in force there (http, server and location levels)
   * @throws DyupsError E_CONFIG: an unreadable or invalid JavaScript module, `js_content` naming no imported module
   */
  handler(block: readonly Directive[], imports: readonly JsImport[]): ScriptHandler | null {
    for (const d of block) {
      switch (d.name) {
        case 'content_by_lua': {
          const code = d.args[0]!
          // The directive's line is the one of its ';': the quoted code started as many lines above as it spans.
          let lines = 0
          for (let i = code.indexOf('\n'); i >= 0; i = code.indexOf('\n', i + 1)) lines++
          return { kind: 'lua', script: new LuaScript(code, null, d.file, Math.max(1, d.line - lines), this.api, at(d)) }
        }
        case 'content_by_lua_block':
          // The block's text starts right after its '{', on the directive's line.
          return { kind: 'lua', script: new LuaScript(d.args[d.args.length - 1]!, null, d.file, d.line, this.api, at(d)) }
        case 'content_by_lua_file': {
          const path = resolve(this.prefix, d.args[0]!)
          return { kind: 'lua', script: new LuaScript(null, path, path, 1, this.api, at(d)) }
        }
        case 'js_content':
          return { kind: 'js', content: this.jsContent(d, imports) }
      }
    }
    return null
  }

  /**
   * One `js_import`: its name and module, read and compiled now (once per file and name).
   * @throws DyupsError E_CONFIG for a module that cannot be read or does not compile
   */
  import(d: Directive): JsImport {
    const name = importName(d)
    const path = resolve(this.confDir, d.args[d.args.length - 1]!)
    const key = `${name}\0${path}`
    let m = this.modules.get(key)
    if (m === undefined) {
      m = new JsModule(name, path, at(d))
      this.modules.set(key, m)
    }
    return { name, module: m }
  }

  private jsContent(d: Directive, imports: readonly JsImport[]): JsContent {
    const ref = d.args[0]!
    const dot = ref.indexOf('.')
    if (dot <= 0 || dot === ref.length - 1) {
      throw new DyupsError('E_CONFIG', `invalid js_content "${ref}": expected MODULE.FUNCTION`, at(d))
    }
    const name = ref.slice(0, dot)
    // A later js_import of a name wins, as an inner level's does.
    for (let i = imports.length - 1; i >= 0; i--) {
      const imp = imports[i]!
      if (imp.name === name) return new JsContent(imp.module, ref.slice(dot + 1), ref, this.api)
    }
    throw new DyupsError('E_CONFIG', `no imported module "${name}" for js_content "${ref}"`, at(d))
  }
}

/** `js_import main.js` → `main`; `js_import m from lib/main.js` → `m`. */
export function importName(d: Directive): string {
  if (d.args.length === 3) return d.args[0]!
  const file = d.args[0]!
  const base = file.slice(file.lastIndexOf('/') + 1)
  const dot = base.lastIndexOf('.')
  return dot > 0 ? base.slice(0, dot) : base
}

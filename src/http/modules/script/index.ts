/**
 * Scripted content handlers: Lua (`content_by_lua*`, Tengine's `ngx.dyups` API on a Lua 5.4 VM) and njs-style
 * JavaScript (`js_import`, `js_content`). The compiler builds them from a location's directives; the runners answer
 * a request with them. See docs/scripting.md.
 */
export { ScriptCompiler, importName, type JsImport, type ScriptHandler } from './compile.js'
export { LuaScript, runLua } from './lua.js'
export { JsContent, JsModule, prepareJs, runJs } from './js.js'
export { API_DISABLED } from './ngx-api.js'

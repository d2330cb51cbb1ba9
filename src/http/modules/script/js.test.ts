import assert from 'node:assert/strict'
import { test } from 'node:test'
import vm from 'node:vm'
import { isDyupsError } from '../../../errors.js'
import { compileModule } from './js.js'

/** Runs a compiled module in a fresh context and returns its default export and the context. */
function evaluate(source: string): { exp: unknown; ctx: vm.Context } {
  const ctx = vm.createContext({ __dyups: { marker: true } })
  compileModule(source, '/m.js').runInContext(ctx)
  return { exp: (ctx as Record<string, unknown>).__dyupsExport, ctx }
}

test('export default and dyups imports become plain script, lines kept', () => {
  const { exp } = evaluate("import dyups from 'dyups'\nimport alias from \"ngx.dyups\";\nfunction f() { return [dyups.marker, alias.marker] }\nexport default { f }\n")
  assert.deepEqual([...(exp as { f: () => boolean[] }).f()], [true, true])
  // An error on line 3 of the file is reported on line 3.
  const { exp: e2 } = evaluate("import dyups from 'dyups'\n\nfunction g() { throw new Error('x') }\nexport default { g }\n")
  try {
    ;(e2 as { g: () => void }).g()
    assert.fail('no throw')
  } catch (e) {
    assert.match((e as Error).stack!, /\/m\.js:3:/)
  }
})

test('modules are strict, and a default export may be any expression', () => {
  const { exp } = evaluate('export default (function () { return this === undefined })()\n')
  assert.equal(exp, true)
})

test('other imports and syntax errors fail at their line', () => {
  const cases: [string, RegExp, number][] = [
    ["\n\nimport qs from 'querystring'\n", /module "querystring" is not supported/, 3],
    ['let a = 1\nlet a = 2\n', /SyntaxError: Identifier 'a' has already been declared/, 2],
    ['function f() {\n  return (\n}\n', /SyntaxError: /, 3],
    ['export function f() {}\n', /SyntaxError: Unexpected token 'export'/, 1],
  ]
  for (const [source, want, line] of cases) {
    assert.throws(
      () => compileModule(source, '/m.js'),
      (e: unknown) => isDyupsError(e) && e.code === 'E_CONFIG' && want.test(e.message) && e.at?.line === line && e.at.file === '/m.js',
      source,
    )
  }
})

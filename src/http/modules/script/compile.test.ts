import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseText, type Directive } from '../../../config/index.js'
import { isDyupsError } from '../../../errors.js'
import { importName, ScriptCompiler } from './compile.js'

function tree(text: string, file = '/etc/dyups/nginx.conf'): Directive[] {
  return parseText(text, file)
}

/** The directives of the first location of the first server. */
function location(t: Directive[]): readonly Directive[] {
  const http = t.find((d) => d.name === 'http')!
  const server = http.block!.find((d) => d.name === 'server')!
  return server.block!.find((d) => d.name === 'location')!.block!
}

test('Lua handlers know where their code starts, so Lua line numbers are the file\'s', () => {
  const text = [
    'http {', //                                    1
    '  server {', //                                2
    "    location / { content_by_lua '", //         3
    '      ngx.say(1)', //                          4
    '      error(x)', //                            5
    "    '; }", //                                  6
    '  }', //                                       7
    '  server { location / { content_by_lua_block {', // 8
    '    ngx.say(2) } } }', //                      9
    '  server { location / { content_by_lua_file lua/h.lua; } }', // 10
    '  server { location / { dyups_interface; } }',
    '}',
  ].join('\n')
  const t = tree(text)
  const c = new ScriptCompiler({ prefix: '/srv/dyups', confFile: 'conf/nginx.conf', tree: t })
  assert.equal(c.api, true)
  const servers = t[0]!.block!.filter((d) => d.name === 'server')
  const handlers = servers.slice(0, 3).map((s) => c.handler(s.block![0]!.block!, []))
  const scripts = handlers.map((h) => (h?.kind === 'lua' ? h.script : null))
  assert.deepEqual(scripts.map((s) => s && [s.chunkFile, s.firstLine, s.file, s.api]), [
    ['/etc/dyups/nginx.conf', 3, null, true],
    ['/etc/dyups/nginx.conf', 8, null, true],
    ['/srv/dyups/lua/h.lua', 1, '/srv/dyups/lua/h.lua', true],
  ])
  assert.equal(scripts[0]!.source, '\n      ngx.say(1)\n      error(x)\n    ')
  assert.equal(c.handler(servers[3]!.block![0]!.block!, []), null)
})

test('without a dyups_interface the scripts\' dyups API is off', () => {
  const t = tree('http { server { location / { content_by_lua_block { } } } }')
  const c = new ScriptCompiler({ prefix: '/p', confFile: 'c', tree: t })
  assert.equal(c.api, false)
  const h = c.handler(location(t), [])
  assert.equal(h?.kind === 'lua' && h.script.api, false)
})

test('js_import names, modules shared per file, js_content resolved innermost first', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dyups-js-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'conf/lib'), { recursive: true })
  writeFileSync(join(dir, 'conf/main.js'), 'function a(r) {}\nexport default { a }\n')
  writeFileSync(join(dir, 'conf/lib/other.js'), 'export default {}\n')
  const text = 'http { js_import main.js; js_import m from lib/other.js; server { location / { js_content m.f; } } }'
  const tr = tree(text, join(dir, 'conf/nginx.conf'))
  const c = new ScriptCompiler({ prefix: dir, confFile: 'conf/nginx.conf', tree: tr })
  const imports = tr[0]!.block!.filter((d) => d.name === 'js_import')
  assert.deepEqual(imports.map(importName), ['main', 'm'])
  const imps = imports.map((d) => c.import(d))
  assert.equal(c.import(imports[0]!).module, imps[0]!.module, 'compiled once')
  assert.equal(imps[1]!.module.file, join(dir, 'conf/lib/other.js'))
  const h = c.handler(location(tr), imps)
  assert.ok(h?.kind === 'js')
  assert.deepEqual([h.content.module.name, h.content.fn, h.content.name], ['m', 'f', 'm.f'])

  const errors: [string, RegExp][] = [
    ['http { server { location / { js_content nodot; } } }', /invalid js_content "nodot": expected MODULE.FUNCTION/],
    ['http { server { location / { js_content x.f; } } }', /no imported module "x" for js_content "x.f"/],
  ]
  for (const [conf, want] of errors) {
    const tt = tree(conf)
    assert.throws(() => c.handler(location(tt), imps), (e: unknown) => isDyupsError(e) && e.code === 'E_CONFIG' && want.test(e.message))
  }
  const missing = tree('http { js_import nothere.js; }', join(dir, 'conf/nginx.conf'))[0]!.block![0]!
  assert.throws(() => c.import(missing), (e: unknown) => isDyupsError(e) && /open\(\) ".*nothere\.js" failed \(2: No such file or directory\)/.test(e.message))
})

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, symlinkSync, truncateSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfig, type LoadedConfig } from './load.js'
import { checkTree } from './check.js'
import { dumpConfig, formatPos } from './dump.js'
import { parseText } from './parser.js'
import type { Directive } from './types.js'
import { DyupsError } from '../errors.js'

/** A temporary prefix with the given files; removed after the test. */
function tree(t: { after: (f: () => void) => void }, files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), 'dyups-config-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  for (const [name, body] of Object.entries(files)) {
    const p = join(dir, name)
    mkdirSync(join(p, '..'), { recursive: true })
    writeFileSync(p, body)
  }
  return dir
}

/** Names and positions of a tree, flattened: `name@file:line`, with the directory stripped. */
function flat(ds: readonly Directive[], dir: string): string[] {
  const out: string[] = []
  for (const d of ds) {
    out.push(`${d.name}${d.args.length > 0 ? ` ${d.args.join(' ')}` : ''}@${d.file.replace(`${dir}/`, '')}:${d.line}`)
    if (d.block !== null) out.push(...flat(d.block, dir).map((s) => `  ${s}`))
  }
  return out
}

function failure(f: () => unknown, dir: string): string {
  try {
    f()
  } catch (e) {
    assert.ok(e instanceof DyupsError, String(e))
    assert.equal(e.code, 'E_CONFIG')
    return (e.message + formatPos(e.at)).replaceAll(`${dir}/`, '')
  }
  assert.fail('no error')
}

test('load: include expands in place, in any context, with file and line of each directive', (t) => {
  const dir = tree(t, {
    'conf/nginx.conf': 'events {}\nhttp {\n  include mime.types;\n  server {\n    include srv.conf;\n  }\n}\n',
    'conf/mime.types': 'types {\n  text/html html;\n  include more.types;\n}\n',
    'conf/more.types': 'text/css css;\n',
    'conf/srv.conf': '\nlisten 8080;\n',
  })
  const l = loadConfig({ confFile: 'conf/nginx.conf', prefix: dir })
  assert.deepEqual(flat(l.tree, dir), [
    'events@conf/nginx.conf:1',
    'http@conf/nginx.conf:2',
    '  types@conf/mime.types:1',
    '    text/html html@conf/mime.types:2',
    '    text/css css@conf/more.types:1',
    '  server@conf/nginx.conf:4',
    '    listen 8080@conf/srv.conf:2',
  ])
  assert.deepEqual(
    l.files.map((f) => f.path.replace(`${dir}/`, '')),
    ['conf/nginx.conf', 'conf/mime.types', 'conf/more.types', 'conf/srv.conf'],
  )
  assert.equal(l.confFile, `${dir}/conf/nginx.conf`)
  assert.equal(l.prefix, `${dir}/`)
  checkTree(l.tree)
})

test('load: globs match sorted, skip dot files, and may match nothing', (t) => {
  const dir = tree(t, {
    'nginx.conf': 'events {}\ninclude d/*.conf;\ninclude none/*.conf;\ninclude d/[ab]?.conf;\ninclude */x.conf;\n',
    'd/b.conf': 'worker_rlimit_nofile 2;\n',
    'd/a.conf': 'worker_priority 1;\n',
    'd/C.conf': 'user nobody;\n',
    'd/.hidden.conf': 'bogus;\n',
    'd/a1.conf': 'env A;\n',
    'd/b.conf.bak': 'bogus;\n',
    'e/x.conf': 'env E;\n',
  })
  const l = loadConfig({ confFile: join(dir, 'nginx.conf'), prefix: '/nonexistent' })
  assert.deepEqual(flat(l.tree, dir), [
    'events@nginx.conf:1',
    'user nobody@d/C.conf:1',
    'worker_priority 1@d/a.conf:1',
    'env A@d/a1.conf:1',
    'worker_rlimit_nofile 2@d/b.conf:1',
    'env A@d/a1.conf:1',
    'env E@e/x.conf:1',
  ])
  // A file included twice is dumped once, as nginx does.
  assert.equal(l.files.filter((f) => f.path.endsWith('/a1.conf')).length, 1)
  assert.match(l.notes[1], /^include "none\/\*\.conf" matched no files/)
})

test('load: a missing plain include is an open() error at the include', (t) => {
  const dir = tree(t, { 'nginx.conf': 'events {}\nhttp {\n  include missing.conf;\n}\n' })
  assert.equal(
    failure(() => loadConfig({ confFile: join(dir, 'nginx.conf'), prefix: dir }), dir),
    'open() "missing.conf" failed (2: No such file or directory) in nginx.conf:3',
  )
})

test('load: a missing main file has no position', (t) => {
  const dir = tree(t, {})
  assert.equal(
    failure(() => loadConfig({ confFile: 'conf/nginx.conf', prefix: dir }), dir),
    'open() "conf/nginx.conf" failed (2: No such file or directory)',
  )
})

test('load: the documentation example: conf/upstream.conf inside conf/nginx.conf falls back to the prefix', (t) => {
  const dir = tree(t, {
    'conf/nginx.conf': 'events {}\nhttp {\n  include conf/upstream.conf;\n}\n',
    'conf/upstream.conf': 'upstream a {\n  server 127.0.0.1:8088;\n}\n',
  })
  const l = loadConfig({ confFile: 'conf/nginx.conf', prefix: dir })
  assert.deepEqual(flat(l.tree, dir), [
    'events@conf/nginx.conf:1',
    'http@conf/nginx.conf:2',
    '  upstream a@conf/upstream.conf:1',
    '    server 127.0.0.1:8088@conf/upstream.conf:2',
  ])
  assert.deepEqual(l.notes, [
    `include "conf/upstream.conf" resolved to ${dir}/conf/upstream.conf (relative to the prefix ${dir}/, ` +
      `nothing at ${dir}/conf/conf/upstream.conf)`,
  ])
})

test('load: the configuration directory wins over the prefix', (t) => {
  const dir = tree(t, {
    'conf/nginx.conf': 'events {}\ninclude x.conf;\n',
    'conf/x.conf': 'env FROM_CONF;\n',
    'x.conf': 'env FROM_PREFIX;\n',
  })
  const l = loadConfig({ confFile: 'conf/nginx.conf', prefix: dir })
  assert.deepEqual(l.tree[1].args, ['FROM_CONF'])
  assert.deepEqual(l.notes, [`include "x.conf" resolved to ${dir}/conf/x.conf (relative to the configuration directory ${dir}/conf/)`])
})

test('load: a glob falls back to the prefix only when it matches nothing', (t) => {
  const dir = tree(t, {
    'conf/nginx.conf': 'events {}\ninclude conf/*.up;\n',
    'conf/a.up': 'env A;\n',
  })
  const l = loadConfig({ confFile: 'conf/nginx.conf', prefix: dir })
  assert.deepEqual(flat(l.tree, dir), ['events@conf/nginx.conf:1', 'env A@conf/a.up:1'])
})

test('load: missing file, neither in the configuration directory nor the prefix, names the nginx path', (t) => {
  const dir = tree(t, { 'conf/nginx.conf': 'events {}\ninclude conf/upstream.conf;\n' })
  assert.equal(
    failure(() => loadConfig({ confFile: 'conf/nginx.conf', prefix: dir }), dir),
    'open() "conf/conf/upstream.conf" failed (2: No such file or directory) in conf/nginx.conf:2',
  )
})

test('load: -g globals come first, named "command line"', (t) => {
  const dir = tree(t, { 'nginx.conf': 'events {}\nworker_processes 2;\n' })
  const l = loadConfig({ confFile: join(dir, 'nginx.conf'), prefix: dir, globals: 'daemon off; master_process off;' })
  assert.deepEqual(flat(l.tree, dir), [
    'daemon off@command line:1',
    'master_process off@command line:1',
    'events@nginx.conf:1',
    'worker_processes 2@nginx.conf:2',
  ])
  checkTree(l.tree)
  // Not a file: -T does not print it.
  assert.deepEqual(l.files.map((f) => f.path), [join(dir, 'nginx.conf')])
})

test('load: -g errors are "in command line"', (t) => {
  const dir = tree(t, { 'nginx.conf': 'events {}\ndaemon on;\n' })
  const load = (globals: string) => () => checkTree(loadConfig({ confFile: join(dir, 'nginx.conf'), prefix: dir, globals }).tree)
  assert.equal(failure(load('daemon off'), dir), 'unexpected end of parameter, expecting ";" in command line')
  assert.equal(failure(load('events {}'), dir), 'block directives are not supported in -g option in command line')
  assert.equal(failure(load('foo;'), dir), 'unknown directive "foo" in command line')
  // The file's directive is the second one: nginx reports the duplicate there.
  assert.equal(failure(load('daemon off;'), dir), '"daemon" directive is duplicate in nginx.conf:2')
})

test('load: an earlier directive error is reported before a later syntax error, as nginx does', (t) => {
  const dir = tree(t, {
    'nginx.conf': 'events {}\nhttp {\n  foo 1;\n  server {\n    listen 80\n  }\n}\n',
    'b.conf': 'events {}\nhttp {\n  server {\n    listen 80\n  }\n}\n',
    'c.conf': 'events {}\nhttp {\n  bogus {\n    include nope.conf;\n  }\n}\n',
  })
  assert.equal(failure(() => loadConfig({ confFile: 'nginx.conf', prefix: dir }), dir), 'unknown directive "foo" in nginx.conf:3')
  assert.equal(failure(() => loadConfig({ confFile: 'b.conf', prefix: dir }), dir), 'unexpected "}" in b.conf:5')
  assert.equal(failure(() => loadConfig({ confFile: 'c.conf', prefix: dir }), dir), 'unknown directive "bogus" in c.conf:3')
})

test('load: syntax errors in included files carry that file and line', (t) => {
  const dir = tree(t, {
    'nginx.conf': 'events {}\nhttp {\n  include a.conf;\n}\n',
    'a.conf': 'server {\n  listen 80;\n',
  })
  assert.equal(
    failure(() => loadConfig({ confFile: 'nginx.conf', prefix: dir }), dir),
    'unexpected end of file, expecting "}" in a.conf:3',
  )
})

test('load: a block cannot close in another file', (t) => {
  const dir = tree(t, { 'nginx.conf': 'events {}\nhttp {\n  include a.conf;\n', 'a.conf': '}\n' })
  assert.equal(failure(() => loadConfig({ confFile: 'nginx.conf', prefix: dir }), dir), 'unexpected "}" in a.conf:1')
})

test('load: a binary file is a clear error', (t) => {
  const dir = tree(t, {
    'nginx.conf': 'events {}\ninclude bin.conf;\n',
    'bin.conf': Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x0a, 0x02, 0x00, 0x00, 0x01]),
  })
  assert.equal(
    failure(() => loadConfig({ confFile: 'nginx.conf', prefix: dir }), dir),
    'unexpected NUL byte, the file looks binary in bin.conf:2',
  )
})

test('load: an include cycle stops at the depth limit', (t) => {
  const dir = tree(t, { 'nginx.conf': 'events {}\ninclude a.conf;\n', 'a.conf': 'include b.conf;\n', 'b.conf': 'include a.conf;\n' })
  assert.equal(
    failure(() => loadConfig({ confFile: 'nginx.conf', prefix: dir }), dir),
    'include "a.conf" nests deeper than 32 levels, probably an include cycle in b.conf:1',
  )
})

test('load: a file over 64 MiB is refused before it is read', (t) => {
  const dir = tree(t, { 'nginx.conf': 'events {}\ninclude big.conf;\n', 'big.conf': '' })
  // Sparse: the size is what matters, and the test writes no data.
  truncateSync(join(dir, 'big.conf'), 64 * 1024 * 1024 + 1)
  assert.equal(
    failure(() => loadConfig({ confFile: 'nginx.conf', prefix: dir }), dir),
    '"big.conf" is too large (67108865 bytes, the limit is 64 MiB) in nginx.conf:2',
  )
})

test('load: a directory is read as nginx reads it', (t) => {
  const dir = tree(t, { 'nginx.conf': 'events {}\ninclude sub;\n', 'sub/x': '' })
  assert.equal(
    failure(() => loadConfig({ confFile: 'nginx.conf', prefix: dir }), dir),
    'pread() "sub" failed (21: Is a directory)',
  )
})

test('load: bytes round-trip: latin1 text and non-ASCII file names', (t) => {
  const dir = tree(t, {
    'nginx.conf': Buffer.concat([Buffer.from('events {}\ninclude caf\xc3\xa9.conf;\n', 'latin1')]),
    'café.conf': Buffer.from([0x65, 0x6e, 0x76, 0x20, 0xff, 0xfe, 0x3b, 0x0a]),
  })
  const l = loadConfig({ confFile: 'nginx.conf', prefix: dir })
  assert.deepEqual(l.tree[1].args, ['\xff\xfe'])
  assert.equal(Buffer.from(l.files[1].path, 'latin1').toString('utf8'), join(dir, 'café.conf'))
})

test('load: symlinked includes are followed', (t) => {
  const dir = tree(t, { 'nginx.conf': 'events {}\ninclude link.conf;\n', 'real.conf': 'env R;\n' })
  symlinkSync(join(dir, 'real.conf'), join(dir, 'link.conf'))
  assert.deepEqual(loadConfig({ confFile: 'nginx.conf', prefix: dir }).tree[1].args, ['R'])
})

test('dump: -T output is nginx\'s', (t) => {
  const dir = tree(t, { 'nginx.conf': 'events {}\ninclude a.conf;', 'a.conf': 'env A;\n' })
  const l: LoadedConfig = loadConfig({ confFile: 'nginx.conf', prefix: dir })
  assert.equal(
    dumpConfig(l),
    `# configuration file ${dir}/nginx.conf:\nevents {}\ninclude a.conf;\n` +
      `# configuration file ${dir}/a.conf:\nenv A;\n\n`,
  )
})

test('formatPos', () => {
  assert.equal(formatPos(undefined), '')
  assert.equal(formatPos({ file: 'command line', line: 1 }), ' in command line')
  assert.equal(formatPos({ file: '/a', line: 3 }), ' in /a:3')
})

/** Copies of Debian's stock files (test/debian-nginx/README.md): the tests read no file of the machine's own nginx. */
const STOCK = fileURLToPath(new URL('../../../test/debian-nginx/', import.meta.url))
const stock = (name: string): string => readFileSync(join(STOCK, name), 'latin1')

test("load: Debian's stock mime.types parses and checks cleanly", (t) => {
  const dir = tree(t, { 'mime.types': stock('mime.types') })
  const l = loadConfig({ confFile: join(dir, 'mime.types'), prefix: dir })
  assert.equal(l.tree.length, 1)
  assert.equal(l.tree[0].name, 'types')
  assert.ok(l.tree[0].block!.length > 50)
  checkTree(l.tree, { context: 'http' })
  checkTree(parseText(`events {}\nhttp {\n${l.files[0].text}\n}`, 'x'))
})

test("load: Debian's stock nginx.conf parses; only its load_module is refused", (t) => {
  // /etc/nginx as a Debian machine with a dynamic module package has it, in a temp directory: the stock nginx.conf
  // (its /etc/nginx/ paths pointing there), mime.types, an empty conf.d/, the stock default site, and the
  // modules-enabled/ file a module package such as libnginx-mod-http-geoip installs.
  const etc = tree(t, {})
  const conf = stock('nginx.conf')
  assert.equal(conf.split('/etc/nginx/').length - 1, 4, 'the stock nginx.conf names /etc/nginx/ four times')
  const files: Record<string, string> = {
    'nginx.conf': conf.replaceAll('/etc/nginx/', `${etc}/`),
    'mime.types': stock('mime.types'),
    'sites-available/default': stock('sites-available/default'),
    'modules-enabled/50-mod-http-geoip.conf': 'load_module modules/ngx_http_geoip_module.so;\n',
  }
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(etc, name, '..'), { recursive: true })
    writeFileSync(join(etc, name), text)
  }
  mkdirSync(join(etc, 'conf.d'))
  mkdirSync(join(etc, 'sites-enabled'))
  symlinkSync(join(etc, 'sites-available/default'), join(etc, 'sites-enabled/default'))
  const l = loadConfig({ confFile: join(etc, 'nginx.conf'), prefix: join(etc, 'share') })
  assert.equal(l.files[0].path, join(etc, 'nginx.conf'))
  assert.ok(l.files.some((f) => f.path === join(etc, 'mime.types')))
  assert.ok(l.files.some((f) => f.path === join(etc, 'modules-enabled/50-mod-http-geoip.conf')))
  assert.ok(l.files.some((f) => f.path === join(etc, 'sites-enabled/default')))
  assert.ok(l.tree.some((d) => d.name === 'http'))
  const refused = (tree: readonly Directive[]): string => {
    try {
      checkTree(tree)
      return 'ok'
    } catch (e) {
      assert.ok(e instanceof DyupsError)
      return e.message
    }
  }
  assert.equal(refused(l.tree), '"load_module" directive is not supported by dyups')
  // Past it, only directives dyups does not implement could be refused; the stock configuration has none left.
  assert.match(refused(l.tree.filter((d) => d.name !== 'load_module')), /^(ok|"\w+" directive is not supported by dyups)$/)
})

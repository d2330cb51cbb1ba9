import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_BLOCK_DEPTH, parseText, parseInto } from './parser.js'
import type { Directive } from './types.js'
import { DyupsError } from '../errors.js'

/** A compact, readable rendering of a tree: `name(args)@line` and `{ ... }@endLine` for blocks. */
function show(ds: readonly Directive[]): string {
  return ds
    .map((d) => {
      const head = `${d.name}${d.args.length > 0 ? `(${d.args.join('|')})` : ''}@${d.line}`
      return d.block === null ? head : `${head}{${show(d.block)}}@${d.endLine}`
    })
    .join(' ')
}

function failure(text: string, param = false): string {
  try {
    parseText(text, 'conf', { param })
  } catch (e) {
    assert.ok(e instanceof DyupsError)
    assert.equal(e.code, 'E_CONFIG')
    return `${e.message} in ${e.at?.file}:${e.at?.line}`
  }
  assert.fail('no error')
}

const trees: [string, string, string][] = [
  ['simple directives', 'daemon off;\nworker_processes 2;', 'daemon(off)@1 worker_processes(2)@2'],
  ['nested blocks', 'http {\n server {\n  listen 80;\n  location / { return 200; }\n }\n}\n',
    'http@1{server@2{listen(80)@3 location(/)@4{return(200)@4}@4}@5}@6'],
  ['empty block', 'events {}', 'events@1{}@1'],
  ['several per line', 'server a;server b; keepalive 8;', 'server(a)@1 server(b)@1 keepalive(8)@1'],
  ['comments everywhere', '# top\nhttp { # after brace\n  # inside\n  a 1; # end\n}', 'http@2{a(1)@4}@5'],
  ['quoted arguments', 'add_header X-A "a b;{}" always;', 'add_header(X-A|a b;{}|always)@1'],
  ['include kept when not expanded', 'include a.conf;', 'include(a.conf)@1'],
  ['map body entries', 'map $a $b {\n default 0;\n ~^x 1;\n}', 'map($a|$b)@1{default(0)@2 ~^x(1)@3}@4'],
  ['lua block is one argument', 'location / {\n content_by_lua_block {\n  ngx.say("}")\n }\n}',
    'location(/)@1{content_by_lua_block(\n  ngx.say("}")\n )@2}@5'],
]

for (const [name, text, want] of trees) {
  test(`parser: ${name}`, () => assert.equal(show(parseText(text, 'conf')), want))
}

test('parser: directives carry file and the lua flag', () => {
  const [d] = parseText('x_by_lua_block { a() }', 'body')
  assert.equal(d.file, 'body')
  assert.equal(d.luaBlock, true)
  assert.equal(d.block, null)
  assert.deepEqual(d.args, [' a() '])
})

const errors: [string, string, string][] = [
  ['stray } at top level', 'events {}\n}', 'unexpected "}" in conf:2'],
  ['unclosed brace', 'http {\n server {\n }\n', 'unexpected end of file, expecting "}" in conf:4'],
  ['missing ; at end of file', 'http {\n listen 80\n}', 'unexpected "}" in conf:3'],
  ['missing ; at end of file, top level', 'daemon off', 'unexpected end of file, expecting ";" or "}" in conf:1'],
  ['; alone', 'http {\n ;\n}', 'unexpected ";" in conf:2'],
  ['{ alone', 'http {\n {\n}', 'unexpected "{" in conf:2'],
  ['-g: a block', 'events {}', 'block directives are not supported in -g option in conf:1'],
]

for (const [name, text, want] of errors) {
  test(`parser error: ${name}`, () => assert.equal(failure(text, name.startsWith('-g')), want))
}

test('parser error: -g without ;', () => {
  assert.equal(failure('daemon off', true), 'unexpected end of parameter, expecting ";" in conf:1')
  assert.equal(failure('daemon off; }', true), 'unexpected "}" in conf:1')
})

test('parser: a failed parse leaves the partial tree, blocks included', () => {
  const out: Directive[] = []
  assert.throws(() => parseInto('events {}\nhttp {\n foo { bar 1; }\n server {\n  listen 80\n }\n}', 'conf', out))
  assert.equal(show(out), 'events@1{}@1 http@2{foo@3{bar(1)@3}@3 server@4{}@undefined}@undefined')
})

test('parser: include hook expands in place', () => {
  const seen: string[] = []
  const tree = parseText('a;\nhttp { include x.conf; b; }', 'conf', {
    include: (d, into) => {
      seen.push(`${d.args[0]}@${d.line}`)
      into.push({ name: 'from_x', args: [], block: null, file: 'x.conf', line: 1 })
    },
  })
  assert.deepEqual(seen, ['x.conf@2'])
  assert.equal(show(tree), 'a@1 http@2{from_x@1 b@2}@2')
  assert.equal(tree[1].block?.[0].file, 'x.conf')
})

test('parser: include hook checks the include directive first', () => {
  const include = (): void => assert.fail('must not be called')
  const f = (text: string): string => {
    try {
      parseText(text, 'conf', { include })
    } catch (e) {
      assert.ok(e instanceof DyupsError)
      return `${e.message} in ${e.at?.file}:${e.at?.line}`
    }
    return 'no error'
  }
  assert.equal(f('include a b;'), 'invalid number of arguments in "include" directive in conf:1')
  assert.equal(f('include;'), 'invalid number of arguments in "include" directive in conf:1')
  assert.equal(f('\ninclude a {}'), 'directive "include" is not terminated by ";" in conf:2')
})

test('parser: blocks nested deeper than MAX_BLOCK_DEPTH are a configuration error, not a stack overflow', () => {
  const nested = (n: number): string => 'a {\n'.repeat(n) + '}\n'.repeat(n)
  assert.equal(parseText(nested(MAX_BLOCK_DEPTH), 'conf').length, 1)
  assert.equal(failure(nested(MAX_BLOCK_DEPTH + 1)), `blocks nested deeper than ${MAX_BLOCK_DEPTH} levels in conf:${MAX_BLOCK_DEPTH + 1}`)
  // Found by fuzzing: 10 000 levels used to overflow the stack (RangeError) in the parser.
  assert.equal(failure('a {'.repeat(10_000)), `blocks nested deeper than ${MAX_BLOCK_DEPTH} levels in conf:1`)
})

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Lexer } from './lexer.js'
import { DyupsError } from '../errors.js'

/** All statements of a text, as `end args...` strings. */
function statements(text: string, param = false): string[] {
  const lx = new Lexer(text, 'f', param)
  const out: string[] = []
  for (;;) {
    const st = lx.next()
    out.push(`${st.line}${st.end} ${JSON.stringify(st.args)}`)
    if (st.end === 'eof') return out
  }
}

function failure(text: string, param = false): string {
  try {
    statements(text, param)
  } catch (e) {
    assert.ok(e instanceof DyupsError)
    assert.equal(e.code, 'E_CONFIG')
    return `${e.message} @${e.at?.line}`
  }
  assert.fail('no error')
}

const cases: [string, string, string[]][] = [
  ['words and ;', 'a b  c;', ['1; ["a","b","c"]', '1eof []']],
  ['block open and close', 'http {\n}\n', ['1{ ["http"]', '2} []', '3eof []']],
  ['; glued to a word', 'a b;c d;', ['1; ["a","b"]', '1; ["c","d"]', '1eof []']],
  ['{ glued to a word', 'server{}', ['1{ ["server"]', '1} []', '1eof []']],
  ['} glued to a word belongs to it', 'a b}; }', ['1; ["a","b}"]', '1} []', '1eof []']],
  ['comment to end of line', 'a # b; c\nd;', ['2; ["a","d"]', '2eof []']],
  ['# inside a word is kept', 'a b#c;', ['1; ["a","b#c"]', '1eof []']],
  ['double quotes', 'a "b c" "";', ['1; ["a","b c",""]', '1eof []']],
  ['single quotes', "a 'b \"c\"';", ['1; ["a","b \\"c\\""]', '1eof []']],
  ['quote inside a word is kept', 'a b"c";', ['1; ["a","b\\"c\\""]', '1eof []']],
  ['escapes in quotes', 'a "\\"\\\'\\\\\\n\\r\\t";', ['1; ["a","\\"\'\\\\\\n\\r\\t"]', '1eof []']],
  ['escapes in unquoted words', 'a b\\tc\\;d;', ['1; ["a","b\\tc\\\\;d"]', '1eof []']],
  ['other escapes kept whole', 'a "\\d\\x";', ['1; ["a","\\\\d\\\\x"]', '1eof []']],
  ['escaped space joins a word', 'a b\\ c;', ['1; ["a","b\\\\ c"]', '1eof []']],
  ['$var left as text', 'set $a $b$c;', ['1; ["set","$a","$b$c"]', '1eof []']],
  ['${var} is no block', 'set $a ${b}x;', ['1; ["set","$a","${b}x"]', '1eof []']],
  ['${var} inside a word', 'return 200 a${b};', ['1; ["return","200","a${b}"]', '1eof []']],
  ['${var} in quotes', 'a "${b} c";', ['1; ["a","${b} c"]', '1eof []']],
  ['$ then space then { is a block', 'a $ {', ['1{ ["a","$"]', '1eof []']],
  [') after a quoted word', 'if ($a = "b") {', ['1{ ["if","($a","=","b",")"]', '1eof []']],
  ['quoted word then ;', 'a "b";"c" d;', ['1; ["a","b"]', '1; ["c","d"]', '1eof []']],
  ['newlines counted in quotes', 'a "b\nc\n";\nd;', ['3; ["a","b\\nc\\n"]', '4; ["d"]', '4eof []']],
  ['CRLF', 'a b;\r\nc;\r\n', ['1; ["a","b"]', '2; ["c"]', '3eof []']],
  ['line of ; not of the name', 'a\n\nb\n;', ['4; ["a","b"]', '4eof []']],
  ['latin1 bytes kept', 'a \xff\xc3\xa9;', ['1; ["a","\xff\xc3\xa9"]', '1eof []']],
  ['empty input', '', ['1eof []']],
  ['only a comment without newline', '# x', ['1eof []']],
]

for (const [name, text, want] of cases) {
  test(`lexer: ${name}`, () => assert.deepEqual(statements(text), want))
}

const errors: [string, string, string][] = [
  ['; without a directive', 'a;\n;', 'unexpected ";" @2'],
  ['{ without a directive', '{', 'unexpected "{" @1'],
  ['} after words', 'a b\n}', 'unexpected "}" @2'],
  ['character after a closing quote', 'a "b"c;', 'unexpected "c" @1'],
  ['quote after a closing quote', "a 'b''c';", `unexpected "'" @1`],
  ['end of file after words', 'a b\n', 'unexpected end of file, expecting ";" or "}" @2'],
  ['end of file inside a word', 'a b', 'unexpected end of file, expecting ";" or "}" @1'],
  ['unbalanced quote', 'a "b;\n}\n', 'unexpected end of file, expecting ";" or "}" @3'],
  ['NUL byte', 'a b;\nc\x00d;', 'unexpected NUL byte, the file looks binary @2'],
]

for (const [name, text, want] of errors) {
  test(`lexer error: ${name}`, () => assert.equal(failure(text), want))
}

test('lexer: -g text ends with "unexpected end of parameter"', () => {
  assert.equal(failure('daemon off', true), 'unexpected end of parameter, expecting ";" @1')
})

function lua(text: string): { body: string; line: number; after: string } {
  const lx = new Lexer(text, 'f')
  const st = lx.next()
  assert.equal(st.end, '{')
  const body = lx.readLuaBlock()
  const next = lx.next()
  return { body, line: lx.line, after: `${next.end}${JSON.stringify(next.args)}` }
}

test('lexer: lua block keeps its body raw', () => {
  const text = 'content_by_lua_block {\n  local t = { a = "}", b = \'{\' }\n  -- } comment\n  ngx.say([[}]], [==[ ]] } ]==])\n  --[[ } ]] if x then end\n}\nnext;'
  const r = lua(text)
  assert.equal(r.body, '\n  local t = { a = "}", b = \'{\' }\n  -- } comment\n  ngx.say([[}]], [==[ ]] } ]==])\n  --[[ } ]] if x then end\n')
  assert.equal(r.after, ';["next"]')
  assert.equal(r.line, 7)
})

test('lexer: lua block with escaped quote and nested braces', () => {
  assert.equal(lua('x_by_lua_block { ngx.say("a\\"}") if {} then end }').body, ' ngx.say("a\\"}") if {} then end ')
})

test('lexer: lua block errors', () => {
  const fail = (text: string): string => {
    try {
      lua(text)
    } catch (e) {
      assert.ok(e instanceof DyupsError)
      return `${e.message} @${e.at?.line}`
    }
    return 'no error'
  }
  assert.equal(fail('x_by_lua_block {\n ngx.say([[hello)\n}\n'), 'Lua code block missing the closing long bracket "]]" @2')
  assert.equal(fail('x_by_lua_block {\n a = { \n'), 'unexpected end of file, expecting "}" @3')
  assert.equal(fail('x_by_lua_block {\n a = "}\n'), 'unexpected end of file, expecting "}" @3')
})

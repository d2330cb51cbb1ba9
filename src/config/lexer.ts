import { DyupsError } from '../errors.js'

/** How a statement read by {@link Lexer.next} ended, as `ngx_conf_read_token` returns it. */
export type StatementEnd =
  | ';'   // NGX_OK: a simple directive
  | '{'   // NGX_CONF_BLOCK_START: a block directive's header
  | '}'   // NGX_CONF_BLOCK_DONE
  | 'eof' // NGX_CONF_FILE_DONE

export interface Statement {
  readonly end: StatementEnd
  /** The directive name followed by its arguments, unquoted and unescaped. */
  readonly args: string[]
  /** The line on which the statement ended: the line nginx names in its messages. */
  readonly line: number
}

const LF = 0x0a
const CR = 0x0d
const TAB = 0x09
const SPACE = 0x20
const SEMI = 0x3b
const LBRACE = 0x7b
const RBRACE = 0x7d
const HASH = 0x23
const BACKSLASH = 0x5c
const DQUOTE = 0x22
const SQUOTE = 0x27
const DOLLAR = 0x24
const RPAREN = 0x29
const LBRACKET = 0x5b
const EQUALS = 0x3d
const DASH = 0x2d

const isSpace = (c: number): boolean => c === SPACE || c === TAB || c === CR || c === LF

/**
 * Removes nginx's escapes from the raw bytes of one token: `\"`, `\'`, `\\` lose their backslash, `\t`, `\r`, `\n`
 * become the control character, any other backslash sequence is kept as written (both characters).
 */
function unescape(text: string, start: number, end: number): string {
  // Look for a backslash inside the token only: searching to the end of the text made parsing quadratic.
  let first = start
  while (first < end && text.charCodeAt(first) !== BACKSLASH) first++
  if (first === end) return text.slice(start, end)
  let out = ''
  let i = start
  while (i < end) {
    const c = text.charCodeAt(i)
    if (c === BACKSLASH && i + 1 < end) {
      const n = text.charCodeAt(i + 1)
      if (n === DQUOTE || n === SQUOTE || n === BACKSLASH) {
        out += text[i + 1]
        i += 2
        continue
      }
      if (n === 0x74) { out += '\t'; i += 2; continue }
      if (n === 0x72) { out += '\r'; i += 2; continue }
      if (n === 0x6e) { out += '\n'; i += 2; continue }
    }
    out += text[i]
    i++
  }
  return out
}

/**
 * The nginx configuration tokenizer: a port of `ngx_conf_read_token` (src/core/ngx_conf_file.c) over a latin1 string.
 * Each call to {@link next} returns one statement: the words up to `;` or `{`, a `}`, or the end of the input.
 * Line numbers count LF characters, as nginx does.
 */
export class Lexer {
  private pos = 0
  /** The current line: nginx's `cf->conf_file->line`. */
  line = 1

  /**
   * @param text the whole input, one char per byte
   * @param file the name used in error positions
   * @param param true for `-g` text: nginx then says "unexpected end of parameter"
   */
  constructor(
    readonly text: string,
    readonly file: string,
    readonly param = false,
  ) {}

  /** @throws DyupsError E_CONFIG at the current line. */
  fail(message: string, line = this.line): never {
    throw new DyupsError('E_CONFIG', message, { file: this.file, line })
  }

  private nul(): never {
    this.fail('unexpected NUL byte, the file looks binary')
  }

  /**
   * Reads the next statement.
   * @throws DyupsError E_CONFIG with nginx's wording: `unexpected "}"`, `unexpected ";"`, `unexpected "{"`,
   *   `unexpected "x"` after a closing quote, `unexpected end of file, expecting ";" or "}"`.
   */
  next(): Statement {
    const t = this.text
    const n = t.length
    const args: string[] = []
    let needSpace = false
    let lastSpace = true
    let sharpComment = false
    let variable = false
    let quoted = false
    let sQuoted = false
    let dQuoted = false
    let start = this.pos

    for (;;) {
      if (this.pos >= n) {
        if (args.length > 0 || !lastSpace) {
          if (this.param) this.fail('unexpected end of parameter, expecting ";"')
          this.fail('unexpected end of file, expecting ";" or "}"')
        }
        return { end: 'eof', args, line: this.line }
      }

      const ch = t.charCodeAt(this.pos++)

      if (ch === 0) this.nul()

      if (ch === LF) {
        this.line++
        if (sharpComment) sharpComment = false
      }

      if (sharpComment) continue

      if (quoted) {
        quoted = false
        continue
      }

      if (needSpace) {
        if (isSpace(ch)) {
          lastSpace = true
          needSpace = false
          continue
        }
        if (ch === SEMI) return { end: ';', args, line: this.line }
        if (ch === LBRACE) return { end: '{', args, line: this.line }
        // nginx lets `)` follow a quoted word, for `if ($a = "b")`.
        if (ch === RPAREN) {
          lastSpace = true
          needSpace = false
        } else {
          this.fail(`unexpected "${t[this.pos - 1]}"`)
        }
      }

      if (lastSpace) {
        start = this.pos - 1
        if (isSpace(ch)) continue

        switch (ch) {
          case SEMI:
          case LBRACE:
            if (args.length === 0) this.fail(`unexpected "${t[this.pos - 1]}"`)
            return { end: ch === LBRACE ? '{' : ';', args, line: this.line }
          case RBRACE:
            if (args.length !== 0) this.fail('unexpected "}"')
            return { end: '}', args, line: this.line }
          case HASH:
            sharpComment = true
            continue
          case BACKSLASH:
            quoted = true
            lastSpace = false
            continue
          case DQUOTE:
            start++
            dQuoted = true
            lastSpace = false
            continue
          case SQUOTE:
            start++
            sQuoted = true
            lastSpace = false
            continue
          case DOLLAR:
            variable = true
            lastSpace = false
            continue
          default:
            lastSpace = false
        }
      } else {
        // `${name}`: the brace belongs to the variable, it opens no block.
        if (ch === LBRACE && variable) continue
        variable = false
        if (ch === BACKSLASH) {
          quoted = true
          continue
        }
        if (ch === DOLLAR) {
          variable = true
          continue
        }

        let found = false
        if (dQuoted) {
          if (ch === DQUOTE) {
            dQuoted = false
            needSpace = true
            found = true
          }
        } else if (sQuoted) {
          if (ch === SQUOTE) {
            sQuoted = false
            needSpace = true
            found = true
          }
        } else if (isSpace(ch) || ch === SEMI || ch === LBRACE) {
          lastSpace = true
          found = true
        }

        if (found) {
          args.push(unescape(t, start, this.pos - 1))
          if (ch === SEMI) return { end: ';', args, line: this.line }
          if (ch === LBRACE) return { end: '{', args, line: this.line }
        }
      }
    }
  }

  /**
   * Reads the body of a `*_by_lua_block { ... }` directive whose `{` was just consumed, the way lua-nginx-module
   * does: braces are counted outside Lua strings (`"..."`, `'...'`, `[[...]]`, `[==[...]==]`) and comments
   * (`-- ...`, `--[[...]]`). Returns the text between the braces, untouched.
   * @throws DyupsError E_CONFIG `Lua code block missing the closing long bracket "]]"`,
   *   `unexpected end of file, expecting "}"`.
   */
  readLuaBlock(): string {
    const t = this.text
    const n = t.length
    const begin = this.pos
    let depth = 1
    while (this.pos < n) {
      const ch = t.charCodeAt(this.pos)
      if (ch === 0) this.nul()
      if (ch === LF) {
        this.line++
        this.pos++
        continue
      }
      if (ch === DQUOTE || ch === SQUOTE) {
        this.skipLuaString(ch)
        continue
      }
      if (ch === LBRACKET) {
        const level = this.longBracketLevel(this.pos)
        if (level >= 0) {
          this.skipLongBracket(level)
          continue
        }
        this.pos++
        continue
      }
      if (ch === DASH && t.charCodeAt(this.pos + 1) === DASH) {
        this.pos += 2
        const level = t.charCodeAt(this.pos) === LBRACKET ? this.longBracketLevel(this.pos) : -1
        if (level >= 0) {
          this.skipLongBracket(level)
          continue
        }
        while (this.pos < n && t.charCodeAt(this.pos) !== LF) {
          if (t.charCodeAt(this.pos) === 0) this.nul()
          this.pos++
        }
        continue
      }
      this.pos++
      if (ch === LBRACE) depth++
      else if (ch === RBRACE && --depth === 0) return t.slice(begin, this.pos - 1)
    }
    this.fail('unexpected end of file, expecting "}"')
  }

  /** `[`, `=`*, `[` at `at`: the number of `=`, or -1 when this is no long bracket. */
  private longBracketLevel(at: number): number {
    const t = this.text
    let i = at + 1
    while (t.charCodeAt(i) === EQUALS) i++
    return t.charCodeAt(i) === LBRACKET ? i - at - 1 : -1
  }

  private skipLongBracket(level: number): void {
    const t = this.text
    const close = ']' + '='.repeat(level) + ']'
    const open = this.pos
    const end = t.indexOf(close, this.pos + level + 2)
    if (end === -1) this.fail(`Lua code block missing the closing long bracket "${close}"`)
    for (let i = open; i < end + close.length; i++) {
      const c = t.charCodeAt(i)
      if (c === LF) this.line++
      else if (c === 0) this.nul()
    }
    this.pos = end + close.length
  }

  private skipLuaString(quote: number): void {
    const t = this.text
    const n = t.length
    this.pos++
    while (this.pos < n) {
      const c = t.charCodeAt(this.pos++)
      if (c === 0) this.nul()
      if (c === LF) this.line++
      if (c === BACKSLASH) {
        if (t.charCodeAt(this.pos) === LF) this.line++
        this.pos++
        continue
      }
      if (c === quote) return
    }
    this.fail('unexpected end of file, expecting "}"')
  }
}

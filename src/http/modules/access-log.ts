/**
 * `log_format` and `access_log` (ngx_http_log_module).
 *
 * A format compiles to a list of operations: constant text, nginx's own log fields (`$status`, `$time_local`,
 * `$request_time`, `$body_bytes_sent`, … written as they are) and variables, escaped per the format:
 * `escape=default` writes `"`, `\`, bytes below 0x20 and from 0x7f up as `\xHH`, and a variable that is not found
 * as `-`; `escape=json` escapes as JSON strings and writes nothing for a missing value; `escape=none` writes values
 * as they are. The `combined` format is predefined.
 *
 * A log file is opened once per path, whatever the number of `access_log` directives naming it. Lines go to an
 * in-memory buffer: with `buffer=SIZE` it is written when the next line would not fit and `flush=TIME` after the
 * first line entered it (and with `gzip`, each write is one gzip member, as nginx writes them); without `buffer=`
 * the lines of one event-loop turn are written together right after it. {@link LogFiles.reopen} is `-s reopen`.
 *
 * Per-request cost: one pass over the operations building one string (escaping scans a value only once when it has
 * nothing to escape), one string append; one write(2) per buffer or per loop turn, not per request.
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { DyupsError, type Pos } from '../../errors.js'
import { parseSize, parseTime, type Directive } from '../../config/index.js'
import { errnoText } from '../../errno.js'
import {
  secondsDotMillis,
  statusText,
  timeIso8601,
  timeLocal,
  type Template,
  type VarRef,
  type VarSource,
  type Variables,
} from '../lib/variables.js'

export type LogEscape = 'default' | 'json' | 'none'

/** nginx's predefined format. */
export const COMBINED =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'

// ---------------------------------------------------------------------------------------------------------------
// Escaping

const HEX = '0123456789ABCDEF'

function needsDefault(c: number): boolean {
  return c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x7f
}

/** ngx_http_log_escape: `"`, `\`, CTLs and bytes >= 0x7f as `\xHH`. */
export function escapeDefault(s: string): string {
  let i = 0
  const n = s.length
  while (i < n && !needsDefault(s.charCodeAt(i))) i++
  if (i === n) return s
  let out = s.slice(0, i)
  for (; i < n; i++) {
    const c = s.charCodeAt(i)
    out += needsDefault(c) ? '\\x' + HEX[(c >> 4) & 0xf] + HEX[c & 0xf] : s[i]
  }
  return out
}

function needsJson(c: number): boolean {
  return c < 0x20 || c === 0x22 || c === 0x5c
}

/** ngx_escape_json: `"` and `\` backslashed, `\n \r \t \b \f`, other CTLs as `\u00XX`; other bytes as they are. */
export function escapeJson(s: string): string {
  let i = 0
  const n = s.length
  while (i < n && !needsJson(s.charCodeAt(i))) i++
  if (i === n) return s
  let out = s.slice(0, i)
  for (; i < n; i++) {
    const c = s.charCodeAt(i)
    if (!needsJson(c)) {
      out += s[i]
    } else if (c === 0x22 || c === 0x5c) {
      out += '\\' + s[i]
    } else if (c === 0x0a) out += '\\n'
    else if (c === 0x0d) out += '\\r'
    else if (c === 0x09) out += '\\t'
    else if (c === 0x08) out += '\\b'
    else if (c === 0x0c) out += '\\f'
    else out += '\\u00' + HEX[c >> 4] + HEX[c & 0xf]
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// Formats

const OP_TEXT = 0
const OP_VAR = 1
const OP_PIPE = 2
const OP_TIME_LOCAL = 3
const OP_TIME_ISO = 4
const OP_MSEC = 5
const OP_REQUEST_TIME = 6
const OP_STATUS = 7
const OP_BYTES_SENT = 8
const OP_BODY_BYTES_SENT = 9
const OP_REQUEST_LENGTH = 10

/** nginx's log fields: matched by exact (case-sensitive) name before variables, never escaped. */
const LOG_FIELDS: Readonly<Record<string, number>> = {
  pipe: OP_PIPE,
  time_local: OP_TIME_LOCAL,
  time_iso8601: OP_TIME_ISO,
  msec: OP_MSEC,
  request_time: OP_REQUEST_TIME,
  status: OP_STATUS,
  bytes_sent: OP_BYTES_SENT,
  body_bytes_sent: OP_BODY_BYTES_SENT,
  request_length: OP_REQUEST_LENGTH,
}

const isNameChar = (ch: number): boolean =>
  (ch >= 0x41 && ch <= 0x5a) || (ch >= 0x61 && ch <= 0x7a) || (ch >= 0x30 && ch <= 0x39) || ch === 0x5f

/** A compiled `log_format`. */
export class LogFormat {
  private readonly ops: Uint8Array
  private readonly texts: Array<string | null>
  private readonly refs: Array<VarRef | null>

  /**
   * @param parts the format's strings (joined without separator, as nginx joins them)
   * @throws DyupsError E_CONFIG `invalid parameter "$"`, `the closing bracket in "x" variable is missing`
   */
  constructor(
    readonly name: string,
    readonly escape: LogEscape,
    parts: readonly string[],
    vars: Variables,
    at?: Pos,
  ) {
    const ops: number[] = []
    this.texts = []
    this.refs = []
    const push = (op: number, text: string | null, ref: VarRef | null): void => {
      ops.push(op)
      this.texts.push(text)
      this.refs.push(ref)
    }
    for (const v of parts) {
      let i = 0
      while (i < v.length) {
        const start = i
        if (v.charCodeAt(i) === 0x24) {
          if (++i === v.length) throw new DyupsError('E_CONFIG', `invalid parameter "${v.slice(start)}"`, at)
          let bracket = false
          if (v.charCodeAt(i) === 0x7b) {
            bracket = true
            if (++i === v.length) throw new DyupsError('E_CONFIG', `invalid parameter "${v.slice(start)}"`, at)
          }
          const nameStart = i
          let nameEnd = i
          for (; i < v.length; i++) {
            const ch = v.charCodeAt(i)
            if (ch === 0x7d && bracket) {
              i++
              bracket = false
              break
            }
            if (isNameChar(ch)) {
              nameEnd = i + 1
              continue
            }
            break
          }
          const name = v.slice(nameStart, nameEnd)
          if (bracket) throw new DyupsError('E_CONFIG', `the closing bracket in "${name}" variable is missing`, at)
          if (name.length === 0) throw new DyupsError('E_CONFIG', `invalid parameter "${v.slice(start)}"`, at)
          const field = Object.prototype.hasOwnProperty.call(LOG_FIELDS, name) ? LOG_FIELDS[name]! : -1
          if (field >= 0) push(field, null, null)
          else push(OP_VAR, null, vars.ref(name, at))
          continue
        }
        i++
        while (i < v.length && v.charCodeAt(i) !== 0x24) i++
        const text = v.slice(start, i)
        const last = ops.length - 1
        // Adjacent constant text (from separate arguments) is one operation.
        if (last >= 0 && ops[last] === OP_TEXT) this.texts[last] += text
        else push(OP_TEXT, text, null)
      }
    }
    this.ops = Uint8Array.from(ops)
  }

  /** One log line for a request, without the newline. */
  format(src: VarSource): string {
    const ops = this.ops
    const esc = this.escape
    let out = ''
    for (let i = 0; i < ops.length; i++) {
      switch (ops[i]) {
        case OP_TEXT:
          out += this.texts[i]!
          break
        case OP_VAR: {
          const v = this.refs[i]!.get(src)
          if (v === undefined) {
            if (esc === 'default') out += '-'
          } else {
            out += esc === 'default' ? escapeDefault(v) : esc === 'json' ? escapeJson(v) : v
          }
          break
        }
        case OP_PIPE:
          // dyups answers pipelined requests in order but does not track them for the log.
          out += '.'
          break
        case OP_TIME_LOCAL:
          out += timeLocal(now(src))
          break
        case OP_TIME_ISO:
          out += timeIso8601(now(src))
          break
        case OP_MSEC:
          out += secondsDotMillis(now(src))
          break
        case OP_REQUEST_TIME:
          out += secondsDotMillis(Math.max(now(src) - src.startMsec, 0))
          break
        case OP_STATUS:
          out += statusText(src.status)
          break
        case OP_BYTES_SENT:
          out += src.bytesSent
          break
        case OP_BODY_BYTES_SENT:
          out += src.bodyBytesSent > 0 ? src.bodyBytesSent : 0
          break
        case OP_REQUEST_LENGTH:
          out += src.requestLength
          break
      }
    }
    return out
  }
}

const now = (src: VarSource): number => (src.endMsec > 0 ? src.endMsec : Date.now())

/** The `log_format`s of one `http` block, `combined` included. */
export class LogFormats {
  private readonly byName = new Map<string, LogFormat>()
  private combined: LogFormat | null = null

  constructor(private readonly vars: Variables) {}

  /**
   * Add a `log_format NAME [escape=…] STRING…;`.
   * @throws DyupsError E_CONFIG `duplicate "log_format" name "x"`, `unknown log format escaping "x"`, syntax errors
   */
  add(d: Directive): LogFormat {
    const at = { file: d.file, line: d.line }
    if (d.args.length < 2) throw new DyupsError('E_CONFIG', 'invalid number of arguments in "log_format" directive', at)
    const name = d.args[0]!
    if (name === 'combined' || this.byName.has(name)) {
      throw new DyupsError('E_CONFIG', `duplicate "log_format" name "${name}"`, at)
    }
    let escape: LogEscape = 'default'
    let s = 1
    if (d.args[1]!.startsWith('escape=')) {
      const e = d.args[1]!.slice(7)
      if (e === 'json' || e === 'none' || e === 'default') escape = e
      else throw new DyupsError('E_CONFIG', `unknown log format escaping "${e}"`, at)
      s++
    }
    const f = new LogFormat(name, escape, d.args.slice(s), this.vars, at)
    this.byName.set(name, f)
    return f
  }

  /** A format by name, compared caselessly as nginx does; `combined` is compiled on first use. */
  get(name: string): LogFormat | undefined {
    if (name.toLowerCase() === 'combined') {
      this.combined ??= new LogFormat('combined', 'default', [COMBINED], this.vars)
      return this.combined
    }
    const exact = this.byName.get(name)
    if (exact !== undefined) return exact
    for (const [k, f] of this.byName) if (k.toLowerCase() === name.toLowerCase()) return f
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Files



export interface LogFilesOptions {
  /** Called for write and reopen failures (nginx logs them at `alert`/`crit`); the message names the file. */
  readonly onError?: (message: string) => void
}

/** One open log file with its buffer. Shared by every `access_log` that names the same path. */
export class LogFile {
  private fd: number
  private pending = ''
  private timer: NodeJS.Timeout | null = null
  private immediate: NodeJS.Immediate | null = null
  /** null: unbuffered (written after the current loop turn). */
  size: number | null = null
  flushMs = 0
  gzip = 0

  constructor(
    readonly path: string,
    private readonly onError: ((message: string) => void) | undefined,
  ) {
    this.fd = LogFile.open(path)
  }

  private static open(path: string): number {
    try {
      return openSync(path, 'a', 0o644)
    } catch (e) {
      throw new DyupsError('E_CONFIG', `open() "${path}" failed (${errnoText(e)})`)
    }
  }

  /** Append one line (without its newline). */
  append(line: string): void {
    const len = line.length + 1
    const size = this.size
    if (size === null) {
      this.pending += line + '\n'
      // Unbuffered: one write per loop turn; a burst larger than 64 KB goes out at once to bound memory.
      if (this.pending.length >= 65536) this.flush()
      else if (this.immediate === null) this.immediate = setImmediate(this.flushFn)
      return
    }
    if (this.pending.length + len > size) this.flush()
    if (len > size) {
      this.writeOut(line + '\n')
      return
    }
    if (this.pending.length === 0 && this.flushMs > 0 && this.timer === null) {
      this.timer = setTimeout(this.flushFn, this.flushMs)
      this.timer.unref()
    }
    this.pending += line + '\n'
  }

  private readonly flushFn = (): void => {
    this.flush()
  }

  /** Write what is buffered. */
  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer)
      this.timer = null
    }
    if (this.immediate !== null) {
      clearImmediate(this.immediate)
      this.immediate = null
    }
    if (this.pending.length === 0) return
    const data = this.pending
    this.pending = ''
    this.writeOut(data)
  }

  private writeOut(data: string): void {
    let buf = Buffer.from(data, 'latin1')
    if (this.gzip > 0) buf = gzipSync(buf, { level: this.gzip })
    try {
      let off = 0
      while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off)
    } catch (e) {
      this.onError?.(`write() to "${this.path}" failed (${errnoText(e)})`)
    }
  }

  /** `-s reopen`: flush, then open the path anew (after a rotation); on failure keep writing to the old file. */
  reopen(): void {
    this.flush()
    let fd: number
    try {
      fd = openSync(this.path, 'a', 0o644)
    } catch (e) {
      this.onError?.(`open() "${this.path}" failed (${errnoText(e)})`)
      return
    }
    const old = this.fd
    this.fd = fd
    try {
      closeSync(old)
    } catch {
      // already closed: nothing to lose
    }
  }

  /** Flush and close (at stop or when a new configuration replaces this one). */
  close(): void {
    this.flush()
    try {
      closeSync(this.fd)
    } catch {
      // already closed
    }
  }
}

/** The log files of one configuration, one per path. */
export class LogFiles {
  private readonly files = new Map<string, LogFile>()

  constructor(private readonly opts: LogFilesOptions = {}) {}

  /**
   * The file for a (resolved) path, opened on first use.
   * @throws DyupsError E_CONFIG `open() "/x/access.log" failed (13: Permission denied)`
   */
  get(path: string): LogFile {
    let f = this.files.get(path)
    if (f === undefined) {
      f = new LogFile(path, this.opts.onError)
      this.files.set(path, f)
    }
    return f
  }

  /** Write every buffer now. */
  flush(): void {
    for (const f of this.files.values()) f.flush()
  }

  /** Reopen every file (SIGUSR1, `dyups -s reopen`). */
  reopen(): void {
    for (const f of this.files.values()) f.reopen()
  }

  /** Flush and close every file. */
  close(): void {
    for (const f of this.files.values()) f.close()
    this.files.clear()
  }
}

// ---------------------------------------------------------------------------------------------------------------
// access_log

/** One `access_log PATH [FORMAT [buffer=] [gzip] [flush=] [if=]]`. */
export class AccessLog {
  constructor(
    readonly file: LogFile,
    readonly format: LogFormat,
    /** `if=`: the line is skipped when it evaluates to '' or '0'. */
    readonly filter: Template | null,
  ) {}

  /** Log one finished request. */
  write(src: VarSource): void {
    const f = this.filter
    if (f !== null) {
      const v = f.eval(src)
      if (v.length === 0 || v === '0') return
    }
    this.file.append(this.format.format(src))
  }
}

export interface AccessLogContext {
  readonly formats: LogFormats
  readonly files: LogFiles
  readonly vars: Variables
  /** Resolves a path as written against the prefix (nginx's ngx_conf_full_name). */
  readonly resolvePath: (path: string) => string
}

/** nginx's default when no context has an `access_log`: `logs/access.log combined`. */
export const DEFAULT_LOG_PATH = 'logs/access.log'

/**
 * The `access_log` directives among one context's directives.
 * @returns the logs, `'off'` for `access_log off`, or undefined when the context has none (it inherits its
 *   parent's; at the top, `DEFAULT_LOG_PATH` with `combined` applies, see {@link defaultAccessLog})
 * @throws DyupsError E_CONFIG with nginx's words: `invalid parameter "x"`, `unknown log format "x"`,
 *   `invalid buffer size "x"`, `invalid flush time "x"`, `invalid compression level "x"`,
 *   `no buffer is defined for access_log "x"`, `access_log "x" already defined with conflicting parameters`,
 *   `buffered logs cannot have variables in name`, and for what dyups does not do:
 *   `variables in access_log path are not supported`, `syslog is not supported`
 */
export function compileAccessLogs(directives: readonly Directive[], ctx: AccessLogContext): AccessLog[] | 'off' | undefined {
  let logs: AccessLog[] | undefined
  let off = false
  for (const d of directives) {
    if (d.name !== 'access_log') continue
    const at = { file: d.file, line: d.line }
    const a = d.args
    if (a.length < 1) throw new DyupsError('E_CONFIG', 'invalid number of arguments in "access_log" directive', at)
    if (a[0] === 'off') {
      if (a.length > 1) throw new DyupsError('E_CONFIG', `invalid parameter "${a[1]}"`, at)
      off = true
      continue
    }
    ;(logs ??= []).push(compileOne(d, ctx))
  }
  // nginx: `access_log off` anywhere in a context turns the context's logging off.
  if (off) return 'off'
  return logs
}

/** `access_log logs/access.log combined`, what a context without any access_log up the chain gets. */
export function defaultAccessLog(ctx: AccessLogContext): AccessLog {
  return new AccessLog(ctx.files.get(ctx.resolvePath(DEFAULT_LOG_PATH)), ctx.formats.get('combined')!, null)
}

function compileOne(d: Directive, ctx: AccessLogContext): AccessLog {
  const at = { file: d.file, line: d.line }
  const a = d.args
  const pathText = a[0]!
  if (pathText.startsWith('syslog:')) throw new DyupsError('E_CONFIG', 'syslog is not supported', at)
  const hasVars = pathText.indexOf('$') >= 0

  const formatName = a.length >= 2 ? a[1]! : 'combined'
  const format = ctx.formats.get(formatName)
  if (format === undefined) throw new DyupsError('E_CONFIG', `unknown log format "${formatName}"`, at)

  let size = 0
  let flush = 0
  let gzip = 0
  let filter: Template | null = null
  for (let i = 2; i < a.length; i++) {
    const v = a[i]!
    if (v.startsWith('buffer=')) {
      const s = v.slice(7)
      const n = parseSize(s)
      if (n === null || n === 0) throw new DyupsError('E_CONFIG', `invalid buffer size "${s}"`, at)
      size = n
    } else if (v.startsWith('flush=')) {
      const s = v.slice(6)
      const n = parseTime(s, 'ms')
      if (n === null || n === 0) throw new DyupsError('E_CONFIG', `invalid flush time "${s}"`, at)
      flush = n
    } else if (v === 'gzip' || v.startsWith('gzip=')) {
      if (size === 0) size = 64 * 1024
      if (v === 'gzip') {
        gzip = 1
      } else {
        const s = v.slice(5)
        const n = /^[0-9]+$/.test(s) ? Number(s) : -1
        if (n < 1 || n > 9) throw new DyupsError('E_CONFIG', `invalid compression level "${s}"`, at)
        gzip = n
      }
    } else if (v.startsWith('if=')) {
      filter = ctx.vars.compile(v.slice(3), at)
    } else {
      throw new DyupsError('E_CONFIG', `invalid parameter "${v}"`, at)
    }
  }
  if (flush && size === 0) throw new DyupsError('E_CONFIG', `no buffer is defined for access_log "${pathText}"`, at)
  if (hasVars) {
    if (size) throw new DyupsError('E_CONFIG', 'buffered logs cannot have variables in name', at)
    throw new DyupsError('E_CONFIG', 'variables in access_log path are not supported', at)
  }

  let file: LogFile
  try {
    file = ctx.files.get(ctx.resolvePath(pathText))
  } catch (e) {
    if (e instanceof DyupsError && e.at === undefined) throw new DyupsError(e.code, e.message, at)
    throw e
  }
  if (size) {
    if (file.size !== null) {
      if (file.size !== size || file.flushMs !== flush || file.gzip !== gzip) {
        throw new DyupsError('E_CONFIG', `access_log "${pathText}" already defined with conflicting parameters`, at)
      }
    } else {
      file.size = size
      file.flushMs = flush
      file.gzip = gzip
    }
  }
  return new AccessLog(file, format, filter)
}

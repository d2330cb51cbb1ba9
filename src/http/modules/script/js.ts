/**
 * njs-style JavaScript content handlers: `js_import [NAME from] FILE;` and `js_content NAME.FUNCTION;`.
 *
 * A module file is read and compiled when the configuration is (a syntax error fails `-t` and start-up, as in
 * njs); it is evaluated in the worker on first use, in a `node:vm` context of its own that holds only the standard
 * JavaScript globals plus njs's `ngx`, `njs`, `console` and `Buffer` (no `require`, no `process`, no timers, no
 * `eval`). The handler gets a request object `r` in njs's shape; `import dyups from 'dyups'` (or `'ngx.dyups'`, or
 * `ngx.dyups`) gives `update`, `delete` and `get`, returning promises of `{status, body}` — the REST interface's
 * answer for the same change.
 *
 * Strings are byte strings, one char per byte, as everywhere in dyups: module files are read as latin1, request
 * bodies and names arrive as latin1, and what a handler sends goes out as latin1 (as UTF-8 when a string holds
 * characters past U+00FF).
 *
 * Every stretch of module code — the handler's synchronous part, and each continuation after a dyups call resolves
 * — runs inside one `vm` evaluation with a {@link JS_TIMEOUT_MS} timeout (the context drains its own microtasks
 * within that evaluation, `microtaskMode: 'afterEvaluate'`), so a runaway loop is cut and answered with 500.
 */
import { readFileSync } from 'node:fs'
import vm from 'node:vm'
import { DyupsError, type Pos } from '../../../errors.js'
import { log } from '../../../log.js'
import type { Responder, Services } from '../../lib/context.js'
import type { Request } from '../../lib/request.js'
import { bodyText, dyupsCall, headerPairs, levelOf, logContext, parseArgs, ScriptResponse, variable, type DyupsOp } from './ngx-api.js'

/** How long one evaluation of module code may run before it is terminated. */
export const JS_TIMEOUT_MS = 1000

/** The njs version whose request API this follows (`njs.version`). */
const NJS_VERSION = '0.8.4'

/** Modules a handler file may import: only dyups's own. */
const DYUPS_MODULES = new Set(['dyups', 'ngx.dyups'])

const IMPORT = /^([ \t]*)import[ \t]+([A-Za-z_$][\w$]*)[ \t]+from[ \t]+(['"])([^'"\n]*)\3[ \t]*;?/gm
const EXPORT_DEFAULT = /^([ \t]*)export[ \t]+default\b/gm

const BOOT = new vm.Script(
  `(() => {
  const host = globalThis.__dyupsHost
  delete globalThis.__dyupsHost
  const call = (op, args) => new Promise((resolve, reject) => host(op, args, resolve, reject))
  const api = Object.freeze({
    update: (...args) => call('update', args),
    delete: (...args) => call('delete', args),
    get: (...args) => call('get', args),
  })
  Object.defineProperty(globalThis, '__dyups', { value: api })
  globalThis.ngx.dyups = api
})()`,
  { filename: 'dyups:boot' },
)
const CALL = new vm.Script(
  '(() => { const c = globalThis.__dyupsCall; globalThis.__dyupsCall = undefined; return c[0].call(undefined, c[1]) })()',
  { filename: 'dyups:call' },
)
const SETTLE = new vm.Script(
  '(() => { const s = globalThis.__dyupsSettle; globalThis.__dyupsSettle = undefined; s[0]({ status: s[1], body: s[2] }) })()',
  { filename: 'dyups:settle' },
)

/** The request whose module code runs right now (module code only runs inside our evaluations). */
let current: JsRun | null = null

/** One `js_import`: a file compiled at configuration time, evaluated once per worker on first use. */
export class JsModule {
  private readonly script: vm.Script
  private ctx: vm.Context | null = null
  private exported: unknown = undefined

  /**
   * @throws DyupsError E_CONFIG when the file cannot be read, imports anything but dyups, or does not compile
   */
  constructor(
    readonly name: string,
    readonly file: string,
    at: Pos,
  ) {
    let source: string
    try {
      source = readFileSync(file, 'latin1')
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      throw new DyupsError('E_CONFIG', `open() "${file}" failed (${code === 'ENOENT' ? '2: No such file or directory' : code === 'EACCES' ? '13: Permission denied' : String(code)})`, at)
    }
    // Read as bytes, like everything dyups handles: a UTF-8 literal in the file goes out as the same bytes.
    this.script = compileModule(source, file)
  }

  /** The module's default export, evaluating the module in its context on first use. @throws what the module throws */
  exports(): unknown {
    if (this.ctx !== null) return this.exported
    const ctx = vm.createContext(sandbox(), {
      name: `js_import ${this.name}`,
      codeGeneration: { strings: false, wasm: false },
      microtaskMode: 'afterEvaluate',
    })
    ;(ctx as Record<string, unknown>).__dyupsHost = hostCall
    BOOT.runInContext(ctx, { displayErrors: false })
    this.script.runInContext(ctx, { timeout: JS_TIMEOUT_MS, displayErrors: false })
    this.exported = (ctx as Record<string, unknown>).__dyupsExport
    this.ctx = ctx
    return this.exported
  }

  /** Calls `fn(r)` in the module's context, bounded by the timeout. */
  call(fn: unknown, r: unknown): unknown {
    const ctx = this.ctx!
    ;(ctx as Record<string, unknown>).__dyupsCall = [fn, r]
    return CALL.runInContext(ctx, { timeout: JS_TIMEOUT_MS, displayErrors: false })
  }

  /** Resolves a dyups promise in the module's context; the code waiting on it runs now, bounded by the timeout. */
  settle(resolve: unknown, status: number, body: string): void {
    const ctx = this.ctx!
    ;(ctx as Record<string, unknown>).__dyupsSettle = [resolve, status, body]
    SETTLE.runInContext(ctx, { timeout: JS_TIMEOUT_MS, displayErrors: false })
  }
}

/**
 * Rewrites njs module syntax that a vm script lacks, keeping every line where it was: `export default X` becomes
 * an assignment, `import NAME from 'dyups'` a constant.
 * @throws DyupsError E_CONFIG for another import or a syntax error, at the module file's line
 */
export function compileModule(text: string, file: string): vm.Script {
  let bad: { what: string; line: number } | null = null
  const lineOf = (offset: number): number => {
    let n = 1
    for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) n++
    return n
  }
  let code = text.replace(IMPORT, (_all, indent: string, name: string, _q: string, spec: string, offset: number) => {
    if (!DYUPS_MODULES.has(spec)) bad ??= { what: spec, line: lineOf(offset) }
    return `${indent}const ${name} = globalThis.__dyups;`
  })
  if (bad !== null) {
    const b = bad as { what: string; line: number }
    throw new DyupsError('E_CONFIG', `module "${b.what}" is not supported (only "dyups" can be imported)`, { file, line: b.line })
  }
  code = code.replace(EXPORT_DEFAULT, '$1globalThis.__dyupsExport =')
  try {
    return new vm.Script(`'use strict';${code}`, { filename: file })
  } catch (e) {
    const err = e as Error
    const m = /^(.*):(\d+)\n/.exec(err.stack ?? '')
    throw new DyupsError('E_CONFIG', `${err.name}: ${err.message}`, { file, line: m !== null ? Number(m[2]) : 1 })
  }
}

/** The globals a module sees besides the language's own. */
function sandbox(): Record<string, unknown> {
  const say = (level: 'info' | 'warn' | 'error') => (...a: unknown[]) => log(level, `js: ${a.map(String).join(' ')}`)
  return {
    ngx: {
      INFO: 7,
      WARN: 5,
      ERR: 4,
      log: (level: number, msg: unknown) => log(levelOf(level) ?? 'info', `js: ${String(msg)}`),
    },
    njs: { version: NJS_VERSION },
    console: { log: say('info'), info: say('info'), warn: say('warn'), error: say('error') },
    Buffer,
  }
}

/** A dyups call from module code: `host(op, args, resolve, reject)` from the boot script. */
function hostCall(op: DyupsOp, args: unknown[], resolve: unknown, reject: (e: Error) => void): void {
  const run = current
  if (run === null) return reject(new Error(`dyups.${op} can only be called while a request is handled`))
  const argc = op === 'update' ? 2 : 1
  if (args.length !== argc) return reject(new TypeError(argc === 1 ? 'exactly 1 argument expected' : `exactly ${argc} arguments expected`))
  const name = bytesOf(args[0])
  const body = argc === 2 ? bytesOf(args[1]) : ''
  if (name === null || body === null) return reject(new TypeError(`dyups.${op}: arguments must be strings`))
  run.pending++
  void dyupsCall(run.w, run.content.api, op, name, body).then((a) => {
    run.pending--
    run.settle(resolve, a.status, a.body)
  })
}

/** A string or Buffer as bytes (latin1): text with characters past U+00FF goes as UTF-8; numbers as written. */
function bytesOf(v: unknown): string | null {
  if (typeof v === 'string') {
    for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 0xff) return Buffer.from(v, 'utf8').toString('latin1')
    return v
  }
  if (typeof v === 'number') return String(v)
  if (Buffer.isBuffer(v)) return v.toString('latin1')
  if (v instanceof Uint8Array) return Buffer.from(v).toString('latin1')
  return null
}

/** A `js_content`: the module and the function's name in its default export. */
export class JsContent {
  constructor(
    readonly module: JsModule,
    readonly fn: string,
    /** As written: `main.hello`. */
    readonly name: string,
    readonly api: boolean,
  ) {}
}

/** Runs a JavaScript content handler for `req` and answers on `c`. Never throws. */
export function runJs(w: Services, c: Responder, req: Request, content: JsContent): void {
  new JsRun(w, c, req, content).start()
}

class JsRun {
  pending = 0
  /** The handler returned (a promise it returned settled). */
  private done = false
  private checking = false
  readonly resp = new ScriptResponse()

  constructor(
    readonly w: Services,
    readonly c: Responder,
    readonly req: Request,
    readonly content: JsContent,
  ) {}

  start(): void {
    const { module, fn, name } = this.content
    let result: unknown
    let f: unknown
    try {
      // Module code run at its first import belongs to no request.
      const exp = module.exports() as Record<string, unknown> | null | undefined
      f = exp !== null && typeof exp === 'object' ? exp[fn] : undefined
    } catch (e) {
      return this.fail(e)
    }
    if (typeof f !== 'function') {
      log('error', `js function "${name}" not found${logContext(this.req)}`)
      return this.resp.fail(this.c, 500)
    }
    current = this
    try {
      result = module.call(f, new JsRequest(this))
    } catch (e) {
      current = null
      return this.fail(e)
    }
    current = null
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      ;(result as PromiseLike<unknown>).then(
        () => this.finish(),
        (e: unknown) => this.fail(e),
      )
    } else {
      this.done = true
    }
    this.check()
  }

  settle(resolve: unknown, status: number, body: string): void {
    current = this
    try {
      this.content.module.settle(resolve, status, body)
    } catch (e) {
      current = null
      this.fail(e)
    }
    current = null
    this.check()
  }

  private finish(): void {
    this.done = true
    this.check()
  }

  fail(e: unknown): void {
    this.done = true
    log('error', `js exception: ${describe(e)}${logContext(this.req)}`)
    this.resp.fail(this.c, 500)
  }

  /**
   * Once nothing is pending (after host callbacks ran: setImmediate), a handler that ended without answering gets
   * what it wrote (as `r.finish()`), or a 500; one still waiting on nothing that can settle gets a 500.
   */
  private check(): void {
    if (this.checking || this.resp.sent) return
    this.checking = true
    setImmediate(() => {
      this.checking = false
      if (this.resp.sent || this.pending > 0) return
      if (this.resp.bodySize > 0) return this.resp.send(this.c)
      log('error', `js handler "${this.content.name}" ${this.done ? 'ended' : 'waits on nothing'} without a response${logContext(this.req)}`)
      this.resp.fail(this.c, 500)
    })
  }
}

function describe(e: unknown): string {
  const err = e as { code?: string; stack?: string; message?: string; name?: string } | null
  if (err !== null && typeof err === 'object') {
    if (err.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return `the handler ran past its time budget (${JS_TIMEOUT_MS} ms)`
    if (typeof err.stack === 'string') {
      const lines = err.stack.split('\n')
      const frame = lines.find((l) => /^\s+at /.test(l) && !l.includes('dyups:'))
      return frame !== undefined ? `${lines[0]} ${frame.trim()}` : lines[0]!
    }
  }
  return String(e)
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])

/** njs's request object, over one request. */
class JsRequest {
  private argsObj: Record<string, string | string[]> | null = null
  private inObj: Record<string, string> | null = null
  private outObj: Record<string, unknown> | null = null
  private varsObj: Record<string, unknown> | null = null

  constructor(private readonly run: JsRun) {}

  get method(): string {
    return this.run.req.method
  }
  get uri(): string {
    return this.run.req.uri
  }
  get httpVersion(): string {
    return this.run.req.versionMinor === 0 ? '1.0' : '1.1'
  }
  get remoteAddress(): string {
    return this.run.req.remoteAddr
  }
  get requestLine(): string {
    return this.run.req.requestLine
  }
  /** The body as bytes (latin1), or undefined without one. */
  get requestText(): string | undefined {
    return bodyText(this.run.req) ?? undefined
  }
  get requestBody(): string | undefined {
    return this.requestText
  }
  get requestBuffer(): Buffer | undefined {
    const b = this.run.req.body
    return b === null ? undefined : Buffer.from(b)
  }
  get status(): number {
    return this.run.resp.status
  }
  set status(v: number) {
    this.run.resp.status = Math.trunc(Number(v)) || 0
  }

  /** Decoded query arguments; a repeated name gives an array. */
  get args(): Record<string, string | string[]> {
    if (this.argsObj === null) {
      const o: Record<string, string | string[]> = Object.create(null)
      for (const [k, v] of parseArgs(this.run.req.args, 0)) {
        const val = v === true ? '' : v
        const old = o[k]
        o[k] = old === undefined ? val : Array.isArray(old) ? [...old, val] : [old, val]
      }
      this.argsObj = o
    }
    return this.argsObj
  }

  /** Request headers by name, any case; repeated ones joined with `, ` (Cookie with `; `). */
  get headersIn(): Record<string, string> {
    if (this.inObj === null) {
      const o: Record<string, string> = Object.create(null)
      const lower = new Map<string, string>()
      for (const [k, v] of headerPairs(this.run.req, 0)) {
        const low = k.toLowerCase()
        const first = lower.get(low)
        if (first === undefined) {
          lower.set(low, k)
          o[k] = v
        } else {
          o[first] += (low === 'cookie' ? '; ' : ', ') + v
        }
      }
      this.inObj = new Proxy(o, {
        get: (t, p) => (typeof p !== 'string' ? undefined : p in t ? t[p] : t[lower.get(p.toLowerCase()) ?? '']),
        set: () => false,
      })
    }
    return this.inObj
  }

  get rawHeadersIn(): Array<[string, string]> {
    return headerPairs(this.run.req, 0)
  }

  /** Response headers: set, read and delete by name; an array sets several. */
  get headersOut(): Record<string, unknown> {
    if (this.outObj === null) {
      const resp = this.run.resp
      this.outObj = new Proxy(Object.create(null) as Record<string, unknown>, {
        get: (_t, p) => {
          if (typeof p !== 'string') return undefined
          const v = resp.getHeader(p)
          return v.length === 0 ? undefined : v.length === 1 ? v[0] : v
        },
        set: (_t, p, v) => {
          if (typeof p !== 'string') return false
          const values = v === undefined || v === null ? [] : (Array.isArray(v) ? v : [v]).map((x) => bytesOf(x) ?? String(x))
          if (!resp.setHeader(p, values)) throw new TypeError(`invalid header name "${p}"`)
          return true
        },
        deleteProperty: (_t, p) => typeof p === 'string' && resp.setHeader(p, []),
      })
    }
    return this.outObj
  }

  /** nginx variables by name (`r.variables.host`); undefined when not found. */
  get variables(): Record<string, unknown> {
    if (this.varsObj === null) {
      const { w, req } = this.run
      this.varsObj = new Proxy(Object.create(null) as Record<string, unknown>, {
        get: (_t, p) => (typeof p === 'string' ? variable(w, req, p) : undefined),
        set: (_t, p) => {
          throw new TypeError(`variable "${String(p)}" is not changeable`)
        },
      })
    }
    return this.varsObj
  }

  /** Sends the whole response: a body for most codes, a redirect URL for 301/302/303/307/308. */
  return(status: number, body?: unknown): void {
    const { resp, c } = this.run
    if (resp.sent) return
    const code = Math.trunc(Number(status))
    if (!(code >= 100 && code <= 999)) throw new TypeError(`code is out of range: ${String(status)}`)
    if (body === undefined) return resp.exit(c, code)
    const text = bytesOf(body) ?? String(body)
    if (REDIRECTS.has(code)) {
      resp.setHeader('Location', [text])
      return resp.exit(c, code)
    }
    resp.write(text)
    resp.send(c, code)
  }

  /** Adds to the body sent by {@link finish} (output is sent whole, at the end). */
  send(body: unknown): void {
    this.run.resp.write(bytesOf(body) ?? String(body))
  }

  sendHeader(): void {}

  finish(): void {
    this.run.resp.send(this.run.c)
  }

  log(msg: unknown): void {
    log('info', `js: ${String(msg)}${logContext(this.run.req)}`)
  }
  warn(msg: unknown): void {
    log('warn', `js: ${String(msg)}${logContext(this.run.req)}`)
  }
  error(msg: unknown): void {
    log('error', `js: ${String(msg)}${logContext(this.run.req)}`)
  }

  internalRedirect(): never {
    throw new Error('r.internalRedirect() is not supported by dyups')
  }
  subrequest(): never {
    throw new Error('r.subrequest() is not supported by dyups')
  }
}

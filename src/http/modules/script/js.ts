/**
 * njs-style JavaScript content handlers: `js_import [NAME from] FILE;` and `js_content NAME.FUNCTION;`.
 *
 * A module file is read, rewritten and syntax-checked when the configuration is (a syntax error fails `-t` and
 * start-up, as in njs; the check compiles with V8 and never runs the code). Handlers run in a sandbox: QuickJS
 * compiled to WebAssembly (quickjs-emscripten, bellard's QuickJS, release build), on a thread of its own in each
 * worker (js-engine.ts), started when the configuration has `js_import`s. Module code sees the language's globals
 * plus njs's `ngx`, `njs`, `console` and a small `Buffer` (js-prelude.ts); it cannot reach the worker: no `process`,
 * `require`, `import()`, file system or network exist inside the WebAssembly instance, and no host object crosses
 * into it — the request object `r` is the prelude's, over one host function that takes and returns strings and
 * numbers. `import dyups from 'dyups'` (or `'ngx.dyups'`, or `ngx.dyups`) gives `update`, `delete` and `get`,
 * returning promises of `{status, body}` — the REST interface's answer for the same change.
 *
 * Why this engine (docs/scripting.md, "The engine, and why", has the numbers): node:vm is no boundary (`r.constructor
 * .constructor('return process')()` reached the worker's `process`), and its 1 s timeout held the worker's event
 * loop. isolated-vm (V8 isolates, a native addon) installs from npm on Node 24, but its memory limit does not hold:
 * `new Array(1e9).fill(0)` in an isolate limited to 64 MB ended the whole process with V8's fatal out-of-memory
 * after 28 s. QuickJS's limits hold inside its instance (heap limit, interrupt handler), and a failure there is an
 * exception in the thread, never the worker's end. QuickJS cannot be paused by its interrupt handler, only stopped,
 * so it runs on its own thread: a runaway handler holds that thread for its time budget and the worker's main thread
 * keeps serving (measured: hundreds of other requests answered during a runaway handler's second, where node:vm
 * answered none). The cost is a message each way per request, which is still cheaper than node:vm's timeout (it
 * starts a watchdog thread per evaluation): a trivial handler ran at 2 490–6 490 requests/s against node:vm's
 * 370–1 770 on the same worker, and the engine adds 20–28 MB to a worker with a module loaded, nothing without one.
 *
 * Limits (js-protocol.ts): each stretch of module code — the module's top level, a handler's synchronous part, each
 * continuation after a dyups call resolves — has JS_TIMEOUT_MS; past it the run is cut (no code can catch the cut)
 * and answered 500. Each module has its own WebAssembly instance with a JS_MEMORY_BYTES heap; a run that runs out
 * of memory is answered 500 and the module's instance is thrown away and evaluated anew on next use. A native call
 * that outlives the deadline by another second is ended by this file's watchdog, which terminates the engine
 * thread (its runs answered 500) and starts another.
 *
 * Strings are byte strings, one char per byte, as everywhere in dyups: module files are read as latin1, request
 * bodies and names arrive as latin1, and what a handler sends goes out as latin1 (as UTF-8 when a string holds
 * characters past U+00FF).
 */
import { readFileSync } from 'node:fs'
import vm from 'node:vm'
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads'
import { DyupsError, type Pos } from '../../../errors.js'
import { log } from '../../../log.js'
import type { Responder, Services } from '../../lib/context.js'
import type { Request } from '../../lib/request.js'
import {
  JS_HARD_LIMIT_MS, JS_TIMEOUT_MS, SLOT_BUSY, SLOT_RUN, SLOT_VAR, type FromEngine, type JsRequestData, type ToEngine, type VarAnswer, type VarAsk,
} from './js-protocol.js'
import { dyupsCall, logContext, variable } from './ngx-api.js'

export { JS_MEMORY_BYTES, JS_TIMEOUT_MS } from './js-protocol.js'

/** Modules a handler file may import: only dyups's own. */
const DYUPS_MODULES = new Set(['dyups', 'ngx.dyups'])

const IMPORT = /^([ \t]*)import[ \t]+([A-Za-z_$][\w$]*)[ \t]+from[ \t]+(['"])([^'"\n]*)\3[ \t]*;?/gm
const EXPORT_DEFAULT = /^([ \t]*)export[ \t]+default\b/gm

let nextModuleId = 1

/** A module no configuration holds any more is dropped from the engine thread. */
const unused = new FinalizationRegistry<number>((id) => engine?.drop(id))

/** One `js_import`: a file read, rewritten and checked at configuration time, evaluated in the sandbox on first use. */
export class JsModule {
  readonly id = nextModuleId++
  /** The code the sandbox evaluates (see {@link transformModule}). */
  readonly code: string

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
    this.code = transformModule(source, file)
    checkSyntax(this.code, file)
    unused.register(this, this.id)
  }
}

/**
 * Rewrites njs module syntax that a script lacks, keeping every line where it was: `export default X` becomes
 * an assignment, `import NAME from 'dyups'` a constant.
 * @throws DyupsError E_CONFIG for another import, at the module file's line
 */
export function transformModule(text: string, file: string): string {
  let bad: { what: string; line: number } | null = null
  const lineOf = (offset: number): number => {
    let n = 1
    for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) n++
    return n
  }
  const code = text.replace(IMPORT, (_all, indent: string, name: string, _q: string, spec: string, offset: number) => {
    if (!DYUPS_MODULES.has(spec)) bad ??= { what: spec, line: lineOf(offset) }
    return `${indent}const ${name} = globalThis.__dyups;`
  })
  if (bad !== null) {
    const b = bad as { what: string; line: number }
    throw new DyupsError('E_CONFIG', `module "${b.what}" is not supported (only "dyups" can be imported)`, { file, line: b.line })
  }
  return code.replace(EXPORT_DEFAULT, '$1globalThis.__dyupsExport =')
}

/**
 * Compiles a rewritten module as a strict script (V8's parser, for its messages; the script is never run by dyups).
 * @throws DyupsError E_CONFIG for a syntax error, at the module file's line
 */
function checkSyntax(code: string, file: string): vm.Script {
  try {
    return new vm.Script(`'use strict';${code}`, { filename: file })
  } catch (e) {
    const err = e as Error
    const m = /^(.*):(\d+)\n/.exec(err.stack ?? '')
    throw new DyupsError('E_CONFIG', `${err.name}: ${err.message}`, { file, line: m !== null ? Number(m[2]) : 1 })
  }
}

/**
 * A module's text rewritten and compiled as a script (for tests of the rewriting: dyups itself runs the code in the
 * sandbox, never as this script).
 * @throws DyupsError E_CONFIG for another import or a syntax error, at the module file's line
 */
export function compileModule(text: string, file: string): vm.Script {
  return checkSyntax(transformModule(text, file), file)
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
  ;(engine ??= new Engine()).run(w, c, req, content)
}

/** Starts the worker's engine thread and evaluates `modules` there ahead of the first request. */
export function prepareJs(modules: readonly JsModule[]): void {
  const e = (engine ??= new Engine())
  for (const m of modules) e.load(m)
}

/** A request whose handler runs in the engine thread. */
interface Pending {
  w: Services
  c: Responder
  req: Request
  content: JsContent
  thread: Worker
  answered: boolean
}

let engine: Engine | null = null

/** The worker's side of its engine thread: starts it, forwards runs, and does what handlers ask of the worker. */
class Engine {
  private worker: Worker | null = null
  private flag = new Int32Array(new SharedArrayBuffer(4))
  /** Modules sent to the current thread. */
  private loaded = new Set<number>()
  private readonly pending = new Map<number, Pending>()
  private nextId = 1

  thread(): Worker {
    if (this.worker !== null) return this.worker
    const shared = new SharedArrayBuffer(12)
    const base = Date.now()
    const { port1, port2 } = new MessageChannel()
    const t = new Worker(new URL('./js-engine.js', import.meta.url), {
      workerData: { flag: shared, base, port: port2 },
      transferList: [port2],
      name: 'dyups js',
      // Its heap holds messages in transit and a request's strings; the sandboxes' heaps are WebAssembly memories.
      resourceLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 4 },
    })
    this.flag = new Int32Array(shared)
    this.loaded = new Set()
    this.worker = t
    t.on('message', (batch: FromEngine[]) => this.received(batch))
    t.on('error', (e) => this.stopped(t, e))
    t.on('exit', (code) => this.stopped(t, `exit code ${code}`))
    port1.on('message', (a: VarAsk) => this.variable(port1, a))
    // Neither keeps the worker alive: a stopping worker does not wait for its engine.
    t.unref()
    port1.unref()
    const flag = this.flag
    const watchdog = setInterval(() => {
      const since = Atomics.load(flag, SLOT_BUSY)
      if (since === 0 || Date.now() - base - since < JS_HARD_LIMIT_MS || this.worker !== t) return
      this.stopped(t, `a handler ran ${JS_HARD_LIMIT_MS} ms in code the deadline cannot cut`, Atomics.load(flag, SLOT_RUN))
      void t.terminate()
    }, 100)
    watchdog.unref()
    t.once('exit', () => clearInterval(watchdog))
    return t
  }

  /** Sends `module` to the thread (once per thread); `evaluate`: have it evaluated now, not at its first run. */
  load(module: JsModule, evaluate = true): Worker {
    const t = this.thread()
    if (!this.loaded.has(module.id)) {
      this.loaded.add(module.id)
      this.post(t, { t: 'module', module: { id: module.id, name: module.name, file: module.file, code: module.code }, evaluate })
    }
    return t
  }

  run(w: Services, c: Responder, req: Request, content: JsContent): void {
    const { module } = content
    const t = this.load(module, false)
    const id = this.nextId++
    this.pending.set(id, { w, c, req, content, thread: t, answered: false })
    const data: JsRequestData = {
      method: req.method,
      uri: req.uri,
      httpVersion: req.http2 !== '' ? '2.0' : req.versionMinor === 0 ? '1.0' : '1.1',
      remoteAddress: req.remoteAddr,
      requestLine: req.requestLine,
      args: req.args,
      headers: req.headers as string[],
      // Bytes, not a string: a large body crosses outside both threads' V8 heaps, and only a handler that reads it
      // makes it a string (in the engine thread).
      body: req.body === null ? null : new Uint8Array(req.body),
    }
    const m: ToEngine = { t: 'run', id, module: module.id, fn: content.fn, name: content.name, req: data }
    t.postMessage(m, data.body === null ? [] : [data.body.buffer as ArrayBuffer])
  }

  drop(module: number): void {
    if (this.worker !== null && this.loaded.delete(module)) this.post(this.worker, { t: 'drop', module })
  }

  private post(t: Worker, m: ToEngine): void {
    t.postMessage(m)
  }

  private received(batch: FromEngine[]): void {
    for (const m of batch) {
      const p = this.pending.get(m.id)
      switch (m.t) {
        case 'log':
          log(m.level, p === undefined ? m.text : m.text + logContext(p.req))
          break
        case 'end':
          if (p === undefined || p.answered) break
          p.answered = true
          if (m.how === 'send') p.c.sendLocal(m.status, m.body, m.headers, m.contentType)
          else p.c.finishLocal(m.status)
          break
        case 'dyups':
          if (p === undefined) break
          void dyupsCall(p.w, p.content.api, m.op, m.name, m.body, p.req).then((a) => {
            if (this.worker === p.thread) this.post(p.thread, { t: 'settle', id: m.id, call: m.call, status: a.status, body: a.body })
          })
          break
        case 'close':
          this.pending.delete(m.id)
          break
      }
    }
  }

  /** `r.variables.NAME`: the engine thread waits for this answer. */
  private variable(port: MessagePort, a: VarAsk): void {
    const p = this.pending.get(a.id)
    let value: string | undefined
    try {
      value = p === undefined ? undefined : variable(p.w, p.req, a.name)
    } catch {
      value = undefined
    }
    port.postMessage({ seq: a.seq, value } satisfies VarAnswer)
    Atomics.store(this.flag, SLOT_VAR, 1)
    Atomics.notify(this.flag, SLOT_VAR)
  }

  /**
   * The thread ended, or is ended by the watchdog while it runs `culprit`: its requests are answered 500 and the
   * next request starts another thread (every module is evaluated anew there).
   */
  private stopped(t: Worker, why: unknown, culprit = 0): void {
    if (this.worker !== t) return
    this.worker = null
    log('alert', `the JavaScript engine was stopped: ${why instanceof Error ? why.message : String(why)}`)
    for (const [id, p] of this.pending) {
      if (p.thread !== t) continue
      this.pending.delete(id)
      if (p.answered) continue
      const what = id === culprit ? `the handler ran past its time budget (${JS_TIMEOUT_MS} ms) in a call that cannot be cut, and the engine was restarted` : 'the JavaScript engine was restarted'
      log('error', `js exception: ${what}${logContext(p.req)}`)
      p.c.finishLocal(500)
    }
  }
}

/**
 * The JavaScript engine thread of a worker (a node:worker_threads thread started by js.ts): it runs njs-style
 * handlers in QuickJS compiled to WebAssembly, one WebAssembly instance per `js_import` module, so that module code
 * reaches nothing but what the prelude (js-prelude.ts) gives it — no `process`, `require`, `import()`, file system
 * or network: none of them exists inside the instance, whose memory is its own linear memory.
 *
 * Limits: each stretch of module code runs under an interrupt deadline (JS_TIMEOUT_MS), each instance's heap under
 * a memory limit (JS_MEMORY_BYTES) and a stack limit. A module whose run ran out of memory is thrown away whole
 * (its instance, and the memory with it) and evaluated anew on next use. Because the engine has a thread of its
 * own, a runaway handler holds this thread only: the worker's main thread goes on serving its connections.
 *
 * The thread keeps each run's response (ScriptResponse, as the Lua handlers do) and sends the main thread the
 * response, error-log lines and dyups calls in one batch per turn; reading a variable (`r.variables.NAME`) asks the
 * main thread synchronously (a message, then Atomics.wait on a shared flag).
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import RELEASE_SYNC_IMPORT from '@jitl/quickjs-wasmfile-release-sync'
import {
  newQuickJSWASMModuleFromVariant, newVariant, type QuickJSContext, type QuickJSHandle, type QuickJSRuntime, type QuickJSSyncVariant,
} from 'quickjs-emscripten-core'
import type { Level } from '../../../log.js'
import type { Responder } from '../../lib/context.js'
import { PRELUDE, PRELUDE_FILE } from './js-prelude.js'
import {
  JS_BODY_MAX_BYTES, JS_MEMORY_BYTES, JS_STACK_BYTES, JS_TIMEOUT_MS, JS_VARIABLE_WAIT_MS, SLOT_BUSY, SLOT_RUN, SLOT_VAR, type EngineData, type FromEngine, type JsModuleSource,
  type JsRequestData, type ToEngine, type VarAnswer, type VarAsk, v8Wording,
} from './js-protocol.js'
import { headerPairs, levelOf, parseArgs, ScriptResponse } from './ngx-common.js'

const data = workerData as EngineData
const flag = new Int32Array(data.flag)

/** Tells the main thread's watchdog that module code runs for `run` (-1: for no run; 0: it stopped). */
function busy(run: number): void {
  Atomics.store(flag, SLOT_RUN, run | 0)
  Atomics.store(flag, SLOT_BUSY, run === 0 ? 0 : Math.max(1, Date.now() - data.base))
}
const syncPort = data.port
const port = parentPort!

/** The QuickJS WebAssembly module, compiled once; each sandbox is an instance of it. */
const wasmModule = new WebAssembly.Module(readFileSync(createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm')))
// The package is CommonJS to TypeScript and ES to Node: its default import is the variant either way.
const RELEASE_SYNC = ((RELEASE_SYNC_IMPORT as unknown as { default?: QuickJSSyncVariant }).default ?? RELEASE_SYNC_IMPORT) as QuickJSSyncVariant
const variant: QuickJSSyncVariant = newVariant(RELEASE_SYNC, { wasmModule })

/** The request fields `r` reads by name. */
const FIELDS = new Set(['method', 'uri', 'httpVersion', 'remoteAddress', 'requestLine'])

const BUDGET = `the handler ran past its time budget (${JS_TIMEOUT_MS} ms)`

let out: FromEngine[] = []
function flush(): void {
  if (out.length === 0) return
  const batch = out
  out = []
  port.postMessage(batch)
}
function say(level: Level, text: string, id = -1): void {
  out.push({ t: 'log', level, text, id })
}

/** One module: its source, and its sandbox once it was evaluated. */
class Module {
  sandbox: Promise<Sandbox> | null = null
  constructor(readonly src: JsModuleSource) {}
}
const modules = new Map<number, Module>()
const runs = new Map<number, Run>()

/** The run whose module code runs right now (module code only runs inside Sandbox.enter). */
let current: Run | null = null
let nextCall = 1
let varSeq = 0

/** One module's QuickJS instance: its runtime, context and the prelude's entry points. */
class Sandbox {
  /** Thrown away: every call into it is refused. */
  dead = false
  private deadline = 0
  private readonly rt: QuickJSRuntime
  private readonly ctx: QuickJSContext
  private readonly runFn: QuickJSHandle
  private readonly settleFn: QuickJSHandle

  static async create(mod: Module, run: number): Promise<Sandbox> {
    const qjs = await newQuickJSWASMModuleFromVariant(variant)
    busy(run)
    try {
      return new Sandbox(mod, qjs)
    } finally {
      busy(0)
    }
  }

  private constructor(
    readonly mod: Module,
    qjs: Awaited<ReturnType<typeof newQuickJSWASMModuleFromVariant>>,
  ) {
    const rt = (this.rt = qjs.newRuntime())
    rt.setMemoryLimit(JS_MEMORY_BYTES)
    rt.setMaxStackSize(JS_STACK_BYTES)
    rt.setInterruptHandler(() => Date.now() > this.deadline)
    const ctx = (this.ctx = rt.newContext())
    const host = ctx.newFunction('host', (...args) => this.host(args))
    this.deadline = Date.now() + JS_TIMEOUT_MS
    const make = ctx.unwrapResult(ctx.evalCode(PRELUDE, PRELUDE_FILE))
    const api = ctx.unwrapResult(ctx.callFunction(make, ctx.undefined, host))
    make.dispose()
    host.dispose()
    this.runFn = ctx.getProp(api, 'run')
    this.settleFn = ctx.getProp(api, 'settle')
    const load = ctx.getProp(api, 'load')
    api.dispose()
    // The module's own code: its top level runs now, under the same deadline as a handler.
    const { file, code } = mod.src
    this.deadline = Date.now() + JS_TIMEOUT_MS
    const r = ctx.evalCode(`'use strict';${code}`, file)
    if (r.error !== undefined) {
      const why = this.describe(r.error)
      r.error.dispose()
      throw new ModuleError(why)
    }
    r.value.dispose()
    ctx.unwrapResult(ctx.callFunction(load, ctx.undefined)).dispose()
    load.dispose()
    this.drain()
  }

  /** Calls `fn(r)` for `run`; what the handler did is in the run. */
  call(run: Run, fn: string): void {
    this.enter(run, () => {
      const { ctx } = this
      const name = ctx.newString(fn)
      const id = ctx.newNumber(run.id)
      const r = ctx.callFunction(this.runFn, ctx.undefined, name, id)
      name.dispose()
      id.dispose()
      if (r.error !== undefined) return this.escaped(run, r.error)
      const how = ctx.getString(r.value)
      r.value.dispose()
      if (how === 'sync') run.done = true
      else if (how === 'nofn') {
        run.done = true
        say('error', `js function "${run.name}" not found`, run.id)
        run.resp.fail(run.c, 500)
      } else if (how.startsWith('E')) run.fail(how.slice(1))
    })
  }

  /** Resolves a dyups call of `run`; the code waiting on it runs now. */
  settle(run: Run, call: number, status: number, body: string): void {
    this.enter(run, () => {
      const { ctx } = this
      const args = [ctx.newNumber(call), ctx.newNumber(status), ctx.newString(body)]
      const r = ctx.callFunction(this.settleFn, ctx.undefined, ...args)
      for (const a of args) a.dispose()
      if (r.error !== undefined) return this.escaped(run, r.error)
      r.value.dispose()
    })
  }

  /** Runs `f` and the jobs (promise reactions) it queued, under a fresh deadline, as `run`. */
  private enter(run: Run, f: () => void): void {
    if (this.dead) return run.fail('the module was reset')
    current = run
    this.deadline = Date.now() + JS_TIMEOUT_MS
    busy(run.id)
    try {
      f()
      if (!this.dead) this.drain(run)
    } catch (e) {
      // The instance itself failed (the thread's native stack ran out inside it, a WebAssembly trap): it may be
      // left in any state, so it goes, and the module is evaluated anew.
      const err = e as Error
      run.fail(`${err.name}: ${err.message}`)
      this.kill(`the module "${this.mod.src.name}" was reset after an engine error`)
    } finally {
      current = null
      busy(0)
    }
  }

  /** Runs pending jobs; an exception that escapes one (a cut, or memory) fails `run`. */
  private drain(run?: Run): void {
    while (!this.dead && this.rt.hasPendingJob()) {
      const r = this.rt.executePendingJobs()
      if (r.error !== undefined) {
        if (run === undefined) {
          const why = this.describe(r.error)
          r.error.dispose()
          throw new ModuleError(why)
        }
        this.escaped(run, r.error)
      } else {
        r.dispose()
      }
    }
  }

  /** An exception no module code caught (a cut by the deadline is one no code can catch). */
  private escaped(run: Run, err: QuickJSHandle): void {
    const why = this.describe(err)
    err.dispose()
    run.fail(why)
  }

  private describe(err: QuickJSHandle): string {
    const { ctx } = this
    const get = (k: string): string => {
      const h = ctx.getProp(err, k)
      const v = ctx.typeof(h) === 'string' ? ctx.getString(h) : ''
      h.dispose()
      return v
    }
    const name = get('name')
    const message = get('message')
    if (name === 'InternalError' && message === 'interrupted') return BUDGET
    if (name === '' && message === '') return ctx.typeof(err) === 'string' ? ctx.getString(err) : 'an exception'
    const frame = get('stack').split('\n').find((l) => /^\s+at /.test(l) && !l.includes(PRELUDE_FILE))
    return `${name}: ${message}${frame === undefined ? '' : ' ' + frame.trim()}`
  }

  /** Throws the sandbox away: its runs fail, its memory goes with the instance. */
  kill(why: string): void {
    if (this.dead) return
    this.dead = true
    if (this.mod.sandbox !== null) this.mod.sandbox = null
    for (const r of [...runs.values()]) {
      if (r.sandbox !== this) continue
      r.fail(why)
      r.check()
    }
  }

  /** The prelude's `host(op, ...)`. */
  private host(args: QuickJSHandle[]): QuickJSHandle | undefined {
    const { ctx } = this
    const s = (i: number): string => ctx.getString(args[i]!)
    const n = (i: number): number => ctx.getNumber(args[i]!)
    const str = (v: string | undefined): QuickJSHandle => (v === undefined ? ctx.undefined : ctx.newString(v))
    const op = s(0)
    switch (op) {
      case 'utf8':
        return ctx.newString(Buffer.from(s(1), 'utf8').toString('latin1'))
      case 'fromUtf8':
        return ctx.newString(Buffer.from(s(1), 'latin1').toString('utf8'))
      case 'b64':
        return ctx.newString(Buffer.from(s(1), 'latin1').toString('base64'))
      case 'unb64':
        return ctx.newString(Buffer.from(s(1), 'base64').toString('latin1'))
      case 'log': {
        const level = levelOf(n(1)) ?? 'info'
        const id = args.length > 3 ? n(3) : -1
        say(level, `js: ${s(2)}`, id)
        // A handler's own line reaches the log when it is written, as nginx writes it, not at the end of the turn:
        // what a handler logged before it ran away is there while it runs.
        flush()
        return undefined
      }
      case 'dyups': {
        const run = current
        if (run === null || run.sandbox !== this) return ctx.newNumber(-1)
        const call = nextCall++
        run.pending++
        out.push({ t: 'dyups', id: run.id, call, op: s(1) as 'update' | 'delete' | 'get', name: s(2), body: s(3) })
        return ctx.newNumber(call)
      }
    }
    const run = runs.get(n(1))
    if (run === undefined || run.sandbox !== this) throw new Error('the request is over')
    const { req, resp } = run
    switch (op) {
      case 'field': {
        const f = s(2)
        if (!FIELDS.has(f)) throw new TypeError(`no request field "${f}"`)
        return ctx.newString(req[f as 'method' | 'uri' | 'httpVersion' | 'remoteAddress' | 'requestLine'])
      }
      case 'body': {
        const b = req.body
        if (b === null) return ctx.undefined
        if (b.length > JS_BODY_MAX_BYTES) throw new RangeError(`the request body (${b.length} bytes) is larger than a handler may read (${JS_BODY_MAX_BYTES} bytes)`)
        return ctx.newString(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1'))
      }
      case 'args':
        return ctx.newString(JSON.stringify(parseArgs(req.args, 0).map(([k, v]) => [k, v === true ? '' : v])))
      case 'raw':
        return ctx.newString(JSON.stringify(headerPairs(req, 0)))
      case 'var':
        return str(this.variable(run, s(2)))
      case 'status':
        return ctx.newNumber(resp.status)
      case 'setStatus':
        resp.status = n(2)
        return undefined
      case 'hget':
        return ctx.newString(JSON.stringify(resp.getHeader(s(2))))
      case 'hset': {
        const values: unknown = JSON.parse(s(3))
        if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) throw new TypeError('header values must be strings')
        resp.setHeader(s(2), values)
        return undefined
      }
      case 'hdel':
        return ctx.newNumber(resp.setHeader(s(2), []) ? 1 : 0)
      case 'return':
        run.answer(n(2), args.length > 3 ? s(3) : undefined)
        return undefined
      case 'send':
        resp.write(s(2))
        return undefined
      case 'finish':
        resp.send(run.c)
        return undefined
      case 'done':
        run.done = true
        return undefined
      case 'failed':
        run.fail(s(2))
        return undefined
    }
    throw new Error(`unknown host call ${op}`)
  }

  /** Asks the main thread for a variable and waits for the answer (the wait does not count against the deadline). */
  private variable(run: Run, name: string): string | undefined {
    const seq = ++varSeq
    const t0 = Date.now()
    Atomics.store(flag, SLOT_VAR, 0)
    syncPort.postMessage({ seq, id: run.id, name } satisfies VarAsk)
    Atomics.wait(flag, SLOT_VAR, 0, JS_VARIABLE_WAIT_MS)
    this.deadline += Date.now() - t0
    for (;;) {
      const m = receiveMessageOnPort(syncPort)
      if (m === undefined) return undefined
      const a = m.message as VarAnswer
      if (a.seq === seq) return a.value
    }
  }
}

/** A module's top level threw, or did not compile. */
class ModuleError extends Error {}

/** One request's handler. */
class Run {
  pending = 0
  /** The handler returned, or its promise settled. */
  done = false
  private checking = false
  readonly resp = new ScriptResponse()
  readonly c: Responder

  constructor(
    readonly id: number,
    readonly name: string,
    readonly req: JsRequestData,
    public sandbox: Sandbox | null,
  ) {
    this.c = {
      sendLocal: (status: number, body: string | Buffer | null, headers: [string, string][] | null, contentType?: string) => {
        out.push({ t: 'end', id, how: 'send', status, body: typeof body === 'string' || body === null ? body : body.toString('latin1'), headers, contentType })
      },
      finishLocal: (status: number) => {
        out.push({ t: 'end', id, how: 'fail', status })
      },
    } as unknown as Responder
  }

  /** `r.return(code [, text])`. */
  answer(code: number, text: string | undefined): void {
    const { resp, c } = this
    if (resp.sent) return
    if (text === undefined) return resp.exit(c, code)
    if (code === 301 || code === 302 || code === 303 || code === 307 || code === 308) {
      resp.setHeader('Location', [text])
      return resp.exit(c, code)
    }
    resp.write(text)
    resp.send(c, code)
  }

  fail(why: string): void {
    this.done = true
    if (this.resp.sent) return
    // A cut inside an async function rejects its promise with the cut (which no code could catch).
    say('error', `js exception: ${why.startsWith('InternalError: interrupted') ? BUDGET : v8Wording(why)}`, this.id)
    this.resp.fail(this.c, 500)
    if (why.startsWith('InternalError: out of memory')) this.sandbox?.kill(`the module "${this.sandbox.mod.src.name}" was reset after running out of memory`)
  }

  /**
   * Once nothing is pending (after host callbacks ran: setImmediate), a handler that ended without answering gets
   * what it wrote (as `r.finish()`), or a 500; one still waiting on nothing that can settle gets a 500.
   */
  check(): void {
    this.closeIfOver()
    if (this.checking || this.resp.sent) return
    this.checking = true
    setImmediate(() => {
      this.checking = false
      if (!this.resp.sent && this.pending === 0) {
        if (this.resp.bodySize > 0) this.resp.send(this.c)
        else {
          say('error', `js handler "${this.name}" ${this.done ? 'ended' : 'waits on nothing'} without a response`, this.id)
          this.resp.fail(this.c, 500)
        }
      }
      this.closeIfOver()
      flush()
    })
  }

  private closeIfOver(): void {
    if (this.resp.sent && this.pending === 0 && runs.get(this.id) === this) {
      runs.delete(this.id)
      out.push({ t: 'close', id: this.id })
    }
  }
}

/** The module's sandbox, evaluating the module first if needed (`run`: for which run; -1: none). */
async function sandboxOf(mod: Module, run: number): Promise<Sandbox> {
  mod.sandbox ??= Sandbox.create(mod, run)
  try {
    return await mod.sandbox
  } catch (e) {
    // A module whose top level fails is evaluated anew next time, as before.
    mod.sandbox = null
    throw e
  }
}

async function start(m: Extract<ToEngine, { t: 'run' }>): Promise<void> {
  const run = new Run(m.id, m.name, m.req, null)
  runs.set(m.id, run)
  const mod = modules.get(m.module)
  try {
    if (mod === undefined) throw new ModuleError('the module is not loaded')
    run.sandbox = await sandboxOf(mod, run.id)
  } catch (e) {
    run.fail(e instanceof ModuleError ? e.message : String(e))
    run.check()
    return flush()
  }
  run.sandbox.call(run, m.fn)
  run.check()
  flush()
}

function settle(m: Extract<ToEngine, { t: 'settle' }>): void {
  const run = runs.get(m.id)
  if (run === undefined) return
  run.pending--
  if (run.sandbox !== null && !run.sandbox.dead) run.sandbox.settle(run, m.call, m.status, m.body)
  run.check()
  flush()
}

port.on('message', (m: ToEngine) => {
  try {
    switch (m.t) {
      case 'module': {
        const mod = new Module(m.module)
        modules.set(m.module.id, mod)
        // A module whose top level fails is reported by its first run, with the request's context.
        if (m.evaluate) sandboxOf(mod, -1).catch(() => {})
        return
      }
      case 'drop': {
        const mod = modules.get(m.module)
        modules.delete(m.module)
        // Runs still in it finish; the instance goes once nothing holds it.
        if (mod !== undefined) mod.sandbox = null
        return
      }
      case 'run':
        void start(m).catch(fatal)
        return
      case 'settle':
        return settle(m)
    }
  } catch (e) {
    fatal(e)
  }
})

/** Something failed outside module code (the engine itself): the thread ends, the main thread starts a new one. */
function fatal(e: unknown): void {
  flush()
  throw e
}

/**
 * Lua 5.4 content handlers (`content_by_lua`, `content_by_lua_block`, `content_by_lua_file`) on the wasmoon VM
 * (Lua compiled to WebAssembly), one VM per worker process, created on first use.
 *
 * Each request runs in its own Lua coroutine. The bridge between Lua and the worker is a set of C functions written
 * in JS on the VM's raw C API, so strings cross as bytes (wasmoon's own conversions are UTF-8 and would change
 * group names and bodies that are not). Calls that wait — `dyups.update`/`delete`/`get`, `ngx.sleep` — yield the
 * coroutine; the run loop here awaits the store and resumes it with the answer, so they look synchronous to Lua, as
 * in Tengine, and the event loop keeps serving other requests meanwhile.
 *
 * A Lua count hook runs every {@link HOOK_EVERY} instructions. Every {@link SLICE_INSTRUCTIONS} it yields the
 * request's coroutine so the worker serves other requests between slices of a long computation; past
 * {@link MAX_INSTRUCTIONS} in all, or after {@link MAX_SLICE_MS} without a pause (code that cannot yield: a nested
 * coroutine, a C callback), the run is cut (yielded away from, or failed with an error where it cannot yield) and
 * answered with 500. Errors are 500 too, logged with the chunk's file:line; a
 * JS exception that escapes the VM replaces the VM for the next request. Nothing reaches the worker's process.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { Pos } from '../../../errors.js'
import { formatError } from '../../../errors.js'
import { log } from '../../../log.js'
import type { Responder, Services } from '../../lib/context.js'
import type { Request } from '../../lib/request.js'
import { PRELUDE } from './lua-prelude.js'
import {
  bodyText, dyupsCall, headerPairs, levelOf, logContext, parseArgs, ScriptResponse, variable, type DyupsAnswer, type DyupsOp,
} from './ngx-api.js'

/** Instructions between two budget checks (the count hook's period). */
export const HOOK_EVERY = 1000
/** VM instructions one handler run may execute, all slices together (≈ 0.6 s of Lua on this machine's cores). */
export const MAX_INSTRUCTIONS = 30_000_000
/** Instructions between two pauses of a long run (≈ 10 ms): the event loop gets a turn in between. */
export const SLICE_INSTRUCTIONS = 500_000
/** How long Lua may hold the event loop in one go. */
export const MAX_SLICE_MS = 1000
/** Memory of the whole VM (every request's data together); an allocation past it fails with "not enough memory". */
export const MEMORY_MAX = 128 * 1024 * 1024

const LUA_OK = 0
const LUA_YIELD = 1
const LUA_REGISTRYINDEX = -1001000
const LUA_MASKCOUNT = 8
const T_NUMBER = 3
const T_STRING = 4
const TYPE_NAMES = ['nil', 'boolean', 'userdata', 'number', 'string', 'table', 'function', 'userdata', 'thread']

/** A handler as configured; compiled into the worker's VM on first use. */
export class LuaScript {
  /** The VM the compiled chunk lives in, and its registry reference there. */
  vm: LuaVm | null = null
  ref = 0

  constructor(
    /** Inline code (latin1), or null for a file. */
    readonly source: string | null,
    /** `content_by_lua_file`'s path, resolved against the prefix; read and compiled on first use. */
    readonly file: string | null,
    /** The file Lua names in errors: the configuration file of inline code, or the Lua file. */
    readonly chunkFile: string,
    /** The line of the configuration file on which the inline code starts (1 for a file). */
    readonly firstLine: number,
    /** Whether the configuration has a dyups_interface (else dyups calls answer 405 `API disabled\n`). */
    readonly api: boolean,
    readonly at: Pos,
  ) {}
}

/** The few entry points of the Emscripten module used here (raw C functions: pointers and numbers only). */
interface Raw {
  HEAPU8: Uint8Array
  HEAPU32: Uint32Array
  _malloc(n: number): number
  _free(p: number): void
  addFunction(f: (...args: number[]) => number | void, sig: string): number
  _lua_gettop(L: number): number
  _lua_settop(L: number, idx: number): void
  _lua_type(L: number, idx: number): number
  _lua_tolstring(L: number, idx: number, len: number): number
  _lua_tonumberx(L: number, idx: number, isnum: number): number
  _lua_toboolean(L: number, idx: number): number
  _lua_pushlstring(L: number, s: number, n: number): number
  _lua_pushnumber(L: number, n: number): void
  _lua_pushinteger(L: number, n: bigint): void
  _lua_pushnil(L: number): void
  _lua_pushboolean(L: number, b: number): void
  _lua_pushvalue(L: number, idx: number): void
  _lua_pushcclosure(L: number, f: number, n: number): void
  _lua_createtable(L: number, narr: number, nrec: number): void
  _lua_rawseti(L: number, idx: number, n: bigint): void
  _lua_setfield(L: number, idx: number, k: number): void
  _lua_rawgeti(L: number, idx: number, n: bigint): number
  _lua_newthread(L: number): number
  _luaL_ref(L: number, t: number): number
  _luaL_unref(L: number, t: number, ref: number): void
  _luaL_loadbufferx(L: number, buf: number, size: number, name: number, mode: number): number
  _lua_pcallk(L: number, nargs: number, nres: number, errfunc: number, ctx: number, k: number): number
  _lua_resume(L: number, from: number, nargs: number, nres: number): number
  _lua_yieldk(L: number, n: number, ctx: number, k: number): number
  _lua_sethook(L: number, f: number, mask: number, count: number): void
  _lua_isyieldable(L: number): number
  _lua_error(L: number): number
  _luaL_where(L: number, level: number): void
  _lua_concat(L: number, n: number): void
}

interface WasmoonEngine {
  global: { address: number; lua: { module: Raw }; setMemoryMax(max: number | undefined): void }
}

/** One request's run: its coroutine, its response, what it waits for. */
class LuaRun {
  thread = 0
  threadRef = 0
  ticks = 0
  sliceStart = 0
  sliceTicks = 0
  /** The hook paused the run to let the event loop in. */
  preempted = false
  /** Why the run was cut ('' while it was not). */
  killed = ''
  /** ngx.exit's status, -1 until called. */
  exitStatus = -1
  /** What the coroutine yielded for; its answer, pushed on resumption. */
  wait: Promise<void> | null = null
  answer: DyupsAnswer | null = null
  readonly resp = new ScriptResponse()

  constructor(
    readonly w: Services,
    readonly c: Responder,
    readonly req: Request,
    readonly script: LuaScript,
  ) {}
}

/** A bridge function's outcome: a result count, an error message, or "yield the coroutine". */
type Outcome = number | string | typeof YIELD
const YIELD = Symbol('yield')

let vmPromise: Promise<LuaVm> | null = null

/** The worker's VM, created on first use (≈ 60 ms, once). */
export function luaVm(): Promise<LuaVm> {
  if (vmPromise === null) {
    vmPromise = LuaVm.create()
    vmPromise.catch(() => (vmPromise = null))
  }
  return vmPromise
}

/**
 * Runs a Lua content handler for `req` and answers on `c`. Never throws: every failure is a 500 and a log line.
 */
export async function runLua(w: Services, c: Responder, req: Request, script: LuaScript): Promise<void> {
  const run = new LuaRun(w, c, req, script)
  let vm: LuaVm | null = null
  try {
    vm = await luaVm()
    await vm.run(run)
  } catch (e) {
    log('alert', `lua handler failed: ${formatError(e)}${logContext(req)}`)
    // A JS exception that crossed the VM may have left it half-way through a call: the next request gets a new one.
    if (vm !== null && vmPromise !== null) vmPromise = null
    run.resp.fail(c, 500)
  }
}

export class LuaVm {
  private readonly m: Raw
  private readonly L: number
  /** Scratch int slots for lengths and result counts. */
  private readonly lenPtr: number
  private readonly nresPtr: number
  private readonly runner: number
  private readonly hook: number
  private current: LuaRun | null = null
  /** Instructions run outside any request (finalizers run by a collection during a compile), since the last one. */
  private idleTicks = 0

  private constructor(engine: WasmoonEngine) {
    this.m = engine.global.lua.module
    this.L = engine.global.address
    engine.global.setMemoryMax(MEMORY_MAX)
    this.lenPtr = this.m._malloc(8)
    this.nresPtr = this.lenPtr + 4
    this.hook = this.m.addFunction((L: number) => this.onHook(L), 'vii')
    this.runner = this.loadPrelude()
    // The main state runs Lua only for the prelude and for finalizers a collection calls while it compiles a chunk;
    // those get the same budget, outside any request.
    this.m._lua_sethook(this.L, this.hook, LUA_MASKCOUNT, HOOK_EVERY)
  }

  static async create(): Promise<LuaVm> {
    // Loaded here, not at import: workers that never run Lua never load the VM.
    const wasmoon = createRequire(import.meta.url)('wasmoon') as { LuaFactory: new () => { createEngine(o: object): Promise<WasmoonEngine> } }
    const engine = await new wasmoon.LuaFactory().createEngine({
      openStandardLibs: true,
      injectObjects: false,
      enableProxy: false,
      traceAllocations: true,
    })
    return new LuaVm(engine)
  }

  // ---- strings across the boundary, as bytes ----

  private cstr(s: string): number {
    const p = this.m._malloc(s.length + 1)
    const heap = this.m.HEAPU8
    Buffer.from(heap.buffer, heap.byteOffset + p, s.length).write(s, 'latin1')
    heap[p + s.length] = 0
    return p
  }

  private push(L: number, s: string): void {
    const m = this.m
    if (s.length === 0) {
      m._lua_pushlstring(L, 0, 0)
      return
    }
    const p = m._malloc(s.length)
    const heap = m.HEAPU8
    Buffer.from(heap.buffer, heap.byteOffset + p, s.length).write(s, 'latin1')
    m._lua_pushlstring(L, p, s.length)
    m._free(p)
  }

  /** The string (or number, as Lua converts it) at `idx`, or null for any other type. */
  private str(L: number, idx: number): string | null {
    const m = this.m
    const t = m._lua_type(L, idx)
    if (t !== T_STRING && t !== T_NUMBER) return null
    const p = m._lua_tolstring(L, idx, this.lenPtr)
    return this.bytes(p, m.HEAPU32[this.lenPtr >> 2]!)
  }

  private bytes(p: number, n: number): string {
    const heap = this.m.HEAPU8
    return n === 0 ? '' : Buffer.from(heap.buffer, heap.byteOffset + p, n).toString('latin1')
  }

  /**
   * An error value as text. No metamethod runs (an error object's __tostring would run outside any budget, on a
   * coroutine that already failed): strings and numbers as they are, anything else by its type, as OpenResty does.
   */
  private errorText(L: number, idx: number): string {
    return this.str(L, idx) ?? `(error object is a ${this.typeName(L, idx)} value)`
  }

  private pushArray(L: number, items: ReadonlyArray<string | true>): void {
    const m = this.m
    m._lua_createtable(L, items.length, 0)
    for (let i = 0; i < items.length; i++) {
      const v = items[i]!
      if (v === true) m._lua_pushboolean(L, 1)
      else this.push(L, v)
      m._lua_rawseti(L, -2, BigInt(i + 1))
    }
  }

  // ---- the bridge ----

  private loadPrelude(): number {
    const m = this.m, L = this.L
    m._lua_createtable(L, 0, 32)
    for (const [name, fn] of Object.entries(this.bridge())) {
      const ptr = m.addFunction((Ls: number) => this.call(Ls, fn), 'ii')
      m._lua_pushcclosure(L, ptr, 0)
      m._lua_setfield(L, -2, this.cstr(name))
    }
    const err = this.load(L, PRELUDE, '=dyups prelude')
    if (err !== null) throw new Error(`the Lua prelude does not compile: ${err}`)
    m._lua_pushvalue(L, -2)
    if (m._lua_pcallk(L, 1, 1, 0, 0, 0) !== LUA_OK) throw new Error(`the Lua prelude failed: ${this.errorText(L, -1)}`)
    const runner = m._luaL_ref(L, LUA_REGISTRYINDEX)
    m._lua_settop(L, 0)
    return runner
  }

  /**
   * Calls a bridge function. Lua errors and yields unwind the JS stack (they are longjmps), so they happen here,
   * after the function returned, never inside the try.
   */
  private call(L: number, fn: (L: number, r: LuaRun) => Outcome): number {
    let out: Outcome
    try {
      const r = this.current
      out = r === null ? 'the ngx API is not available outside a request' : fn(L, r)
    } catch (e) {
      out = `internal error: ${e instanceof Error ? e.message : String(e)}`
    }
    if (out === YIELD) return this.m._lua_yieldk(L, 0, 0, 0)
    if (typeof out === 'string') {
      this.m._luaL_where(L, 1)
      this.push(L, out)
      this.m._lua_concat(L, 2)
      return this.m._lua_error(L)
    }
    return out
  }

  /** Whether the calling coroutine is the request's own and may yield to the run loop. */
  private canWait(L: number, r: LuaRun): boolean {
    return L === r.thread && this.m._lua_isyieldable(L) !== 0
  }

  private typeName(L: number, idx: number): string {
    const t = this.m._lua_type(L, idx)
    return t < 0 ? 'no value' : (TYPE_NAMES[t] ?? 'userdata')
  }

  private bridge(): Record<string, (L: number, r: LuaRun) => Outcome> {
    const m = this.m
    const num = (L: number, idx: number): number | null => (m._lua_type(L, idx) === T_NUMBER ? m._lua_tonumberx(L, idx, 0) : null)
    const pushOrNil = (L: number, s: string | null | undefined): number => {
      if (s === null || s === undefined) m._lua_pushnil(L)
      else this.push(L, s)
      return 1
    }
    const dyups = (op: DyupsOp, argc: number) => (L: number, r: LuaRun): Outcome => {
      if (m._lua_gettop(L) !== argc) return argc === 1 ? 'exactly 1 argument expected' : `exactly ${argc} arguments expected`
      const name = this.str(L, 1)
      if (name === null) return `bad argument #1 to '${op}' (string expected, got ${this.typeName(L, 1)})`
      const body = argc === 2 ? this.str(L, 2) : ''
      if (body === null) return `bad argument #2 to '${op}' (string expected, got ${this.typeName(L, 2)})`
      if (!this.canWait(L, r)) return `dyups.${op} must be called from the handler itself, not inside a coroutine or a callback`
      r.wait = dyupsCall(r.w, r.script.api, op, name, body, r.req).then((a) => {
        r.answer = a
      })
      return YIELD
    }
    return {
      out: (L, r) => {
        r.resp.write(this.str(L, 1) ?? '')
        return 0
      },
      eof: (L, r) => {
        if (!r.resp.sent) r.resp.send(r.c)
        m._lua_pushinteger(L, 1n)
        return 1
      },
      exit: (L, r) => {
        const status = num(L, 1)
        if (status === null) return `bad argument #1 to 'exit' (number expected, got ${this.typeName(L, 1)})`
        // ngx.ERROR and the other negative codes end the request as an internal error.
        r.exitStatus = status < 0 ? 500 : Math.trunc(status)
        // Outside the request's own coroutine ngx.exit unwinds with an error; the run loop knows it by exitStatus.
        return this.canWait(L, r) ? YIELD : 'ngx.exit'
      },
      status: (L, r) => {
        m._lua_pushinteger(L, BigInt(r.resp.status))
        return 1
      },
      setstatus: (L, r) => {
        const s = num(L, 1)
        if (s === null) return `attempt to set ngx.status to a ${this.typeName(L, 1)}`
        r.resp.status = Math.max(0, Math.trunc(s))
        return 0
      },
      var: (L, r) => {
        const t = m._lua_type(L, 1)
        const key = t === T_NUMBER ? m._lua_tonumberx(L, 1, 0) : this.str(L, 1)
        return pushOrNil(L, key === null ? null : variable(r.w, r.req, key))
      },
      method: (L, r) => pushOrNil(L, r.req.method),
      httpver: (L, r) => {
        m._lua_pushnumber(L, r.req.http2 !== '' ? 2.0 : r.req.versionMinor === 0 ? 1.0 : 1.1)
        return 1
      },
      start: (L, r) => {
        m._lua_pushnumber(L, r.req.startMsec / 1000)
        return 1
      },
      body: (L, r) => {
        const b = bodyText(r.req)
        return pushOrNil(L, b === null || b.length === 0 ? null : b)
      },
      args: (L, r) => {
        const flat: Array<string | true> = []
        for (const [k, v] of parseArgs(r.req.args, num(L, 1) ?? 100)) flat.push(k, v)
        this.pushArray(L, flat)
        return 1
      },
      headers: (L, r) => {
        const flat: string[] = []
        for (const [k, v] of headerPairs(r.req, num(L, 1) ?? 100)) flat.push(k, v)
        this.pushArray(L, flat)
        return 1
      },
      getheader: (L, r) => {
        const values = r.resp.getHeader(this.str(L, 1) ?? '')
        if (values.length <= 1) return pushOrNil(L, values[0])
        this.pushArray(L, values)
        return 1
      },
      setheader: (L, r) => {
        const name = this.str(L, 1) ?? ''
        const values: string[] = []
        for (let i = 2, n = m._lua_gettop(L); i <= n; i++) values.push(this.str(L, i) ?? '')
        return r.resp.setHeader(name, values) ? 0 : `invalid header name "${name}"`
      },
      log: (L, r) => {
        const level = levelOf(num(L, 1) ?? -1)
        if (level === null) return `bad log level: ${this.str(L, 1) ?? this.typeName(L, 1)}`
        log(level, `[lua] ${this.str(L, 2) ?? ''}${logContext(r.req)}`)
        return 0
      },
      now: (L) => {
        m._lua_pushnumber(L, Date.now() / 1000)
        return 1
      },
      pid: (L) => {
        m._lua_pushinteger(L, BigInt(process.pid))
        return 1
      },
      sleep: (L, r) => {
        const s = num(L, 1)
        if (s === null || !(s >= 0)) return `bad argument #1 to 'sleep' (non-negative number expected)`
        if (!this.canWait(L, r)) return 'ngx.sleep must be called from the handler itself, not inside a coroutine or a callback'
        r.wait = new Promise((res) => setTimeout(res, s * 1000))
        return YIELD
      },
      thread: (L, r) => {
        m._lua_rawgeti(L, LUA_REGISTRYINDEX, BigInt(r.threadRef))
        return 1
      },
      update: dyups('update', 2),
      delete: dyups('delete', 1),
      get: dyups('get', 1),
    }
  }

  /** The count hook: charges the running request; past its budget, leaves the coroutine (or fails the call). */
  private onHook(L: number): void {
    const r = this.current
    const m = this.m
    if (r === null) {
      if (++this.idleTicks * HOOK_EVERY <= MAX_INSTRUCTIONS) return
      this.push(L, 'instruction budget exceeded outside a request')
      m._lua_error(L)
      return
    }
    const ticks = ++r.ticks
    if (ticks * HOOK_EVERY <= MAX_INSTRUCTIONS && ((ticks & 63) !== 0 || Date.now() - r.sliceStart <= MAX_SLICE_MS)) {
      if ((ticks - r.sliceTicks) * HOOK_EVERY >= SLICE_INSTRUCTIONS && this.canWait(L, r)) {
        r.preempted = true
        m._lua_yieldk(L, 0, 0, 0)
      }
      return
    }
    if (r.killed === '') {
      m._luaL_where(L, 0)
      const where = this.str(L, -1) ?? ''
      m._lua_settop(L, -2)
      r.killed = ticks * HOOK_EVERY > MAX_INSTRUCTIONS
        ? `${where}instruction budget exceeded (${MAX_INSTRUCTIONS} instructions)`
        : `${where}time budget exceeded (${MAX_SLICE_MS} ms without a pause)`
    }
    // A yield from the hook cannot be caught by pcall: the run loop drops the coroutine. Elsewhere (a nested
    // coroutine, a C callback) an error, until control is back in the request's coroutine.
    if (this.canWait(L, r)) {
      m._lua_yieldk(L, 0, 0, 0)
      return
    }
    this.push(L, r.killed)
    m._lua_error(L)
  }

  // ---- compiling and running ----

  /** Compiles `code` under `name` and leaves the function on the stack; returns the error message instead. */
  private load(L: number, code: string, name: string): string | null {
    const m = this.m
    const buf = m._malloc(code.length + 1)
    const heap = m.HEAPU8
    Buffer.from(heap.buffer, heap.byteOffset + buf, code.length).write(code, 'latin1')
    const cname = this.cstr(name)
    const st = m._luaL_loadbufferx(L, buf, code.length, cname, 0)
    m._free(buf)
    m._free(cname)
    if (st === LUA_OK) return null
    const msg = this.errorText(L, -1)
    m._lua_settop(L, -2)
    return msg
  }

  /** The registry reference of the script's compiled chunk, or the reason it has none. */
  private chunk(s: LuaScript): number | string {
    if (s.vm === this) return s.ref
    this.idleTicks = 0
    let code: string
    if (s.file !== null) {
      try {
        code = readFileSync(s.file, 'latin1')
      } catch (e) {
        const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : formatError(e)
        return `failed to load external Lua file "${s.file}": cannot open ${s.file}: ${why}`
      }
    } else {
      code = s.source!
    }
    // The environment is the chunk's first local, on its first line: Lua's line numbers stay the file's.
    const text = 'local _ENV = ...; ' + '\n'.repeat(Math.max(0, s.firstLine - 1)) + code
    const err = this.load(this.L, text, '@' + s.chunkFile)
    if (err !== null) return `failed to load ${s.file !== null ? 'external Lua file' : 'inlined Lua code'}: ${err}`
    s.ref = this.m._luaL_ref(this.L, LUA_REGISTRYINDEX)
    s.vm = this
    return s.ref
  }

  /** Runs one request to its answer. */
  async run(r: LuaRun): Promise<void> {
    const m = this.m, L = this.L
    const chunk = this.chunk(r.script)
    if (typeof chunk === 'string') {
      log('error', `${chunk}${logContext(r.req)}`)
      return r.resp.fail(r.c, 500)
    }
    const T = m._lua_newthread(L)
    r.thread = T
    r.threadRef = m._luaL_ref(L, LUA_REGISTRYINDEX)
    try {
      m._lua_sethook(T, this.hook, LUA_MASKCOUNT, HOOK_EVERY)
      m._lua_rawgeti(T, LUA_REGISTRYINDEX, BigInt(this.runner))
      m._lua_rawgeti(T, LUA_REGISTRYINDEX, BigInt(chunk))
      let nargs = 1
      for (;;) {
        this.current = r
        r.sliceStart = Date.now()
        r.sliceTicks = r.ticks
        const st = m._lua_resume(T, 0, nargs, this.nresPtr)
        this.current = null
        nargs = 0
        if (st === LUA_YIELD) {
          m._lua_settop(T, -(m.HEAPU32[this.nresPtr >> 2]! + 1))
          if (r.killed !== '') return this.abort(r, r.killed)
          if (r.exitStatus >= 0) return r.resp.exit(r.c, r.exitStatus)
          if (r.preempted) {
            r.preempted = false
            await new Promise<void>((res) => setImmediate(res))
          } else if (r.wait !== null) {
            const wait = r.wait
            r.wait = null
            await wait
            const a = r.answer
            if (a !== null) {
              r.answer = null
              m._lua_pushinteger(T, BigInt(a.status))
              this.push(T, a.body)
              nargs = 2
            }
          } else {
            // A bare coroutine.yield() in the handler: the event loop gets a turn, then the handler goes on.
            await new Promise<void>((res) => setImmediate(res))
          }
          continue
        }
        if (r.exitStatus >= 0) return r.resp.exit(r.c, r.exitStatus)
        if (st === LUA_OK) return r.resp.send(r.c)
        return this.abort(r, r.killed !== '' ? r.killed : this.errorText(T, -1))
      }
    } finally {
      this.current = null
      // Dropped, not cleared: emptying a suspended coroutine's stack would run its to-be-closed variables' code.
      m._luaL_unref(L, LUA_REGISTRYINDEX, r.threadRef)
    }
  }

  private abort(r: LuaRun, why: string): void {
    log('error', `lua entry thread aborted: runtime error: ${why}${logContext(r.req)}`)
    r.resp.fail(r.c, 500)
  }
}

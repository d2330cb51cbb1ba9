/**
 * What a worker's main thread and its JavaScript engine thread (js-engine.ts) tell each other, and the limits the
 * engine applies. Messages are structured-cloned; strings are byte strings (latin1) as everywhere in dyups.
 */
import type { Level } from '../../../log.js'

/** How long one stretch of module code (a handler's synchronous part, a continuation) may run. */
export const JS_TIMEOUT_MS = 1000

/** The heap of one module's sandbox; an allocation past it fails with `out of memory`. */
export const JS_MEMORY_BYTES = 64 * 1024 * 1024

/** The sandbox's stack (deep recursion fails with `RangeError: stack overflow`, not a crash). */
export const JS_STACK_BYTES = 512 * 1024

/** The largest request body a handler may read (`r.requestText`): half a sandbox's heap. */
export const JS_BODY_MAX_BYTES = JS_MEMORY_BYTES / 2

/** How long a handler waits for the main thread to read a variable for it (`r.variables.NAME`). */
export const JS_VARIABLE_WAIT_MS = 1000

/** What a handler sees of its request: copied to the engine thread with the run. */
export interface JsRequestData {
  method: string
  uri: string
  httpVersion: string
  remoteAddress: string
  requestLine: string
  args: string
  /** Header names and values, alternating, as received. */
  headers: string[]
  /** The body's bytes (a copy, transferred), or null without one. */
  body: Uint8Array | null
}

export interface JsModuleSource {
  id: number
  name: string
  file: string
  /** The module's code, rewritten for a script (js.ts's transformModule). */
  code: string
}

/** Main thread → engine. */
export type ToEngine =
  /** `evaluate`: evaluate it now (a worker starting), not on its first run. */
  | { t: 'module'; module: JsModuleSource; evaluate: boolean }
  | { t: 'drop'; module: number }
  | { t: 'run'; id: number; module: number; fn: string; name: string; req: JsRequestData }
  | { t: 'settle'; id: number; call: number; status: number; body: string }

/** Engine → main thread, in batches (an array per turn of the engine). */
export type FromEngine =
  /** `text` goes to the error log; with the request's context when `id` is one of a run still open. */
  | { t: 'log'; level: Level; text: string; id: number }
  /** The response: `send` is sendLocal, `fail` is finishLocal. */
  | { t: 'end'; id: number; how: 'send'; status: number; body: string | null; headers: [string, string][] | null; contentType: string | undefined }
  | { t: 'end'; id: number; how: 'fail'; status: number }
  | { t: 'dyups'; id: number; call: number; op: 'update' | 'delete' | 'get'; name: string; body: string }
  /** The run is over: nothing more will come for it. */
  | { t: 'close'; id: number }

/** A variable read: engine → main on the sync port, then main → engine, with the shared flag raised. */
export interface VarAsk {
  seq: number
  id: number
  name: string
}
export interface VarAnswer {
  seq: number
  value: string | undefined
}

/**
 * How long the engine may stay in one stretch of code before the main thread ends it: the deadline is checked
 * between instructions, so a long native call inside QuickJS (a `fill` of a million-element sparse array) can
 * outlive it; past this the thread is terminated (its runs answered 500) and a new one started.
 */
export const JS_HARD_LIMIT_MS = JS_TIMEOUT_MS + 1000

/** Slots of the shared Int32Array. */
export const SLOT_VAR = 0
/** When the engine entered module code, in ms since EngineData.base (0: not in module code). */
export const SLOT_BUSY = 1
/** The run it entered module code for. */
export const SLOT_RUN = 2

/** What the engine thread is started with. */
export interface EngineData {
  /**
   * An Int32Array of 3 over it: [SLOT_VAR] is raised (1) by the main thread when a variable's answer was posted;
   * [SLOT_BUSY] and [SLOT_RUN] are the engine's, for the main thread's watchdog.
   */
  flag: SharedArrayBuffer
  /** Date.now() when the thread was started. */
  base: number
  port: import('node:worker_threads').MessagePort
}

/**
 * QuickJS's commonest errors, logged in V8's words (as dyups logged them before it ran handlers in QuickJS, and as
 * Node does): `cannot read property 'x' of undefined` → `Cannot read properties of undefined (reading 'x')`,
 * `'x' is not defined` → `x is not defined`.
 */
export function v8Wording(why: string): string {
  return why
    .replace(/^TypeError: cannot (read|set) property '([^']*)' of (undefined|null)/, (_all, op: string, key: string, what: string) =>
      `TypeError: Cannot ${op} properties of ${what} (${op === 'read' ? 'reading' : 'setting'} '${key}')`,
    )
    .replace(/^ReferenceError: '([^']*)' is not defined/, 'ReferenceError: $1 is not defined')
}

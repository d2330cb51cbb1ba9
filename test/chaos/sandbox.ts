/**
 * Ways out of the JavaScript sandbox that test/script-js-sandbox.test.ts does not try: the other function
 * constructors (generator, async generator, through Reflect, call, bind, a host method, a function's prototype),
 * indirect eval, QuickJS's own `std` and `os` modules and globals, V8's stack-trace hooks, Atomics and huge
 * SharedArrayBuffers, proxies set as prototypes, a thenable planted on Object.prototype, and a loop left running
 * after the answer. Each runs in a handler that answers 200 with what the attempt reached, or 299 with what it threw;
 * none may reach the worker (`process`, `require`, a file, a module of the host) or stop it from answering.
 */
import assert from 'node:assert/strict'
import { childPids, request, startInterface } from '../helpers.js'
import { asTest, type Scope } from './scope.js'

interface Escape {
  name: string
  /** The attempt: a function of the request object, returning what it reached (null: it answered itself). */
  code: string
  /** [status, body] the handler answers: 299 carries what the attempt threw. */
  want: [number, string | RegExp]
}

const NOT_DEFINED = "ReferenceError: 'process' is not defined"

export const ESCAPES: readonly Escape[] = [
  { name: 'generator function constructor', code: `(r) => typeof (function* () {}).constructor('return process')().next().value`, want: [299, NOT_DEFINED] },
  { name: 'async generator function constructor', code: `async (r) => typeof (await (async function* () {}).constructor('return process')().next()).value`, want: [299, NOT_DEFINED] },
  { name: 'Reflect.construct(Function)', code: `(r) => typeof Reflect.construct(Function, ['return process'])()`, want: [299, NOT_DEFINED] },
  { name: 'Function.prototype.call.call(Function)', code: `(r) => typeof Function.prototype.call.call(Function, null, 'return process')()`, want: [299, NOT_DEFINED] },
  { name: 'Function.prototype.bind.call(Function)', code: `(r) => typeof Function.prototype.bind.call(Function, null, 'return process')()()`, want: [299, NOT_DEFINED] },
  { name: 'a host method\'s constructor (r.return.constructor)', code: `(r) => typeof r.return.constructor('return process')()`, want: [299, NOT_DEFINED] },
  { name: 'the constructor of Function.prototype', code: `(r) => typeof Object.getPrototypeOf(function () {}).constructor('return process')()`, want: [299, NOT_DEFINED] },
  { name: 'r.args and r.headersIn have no prototype to climb', code: `(r) => [r.args.constructor, r.headersIn.constructor].map(String).join(' ')`, want: [200, 'undefined undefined'] },
  { name: 'indirect eval finds the sandbox\'s global', code: `(r) => { const g = (0, eval)('this'); return [g === globalThis, typeof g.process, typeof g.require].join(' ') }`, want: [200, 'true undefined undefined'] },
  { name: 'a sloppy function\'s caller', code: `(r) => String(Function('return (function g() { return typeof g.caller })()')())`, want: [200, 'undefined'] },
  { name: 'import(\'std\') (quickjs-libc)', code: `async (r) => typeof (await import('std'))`, want: [299, "ReferenceError: could not load module 'std'"] },
  { name: 'import(\'os\') (quickjs-libc: exec, open)', code: `async (r) => typeof (await import('os'))`, want: [299, "ReferenceError: could not load module 'os'"] },
  { name: 'quickjs-libc and host globals', code: `(r) => [typeof std, typeof os, typeof scriptArgs, typeof print, typeof setTimeout, typeof queueMicrotask].join(' ')`, want: [200, 'undefined undefined undefined undefined undefined undefined'] },
  { name: 'Error.captureStackTrace and prepareStackTrace (V8 only)', code: `(r) => [typeof Error.captureStackTrace, typeof Error.prepareStackTrace].join(' ')`, want: [200, 'undefined undefined'] },
  { name: 'Atomics (Atomics.wait could block the engine thread)', code: `(r) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)`, want: [299, "ReferenceError: 'Atomics' is not defined"] },
  { name: 'a 2 GiB SharedArrayBuffer', code: `(r) => String(new SharedArrayBuffer(2 ** 31).byteLength)`, want: [299, 'RangeError: invalid array buffer length'] },
  { name: 'a Proxy as the prototype of Object.prototype', code: `(r) => { Object.setPrototypeOf(Object.prototype, new Proxy({}, { get: () => 'x' })); return 'set' }`, want: [299, 'TypeError: prototype is immutable'] },
  // The request object is the module's own: a Proxy under it only breaks this handler (it never answers: 500).
  { name: 'a Proxy as the prototype of the request object', code: `(r) => { Object.setPrototypeOf(r, new Proxy({}, { get: () => () => 'x' })); return 'set' }`, want: [500, /500 Internal Server Error/] },
  { name: 'a throwing Proxy as the prototype of Array.prototype', code: `(r) => { Object.setPrototypeOf(Array.prototype, new Proxy({}, { get: (t, k) => { throw new Error('trap ' + String(k)) } })); r.return(200, 'still answers'); return null }`, want: [200, 'still answers'] },
  { name: 'a thenable planted on Object.prototype', code: `(r) => { Object.defineProperty(Object.prototype, 'then', { get() { return (ok) => ok('hijacked') }, configurable: true }); return 'planted' }`, want: [200, 'planted'] },
  { name: 'a loop left running after the answer', code: `(r) => { r.return(200, 'answered'); Promise.resolve().then(() => { for (;;) {} }); return null }`, want: [200, 'answered'] },
]

const module = (): string => `const ESCAPES = {
${ESCAPES.map((e, i) => `  e${i}: ${e.code},`).join('\n')}
}
async function esc(r) {
  let v
  try {
    v = await ESCAPES[r.args.n](r)
  } catch (e) {
    return r.return(299, String(e))
  }
  if (v !== null) r.return(200, String(v))
}
function hi(r) { r.return(200, 'hi') }
export default { esc, hi }
`

/** Another module: what the first one did to its own prototypes must not show here. */
const OTHER = `function clean(r) { r.return(200, [typeof ({}).then, [1, 2].map((x) => x * 2).join(','), typeof Object.getPrototypeOf(Array.prototype).then].join(' ')) }
export default { clean }
`

export interface SandboxReport {
  tried: number
  blocked: string[]
}

/**
 * Runs every escape in one worker, in order (the pollution ones last), each followed by a request that the worker
 * must answer; then checks that another module is clean and that the worker is the one it started with.
 */
export async function sandboxEscapes(s: Scope): Promise<SandboxReport> {
  const st = await startInterface(asTest(s), {
    workers: 1,
    http: '    js_import main.js;\n    js_import other.js;\n',
    server: '        location = /esc { js_content main.esc; }\n        location = /hi { js_content main.hi; }\n' +
      '        location = /clean { js_content other.clean; }\n',
    files: { 'conf/main.js': module(), 'conf/other.js': OTHER },
  })
  const workers = childPids(st.d.pid)
  const blocked: string[] = []
  for (let i = 0; i < ESCAPES.length; i++) {
    const e = ESCAPES[i]!
    const r = await request(st.proxy, { path: `/esc?n=e${i}` })
    const [status, body] = e.want
    assert.equal(r.status, status, `${e.name}: ${r.body.slice(0, 200)}`)
    if (typeof body === 'string') assert.equal(r.body, body, e.name)
    else assert.match(r.body, body, e.name)
    // The worker answers the next request, its own handlers too.
    assert.deepEqual([(await request(st.proxy, { path: '/pid' })).body, (await request(st.proxy, { path: '/hi' })).body], [String(workers[0]), 'hi'], `after ${e.name}`)
    blocked.push(e.name)
  }
  assert.deepEqual((await request(st.proxy, { path: '/clean' })).body, 'undefined 2,4 undefined', 'another module does not see the pollution')
  assert.deepEqual(childPids(st.d.pid), workers, 'the worker was never replaced')
  assert.doesNotMatch(st.d.errorLog(), /\[(alert|emerg|crit)\]/, 'nothing worse than an error was logged')
  s.diagnostic(`${blocked.length} sandbox escapes tried, each blocked or confined to the handler's own module`)
  return { tried: ESCAPES.length, blocked }
}

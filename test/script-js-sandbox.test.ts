/**
 * The JavaScript handlers' sandbox (docs/scripting.md, "The engine"): module code reaches nothing of the worker —
 * every known way out of node:vm fails inside the handler (a 500 and its error-log line) or finds the sandbox's
 * own harmless object; a runaway loop is cut after its budget while the same worker keeps answering other
 * connections; memory bombs are stopped with a 500 and the worker lives on.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { childPids, request, sleep, startInterface } from './helpers.js'

/** The names of a process's threads (the engine's is "dyups js"). */
function threadNames(pid: number): string[] {
  const names: string[] = []
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      names.push(readFileSync(`/proc/${pid}/task/${t}/comm`, 'latin1').trim())
    } catch {
      // The thread ended meanwhile.
    }
  }
  return names
}

const MODULE = `import dyups from 'dyups'
const topThis = this
let count = 0

// Each returns what it reached, or throws.
const ESCAPES = {
  ctor: (r) => typeof r.constructor.constructor('return process')(),
  thisCtor: (r) => typeof topThis.constructor.constructor('return process')(),
  fnThis: (r) => { const g = Function('return this')(); return [g === globalThis, typeof g.process, typeof g.require].join(' ') },
  global: (r) => [typeof globalThis.process, typeof globalThis.require, typeof globalThis.module].join(' '),
  require: (r) => typeof require('child_process'),
  dynImport: async (r) => typeof (await import('node:fs')),
  builtin: (r) => typeof process.getBuiltinModule('child_process').execSync('id'),
  evalProcess: (r) => eval('typeof process') + ' ' + new Function('return typeof process')(),
  proto: (r) => [typeof r.__proto__, Object.isFrozen(r.__proto__), r.__proto__.__proto__ === Object.prototype].join(' '),
  protoWrite: (r) => { r.__proto__.return = () => 'hijacked'; return 'written' },
  hostNames: (r) => [typeof host, typeof __dyupsExport, typeof WebAssembly, typeof SharedArrayBuffer === 'function'].join(' '),
  asyncCtor: async (r) => typeof (await (async function () {}).constructor('return process')()),
  errorStack: (r) => { Error.prepareStackTrace = (e, s) => s[0].getThis(); return typeof new Error('x').stack },
}

async function esc(r) {
  r.return(200, String(await ESCAPES[r.args.n](r)))
}

function pollute(r) {
  Object.prototype.polluted = 'yes'
  Object.prototype.status = 999
  r.__proto__.__proto__.headers = [['X-Polluted', '1']]
  Array.prototype.push = null
  String.prototype.toLowerCase = () => 'x'
  JSON.parse = () => { throw new Error('broken') }
  r.return(200, 'polluted')
}
function afterPollution(r) { r.return(200, [r.args.k, typeof ({}).polluted, r.headersIn['x-test']].join(' ')) }

function loop(r) { while (true) {} }
function bomb(r) { let a = []; for (;;) a.push(new Array(1e6)) }
function bombFilled(r) { let a = []; for (;;) a.push(new Array(1e6).fill(0)) }
function bombHuge(r) { new Array(1e9).fill(0) }
function bombString(r) { let s = 'x'; for (;;) s += s }
function recurse(r) { function f() { return f() + 1 } return f() }
function nested(r) { let o = []; for (let i = 0; i < 1e5; i++) o = [o]; r.return(200, JSON.stringify(o).length) }
function counter(r) { r.return(200, String(++count)) }
function hi(r) { r.return(200, 'hi') }

export default { esc, pollute, afterPollution, loop, bomb, bombFilled, bombHuge, bombString, recurse, nested, counter, hi }
`

const OTHER = `function clean(r) { r.return(200, [typeof ({}).polluted, typeof [].push, 'ABC'.toLowerCase()].join(' ')) }
export default { clean }
`

const FUNCTIONS = ['esc', 'pollute', 'afterPollution', 'loop', 'bomb', 'bombFilled', 'bombHuge', 'bombString', 'recurse', 'nested', 'counter', 'hi']

function start(t: import('node:test').TestContext) {
  return startInterface(t, {
    workers: 1,
    http: '    js_import main.js;\n    js_import other.js;\n',
    server: FUNCTIONS.map((f) => `        location = /${f} { js_content main.${f}; }\n`).join('') + '        location = /clean { js_content other.clean; }\n',
    files: { 'conf/main.js': MODULE, 'conf/other.js': OTHER },
  })
}

/** The error-log lines added since `before` (a length of the log). */
const since = (log: string, before: number): string => log.slice(before)

test('every known way out of node:vm fails or finds the sandbox, never the worker', async (t) => {
  const s = await start(t)
  const failing: [string, RegExp][] = [
    ['ctor', /js exception: ReferenceError: process is not defined/],
    ['thisCtor', /js exception: ReferenceError: process is not defined/],
    ['require', /js exception: ReferenceError: require is not defined at require \(.*main\.js:\d+:/],
    ['dynImport', /js exception: ReferenceError: could not load module 'node:fs'/],
    ['builtin', /js exception: ReferenceError: process is not defined at builtin \(/],
    ['protoWrite', /js exception: TypeError: 'return' is read-only at protoWrite \(/],
    ['asyncCtor', /js exception: ReferenceError: process is not defined/],
  ]
  for (const [n, want] of failing) {
    const before = s.d.errorLog().length
    const r = await request(s.proxy, { path: `/esc?n=${n}` })
    assert.equal(r.status, 500, `${n}: ${r.body}`)
    const added = since(s.d.errorLog(), before)
    assert.match(added, want, n)
    assert.match(added, new RegExp(`request: "GET /esc\\?n=${n} HTTP/1\\.1"`), n)
  }
  const harmless: [string, string][] = [
    ['fnThis', 'true undefined undefined'],
    ['global', 'undefined undefined undefined'],
    ['evalProcess', 'undefined undefined'],
    ['proto', 'object true true'],
    ['hostNames', 'undefined undefined undefined true'],
    // QuickJS has no V8 stack-trace API: the hook is an ordinary property, never called.
    ['errorStack', 'string'],
  ]
  for (const [n, want] of harmless) {
    const r = await request(s.proxy, { path: `/esc?n=${n}` })
    assert.deepEqual([r.status, r.body], [200, want], n)
  }
  // r.return was not replaced by the attempt on the frozen prototype.
  assert.deepEqual([(await request(s.proxy, { path: '/hi' })).body], ['hi'])
})

test('prototype pollution stays in the module that did it; the host and other modules never see it', async (t) => {
  const s = await start(t)
  const pid = (await request(s.proxy, { path: '/pid' })).body
  assert.deepEqual([(await request(s.proxy, { path: '/pollute' })).body], ['polluted'])
  // The polluting module's own requests still work: the request object does not use what it replaced.
  const after = await request(s.proxy, { path: '/afterPollution?k=v', headers: { 'X-Test': 't' } })
  assert.deepEqual([after.status, after.body, after.headers['x-polluted']], [200, 'v string t', undefined])
  // Another module's sandbox is clean, and the worker's own answers are unchanged.
  assert.deepEqual([(await request(s.proxy, { path: '/clean' })).body], ['undefined function abc'])
  const p = await request(s.proxy, { path: '/pid' })
  assert.deepEqual([p.status, p.body, p.headers['x-polluted']], [200, pid, undefined])
})

test('a runaway loop is cut after its budget, and the worker answers other connections meanwhile', async (t) => {
  const s = await start(t)
  const [worker] = childPids(s.d.pid)
  assert.deepEqual([(await request(s.proxy, { path: '/hi' })).body], ['hi'])
  const order: string[] = []
  const loop = request(s.proxy, { path: '/loop' }).then((r) => (order.push('loop'), r))
  await sleep(100)
  // One worker: these connections can only be answered by the worker whose engine runs the loop.
  const others = []
  for (let i = 0; i < 5; i++) {
    others.push(await request(s.proxy, { path: '/pid' }).then((r) => (order.push('pid'), r)))
  }
  const l = await loop
  assert.equal(l.status, 500)
  for (const r of others) assert.deepEqual([r.status, r.body], [200, String(worker)])
  assert.deepEqual(order, ['pid', 'pid', 'pid', 'pid', 'pid', 'loop'])
  assert.match(s.d.errorLog(), /js exception: the handler ran past its time budget \(1000 ms\), client: .* request: "GET \/loop HTTP\/1\.1"/)
  // The module keeps its state and its engine: the next handler runs at once.
  assert.deepEqual([(await request(s.proxy, { path: '/hi' })).body], ['hi'])
  assert.deepEqual(childPids(s.d.pid), [worker])
})

test('memory bombs and deep recursion are stopped with a 500; the worker lives and the module starts afresh', async (t) => {
  const s = await start(t)
  const workers = childPids(s.d.pid)
  assert.equal(workers.length, 1)
  assert.deepEqual([(await request(s.proxy, { path: '/counter' })).body], ['1'])
  assert.deepEqual([(await request(s.proxy, { path: '/counter' })).body], ['2'])

  // Out of memory, or the budget: QuickJS's new Array(1e6) holds no elements, so the first bomb grows slowly; the
  // filled ones insert a million properties in one native call that the deadline cannot cut, and may outlive it
  // (then the watchdog ends the engine thread, and the worker starts another).
  const stopped = /js exception: (InternalError: out of memory|the handler ran past its time budget \(1000 ms\))/
  const cases: [string, RegExp][] = [
    ['bomb', stopped],
    ['bombFilled', stopped],
    ['bombHuge', stopped],
    ['bombString', /js exception: (InternalError: out of memory|InternalError: string too long)/],
    ['recurse', /js exception: InternalError: stack overflow/],
    // JSON.stringify recurses in native code, slowly: QuickJS's check, the thread's stack or the watchdog stops it.
    ['nested', /js exception: (InternalError: stack overflow|RangeError: Maximum call stack size exceeded|the handler ran past its time budget \(1000 ms\))/],
  ]
  for (const [path, want] of cases) {
    const before = s.d.errorLog().length
    const r = await request(s.proxy, { path: `/${path}` })
    assert.equal(r.status, 500, path)
    assert.match(since(s.d.errorLog(), before), want, path)
    assert.deepEqual([(await request(s.proxy, { path: '/hi' })).body], ['hi'], `after ${path}`)
  }
  // The module's instance was thrown away (out of memory, or with the engine thread): evaluated anew, its state too.
  assert.deepEqual([(await request(s.proxy, { path: '/counter' })).body], ['1'])
  assert.deepEqual(childPids(s.d.pid), workers, 'the worker survived')
  assert.equal((await request(s.proxy, { path: '/pid' })).body, String(workers[0]))
})

test("the engine is loaded only by a configuration with js_import, and at the worker's start", async (t) => {
  const plain = await startInterface(t, { workers: 1 })
  const [w0] = childPids(plain.d.pid)
  assert.equal((await request(plain.proxy, { path: '/pid' })).body, String(w0))
  await sleep(300)
  assert.ok(!threadNames(w0!).includes('dyups js'), threadNames(w0!).join(','))

  const s = await start(t)
  const [w1] = childPids(s.d.pid)
  // No JavaScript request yet: the engine thread was started with the worker's listeners.
  const deadline = Date.now() + 10_000
  while (!threadNames(w1!).includes('dyups js') && Date.now() < deadline) await sleep(50)
  assert.ok(threadNames(w1!).includes('dyups js'), threadNames(w1!).join(','))
})

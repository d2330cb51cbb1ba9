/**
 * The JavaScript that runs first in every module's sandbox (QuickJS, see js-engine.ts): njs's globals (`ngx`,
 * `njs`, `console`, a small `Buffer`), the request object `r`, and the dyups calls. It is evaluated as a function
 * of one argument, `host`: the single host function of the sandbox, which it keeps in its closure (module code never
 * sees it). It returns what the engine calls: `load` (evaluate nothing, just capture the default export), `run`
 * (call a handler) and `settle` (resolve a dyups call).
 *
 * Everything here runs inside the sandbox: a module that breaks these objects breaks only itself.
 *
 * `host(op, ...args)` takes and returns strings and numbers only:
 * - `field id name` a request field (method, uri, httpVersion, remoteAddress, requestLine); `body id` the body or
 *   undefined; `args id`, `headersIn id`, `raw id` JSON; `var id name` a variable or undefined;
 * - `status id` / `setStatus id n`; `hget id name` (JSON array) / `hset id name valuesJSON` / `hdel id name`;
 * - `return id code text?`, `send id text`, `finish id`; `log level msg id?`; `done id`, `failed id description`;
 * - `dyups op name body` → a call number, or -1 outside a request;
 * - `utf8 s` (UTF-8 bytes of s, latin1), `fromUtf8 bytes`, `b64 bytes`, `unb64 s`.
 */
export const PRELUDE_FILE = 'dyups:prelude'

export const PRELUDE = String.raw`(function (host) {
  'use strict'
  // What the prelude uses, taken before module code can replace it (a module that does breaks only itself, but
  // its requests keep working).
  const freeze = Object.freeze, define = Object.defineProperty, create = Object.create
  const parse = JSON.parse, stringify = JSON.stringify, isArray = Array.isArray, trunc = Math.trunc
  const fromCharCode = String.fromCharCode, apply = Reflect.apply, WeakMapGet = WeakMap.prototype.get
  const toLowerCase = String.prototype.toLowerCase
  const lowerOf = (s) => apply(toLowerCase, s, [])
  const TOKEN = /^[!#$%&'*+\-.^_${'`'}|~0-9A-Za-z]+$/

  function latin1Of(u8) {
    let s = ''
    for (let i = 0; i < u8.length; i += 8192) s += apply(fromCharCode, null, u8.subarray(i, i + 8192))
    return s
  }
  function bytesOf(v) {
    if (typeof v === 'string') {
      for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 0xff) return host('utf8', v)
      return v
    }
    if (typeof v === 'number') return String(v)
    if (v instanceof Uint8Array) return latin1Of(v)
    return null
  }
  const text = (v) => { const b = bytesOf(v); return b === null ? String(v) : b }

  class Buffer extends Uint8Array {
    static from(v, enc) {
      if (typeof v === 'string') {
        const e = enc === undefined ? 'utf8' : String(enc).toLowerCase()
        const bytes = e === 'latin1' || e === 'binary' ? v
          : e === 'hex' ? v.replace(/[0-9a-f]{2}/gi, (h) => String.fromCharCode(parseInt(h, 16))).slice(0, v.length >> 1)
          : e === 'base64' || e === 'base64url' ? host('unb64', v) : host('utf8', v)
        const b = new Buffer(bytes.length)
        for (let i = 0; i < bytes.length; i++) b[i] = bytes.charCodeAt(i) & 0xff
        return b
      }
      if (v instanceof ArrayBuffer) return new Buffer(v)
      const b = new Buffer(v.length >>> 0)
      for (let i = 0; i < b.length; i++) b[i] = v[i] & 0xff
      return b
    }
    static alloc(n, fill) { const b = new Buffer(n >>> 0); if (fill !== undefined) b.fill(typeof fill === 'number' ? fill : 0); return b }
    static isBuffer(v) { return v instanceof Buffer }
    static byteLength(v, enc) { return typeof v === 'string' ? Buffer.from(v, enc).length : v.byteLength }
    static concat(list) {
      const b = new Buffer(list.reduce((n, x) => n + x.length, 0))
      let at = 0
      for (const x of list) { b.set(x, at); at += x.length }
      return b
    }
    toString(enc, start, end) {
      const s = latin1Of(this.subarray(start === undefined ? 0 : start, end === undefined ? this.length : end))
      const e = enc === undefined ? 'utf8' : String(enc).toLowerCase()
      if (e === 'latin1' || e === 'binary') return s
      if (e === 'hex') { let h = ''; for (let i = 0; i < s.length; i++) h += (0x100 + s.charCodeAt(i)).toString(16).slice(1); return h }
      if (e === 'base64') return host('b64', s)
      return host('fromUtf8', s)
    }
  }
  freeze(Buffer.prototype)
  freeze(Buffer)

  const logger = (level) => (...a) => host('log', level, a.map(String).join(' '))
  const api = freeze({
    update: (...a) => call('update', a),
    delete: (...a) => call('delete', a),
    get: (...a) => call('get', a),
  })
  const ngx = freeze({
    INFO: 7, WARN: 5, ERR: 4,
    log: (level, msg) => host('log', typeof level === 'number' ? level : 7, String(msg)),
    dyups: api,
  })
  define(globalThis, 'ngx', { value: ngx, enumerable: false })
  define(globalThis, 'njs', { value: freeze({ version: '0.8.4' }), enumerable: false })
  define(globalThis, 'console', { value: freeze({ log: logger(7), info: logger(7), warn: logger(5), error: logger(4) }), enumerable: false })
  define(globalThis, 'Buffer', { value: Buffer, enumerable: false })
  define(globalThis, '__dyups', { value: api })

  const waiting = create(null)
  function call(op, args) {
    return new Promise((resolve, reject) => {
      const argc = op === 'update' ? 2 : 1
      if (args.length !== argc) return reject(new TypeError(argc === 1 ? 'exactly 1 argument expected' : 'exactly ' + argc + ' arguments expected'))
      const name = bytesOf(args[0])
      const body = argc === 2 ? bytesOf(args[1]) : ''
      if (name === null || body === null) return reject(new TypeError('dyups.' + op + ': arguments must be strings'))
      const n = host('dyups', op, name, body)
      if (n < 0) return reject(new Error('dyups.' + op + ' can only be called while a request is handled'))
      waiting[n] = resolve
    })
  }

  const states = new WeakMap()
  function state(r) {
    const st = apply(WeakMapGet, states, [r])
    if (st === undefined) throw new TypeError('not a request object')
    return st
  }
  const idOf = (r) => state(r).id
  const proto = {
    get method() { return host('field', idOf(this), 'method') },
    get uri() { return host('field', idOf(this), 'uri') },
    get httpVersion() { return host('field', idOf(this), 'httpVersion') },
    get remoteAddress() { return host('field', idOf(this), 'remoteAddress') },
    get requestLine() { return host('field', idOf(this), 'requestLine') },
    get requestText() { return host('body', idOf(this)) },
    get requestBody() { return host('body', idOf(this)) },
    get requestBuffer() { const b = host('body', idOf(this)); return b === undefined ? undefined : Buffer.from(b, 'latin1') },
    get status() { return host('status', idOf(this)) },
    set status(v) { host('setStatus', idOf(this), trunc(Number(v)) || 0) },
    get args() {
      const st = state(this)
      if (st.args === undefined) {
        const o = create(null)
        const pairs = parse(host('args', st.id))
        for (let i = 0; i < pairs.length; i++) {
          const k = pairs[i][0], v = pairs[i][1], old = o[k]
          if (old === undefined) o[k] = v
          else if (isArray(old)) old[old.length] = v
          else o[k] = [old, v]
        }
        st.args = o
      }
      return st.args
    },
    get headersIn() {
      const st = state(this)
      if (st.hin === undefined) {
        const o = create(null), lower = create(null)
        const pairs = parse(host('raw', st.id))
        for (let i = 0; i < pairs.length; i++) {
          const k = pairs[i][0], v = pairs[i][1]
          const low = lowerOf(k), first = lower[low]
          if (first === undefined) { lower[low] = k; o[k] = v }
          else o[first] += (low === 'cookie' ? '; ' : ', ') + v
        }
        st.hin = new Proxy(o, {
          get: (t, p) => (typeof p !== 'string' ? undefined : p in t ? t[p] : t[lower[lowerOf(p)] || '']),
          set: () => false,
        })
      }
      return st.hin
    },
    get rawHeadersIn() { return parse(host('raw', idOf(this))) },
    get headersOut() {
      const st = state(this)
      if (st.hout === undefined) {
        const id = st.id
        st.hout = new Proxy(create(null), {
          get: (_t, p) => {
            if (typeof p !== 'string') return undefined
            const v = parse(host('hget', id, p))
            return v.length === 0 ? undefined : v.length === 1 ? v[0] : v
          },
          set: (_t, p, v) => {
            if (typeof p !== 'string') return false
            if (!TOKEN.test(p.replace(/_/g, '-'))) throw new TypeError('invalid header name "' + p + '"')
            const values = v === undefined || v === null ? [] : (isArray(v) ? v : [v]).map(text)
            host('hset', id, p, stringify(values))
            return true
          },
          deleteProperty: (_t, p) => typeof p === 'string' && host('hdel', id, p) === 1,
        })
      }
      return st.hout
    },
    get variables() {
      const st = state(this)
      if (st.vars === undefined) {
        const id = st.id
        st.vars = new Proxy(create(null), {
          get: (_t, p) => (typeof p === 'string' ? host('var', id, p) : undefined),
          set: (_t, p) => { throw new TypeError('variable "' + String(p) + '" is not changeable') },
        })
      }
      return st.vars
    },
    return(status, body) {
      const id = idOf(this)
      const code = trunc(Number(status))
      if (!(code >= 100 && code <= 999)) throw new TypeError('code is out of range: ' + String(status))
      if (body === undefined) host('return', id, code)
      else host('return', id, code, text(body))
    },
    send(body) { host('send', idOf(this), text(body)) },
    sendHeader() { idOf(this) },
    finish() { host('finish', idOf(this)) },
    log(msg) { host('log', 7, String(msg), idOf(this)) },
    warn(msg) { host('log', 5, String(msg), idOf(this)) },
    error(msg) { host('log', 4, String(msg), idOf(this)) },
    internalRedirect() { throw new Error('r.internalRedirect() is not supported by dyups') },
    subrequest() { throw new Error('r.subrequest() is not supported by dyups') },
  }
  freeze(proto)

  // How an exception is logged: its first line and the first frame in module code.
  function describe(e) {
    try {
      if (e !== null && typeof e === 'object') {
        const head = String(e.name) + ': ' + String(e.message)
        const stack = typeof e.stack === 'string' ? e.stack.split('\n') : []
        const frame = stack.find((l) => /^\s+at /.test(l) && l.indexOf('${PRELUDE_FILE}') < 0)
        return frame === undefined ? head : head + ' ' + frame.trim()
      }
      return String(e)
    } catch (x) {
      return 'an exception that cannot be described'
    }
  }

  let exported
  return freeze({
    load() {
      exported = globalThis.__dyupsExport
      delete globalThis.__dyupsExport
    },
    run(fn, id) {
      const f = exported !== null && typeof exported === 'object' ? exported[fn] : undefined
      if (typeof f !== 'function') return 'nofn'
      const r = create(proto)
      states.set(r, { id })
      let result
      try {
        result = f.call(undefined, r)
        if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
          result.then(() => host('done', id), (e) => host('failed', id, describe(e)))
          return 'async'
        }
      } catch (e) {
        return 'E' + describe(e)
      }
      return 'sync'
    },
    settle(n, status, body) {
      const resolve = waiting[n]
      delete waiting[n]
      if (resolve !== undefined) resolve({ status, body })
    },
  })
})`

/**
 * Lua content handlers end to end (docs/scripting.md): Tengine's documented example runs verbatim in the
 * seed's `content_by_lua '…'` form; `dyups.update/delete/get` answer exactly what the REST interface answers for the
 * same change; errors, runaway loops and large bodies get their documented answers while the worker lives on and
 * keeps serving.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import {
  ans, answer, backend, childPids, Conn, freePorts, idelete, iget, ipost, request, sleep, startDyups, startInterface, tempPrefix, writeConf,
  type Response,
} from './helpers.js'

/** Tengine's documentation example, byte for byte, in the seed's form. */
const DOC_EXAMPLE = `content_by_lua '
    local dyups = require "ngx.dyups"

    local status, rv = dyups.update("test", [[server 127.0.0.1:8088;]]);
    ngx.print(status, rv)
    if status ~= 200 then
        ngx.print(status, rv)
        return
    end
    ngx.print("update success")

    status, rv = dyups.delete("test")
    if status ~= 200 then
        ngx.print(status, rv)
        return
    end
    ngx.print("delete success")
';`

/** A shorter version of it (no print of the first answer, ngx.HTTP_OK). */
const SPEC_EXAMPLE = `content_by_lua '
    local dyups = require "ngx.dyups"
    local status, rv = dyups.update("test", [[server 127.0.0.1:8088;]]);
    if status ~= ngx.HTTP_OK then ngx.print(status, rv) return end
    ngx.print("update success")
    status, rv = dyups.delete("test")
    if status ~= ngx.HTTP_OK then ngx.print(status, rv) return end
    ngx.print("delete success")
';`

/** One handler for every call: `?op=update|delete|get&name=…`, the body as the commands; prints `STATUS|BODY`. */
const OP = `content_by_lua_block {
            local dyups = require "ngx.dyups"
            local op, name = ngx.var.arg_op, ngx.unescape_uri(ngx.var.arg_name or "")
            local status, rv
            if op == "update" then
                ngx.req.read_body()
                status, rv = dyups.update(name, ngx.req.get_body_data() or "")
            elseif op == "delete" then
                status, rv = dyups.delete(name)
            else
                status, rv = dyups.get(name)
            end
            ngx.print(status, "|", rv)
        }`

const LOCATIONS = `
        location = /doc { ${DOC_EXAMPLE} }
        location = /spec { ${SPEC_EXAMPLE} }
        location = /op { ${OP} }
        location = /upd {
            content_by_lua_block {
                local dyups = require "ngx.dyups"
                local s, rv = dyups.update("between", "server 127.0.0.1:" .. ngx.var.arg_port .. ";")
                ngx.print(s, rv)
            }
        }
        location = /del { content_by_lua_block { ngx.print(require("ngx.dyups").delete("between")) } }
        location = /err {
            content_by_lua_block {
                local t = nil
                t.field = 1 -- the error line
            }
        }
        location = /raise { content_by_lua_block { error({ code = 1 }) } }
        location = /loop { content_by_lua_block { local n = 0 while true do n = n + 1 end } }
        location = /pcall-loop {
            content_by_lua_block {
                while true do pcall(function() while true do end end) end
            }
        }
        location = /len {
            content_by_lua_block {
                ngx.req.read_body()
                local b = ngx.req.get_body_data()
                ngx.say(b and #b or "nil", " ", b and b:sub(-3) or "")
            }
        }
        location = /api {
            content_by_lua_block {
                ngx.header["X-A"] = "1"
                ngx.header.content_type = "application/x-test"
                ngx.status = 202
                local h = ngx.req.get_headers()
                local a = ngx.req.get_uri_args()
                ngx.say(ngx.req.get_method(), " ", ngx.var.uri, " ", h.x_custom, " ", h["X-Custom"], " ", a.k, " ", type(a.flag), " ", #a.m)
                ngx.say(1.5, " ", 7, " ", nil, " ", true, " ", ngx.null, " ", { "a", { "b" } })
                ngx.log(ngx.WARN, "note from ", "lua")
                leaked = "set"
            }
        }
        location = /globals { content_by_lua_block { ngx.print(tostring(leaked), " ", tostring(os.exit), " ", tostring(io)) } }
        location = /exit404 { content_by_lua_block { ngx.exit(ngx.HTTP_NOT_FOUND) ngx.print("never") } }
        location = /exit-in-pcall { content_by_lua_block { pcall(ngx.exit, 403) ngx.print("never") } }
        location = /after-print { content_by_lua_block { ngx.print("kept") ngx.exit(500) } }
        location = /redirect { content_by_lua_block { ngx.redirect("/elsewhere") } }
        location = /sleep { content_by_lua_block { ngx.sleep(0.3) ngx.print("slept") } }
        location = /arity { content_by_lua_block { require("ngx.dyups").update("only-one") } }
`

/** Percent-encodes every byte of a latin1 string (names with any byte reach the handler intact). */
const pct = (s: string): string => [...Buffer.from(s, 'latin1')].map((b) => '%' + b.toString(16).padStart(2, '0')).join('')

const parse = (r: Response): [number, string] => {
  const bar = r.body.indexOf('|')
  return [Number(r.body.slice(0, bar)), r.body.slice(bar + 1)]
}

test('the documentation example and the scripting calls answer as the REST interface', async (t) => {
  const b = await backend(t, 'between')
  const s = await startInterface(t, { workers: 2, server: LOCATIONS })

  // The documentation's example prints the first answer, then both successes; the shorter one only the successes.
  const doc = await request(s.proxy, { path: '/doc' })
  assert.deepEqual([doc.status, doc.body], [200, '200successupdate successdelete success'])
  assert.deepEqual([(await request(s.proxy, { path: '/spec' })).body], ['update successdelete success'])
  assert.deepEqual(answer(await iget(s.iface, '/upstream/test')), ans(404))

  // Each change through Lua and through the interface: same status, same body.
  const lua = async (op: string, name: string, body?: string): Promise<[number, string]> =>
    parse(await request(s.proxy, { method: op === 'update' ? 'POST' : 'GET', path: `/op?op=${op}&name=${pct(name)}`, body }))
  const rest = async (op: string, name: string, body?: string): Promise<[number, string]> => {
    const path = `/upstream/${pct(name)}`
    const r = op === 'update' ? await ipost(s.iface, path, body ?? '') : op === 'delete' ? await idelete(s.iface, path) : await iget(s.iface, path)
    return [r.status, r.body]
  }
  const cases: [string, string, string?][] = [
    ['update', 'g1', 'server 127.0.0.1:81;'],
    ['get', 'g1'],
    ['update', 'g1', 'garbage 1;'],
    ['update', 'g1', 'server 127.0.0.1:1 weight=0;'],
    ['update', 'g1', ''],
    ['update', 'g1', 'server 127.0.0.1:82; server [::1]:83 backup;'],
    ['get', 'G1'],
    ['delete', 'g1'],
    ['delete', 'g1'],
    ['get', 'g1'],
    ['delete', 'never-there'],
    ['update', 'name with spaces \xff', 'server 127.0.0.1:84;'],
    ['get', 'name with spaces \xff'],
    ['delete', 'name with spaces \xff'],
  ]
  const expected: [number, string][] = [
    [200, 'success'], [200, 'server 127.0.0.1:81\n'], [500, 'add server failed'], [500, 'add server failed'],
    [500, 'add server failed'], [200, 'success'], [200, 'server 127.0.0.1:82\nserver [::1]:83\n'], [200, 'success'],
    [404, 'not found uptream'], [404, ''], [404, 'not found uptream'], [200, 'success'], [200, 'server 127.0.0.1:84\n'],
    [200, 'success'],
  ]
  for (let i = 0; i < cases.length; i++) {
    const [op, name, body] = cases[i]!
    assert.deepEqual(await lua(op, name, body), expected[i], `lua ${op} ${JSON.stringify(name)} ${body ?? ''}`)
  }
  // The same sequence on the interface answers the same.
  for (let i = 0; i < cases.length; i++) {
    const [op, name, body] = cases[i]!
    assert.deepEqual(await rest(op, name, body), expected[i], `rest ${op} ${JSON.stringify(name)} ${body ?? ''}`)
  }
  // A failed change changed nothing.
  assert.deepEqual(answer(await iget(s.iface, '/list')), ans(204))

  // Created through Lua, the group routes in every worker before the 200 (docs/api.md#when-a-change-takes-effect), until Lua deletes it.
  assert.deepEqual((await request(s.proxy, { path: `/upd?port=${b.port}` })).body, '200success')
  const seen = new Map<number, string>()
  const deadline = Date.now() + 30_000
  for (let round = 0; seen.size < 2 && Date.now() < deadline; round++) {
    if (round > 0) await sleep(10)
    const conns = await Promise.all(Array.from({ length: 4 }, () => Conn.open(s.proxy)))
    await Promise.all(conns.map(async (c) => {
      const pid = Number((await c.req({ path: '/pid' })).body)
      const r = await c.req({ host: 'between', headers: { Connection: 'close' } })
      seen.set(pid, `${r.status} ${r.body}`)
    }))
  }
  assert.deepEqual([...seen.values()], ['200 between', '200 between'], `workers: ${[...seen.keys()].join(', ')}`)
  assert.deepEqual((await request(s.proxy, { path: '/del' })).body, '200success')
  assert.equal((await request(s.proxy, { host: 'between' })).status, 502)
  // Tengine's argument checks.
  assert.equal((await request(s.proxy, { path: '/arity' })).status, 500)
  assert.match(s.d.errorLog(), /nginx\.conf:\d+: exactly 2 arguments expected/)
})

test('errors, runaway loops and large bodies: 500 or 413, the worker lives and keeps serving', async (t) => {
  const s = await startInterface(t, { workers: 1, server: LOCATIONS })
  const workers = childPids(s.d.pid)
  assert.equal(workers.length, 1)
  const conf = s.d.prefix + '/conf/nginx.conf'
  const errLine = readFileSync(conf, 'latin1').split('\n').findIndex((l) => l.includes('the error line')) + 1

  const err = await request(s.proxy, { path: '/err' })
  assert.equal(err.status, 500)
  assert.match(err.body, /<title>500 Internal Server Error<\/title>/)
  assert.ok(s.d.errorLog().includes(`lua entry thread aborted: runtime error: ${conf}:${errLine}: attempt to index a nil value (local 't')`), s.d.errorLog())
  assert.equal((await request(s.proxy, { path: '/raise' })).status, 500)
  assert.match(s.d.errorLog(), /runtime error: \(error object is a table value\)/)

  // A runaway loop is cut; while it runs, the same (single) worker answers other requests.
  const order: string[] = []
  const loop = request(s.proxy, { path: '/loop' }).then((r) => (order.push('loop'), r))
  const pcallLoop = request(s.proxy, { path: '/pcall-loop' }).then((r) => (order.push('pcall-loop'), r))
  const others = Promise.all(Array.from({ length: 5 }, (_, i) => request(s.proxy, { path: '/pid' }).then((r) => (order.push(`pid${i}`), r))))
  const [l, pl, os] = await Promise.all([loop, pcallLoop, others])
  assert.equal(l.status, 500)
  assert.equal(pl.status, 500)
  for (const r of os) assert.deepEqual([r.status, r.body], [200, String(workers[0])])
  assert.deepEqual(order.slice(0, 5).sort(), ['pid0', 'pid1', 'pid2', 'pid3', 'pid4'], `completion order: ${order.join(', ')}`)
  assert.match(s.d.errorLog(), /nginx\.conf:\d+: instruction budget exceeded/)

  // Bodies: read whole up to client_max_body_size (1m), 413 past it.
  const big = 'x'.repeat(1000 * 1000 - 3) + 'end'
  assert.deepEqual([(await request(s.proxy, { method: 'POST', path: '/len', body: big })).body], ['1000000 end\n'])
  assert.deepEqual([(await request(s.proxy, { method: 'POST', path: '/len' })).body], ['nil \n'])
  const over = await request(s.proxy, { method: 'POST', path: '/len', body: 'y'.repeat(1024 * 1024 + 1) })
  assert.equal(over.status, 413)

  // ngx.sleep waits without holding the worker.
  const slow = request(s.proxy, { path: '/sleep' })
  const fast = await request(s.proxy, { path: '/pid' })
  assert.equal(fast.status, 200)
  assert.deepEqual([(await slow).body], ['slept'])

  assert.deepEqual(childPids(s.d.pid), workers, 'the worker survived')
})

test('the ngx API: request, response, exit, redirect, log; per-request globals', async (t) => {
  const s = await startInterface(t, { workers: 1, server: LOCATIONS })
  const r = await request(s.proxy, { path: '/api?k=v%20w&flag&m=1&m=2', headers: { 'X-Custom': 'c1' } })
  assert.equal(r.status, 202)
  assert.equal(r.headers['content-type'], 'application/x-test')
  assert.equal(r.headers['x-a'], '1')
  assert.equal(r.body, 'GET /api c1 c1 v w boolean 2\n1.5 7 nil true null ab\n')
  assert.match(s.d.errorLog(), /\[warn\] \d+#0: \[lua\] .*nginx\.conf:\d+: note from lua, client: 127\.0\.0\.1/)
  // A global set by one request is not seen by the next; what would end the worker is not there.
  assert.equal((await request(s.proxy, { path: '/globals' })).body, 'nil nil nil')

  const e404 = await request(s.proxy, { path: '/exit404' })
  assert.equal(e404.status, 404)
  assert.match(e404.body, /<title>404 Not Found<\/title>/)
  assert.equal((await request(s.proxy, { path: '/exit-in-pcall' })).status, 403)
  const kept = await request(s.proxy, { path: '/after-print' })
  assert.deepEqual([kept.status, kept.body], [200, 'kept'])
  const red = await request(s.proxy, { path: '/redirect' })
  assert.equal(red.status, 302)
  assert.equal(red.headers.location, `http://localhost:${s.proxy}/elsewhere`)
})

test('without a dyups_interface the calls answer 405 "API disabled"', async (t) => {
  const s = await startInterface(t, { workers: 1, server: LOCATIONS })
  // The same locations in a configuration with no interface at all.
  const [port] = await freePorts(1)
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', `daemon off;\nerror_log logs/error.log info;\nevents {}\nhttp {\n  access_log off;\n  server {\n    listen 127.0.0.1:${port};\n${LOCATIONS}\n  }\n}\n`)
  await startDyups(t, prefix, [port!])
  assert.deepEqual(parse(await request(port!, { method: 'POST', path: '/op?op=update&name=x', body: 'server 127.0.0.1:1;' })), [405, 'API disabled\n'])
  assert.deepEqual(parse(await request(port!, { path: '/op?op=delete&name=x' })), [405, 'API disabled\n'])
  assert.deepEqual((await request(port!, { path: '/doc' })).body, '405API disabled\n405API disabled\n')
  // With one, the same call goes through.
  assert.deepEqual(parse(await request(s.proxy, { path: '/op?op=delete&name=x' })), [404, 'not found uptream'])
})

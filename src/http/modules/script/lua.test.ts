/**
 * The Lua bridge in process: a real HttpWorker on a unix socket, a real Store behind an in-process sink, so what the
 * scripts send to the store and to the client can be checked byte for byte.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { parseText } from '../../../config/index.js'
import { configureLog } from '../../../log.js'
import { Store } from '../../../store/index.js'
import { compileHttp } from '../../conf/compile.js'
import { RoutingTable } from '../../lib/routing-table.js'
import { HttpWorker } from '../../core/worker.js'
import { MAX_INSTRUCTIONS } from './lua.js'

interface Harness {
  dir: string
  store: Store
  /** One request on a fresh connection (Connection: close); the raw response, latin1. */
  get(path: string, body?: string): Promise<{ status: number; body: string; head: string }>
  errorLog(): string
}

async function start(t: TestContext, locations: string, files: Record<string, string> = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'dyups-lua-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text, 'latin1')
  const sock = join(dir, 's.sock')
  const confFile = join(dir, 'nginx.conf')
  const text = `http {\n access_log off;\n server {\n  listen unix:${sock};\n  location = /iface { dyups_interface; }\n${locations}\n }\n}\n`
  writeFileSync(confFile, text, 'latin1')
  configureLog([{ path: join(dir, 'error.log'), level: 'info' }])
  const store = await Store.open({ staticGroups: [] })
  const table = new RoutingTable()
  table.init(store.snapshot())
  const w = new HttpWorker(compileHttp({ prefix: dir, confFile, tree: parseText(text, confFile) }), {
    table,
    sink: {
      submit: async (change) => {
        const r = await store.applyBatch([change])
        table.apply(r.delta)
        const e = r[0]!.error
        return { version: r[0]!.version, error: e && { code: e.code, message: e.message } }
      },
      busy: async () => false,
    },
    trylock: false,
    readMsgLog: false,
  })
  await w.listen()
  t.after(() => w.close(0))
  return {
    dir,
    store,
    get: (path, body) =>
      new Promise((res, rej) => {
        const s = connect(sock)
        const chunks: Buffer[] = []
        s.on('data', (b) => chunks.push(b))
        s.on('error', rej)
        s.on('close', () => {
          const raw = Buffer.concat(chunks).toString('latin1')
          const end = raw.indexOf('\r\n\r\n')
          res({ status: Number(raw.slice(9, 12)), head: raw.slice(0, end), body: raw.slice(end + 4) })
        })
        const len = body === undefined ? '' : `Content-Length: ${body.length}\r\n`
        s.write(Buffer.from(`${body === undefined ? 'GET' : 'POST'} ${path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n${len}\r\n${body ?? ''}`, 'latin1'))
      }),
    errorLog: () => readFileSync(join(dir, 'error.log'), 'latin1'),
  }
}

test('names, bodies and output cross the bridge byte for byte', async (t) => {
  const h = await start(t, `
  location = /up {
    content_by_lua_block {
      local dyups = require "ngx.dyups"
      local name = ngx.unescape_uri(ngx.var.arg_n)
      local s, rv = dyups.update(name, ngx.req.get_body_data())
      local g, body = dyups.get(name)
      ngx.print(#name, " ", s, rv, " ", g, " ", body, "\\255\\0\\1")
    }
  }
  location = /ctl {
    content_by_lua_block {
      local dyups = require "ngx.dyups"
      local s, rv = dyups.update("a\\nb", "server 127.0.0.1:81;")
      local d = dyups.delete("a\\rb")
      ngx.print(s, " [", rv, "] ", d)
    }
  }`)
  // Every byte but a control byte is a name (a control byte is refused: test/interface-post.test.ts).
  const r = await h.get('/up?n=%FF%80%C3%A9%20x', 'server 127.0.0.1:81; # caf\xc3\xa9 \xff')
  assert.equal(r.status, 200)
  assert.equal(r.body, '6 200success 200 server 127.0.0.1:81\n\xff\x00\x01')
  assert.deepEqual(h.store.list().map((e) => e.group.name), ['\xff\x80\xc3\xa9 x'])
  const ctl = await h.get('/ctl')
  assert.equal(ctl.body, '400 [] 400')
  assert.deepEqual(h.store.list().map((e) => e.group.name), ['\xff\x80\xc3\xa9 x'])
})

test('ngx.ctx and the globals are per request, across waits', async (t) => {
  const h = await start(t, `
  location = /ctx {
    content_by_lua_block {
      ngx.ctx.mine = ngx.var.arg_v
      mine = ngx.var.arg_v
      ngx.sleep(ngx.var.arg_v == "a" and 0.2 or 0)
      ngx.print(ngx.ctx.mine, mine)
    }
  }`)
  const [a, b] = await Promise.all([h.get('/ctx?v=a'), h.get('/ctx?v=b')])
  assert.deepEqual([a.body, b.body], ['aa', 'bb'])
})

test('errors in loading and running are 500s logged at file:line; the VM goes on', async (t) => {
  const h = await start(
    t,
    `
  location = /syntax { content_by_lua_block { this is not lua } }
  location = /file { content_by_lua_file h.lua; }
  location = /nofile { content_by_lua_file missing.lua; }
  location = /spin { content_by_lua_block { local co = coroutine.wrap(function() while true do end end) co() } }
  location = /ok { content_by_lua_block { ngx.print("ok") } }`,
    { 'h.lua': '-- a handler file\nngx.print("from file")\nlocal x = nil + 1\n' },
  )
  assert.equal((await h.get('/syntax')).status, 500)
  assert.match(h.errorLog(), /failed to load inlined Lua code: .*nginx\.conf:\d+: syntax error near 'is'/)
  assert.equal((await h.get('/file')).status, 500)
  assert.ok(h.errorLog().includes(`runtime error: ${join(h.dir, 'h.lua')}:3: attempt to perform arithmetic on a nil value`), h.errorLog())
  assert.equal((await h.get('/nofile')).status, 500)
  assert.match(h.errorLog(), /failed to load external Lua file ".*missing\.lua": cannot open .*missing\.lua: No such file or directory/)
  // A loop inside a nested coroutine cannot be paused: it is cut by the budget all the same.
  assert.equal((await h.get('/spin')).status, 500)
  // (Which limit comes first depends on the machine's speed: the instruction count or the time without a pause.)
  assert.match(h.errorLog(), new RegExp(`nginx\\.conf:\\d+: (instruction budget exceeded \\(${MAX_INSTRUCTIONS} instructions\\)|time budget exceeded)`))
  assert.deepEqual([(await h.get('/ok')).body], ['ok'])
})

/**
 * Many changes through the scripting APIs (docs/api.md#when-a-change-takes-effect, docs/scripting.md): 200 updates through Lua and 200 through JavaScript, from
 * concurrent clients on 2 workers, all acknowledged, and the table ends equal to each group's last write; with
 * `dyups_trylock on`, scripted changes that meet another change answer 409 `wait and try again\n` and apply nothing.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ans, answer, Conn, iget, startInterface, type Response } from './helpers.js'

const LOCATIONS = `
        location = /lua {
            content_by_lua_block {
                ngx.req.read_body()
                local status, rv = require("ngx.dyups").update(ngx.var.arg_name, ngx.req.get_body_data())
                ngx.print(status, "|", rv)
            }
        }
        location = /js { js_content up.date; }
`
const MODULE = `import dyups from 'dyups'
async function date(r) {
  const a = await dyups.update(r.args.name, r.requestText)
  r.return(200, a.status + '|' + a.body)
}
export default { date }
`

const server = (port: number): string => `server 127.0.0.1:${port};`

/** One scripted update on a keep-alive connection: `[status, body]` of the call. */
async function change(c: Conn, via: 'lua' | 'js', name: string, port: number): Promise<[number, string]> {
  const r: Response = await c.req({ method: 'POST', path: `/${via}?name=${name}`, body: server(port) })
  assert.equal(r.status, 200, r.body)
  const bar = r.body.indexOf('|')
  return [Number(r.body.slice(0, bar)), r.body.slice(bar + 1)]
}

test('200 updates through Lua and 200 through JavaScript: every one applied, the table is the last writes', async (t) => {
  const s = await startInterface(t, { workers: 2, http: '    js_import up from up.js;\n', server: LOCATIONS, files: { 'conf/up.js': MODULE } })
  const CLIENTS = 4, EACH = 100
  const last = new Map<string, number>()
  let lua = 0, js = 0
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, k) => {
      const c = await Conn.open(s.proxy)
      try {
        for (let i = 0; i < EACH; i++) {
          const via = i % 2 === 0 ? 'lua' : 'js'
          const port = 20000 + k * 1000 + i
          assert.deepEqual(await change(c, via, `g${k}`, port), [200, 'success'], `client ${k}, change ${i} via ${via}`)
          if (via === 'lua') lua++
          else js++
          last.set(`g${k}`, port)
        }
      } finally {
        c.close()
      }
    }),
  )
  assert.deepEqual([lua, js], [200, 200])
  for (const [name, port] of last) assert.deepEqual(answer(await iget(s.iface, `/upstream/${name}`)), ans(200, `${server(port).slice(0, -1)}\n`), name)
  // The four clients create their groups concurrently, so creation order (and /list order) is theirs to race.
  const list = await iget(s.iface, '/list')
  assert.equal(list.status, 200)
  assert.deepEqual(list.body.split('\n').filter(Boolean).sort(), ['g0', 'g1', 'g2', 'g3'])
})

test('dyups_trylock on: scripted changes that meet another answer 409 and apply nothing', async (t) => {
  const s = await startInterface(t, {
    workers: 2,
    http: '    dyups_trylock on;\n    js_import up from up.js;\n',
    server: LOCATIONS,
    files: { 'conf/up.js': MODULE },
  })
  const model = new Map<string, number>()
  let busy = 0
  for (let round = 0; round < 8; round++) {
    const conns = await Promise.all(Array.from({ length: 10 }, () => Conn.open(s.proxy)))
    try {
      const answers = await Promise.all(conns.map((c, i) => change(c, i % 2 === 0 ? 'lua' : 'js', `t${i}`, 30000 + round * 100 + i)))
      answers.forEach((a, i) => {
        if (a[0] === 409) {
          assert.deepEqual(a, [409, 'wait and try again\n'])
          busy++
        } else {
          assert.deepEqual(a, [200, 'success'], `round ${round}, t${i}`)
          model.set(`t${i}`, 30000 + round * 100 + i)
        }
      })
    } finally {
      for (const c of conns) c.close()
    }
    for (let i = 0; i < 10; i++) {
      const p = model.get(`t${i}`)
      assert.deepEqual(answer(await iget(s.iface, `/upstream/t${i}`)), p === undefined ? ans(404) : ans(200, `server 127.0.0.1:${p}\n`))
    }
  }
  t.diagnostic(`${busy} of 80 scripted changes answered 409`)
  assert.ok(busy > 0, 'no 409 among concurrent scripted changes')
  assert.ok(model.size > 0, 'no scripted change applied')
})

/**
 * least_conn and random side by side with the real nginx. least_conn is deterministic once the connection counts
 * are: one after another every count is zero and ties go to weighted round robin, so the sequence must be
 * identical; with one request held on a slow server the others must avoid it exactly as nginx does. random draws:
 * each side's share per server must lie within 0.07 of the expected share over 600 requests (more than 4
 * standard deviations), and the two sides within 0.1 of each other.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Farm, gets, hit, runSequence, startPair, type Proc, type Report } from './nginx.js'
import { sleep, waitFor } from './helpers.js'

const N = 600

function shares(r: Report, names: string[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const n of names) out[n] = r.backends.filter((b) => b === n).length / r.backends.length
  return out
}

test('least_conn and random as nginx', async (t) => {
  const farm = new Farm(t)
  const [a, b, c, d] = await Promise.all(['A', 'B', 'C', 'D'].map((n) => farm.add(n)))
  const [s, e, f] = await Promise.all([farm.add('S', { delay: 800 }), farm.add('E'), farm.add('F')])
  const servers = `server ${a!.addr} weight=1; server ${b!.addr} weight=3; server ${c!.addr} weight=2; server ${d!.addr} down;`
  const upstream = `
    upstream u { least_conn; ${servers} }
    upstream held { least_conn; server ${s!.addr} weight=3; server ${e!.addr}; server ${f!.addr} weight=2; }
    upstream r1 { random; ${servers} }
    upstream r2 { random two least_conn; ${servers} }`
  const extra = `
        location /held { proxy_pass http://held; }
        location /r1 { proxy_pass http://r1; }
        location /r2 { proxy_pass http://r2; }
`
  const p = await startPair(t, { upstream }, extra)

  await t.test('least_conn, one request at a time: weighted round robin among ties', async () => {
    const reqs = gets(24)
    const ngx = await runSequence(p.nginx, farm, reqs)
    const dy = await runSequence(p.dyups, farm, reqs)
    assert.equal(ngx.log.length, 24)
    assert.deepEqual(dy, ngx)
  })

  await t.test('least_conn avoids a server that holds a request', async () => {
    const run = async (side: Proc): Promise<{ held: string; seq: string[]; log: string[] }> => {
      farm.reset()
      const before = side.lines().length
      const held = hit(side.port, { path: '/held?i=held' })
      assert.ok(await waitFor(() => farm.arrivals.length === 1, 15_000), 'the held request arrived')
      const seq: string[] = [farm.arrivals[0]!]
      for (let i = 0; i < 6; i++) {
        const r = await hit(side.port, { path: `/held?i=${i}` })
        seq.push(r.body)
      }
      const h = await held
      await waitFor(() => side.lines().length - before >= 7, 15_000)
      await sleep(0)
      return { held: `${h.status} ${h.body}`, seq, log: side.lines().slice(before).map((l) => farm.names(l.split('|').slice(0, 3).join('|'))) }
    }
    const ngx = await run(p.nginx)
    const dy = await run(p.dyups)
    if (process.env.SIDE_DEBUG) console.log(JSON.stringify(ngx))
    assert.equal(ngx.log.length, 7)
    assert.deepEqual(dy, ngx)
  })

  const expect = async (path: string, want: Record<string, number>): Promise<void> => {
    const reqs = gets(N).map((r) => ({ path: path + r.path!.slice(1) }))
    const ngx = shares(await runSequence(p.nginx, farm, reqs), Object.keys(want))
    const dy = shares(await runSequence(p.dyups, farm, reqs), Object.keys(want))
    for (const [n, w] of Object.entries(want)) {
      assert.ok(Math.abs(ngx[n]! - w) <= 0.07, `nginx: ${n} ${ngx[n]} vs ${w}`)
      assert.ok(Math.abs(dy[n]! - w) <= 0.07, `dyups: ${n} ${dy[n]} vs ${w}`)
      assert.ok(Math.abs(dy[n]! - ngx[n]!) <= 0.1, `${n}: dyups ${dy[n]} nginx ${ngx[n]}`)
    }
  }

  await t.test('random: shares by weight (1:3:2, the down server never)', () => expect('/r1', { A: 1 / 6, B: 3 / 6, C: 2 / 6, D: 0 }))

  // Two distinct draws, the second kept on a tie (every count is zero): P(i) = sum over j != i of w_j/W * w_i/(W - w_j).
  await t.test('random two least_conn: the second draw wins ties', () => expect('/r2', { A: 0.25, B: 0.35, C: 0.4, D: 0 }))
})

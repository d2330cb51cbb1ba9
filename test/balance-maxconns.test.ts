/**
 * max_conns side by side with the real nginx: requests held open on slow servers (700 ms) while others run one
 * after another. A full server is skipped, a full primary tier sends to the backup, and when no server can take
 * the request the answer is 502 with the group's name in $upstream_addr ("no live upstreams").
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Farm, gets, runHeld, startPair, type Backend, type HitOptions } from './nginx.js'

test('max_conns, as nginx', async (t) => {
  const farm = new Farm(t)
  const ok = (n: string): Promise<Backend> => farm.add(n)
  const slow = (n: string): Promise<Backend> => farm.add(n, { delay: 700 })
  const upstream = `
    upstream u { server ${(await slow('S')).addr} max_conns=1; server ${(await ok('A')).addr}; }
    upstream one { server ${(await slow('S1')).addr} max_conns=1; }
    upstream withbackup { server ${(await slow('S2')).addr} max_conns=1; server ${(await ok('E')).addr} backup; }
    upstream allfull { server ${(await slow('S3')).addr} max_conns=1; server ${(await slow('S4')).addr} max_conns=1; }`
  const server = ['one', 'withbackup', 'allfull'].map((n) => `        location /${n} { proxy_pass http://${n}; }\n`).join('')
  const p = await startPair(t, { upstream }, server)

  const heldCases: [string, string, number, number][] = [
    ['max_conns: a full server is skipped', '', 1, 4],
    ['max_conns: a single full server is no live upstream', 'one', 1, 2],
    ['max_conns: primaries full, the backup', 'withbackup', 1, 2],
    ['max_conns: every server full, 502', 'allfull', 2, 2],
  ]
  for (const [name, group, nHeld, n] of heldCases) {
    await t.test(name, async () => {
      const h: HitOptions[] = Array.from({ length: nHeld }, (_, i) => ({ path: `/${group}?held=${i}` }))
      const reqs: HitOptions[] = gets(n).map((r) => ({ path: `/${group}${r.path!.slice(1)}` }))
      const ngx = await runHeld(p.nginx, farm, h, reqs)
      const dy = await runHeld(p.dyups, farm, h, reqs)
      if (process.env.SIDE_DEBUG) console.log(name, JSON.stringify(ngx))
      assert.equal(ngx.log.length, nHeld + n)
      assert.deepEqual(dy, ngx)
    })
  }
})

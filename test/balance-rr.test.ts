/**
 * Round robin side by side with the real nginx: the same upstream block, the same request sequence, and the
 * backend sequence, the client's answers and the access-log lines ($upstream_addr|$upstream_status|$status, times
 * by shape) must be identical. Mixed weights, `down`, `backup` only when every primary is unavailable.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Farm, gets, runSequence, startPair } from './nginx.js'

test('round robin: mixed weights, down and backup, as nginx', async (t) => {
  const farm = new Farm(t)
  const [a, b, c, d, e] = await Promise.all(['A', 'B', 'C', 'D', 'E'].map((n) => farm.add(n)))
  const [x, y] = await Promise.all([farm.dead('X'), farm.dead('Y')])
  const upstream = `
    upstream u { server ${a!.addr} weight=5; server ${b!.addr} weight=2; server ${c!.addr}; server ${d!.addr} down; server ${e!.addr} backup; }
    upstream two { server ${a!.addr}; server ${b!.addr} weight=3 max_fails=0; }
    upstream deadpair { server ${x!.addr}; server ${y!.addr}; server ${e!.addr} backup; }
    upstream onedown { server ${a!.addr} down; server ${b!.addr}; }
    upstream dup { server ${a!.addr}; server ${b!.addr}; server ${a!.addr} weight=2; }`
  const extra = `
        location /two { proxy_pass http://two; }
        location /deadpair { proxy_pass http://deadpair; }
        location /onedown { proxy_pass http://onedown; }
        location /dup { proxy_pass http://dup; }
`
  const p = await startPair(t, { upstream }, extra)

  const cases: [string, number, string][] = [
    ['weights 5:2:1 with a down server and an unused backup', 40, '/'],
    ['weights 1:3', 12, '/two'],
    ['both primaries refused: the backup, then the backup alone within fail_timeout', 4, '/deadpair'],
    ['a down server is never used', 4, '/onedown'],
    ['duplicate server lines are peers of their own', 12, '/dup'],
  ]
  for (const [name, n, path] of cases) {
    await t.test(name, async () => {
      const reqs = gets(n).map((r) => ({ path: path + r.path!.slice(1) }))
      const ngx = await runSequence(p.nginx, farm, reqs)
      const dy = await runSequence(p.dyups, farm, reqs)
      assert.equal(ngx.log.length, n, `nginx wrote ${ngx.log.length} log lines`)
      if (process.env.SIDE_DEBUG) console.log(JSON.stringify(ngx))
      assert.deepEqual(dy, ngx)
    })
  }
})

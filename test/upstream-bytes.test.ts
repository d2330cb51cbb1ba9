/**
 * `$upstream_bytes_received`, `$upstream_bytes_sent`, `$upstream_response_length` and `$upstream_header_time` (its
 * shape: a time or `-`) side by side with the real nginx: per attempt, separated as `$upstream_addr` is, for answers,
 * retries, refused and closed connections, a request body, an answer cut short, kept-alive backend connections and
 * "no live upstreams".
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { readText, waitFor } from './helpers.js'
import { Farm, gets, runScenario, startScenarios, timeShape, type Backend, type Proc, type Scenario } from './nginx.js'

const srv = (...bs: (Backend | string)[]): string => bs.map((b) => `        server ${typeof b === 'string' ? b : `${b.addr};`}`).join('\n')
const FORMAT = '$upstream_addr|$upstream_bytes_received|$upstream_bytes_sent|$upstream_response_length|$upstream_header_time'

test('$upstream_bytes_received, $upstream_bytes_sent, $upstream_response_length, $upstream_header_time as nginx writes them', async (t) => {
  const farm = new Farm(t)
  const ok = (n: string): Promise<Backend> => farm.add(n)
  const list: Scenario[] = [
    { name: 'answers', upstream: srv(await ok('A1')), reqs: gets(2) },
    { name: 'refused, then the next server', upstream: srv(await farm.dead('X2'), await ok('A2')), reqs: gets(2) },
    {
      name: 'a 502 passed on with http_502',
      upstream: srv(await farm.add('S3', { status: 502 }), await ok('A3')),
      location: 'proxy_next_upstream error timeout http_502;',
      reqs: gets(2),
    },
    { name: 'a request body', upstream: srv(await ok('A4')), reqs: [{ method: 'POST', body: 'x'.repeat(3000) }, { method: 'POST', body: '' }] },
    { name: 'closed without an answer, then the next', upstream: srv(await farm.add('C5', 'close'), await ok('A5')), reqs: gets(2) },
    { name: 'an answer cut short', upstream: srv(await farm.add('P6', 'partial')), reqs: gets(2) },
    {
      name: 'kept-alive backend connections',
      upstream: srv(await ok('A7')) + '\n        keepalive 4;',
      location: 'proxy_http_version 1.1; proxy_set_header Connection "";',
      reqs: gets(3),
    },
    { name: 'every server refused, then no live upstreams', upstream: srv(await farm.dead('X8')), reqs: gets(2) },
  ]
  const p = await startScenarios(t, list, `    log_format b '${FORMAT}';\n    access_log logs/b.log b;\n`)
  const lines = (x: Proc): string[] => readText(join(x.prefix, 'logs/b.log')).split('\n').filter((l) => l !== '')
  for (let i = 0; i < list.length; i++) {
    await t.test(list[i]!.name, async () => {
      const seen: string[][] = []
      for (const side of [p.nginx, p.dyups]) {
        const before = lines(side).length
        const r = await runScenario(side, farm, list, i)
        assert.equal(r.log.length, r.client.length, `${side.kind} logged every request`)
        // This test's own log file is written beside the scenario's: wait for its lines too.
        assert.ok(await waitFor(() => lines(side).length >= before + r.client.length), `${side.kind} wrote logs/b.log`)
        // The header time by shape (a time, or `-` for an attempt that got no head).
        seen.push(lines(side).slice(before).map((l) => {
          const f = farm.names(l).split('|')
          return [...f.slice(0, 4), timeShape(f[4]!)].join('|')
        }))
      }
      assert.deepEqual(seen[1], seen[0])
    })
  }
})

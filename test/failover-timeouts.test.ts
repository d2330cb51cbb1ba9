/**
 * Timeouts side by side with the real nginx (proxy_read_timeout 1s): backends that accept and never answer, or
 * answer slowly. Servers tried, the final status (504 for a timeout) and $upstream_addr / $upstream_status (times
 * by shape) must be nginx's. A POST that reached a server is not resent unless non_idempotent says so.
 */
import { test } from 'node:test'
import { compareScenarios, Farm, gets, startScenarios, type Backend, type Scenario } from './nginx.js'

const srv = (...bs: (Backend | string)[]): string => bs.map((b) => `        server ${typeof b === 'string' ? b : `${b.addr};`}`).join('\n')
const post = { method: 'POST', body: 'x' }

test('timeouts and retries, as nginx', async (t) => {
  const farm = new Farm(t)
  const ok = (n: string): Promise<Backend> => farm.add(n)
  const hang = (n: string): Promise<Backend> => farm.add(n, 'hang')
  const list: Scenario[] = [
    { name: 'no answer: 504 attempt, then the next server; then skipped', upstream: srv(await hang('H1'), await ok('A1')), reqs: gets(3) },
    { name: 'a slow first byte within proxy_read_timeout is an answer', upstream: srv(await farm.add('W2', { delay: 150 }), await ok('A2')), reqs: gets(3) },
    { name: 'a slow first byte after proxy_read_timeout is a timeout', upstream: srv(await farm.add('W3', { delay: 1400 }), await ok('A3')), reqs: gets(3) },
    { name: 'a single server that never answers: 504 each time', upstream: srv(await hang('H4')), reqs: gets(2) },
    { name: 'a POST that timed out is not resent', upstream: srv(await hang('H5'), await ok('A5')), reqs: [post, post] },
    {
      name: 'a POST that timed out is resent with non_idempotent',
      upstream: srv(await hang('H6'), await ok('A6')),
      location: 'proxy_next_upstream error timeout non_idempotent;',
      reqs: [post, post],
    },
    {
      name: 'timeout not named: the 504 is the answer, and it still counts as a failure',
      upstream: srv(await hang('H7'), await ok('A7')),
      location: 'proxy_next_upstream error;',
      reqs: gets(3),
    },
  ]
  const p = await startScenarios(t, list, '    proxy_read_timeout 1s;\n')
  await compareScenarios(t, p, farm, list)
})

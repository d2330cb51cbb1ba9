/**
 * Limits on retries side by side with the real nginx: proxy_next_upstream_timeout (checked before each further
 * attempt, on errors and on answers alike), backups after primaries that time out, a connect that never completes
 * (proxy_connect_timeout 1s), and "no live upstreams" after a timeout.
 */
import { test } from 'node:test'
import { compareScenarios, Farm, gets, startScenarios, type Backend, type Scenario } from './nginx.js'

const srv = (...bs: (Backend | string)[]): string => bs.map((b) => `        server ${typeof b === 'string' ? b : `${b.addr};`}`).join('\n')

test('retry limits and connect timeouts, as nginx', async (t) => {
  const farm = new Farm(t)
  const ok = (n: string): Promise<Backend> => farm.add(n)
  const slow502 = (n: string): Promise<Backend> => farm.add(n, { status: 502, delay: 650 })
  const list: Scenario[] = [
    {
      name: 'proxy_next_upstream_timeout: a late 502 is passed to the client',
      upstream: srv(await slow502('S1'), await slow502('T1'), await ok('A1')),
      location: 'proxy_next_upstream error timeout http_502;\n            proxy_next_upstream_timeout 1s;',
      reqs: gets(1),
    },
    {
      name: 'proxy_next_upstream_timeout: a late timeout ends the retries',
      upstream: srv(await slow502('S2'), await farm.add('H2', 'hang'), await ok('A2')),
      location: 'proxy_next_upstream error timeout http_502;\n            proxy_next_upstream_timeout 1s;',
      reqs: gets(1),
    },
    {
      name: 'without proxy_next_upstream_timeout the same servers lead to an answer',
      upstream: srv(await slow502('S3'), await slow502('T3'), await ok('A3')),
      location: 'proxy_next_upstream error timeout http_502;',
      reqs: gets(1),
    },
    {
      name: 'every primary times out or is refused: the backup',
      upstream: srv(await farm.add('H4', 'hang'), await farm.dead('X4'), `${(await ok('E4')).addr} backup;`),
      reqs: gets(2),
    },
    { name: 'a timeout, then a refused server: 502, then no live upstreams', upstream: srv(await farm.add('H5', 'hang'), await farm.dead('X5')), reqs: gets(2) },
    { name: 'a connect that never completes: 504, then the next server', upstream: srv(await farm.blackhole('K6'), await ok('A6')), reqs: gets(3) },
  ]
  const p = await startScenarios(t, list, '    proxy_read_timeout 1s;\n    proxy_connect_timeout 1s;\n')
  await compareScenarios(t, p, farm, list)
})

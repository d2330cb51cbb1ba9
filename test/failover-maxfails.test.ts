/**
 * Passive health side by side with the real nginx: max_fails within fail_timeout, one probe once fail_timeout has
 * passed (failing again, or succeeding and clearing the failures), effective weight lowered by a failure and
 * recovering pick by pick, max_fails=0, backups while the primaries are out. fail_timeout=1s: a failed server is
 * out for up to two seconds (nginx counts whole seconds), so the tests wait 2.1 s where the window must be over.
 */
import { test } from 'node:test'
import { sleep } from './helpers.js'
import { compareScenarios, Farm, gets, startScenarios, type Backend, type Scenario } from './nginx.js'

const srv = (...bs: (Backend | string)[]): string => bs.map((b) => `        server ${typeof b === 'string' ? b : `${b.addr};`}`).join('\n')

test('max_fails, fail_timeout and effective weight, as nginx', async (t) => {
  const farm = new Farm(t)
  const ok = (n: string): Promise<Backend> => farm.add(n)
  const x1 = await farm.dead('X1')
  const a2 = await ok('A2')
  const x4 = await farm.dead('X4')
  const list: Scenario[] = [
    {
      name: 'max_fails=2 fail_timeout=1s: out after two failures, a failing probe, then a good one',
      upstream: srv(`${x1.addr} max_fails=2 fail_timeout=1s;`, await ok('A1'), await ok('B1')),
      reqs: gets(15),
      setup: () => x1.stop(),
      between: async (i) => {
        if (i === 9) await sleep(2100)
        if (i === 12) {
          await x1.start()
          await sleep(2100)
        }
      },
    },
    {
      name: 'a failure lowers the effective weight, which grows back by one a pick',
      upstream: srv(`${a2.addr} weight=4 max_fails=4;`, await ok('B2')),
      location: 'proxy_next_upstream error http_503;',
      reqs: gets(20),
      setup: () => {
        a2.mode = 'ok'
      },
      between: (i) => {
        a2.mode = i === 1 || i === 2 ? { status: 503 } : 'ok'
      },
    },
    {
      name: 'max_fails=0: a refused server is tried every time its turn comes',
      upstream: srv(`${(await farm.dead('X3')).addr} max_fails=0;`, await ok('A3'), await ok('B3')),
      reqs: gets(6),
    },
    {
      name: 'primaries out within fail_timeout: the backup; back after fail_timeout',
      upstream: srv(`${x4.addr} fail_timeout=1s;`, `${(await ok('E4')).addr} backup;`),
      reqs: gets(5),
      setup: () => x4.stop(),
      between: async (i) => {
        if (i === 3) {
          await x4.start()
          await sleep(2100)
        }
      },
    },
  ]
  const p = await startScenarios(t, list)
  await compareScenarios(t, p, farm, list)
})

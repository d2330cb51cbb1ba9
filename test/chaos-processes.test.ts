/**
 * Chaos, short version (`npm run chaos` runs the long one): workers killed with -9 in several cycles under proxied
 * traffic on new connections, one at a time or all at once, and ten SIGHUPs in a row under the same traffic. Nothing
 * is refused; a reset only ever hits a connection in flight at a kill; a reload storm loses nothing.
 * test/process-sockets.test.ts has the single kill and the single reload, against `return 200`.
 */
import { test } from 'node:test'
import { killWorkers, reloadStorm, startProxy } from './chaos/processes.js'
import { prng, seedFromEnv } from './chaos/prng.js'

const SEED = seedFromEnv(0xc4a05)

test('worker kill -9 cycles under proxied traffic, one worker or all at once: nothing refused', async (t) => {
  t.diagnostic(`seed ${SEED} (CHAOS_SEED replays it)`)
  const rnd = prng(SEED)
  const p = await startProxy(t, 'dyups', 2)
  await killWorkers(t, p, { cycles: 4, all: 'mixed', concurrency: 8, rnd })
  await killWorkers(t, p, { cycles: 1, all: true, concurrency: 8, rnd })
})

test('ten SIGHUPs back to back under traffic: every request answered, nothing refused or reset', async (t) => {
  const p = await startProxy(t, 'dyups', 2)
  await reloadStorm(t, p, { reloads: 10, gapMs: 0, concurrency: 8, baselineMs: 300 })
})

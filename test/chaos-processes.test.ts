/**
 * Chaos, short version (`npm run chaos` runs the long one): workers killed with -9 in several cycles under proxied
 * traffic on new connections, one at a time or all at once, and SIGHUP storms under the same traffic. Nothing
 * is refused; a reset only ever hits a connection in flight at a kill; a reload storm loses nothing. The long run
 * makes each of ten SIGHUPs a reload of its own, and compares with nginx.
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
  await killWorkers(t, p, { cycles: 3, all: 'mixed', concurrency: 8, rnd })
  await killWorkers(t, p, { cycles: 1, all: true, concurrency: 8, rnd })
})

test('SIGHUP storms under traffic: every request answered, nothing refused or reset', async (t) => {
  const p = await startProxy(t, 'dyups', 2)
  // Ten in a row (the kernel may coalesce them), then three that are each a reload of their own.
  await reloadStorm(t, p, { reloads: 10, pace: 'burst', concurrency: 8, baselineMs: 300 })
  await reloadStorm(t, p, { reloads: 3, pace: 'logged', concurrency: 8, baselineMs: 300 })
})

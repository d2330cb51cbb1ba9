/**
 * Chaos, short version: slow uploads in flight, many at once, while their groups are deleted or replaced at random
 * (test/proxy-pinned.test.ts has the single upload of each kind). Every one is answered by its original server.
 */
import { test } from 'node:test'
import { prng, seedFromEnv } from './chaos/prng.js'
import { uploadsInFlight } from './chaos/uploads.js'

const SEED = seedFromEnv(0x5e1f)

test('uploads in flight while their groups are deleted or replaced: each answered 200 by its original server', async (t) => {
  t.diagnostic(`seed ${SEED} (CHAOS_SEED replays it)`)
  await uploadsInFlight(t, { rounds: 2, concurrent: 12, bytes: 300_000, chunks: 10, gapMs: 40, rnd: prng(SEED) })
})

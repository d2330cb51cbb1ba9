/**
 * Fuzzing, short version (`npm run chaos` runs over a million inputs): 20 000 generated inputs per target with a
 * fixed seed, each a mutation of a valid seed, through the configuration parser, the REST command-body parser, the
 * HTTP/1.1 request head parser and the chunked decoder. No input may throw anything but the documented typed error,
 * run past its budget, or break the target's invariant (test/chaos/fuzz/targets.ts). A failing input is written to
 * a file, and the command that replays it is printed. CHAOS_SEED picks another seed.
 */
import assert from 'node:assert/strict'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { describeFuzz, fuzz } from './chaos/fuzz/runner.js'
import { seedFromEnv } from './chaos/prng.js'

const SEED = seedFromEnv(20261207)
const COUNT = 20_000

for (const target of ['config', 'commands', 'http-head', 'http-chunked']) {
  test(`fuzz ${target}: ${COUNT} inputs, seed ${SEED}`, async (t) => {
    // The budget catches a hang, not a slow input: generous enough for a busy machine.
    const r = await fuzz({ target, seed: SEED, count: COUNT, budgetMs: 20_000, rssLimitMb: 1024, outDir: join(tmpdir(), 'dyups-fuzz') })
    t.diagnostic(describeFuzz(r))
    assert.equal(r.failure, null, describeFuzz(r))
    assert.equal(r.inputs, COUNT)
  })
}

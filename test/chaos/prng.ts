/**
 * A seeded PRNG (mulberry32) and the small helpers the chaos experiments and the fuzzers draw from, so that a run
 * is replayed by its seed: the seed is printed, and the same seed gives the same choices.
 */

import { prng as mulberry32 } from '../../src/http1/testing.js'

export type Rnd = () => number

/** mulberry32 (the one src/http1/testing.ts has): 32 bits of state, uniform in [0, 1). */
export const prng: (seed: number) => Rnd = mulberry32

/** A seed for input `index` of a run seeded with `seed`: each input is generated on its own, so one can be replayed alone. */
export function mix(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0
  return (h ^ (h >>> 16)) >>> 0
}

/** An integer in [0, n). */
export const int = (rnd: Rnd, n: number): number => Math.floor(rnd() * n)

export const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[int(rnd, xs.length)]!

/** The seed from `CHAOS_SEED` (decimal or 0x hex), else `fallback`. */
export function seedFromEnv(fallback: number): number {
  const v = process.env.CHAOS_SEED
  if (v === undefined || v === '') return fallback
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`CHAOS_SEED: "${v}" is not a non-negative integer`)
  return n >>> 0
}

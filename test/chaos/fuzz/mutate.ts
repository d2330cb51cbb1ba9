/**
 * Mutations of valid seeds, as byte strings (latin1: one char per byte). Each input is a seed put through one to
 * eight of: a byte replaced, a bit flipped, bytes inserted or deleted, a slice repeated (up to huge lengths), a
 * slice spliced in from another seed, a token of the target's dictionary inserted, a number replaced by a boundary
 * number. About one input in a hundred is large (up to the cap): enough to find work that grows faster than the
 * input, few enough that a million inputs take minutes. Inputs are capped at MAX_INPUT bytes so that memory stays bounded whatever the mutations do.
 */
import { int, pick, type Rnd } from '../prng.js'

export const MAX_INPUT = 1 << 20

/** Numbers where parsers overflow, wrap, or change representation. */
export const BOUNDARY_NUMBERS = [
  '0', '-0', '-1', '1', '00', '007', '255', '256', '1023', '1024', '4095', '4096', '65535', '65536', '2147483647',
  '2147483648', '-2147483648', '4294967295', '4294967296', '9007199254740991', '9007199254740992', '9007199254740993',
  '18446744073709551615', '18446744073709551616', '99999999999999999999999999999', '1e309', '1e-7', '0.5', 'NaN',
  'Infinity', '0x7fffffff', 'ffffffff', 'fffffffffffffff', '7fffffffffffffff', '10000000000000', '+1', '1 1', '',
]

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

function randomBytes(rnd: Rnd, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += String.fromCharCode(int(rnd, 256))
  return s
}

/** A length that is usually small and sometimes large (log-uniform up to `max`). */
const logLen = (rnd: Rnd, max: number): number => Math.max(1, Math.floor(Math.exp(rnd() * Math.log(max))))

function capped(s: string): string {
  return s.length > MAX_INPUT ? s.slice(0, MAX_INPUT) : s
}

/** One mutation of `s`; `seeds` feeds splices, `dict` the target's tokens. */
export function mutateOnce(s: string, rnd: Rnd, seeds: readonly string[], dict: readonly string[]): string {
  const at = s.length === 0 ? 0 : int(rnd, s.length + 1)
  const op = int(rnd, 100)
  if (op < 12) {
    // A byte replaced by any byte.
    if (s.length === 0) return randomBytes(rnd, 1)
    const i = Math.min(at, s.length - 1)
    return s.slice(0, i) + String.fromCharCode(int(rnd, 256)) + s.slice(i + 1)
  }
  if (op < 20) {
    // A bit flipped.
    if (s.length === 0) return s
    const i = Math.min(at, s.length - 1)
    return s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ (1 << int(rnd, 8))) + s.slice(i + 1)
  }
  if (op < 30) return s.slice(0, at) + randomBytes(rnd, 1 + int(rnd, 4)) + s.slice(at)
  if (op < 42) {
    // A range deleted.
    const n = logLen(rnd, Math.max(2, s.length - at))
    return s.slice(0, at) + s.slice(at + n)
  }
  if (op < 52) {
    // A slice repeated: a few times, or (rarely) up to the cap, which is where quadratic work and deep nesting show.
    const n = logLen(rnd, 64)
    const slice = s.slice(at, at + n)
    if (slice.length === 0) return s
    const times = rnd() < 0.01 ? Math.floor(MAX_INPUT / 4 / slice.length) : logLen(rnd, 100)
    return capped(s.slice(0, at) + slice.repeat(Math.max(1, times)) + s.slice(at))
  }
  if (op < 62) {
    // A slice of another seed spliced in, replacing a range.
    const other = pick(rnd, seeds)
    const from = int(rnd, other.length + 1)
    const piece = other.slice(from, from + logLen(rnd, 256))
    const cut = int(rnd, 16)
    return capped(s.slice(0, at) + piece + s.slice(at + cut))
  }
  if (op < 80) {
    // A token of the target's dictionary.
    const tok = pick(rnd, dict)
    const times = rnd() < 0.005 ? Math.floor(MAX_INPUT / 4 / Math.max(1, tok.length)) : rnd() < 0.2 ? 1 + int(rnd, 20) : 1
    return capped(s.slice(0, at) + tok.repeat(times) + s.slice(at))
  }
  if (op < 95) {
    // The number nearest to `at` replaced by a boundary number.
    let i = at
    while (i < s.length && !isDigit(s.charCodeAt(i))) i++
    if (i >= s.length) return s.slice(0, at) + pick(rnd, BOUNDARY_NUMBERS) + s.slice(at)
    let j = i
    while (j < s.length && isDigit(s.charCodeAt(j))) j++
    return s.slice(0, i) + pick(rnd, BOUNDARY_NUMBERS) + s.slice(j)
  }
  // A run of one byte: up to a few KB, now and then up to half the cap.
  const run = logLen(rnd, rnd() < 0.05 ? MAX_INPUT / 2 : 4096)
  return capped(s.slice(0, at) + String.fromCharCode(int(rnd, 256)).repeat(run) + s.slice(at))
}

/**
 * Input `rnd` stands for: a seed, mutated one to eight times; with probability `pristine` the seed itself (so the
 * invariants that only hold for valid input are exercised on valid input).
 */
export function mutate(rnd: Rnd, seeds: readonly string[], dict: readonly string[], pristine = 0.05): string {
  let s = pick(rnd, seeds)
  if (rnd() < pristine) return s
  const n = 1 + Math.floor(Math.pow(rnd(), 2) * 8)
  for (let k = 0; k < n; k++) s = mutateOnce(s, rnd, seeds, dict)
  return s
}

/**
 * yescrypt (`$y$…`), the default hash of Debian's crypt(3) (libxcrypt), for auth_basic_user_file. No npm package
 * implements it, so this is written from its specification — the reference implementation yescrypt-ref.c and the
 * encoding of yescrypt-common.c by Alexander Peslyak (openwall), which libxcrypt uses unchanged — and checked
 * against hashes libxcrypt made (passwords.test.ts).
 *
 * What libxcrypt computes for `$y$` is computed here: the yescrypt mode (YESCRYPT_RW with the standard pwxform
 * settings: 6 rounds, gather 4, simple 2, 12 KiB S-boxes), the classic scrypt and WORM flavors, any N, r, p, t;
 * settings it refuses (a ROM, hash upgrades, other pwxform settings, a salt that does not decode) give null, which
 * never matches, as libxcrypt's failure token never does. A setting needing more than {@link MAX_MEMORY} bytes is
 * not computed (undefined): libxcrypt would, so the caller treats it as a format it does not support.
 *
 * Speed: JavaScript has no 64-bit multiplication; Debian's default cost (`j9T`, 16 MiB) takes about 0.4 s on one
 * core where libxcrypt takes tens of milliseconds (auth-basic.ts remembers a verified credential, so this is paid
 * once per credential and per wrong password). The 32-bit words are read in the machine's byte order, which is
 * little-endian wherever Node runs (checked below).
 */
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto'

/** Most memory one hash may take (V, the scratch of N blocks of 128·r bytes): 1 GiB. */
const MAX_MEMORY = 2 ** 30

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error('yescrypt.ts assumes a little-endian machine')

const WORM = 1
const RW = 2
const MODE_MASK = 3
const FLAVOR_MASK = 0x3fc
/** YESCRYPT_ROUNDS_6 | YESCRYPT_GATHER_4 | YESCRYPT_SIMPLE_2 | YESCRYPT_SBOX_12K: the only pwxform settings defined. */
const STANDARD_FLAVOR = 0x004 | 0x010 | 0x020 | 0x080
const PREHASH = 0x10000000

// pwxform: PWXsimple 2, PWXgather 4, PWXrounds 6, Swidth 8.
const PWX_WORDS = 16
const S_WORDS = 3 * 256 * 2 * 2
/** Smask in bytes: ((1 << Swidth) - 1) * PWXsimple * 8. */
const S_MASK = 255 * 16
/** One S-box in words: (1 << Swidth) * PWXsimple pairs of words. */
const SBOX_WORDS = 256 * 2 * 2

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

function atoi64(c: number): number {
  if (c >= 0x2e && c <= 0x39) return c - 0x2e
  if (c >= 0x41 && c <= 0x5a) return c - 0x41 + 12
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 38
  return 64
}

// ---- Salsa20 and the block mixes -------------------------------------------------------------------------------

const x = new Uint32Array(16)

/** Salsa20 core with the SIMD shuffle of the reference, on B[o..o+16). */
function salsa20(B: Uint32Array, o: number, rounds: number): void {
  for (let i = 0; i < 16; i++) x[(i * 5) % 16] = B[o + i]!
  let x0 = x[0]!, x1 = x[1]!, x2 = x[2]!, x3 = x[3]!, x4 = x[4]!, x5 = x[5]!, x6 = x[6]!, x7 = x[7]!
  let x8 = x[8]!, x9 = x[9]!, x10 = x[10]!, x11 = x[11]!, x12 = x[12]!, x13 = x[13]!, x14 = x[14]!, x15 = x[15]!
  let t = 0
  for (let i = 0; i < rounds; i += 2) {
    t = (x0 + x12) | 0; x4 ^= (t << 7) | (t >>> 25)
    t = (x4 + x0) | 0; x8 ^= (t << 9) | (t >>> 23)
    t = (x8 + x4) | 0; x12 ^= (t << 13) | (t >>> 19)
    t = (x12 + x8) | 0; x0 ^= (t << 18) | (t >>> 14)
    t = (x5 + x1) | 0; x9 ^= (t << 7) | (t >>> 25)
    t = (x9 + x5) | 0; x13 ^= (t << 9) | (t >>> 23)
    t = (x13 + x9) | 0; x1 ^= (t << 13) | (t >>> 19)
    t = (x1 + x13) | 0; x5 ^= (t << 18) | (t >>> 14)
    t = (x10 + x6) | 0; x14 ^= (t << 7) | (t >>> 25)
    t = (x14 + x10) | 0; x2 ^= (t << 9) | (t >>> 23)
    t = (x2 + x14) | 0; x6 ^= (t << 13) | (t >>> 19)
    t = (x6 + x2) | 0; x10 ^= (t << 18) | (t >>> 14)
    t = (x15 + x11) | 0; x3 ^= (t << 7) | (t >>> 25)
    t = (x3 + x15) | 0; x7 ^= (t << 9) | (t >>> 23)
    t = (x7 + x3) | 0; x11 ^= (t << 13) | (t >>> 19)
    t = (x11 + x7) | 0; x15 ^= (t << 18) | (t >>> 14)
    t = (x0 + x3) | 0; x1 ^= (t << 7) | (t >>> 25)
    t = (x1 + x0) | 0; x2 ^= (t << 9) | (t >>> 23)
    t = (x2 + x1) | 0; x3 ^= (t << 13) | (t >>> 19)
    t = (x3 + x2) | 0; x0 ^= (t << 18) | (t >>> 14)
    t = (x5 + x4) | 0; x6 ^= (t << 7) | (t >>> 25)
    t = (x6 + x5) | 0; x7 ^= (t << 9) | (t >>> 23)
    t = (x7 + x6) | 0; x4 ^= (t << 13) | (t >>> 19)
    t = (x4 + x7) | 0; x5 ^= (t << 18) | (t >>> 14)
    t = (x10 + x9) | 0; x11 ^= (t << 7) | (t >>> 25)
    t = (x11 + x10) | 0; x8 ^= (t << 9) | (t >>> 23)
    t = (x8 + x11) | 0; x9 ^= (t << 13) | (t >>> 19)
    t = (x9 + x8) | 0; x10 ^= (t << 18) | (t >>> 14)
    t = (x15 + x14) | 0; x12 ^= (t << 7) | (t >>> 25)
    t = (x12 + x15) | 0; x13 ^= (t << 9) | (t >>> 23)
    t = (x13 + x12) | 0; x14 ^= (t << 13) | (t >>> 19)
    t = (x14 + x13) | 0; x15 ^= (t << 18) | (t >>> 14)
  }
  x[0] = x0; x[1] = x1; x[2] = x2; x[3] = x3; x[4] = x4; x[5] = x5; x[6] = x6; x[7] = x7
  x[8] = x8; x[9] = x9; x[10] = x10; x[11] = x11; x[12] = x12; x[13] = x13; x[14] = x14; x[15] = x15
  for (let i = 0; i < 16; i++) B[o + i] = B[o + i]! + x[(i * 5) % 16]!
}

const xs = new Uint32Array(16)

/** BlockMix_{salsa20/8, r} of B[o..o+32r), with Y[yo..yo+32r) as scratch. */
function blockmixSalsa8(B: Uint32Array, o: number, Y: Uint32Array, yo: number, r: number): void {
  xs.set(B.subarray(o + (2 * r - 1) * 16, o + 2 * r * 16))
  for (let i = 0; i < 2 * r; i++) {
    for (let k = 0; k < 16; k++) xs[k] = xs[k]! ^ B[o + i * 16 + k]!
    salsa20(xs, 0, 8)
    Y.set(xs, yo + i * 16)
  }
  for (let i = 0; i < r; i++) B.set(Y.subarray(yo + i * 2 * 16, yo + i * 2 * 16 + 16), o + i * 16)
  for (let i = 0; i < r; i++) B.set(Y.subarray(yo + (i * 2 + 1) * 16, yo + (i * 2 + 1) * 16 + 16), o + (i + r) * 16)
}

/** The S-boxes of one pwxform context: S2, S1, S0 as word offsets into S, and the write position w. */
interface Pwx {
  S: Uint32Array
  s0: number
  s1: number
  s2: number
  w: number
}

/** pwxform on the 16 words X[0..16). */
function pwxform(X: Uint32Array, ctx: Pwx): void {
  const S = ctx.S
  const s0 = ctx.s0, s1 = ctx.s1, s2 = ctx.s2
  let w = ctx.w
  for (let i = 0; i < 6; i++) {
    const write = i !== 0 && i !== 5
    for (let b = 0; b < 16; b += 4) {
      const p0 = s0 + ((X[b]! & S_MASK) >>> 2)
      const p1 = s1 + ((X[b + 1]! & S_MASK) >>> 2)
      for (let q = b; q < b + 4; q += 2) {
        const xl = X[q]!
        const xh = X[q + 1]!
        // (xh * xl + S0) ^ S1 in 64 bits: the low word by Math.imul, the high one from 16-bit pieces.
        const a0 = xl & 0xffff, a1 = xl >>> 16, b0 = xh & 0xffff, b1 = xh >>> 16
        const p01 = a0 * b1, p10 = a1 * b0
        const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)
        const mlo = Math.imul(xl, xh) >>> 0
        const mhi = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)
        const k = q - b
        const lo0 = (mlo + S[p0 + k]!) >>> 0
        const lo = (lo0 ^ S[p1 + k]!) >>> 0
        const hi = ((mhi + S[p0 + k + 1]! + (lo0 < mlo ? 1 : 0)) ^ S[p1 + k + 1]!) >>> 0
        X[q] = lo
        X[q + 1] = hi
        if (write) {
          S[s2 + w * 2] = lo
          S[s2 + w * 2 + 1] = hi
          w++
        }
      }
    }
  }
  // (S0, S1, S2) <- (S2, S0, S1)
  ctx.s0 = s2
  ctx.s1 = s0
  ctx.s2 = s1
  ctx.w = w & (256 * 2 - 1)
}

/** BlockMix_pwxform of B[o..o+32r), with the 16 words Y as scratch. */
function blockmixPwxform(B: Uint32Array, o: number, Y: Uint32Array, ctx: Pwx, r: number): void {
  const r1 = 2 * r
  const last = o + (r1 - 1) * PWX_WORDS
  for (let k = 0; k < PWX_WORDS; k++) Y[k] = B[last + k]!
  for (let i = 0; i < r1; i++) {
    const bi = o + i * PWX_WORDS
    if (r1 > 1) for (let k = 0; k < PWX_WORDS; k++) Y[k] = Y[k]! ^ B[bi + k]!
    pwxform(Y, ctx)
    for (let k = 0; k < PWX_WORDS; k++) B[bi + k] = Y[k]!
  }
  salsa20(B, o + (r1 - 1) * 16, 2)
}

/** The low 32 bits of Integerify: ample while N is below 2^32. */
const integerify = (B: Uint32Array, o: number, r: number): number => B[o + (2 * r - 1) * 16]!

function p2floor(n: number): number {
  let p = 1
  while (p * 2 <= n) p *= 2
  return p
}

function wrap(v: number, i: number): number {
  const n = p2floor(i)
  return (v & (n - 1)) + (i - n)
}

// ---- SMix ------------------------------------------------------------------------------------------------------

const Y16 = new Uint32Array(PWX_WORDS)

function mix(X: Uint32Array, XY: Uint32Array, s: number, ctx: Pwx | null, r: number): void {
  if (ctx !== null) blockmixPwxform(X, 0, Y16, ctx, r)
  else blockmixSalsa8(X, 0, XY, s, r)
}

/** The shuffled load of B into X (le32dec at i*5 % 16), and its inverse. */
function load(X: Uint32Array, B: Uint32Array, bo: number, r: number): void {
  for (let k = 0; k < 2 * r; k++) for (let i = 0; i < 16; i++) X[k * 16 + i] = B[bo + k * 16 + ((i * 5) % 16)]!
}
function store(B: Uint32Array, bo: number, X: Uint32Array, r: number): void {
  for (let k = 0; k < 2 * r; k++) for (let i = 0; i < 16; i++) B[bo + k * 16 + ((i * 5) % 16)] = X[k * 16 + i]!
}

function smix1(B: Uint32Array, bo: number, r: number, N: number, flags: number, V: Uint32Array, vo: number, XY: Uint32Array, ctx: Pwx | null): void {
  const s = 32 * r
  const X = XY.subarray(0, s)
  load(X, B, bo, r)
  for (let i = 0; i < N; i++) {
    V.set(X, vo + i * s)
    if (flags & RW && i > 1) {
      const j = wrap(integerify(X, 0, r), i)
      const vj = vo + j * s
      for (let k = 0; k < s; k++) X[k] = X[k]! ^ V[vj + k]!
    }
    mix(X, XY, s, ctx, r)
  }
  store(B, bo, X, r)
}

function smix2(B: Uint32Array, bo: number, r: number, N: number, loops: number, flags: number, V: Uint32Array, vo: number, XY: Uint32Array, ctx: Pwx | null): void {
  const s = 32 * r
  const X = XY.subarray(0, s)
  load(X, B, bo, r)
  for (let i = 0; i < loops; i++) {
    const j = integerify(X, 0, r) & (N - 1)
    const vj = vo + j * s
    for (let k = 0; k < s; k++) X[k] = X[k]! ^ V[vj + k]!
    if (flags & RW) V.set(X, vj)
    mix(X, XY, s, ctx, r)
  }
  store(B, bo, X, r)
}

function smix(B: Uint32Array, r: number, N: number, p: number, t: number, flags: number, V: Uint32Array, XY: Uint32Array, ctxs: Pwx[] | null, passwd: Buffer | null): void {
  const s = 32 * r
  let chunk = Math.floor(N / p)
  let all = chunk
  if (flags & RW) {
    if (t <= 1) {
      if (t) all *= 2
      all = Math.floor((all + 2) / 3)
    } else {
      all *= t - 1
    }
  } else if (t) {
    if (t === 1) all += Math.floor((all + 1) / 2)
    all *= t
  }
  let rw = flags & RW ? Math.floor(all / p) : 0
  chunk -= chunk % 2
  all += all % 2
  rw += rw % 2
  for (let i = 0, vchunk = 0; i < p; i++, vchunk += chunk) {
    const np = i < p - 1 ? chunk : N - vchunk
    const bo = i * s
    let ctx: Pwx | null = null
    if (flags & RW) {
      ctx = ctxs![i]!
      smix1(B, bo, 1, S_WORDS / 32, 0, ctx.S, 0, XY, null)
      ctx.s2 = 0
      ctx.s1 = SBOX_WORDS
      ctx.s0 = 2 * SBOX_WORDS
      ctx.w = 0
      if (i === 0) {
        const key = Buffer.from(B.buffer, B.byteOffset + (bo + s - 16) * 4, 64)
        createHmac('sha256', key).update(passwd!).digest().copy(passwd!)
      }
    }
    smix1(B, bo, r, np, flags, V, vchunk * s, XY, ctx)
    smix2(B, bo, r, p2floor(np), rw, flags, V, vchunk * s, XY, ctx)
  }
  for (let i = 0; i < p; i++) smix2(B, i * s, r, N, all - rw, flags & ~RW, V, 0, XY, flags & RW ? ctxs![i]! : null)
}

// ---- the KDF ---------------------------------------------------------------------------------------------------

interface Params {
  flags: number
  N: number
  r: number
  p: number
  t: number
}

/** yescrypt_kdf_body; null for what the reference refuses (EINVAL). */
function kdfBody(passwd: Buffer, salt: Buffer, flags: number, N: number, r: number, p: number, t: number, outLen: number): Buffer | null {
  switch (flags & MODE_MASK) {
    case 0:
      if (flags || t) return null
      break
    case WORM:
      if (flags !== WORM) return null
      break
    case RW:
      if ((flags & ~PREHASH) !== (RW | STANDARD_FLAVOR)) return null
      break
    default:
      return null
  }
  if (r * p >= 2 ** 30 || N <= 1 || (N & (N - 1)) !== 0 || r < 1 || p < 1) return null
  if (flags & RW && (Math.floor(N / p) <= 1 || r < 1)) return null
  const s = 32 * r
  const V = new Uint32Array(s * N)
  const B = new Uint32Array(s * p)
  const XY = new Uint32Array(2 * s)
  const bBytes = Buffer.from(B.buffer)
  let pw = passwd
  if (flags) pw = createHmac('sha256', (flags & PREHASH ? 'yescrypt-prehash' : 'yescrypt')).update(passwd).digest()
  pbkdf2Sync(pw, salt, 1, bBytes.length, 'sha256').copy(bBytes)
  if (flags) pw = Buffer.from(bBytes.subarray(0, 32))
  if (flags & RW) {
    const ctxs: Pwx[] = []
    for (let i = 0; i < p; i++) ctxs.push({ S: new Uint32Array(S_WORDS), s0: 0, s1: 0, s2: 0, w: 0 })
    smix(B, r, N, p, t, flags, V, XY, ctxs, pw)
  } else {
    for (let i = 0; i < p; i++) smix(B.subarray(i * s), r, N, 1, t, flags, V, XY, null, null)
  }
  let dk = pbkdf2Sync(pw, bBytes, 1, outLen, 'sha256')
  if (flags && !(flags & PREHASH)) {
    const keyFrom = outLen < 32 ? pbkdf2Sync(pw, bBytes, 1, 32, 'sha256') : dk.subarray(0, 32)
    const clientKey = createHmac('sha256', keyFrom).update('Client Key').digest()
    const stored = createHash('sha256').update(clientKey).digest()
    dk = Buffer.from(dk)
    stored.copy(dk, 0, 0, Math.min(outLen, 32))
  }
  return dk
}

/** yescrypt_kdf: the pre-hash with N/64 for large yescrypt-mode settings, then the hash. */
function kdf(passwd: Buffer, salt: Buffer, params: Params): Buffer | null {
  const { flags, N, r, p, t } = params
  let pw = passwd
  if (flags & RW && p >= 1 && Math.floor(N / p) >= 0x100 && Math.floor(N / p) * r >= 0x20000) {
    const dk = kdfBody(passwd, salt, flags | PREHASH, N / 64, r, p, 0, 32)
    if (dk === null) return null
    pw = dk
  }
  return kdfBody(pw, salt, flags, N, r, p, t, 32)
}

// ---- the `$y$` string ------------------------------------------------------------------------------------------

/** decode64_uint32: yescrypt's variable-length numbers; [value, next position] or null. */
function decodeUint32(s: string, pos: number, min: number): [number, number] | null {
  let start = 0, end = 47, chars = 1, bits = 0
  let c = atoi64(s.charCodeAt(pos++))
  if (c > 63) return null
  let v = min
  while (c > end) {
    v += (end + 1 - start) * 2 ** bits
    start = end + 1
    end = start + Math.floor((62 - end) / 2)
    chars++
    bits += 6
  }
  v += (c - start) * 2 ** bits
  while (--chars) {
    c = atoi64(s.charCodeAt(pos++))
    if (c > 63) return null
    bits -= 6
    v += c * 2 ** bits
  }
  return [v % 2 ** 32, pos]
}

/** decode64: 4 characters to 3 bytes, little-endian; a partial group must leave no bits over. */
function decodeBytes(s: string): Buffer | null {
  const out: number[] = []
  for (let i = 0; i < s.length; i += 4) {
    const n = Math.min(4, s.length - i)
    if (n === 1) return null
    let v = 0
    for (let k = 0; k < n; k++) {
      const c = atoi64(s.charCodeAt(i + k))
      if (c > 63) return null
      v += c * 2 ** (6 * k)
    }
    const bytes = Math.floor((6 * n) / 8)
    for (let k = 0; k < bytes; k++) {
      out.push(v & 0xff)
      v = Math.floor(v / 256)
    }
    if (v !== 0) return null
  }
  return out.length > 64 ? null : Buffer.from(out)
}

function encodeBytes(b: Buffer): string {
  let out = ''
  for (let i = 0; i < b.length; ) {
    let v = 0, bits = 0
    do {
      v |= b[i++]! << bits
      bits += 8
    } while (bits < 24 && i < b.length)
    for (let k = 0; k < bits; k += 6) {
      out += ITOA64[v & 0x3f]
      v >>>= 6
    }
  }
  return out
}

interface Setting extends Params {
  /** The setting up to and including the `$` before the salt. */
  prefix: string
  saltText: string
  salt: Buffer
}

/**
 * Reads a `$y$` setting as yescrypt_r does.
 * @returns its parameters; null where libxcrypt fails; undefined where computing it would take over 1 GiB
 */
export function yescryptSetting(stored: string): Setting | null | undefined {
  if (!stored.startsWith('$y$')) return null
  let d = decodeUint32(stored, 3, 0)
  if (d === null) return null
  const flavor = d[0]
  let flags: number
  if (flavor < RW) flags = flavor
  else if (flavor <= RW + (FLAVOR_MASK >> 2)) flags = RW + ((flavor - RW) << 2)
  else return null
  d = decodeUint32(stored, d[1], 1)
  if (d === null || d[0] > 63) return null
  const N = 2 ** d[0]
  d = decodeUint32(stored, d[1], 1)
  if (d === null) return null
  const r = d[0]
  let pos = d[1]
  let p = 1, t = 0, g = 0, rom = false
  if (stored[pos] !== '$') {
    d = decodeUint32(stored, pos, 1)
    if (d === null) return null
    const have = d[0]
    pos = d[1]
    if (have & 1) {
      if ((d = decodeUint32(stored, pos, 2)) === null) return null
      p = d[0]
      pos = d[1]
    }
    if (have & 2) {
      if ((d = decodeUint32(stored, pos, 1)) === null) return null
      t = d[0]
      pos = d[1]
    }
    if (have & 4) {
      if ((d = decodeUint32(stored, pos, 1)) === null) return null
      g = d[0]
      pos = d[1]
    }
    if (have & 8) {
      if ((d = decodeUint32(stored, pos, 1)) === null || d[0] > 63) return null
      rom = true
      pos = d[1]
    }
  }
  if (stored[pos++] !== '$') return null
  // Hash upgrades and a ROM: refused without one (crypt(3) has none).
  if (g !== 0 || rom) return null
  const last = stored.lastIndexOf('$')
  const saltText = last >= pos ? stored.slice(pos, last) : stored.slice(pos)
  const salt = decodeBytes(saltText)
  if (salt === null) return null
  // Bounded memory, and bounded work: t multiplies the passes over V.
  if (128 * r * N > MAX_MEMORY || 128 * r * p > MAX_MEMORY || 128 * r * N * (t + 1) > 4 * MAX_MEMORY) return undefined
  return { prefix: stored.slice(0, pos), saltText, salt, flags, N, r, p, t }
}

/**
 * crypt(3) of `$y$` (yescrypt_r): the hash of `password` with the setting of `stored` (parameters and salt; a
 * trailing hash is ignored, as the salt ends at the last `$`).
 * @returns the whole hash string; null where libxcrypt fails; undefined where it would take over 1 GiB
 */
export function yescrypt(password: Buffer, stored: string): string | null | undefined {
  const st = yescryptSetting(stored)
  if (st === null || st === undefined) return st
  const hash = kdf(password, st.salt, st)
  if (hash === null) return null
  return `${st.prefix}${st.saltText}$${encodeBytes(hash)}`
}

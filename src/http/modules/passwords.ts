/**
 * Password hashes of `auth_basic_user_file`, checked as nginx checks them (ngx_crypt): nginx's own schemes —
 * `{PLAIN}`, `{SHA}`, `{SSHA}`, `$apr1$` — and every other hash handed to crypt(3), which on Debian is libxcrypt. A
 * password matches when hashing it with the stored hash as the setting gives the stored hash back, byte for byte,
 * as nginx's `ngx_strcmp(encrypted, passwd)`; a setting crypt(3) refuses gives its failure token, which never
 * matches, so nginx answers `password mismatch` for it.
 *
 * The schemes and what computes them:
 * - `{PLAIN}`, `{SHA}`, `{SSHA}`: node:crypto, as ngx_crypt_plain/sha/ssha.
 * - `$apr1$` (Apache MD5) and `$1$` (MD5-crypt): the `apache-md5` package, fed the password's bytes as a latin1
 *   string (it hashes its strings as latin1).
 * - `$5$`, `$6$` (SHA-crypt): {@link shaCrypt} below, from Ulrich Drepper's specification ("Unix crypt using
 *   SHA-256 and SHA-512") with libxcrypt's parsing of `rounds=` and the salt; the npm implementation that is kept up
 *   (`unixcrypt`) hashes the password as UTF-8 text rather than bytes and allocates an array of `rounds` entries.
 *   Checked against the specification's test vectors and libxcrypt's output (passwords.test.ts).
 * - `$2a$`, `$2b$`, `$2y$` (bcrypt): the `bcryptjs` package. It takes the password as text and hashes its UTF-8 form,
 *   so a password whose bytes are not UTF-8 cannot be expressed and never matches a bcrypt hash.
 * - `$y$` (yescrypt): ./yescrypt.ts, from the yescrypt specification (no npm implementation exists); a setting
 *   that would take over 1 GiB of memory is not computed and counts as unsupported.
 * - traditional DES crypt (13 characters, no prefix): the `unix-crypt-td-js` package.
 *
 * Hashes libxcrypt also computes but dyups does not (gost-yescrypt `$gy$`, scrypt `$7$`, `$sha1$`, SunMD5 `$md5`,
 * BSDi `_`, NT `$3$`, `$2x$`) are {@link UNSUPPORTED}: nginx would accept the right password, dyups cannot tell, so
 * the request gets 500 and the error log says why; compiling the configuration warns about such lines.
 */
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import type bcryptTypes from 'bcryptjs'
import { yescrypt, yescryptSetting } from './yescrypt.js'

// The hashing libraries are loaded on the first password they check, not by every worker that starts: most
// configurations have no auth_basic, and a worker's start is paid again at every reload. CommonJS packages whose
// module.exports is the function (apache-md5's typings declare an ES default export).
const require = createRequire(import.meta.url)
let bcryptLib: typeof bcryptTypes | null = null
const bcrypt = (): typeof bcryptTypes => (bcryptLib ??= require('bcryptjs') as typeof bcryptTypes)
let apacheMd5Lib: ((password: string, salt: string) => string) | null = null
const apacheMd5 = (password: string, salt: string): string => (apacheMd5Lib ??= require('apache-md5') as (p: string, s: string) => string)(password, salt)
let unixCryptLib: ((password: string, salt: string) => string) | null = null
const unixCrypt = (password: string, salt: string): string => (unixCryptLib ??= require('unix-crypt-td-js') as (p: string, s: string) => string)(password, salt)

/** The password matches. */
export const MATCH = 0
/** It does not, or the hash is one crypt(3) refuses (its failure token never matches). */
export const MISMATCH = 1
/** The hash is in a format crypt(3) knows and dyups does not compute. */
export const UNSUPPORTED = 2
export type Verdict = typeof MATCH | typeof MISMATCH | typeof UNSUPPORTED

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const isItoa64 = (c: number): boolean =>
  (c >= 0x2e && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)

/** Prefixes of libxcrypt's other hashing methods. */
const OTHER_CRYPT = ['$gy$', '$7$', '$sha1$', '$md5', '$3$', '$2x$', '_']

/**
 * Whether `stored` is in a format dyups computes.
 * @returns 'ok', 'unsupported' (crypt(3) computes it, dyups does not) or 'invalid' (nothing computes it: no
 *   password ever matches, as with nginx)
 */
export function hashFormat(stored: string): 'ok' | 'unsupported' | 'invalid' {
  if (stored.startsWith('{PLAIN}') || stored.startsWith('{SHA}') || stored.startsWith('{SSHA}')) return 'ok'
  if (stored.startsWith('$apr1$') || stored.startsWith('$1$')) return 'ok'
  if (stored.startsWith('$5$') || stored.startsWith('$6$')) return shaSetting(stored) !== null ? 'ok' : 'invalid'
  if (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(stored)) return 'ok'
  if (stored.startsWith('$y$')) {
    const st = yescryptSetting(stored)
    if (st === undefined) return 'unsupported'
    return st !== null && stored.length === st.prefix.length + st.saltText.length + 44 ? 'ok' : 'invalid'
  }
  for (const p of OTHER_CRYPT) if (stored.startsWith(p)) return 'unsupported'
  if (/^[./A-Za-z0-9]{13}$/.test(stored)) return 'ok'
  return 'invalid'
}

/**
 * Checks a password against a stored hash.
 * @param password the password's bytes as a latin1 string, up to its first NUL (crypt(3) takes C strings)
 * @param stored the hash from the user file, as latin1
 */
export function verifyPassword(password: string, stored: string): Verdict {
  const c0 = stored.charCodeAt(0)
  if (c0 === 0x7b /* { */) {
    if (stored.startsWith('{PLAIN}')) return stored.length === 7 + password.length && stored.endsWith(password) ? MATCH : MISMATCH
    if (stored.startsWith('{SSHA}')) return same(ssha(password, stored), stored)
    if (stored.startsWith('{SHA}')) {
      return same('{SHA}' + createHash('sha1').update(password, 'latin1').digest('base64'), stored)
    }
  } else if (c0 === 0x24 /* $ */) {
    if (stored.startsWith('$apr1$')) return same(md5Crypt(password, stored, '$apr1$'), stored)
    if (stored.startsWith('$1$')) return same(md5Crypt(password, stored, '$1$'), stored)
    if (stored.startsWith('$5$') || stored.startsWith('$6$')) {
      const h = shaCrypt(password, stored)
      return h === null ? MISMATCH : same(h, stored)
    }
    if (stored.startsWith('$2a$') || stored.startsWith('$2b$') || stored.startsWith('$2y$')) return bcryptVerdict(password, stored)
    if (stored.startsWith('$y$')) {
      const h = yescrypt(Buffer.from(password, 'latin1'), stored)
      return h === undefined ? UNSUPPORTED : h === null ? MISMATCH : same(h, stored)
    }
  }
  for (const p of OTHER_CRYPT) if (stored.startsWith(p)) return UNSUPPORTED
  // Traditional DES: the setting is the first two characters; the result has 13.
  if (stored.length === 13 && isItoa64(c0) && isItoa64(stored.charCodeAt(1))) {
    return same(unixCrypt(password, stored.slice(0, 2)), stored)
  }
  return MISMATCH
}

const same = (computed: string, stored: string): Verdict => (computed === stored ? MATCH : MISMATCH)

/** ngx_crypt_ssha: `{SSHA}` base64(SHA1(password salt) salt); a salt that does not decode counts as none. */
function ssha(password: string, stored: string): string {
  const encoded = stored.slice(6)
  let salt: Buffer = Buffer.alloc(0)
  const decoded = strictBase64(encoded)
  if (decoded !== null && decoded.length >= 20) salt = decoded.subarray(20)
  const digest = createHash('sha1').update(password, 'latin1').update(salt).digest()
  return '{SSHA}' + Buffer.concat([digest, salt]).toString('base64')
}

const B64 = new Int8Array(256).fill(-1)
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i

/** ngx_decode_base64: up to the first `=`, every character in the alphabet, not one lone character left. */
function strictBase64(s: string): Buffer | null {
  let len = 0
  while (len < s.length && s.charCodeAt(len) !== 0x3d) {
    const c = s.charCodeAt(len)
    if (c > 0xff || B64[c] === -1) return null
    len++
  }
  if (len % 4 === 1) return null
  return Buffer.from(s.slice(0, len), 'base64')
}

/** MD5-crypt and Apache's variant: the salt is at most 8 characters, up to a `$`. */
function md5Crypt(password: string, stored: string, magic: string): string {
  let end = magic.length
  while (end < stored.length && end - magic.length < 8 && stored.charCodeAt(end) !== 0x24) end++
  return apacheMd5(password, magic + stored.slice(magic.length, end))
}

function bcryptVerdict(password: string, stored: string): Verdict {
  const bytes = Buffer.from(password, 'latin1')
  let text = password
  // bcryptjs hashes the UTF-8 form of a string: give it the string whose UTF-8 form is these bytes.
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! >= 0x80) {
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
      } catch {
        return MISMATCH
      }
      break
    }
  }
  try {
    return bcrypt().compareSync(text, stored) ? MATCH : MISMATCH
  } catch {
    return MISMATCH
  }
}

// ---------------------------------------------------------------------------------------------------------------
// SHA-crypt ($5$, $6$)

interface ShaSetting {
  algorithm: 'sha256' | 'sha512'
  rounds: number
  custom: boolean
  salt: string
}

const ROUNDS_MIN = 1000
const ROUNDS_MAX = 999_999_999
const ROUNDS_DEFAULT = 5000

/** libxcrypt's reading of a SHA-crypt setting; null where it fails (EINVAL). */
function shaSetting(stored: string): ShaSetting | null {
  const algorithm = stored.charCodeAt(1) === 0x35 ? 'sha256' : 'sha512'
  let p = 3
  let rounds = ROUNDS_DEFAULT
  let custom = false
  if (stored.startsWith('rounds=', p)) {
    const m = /^rounds=([1-9][0-9]*)\$/.exec(stored.slice(p))
    if (m === null) return null
    rounds = Number(m[1])
    if (rounds < ROUNDS_MIN || rounds > ROUNDS_MAX) return null
    custom = true
    p += m[0].length
  }
  let end = p
  while (end < stored.length) {
    const c = stored.charCodeAt(end)
    if (c === 0x24 || c === 0x3a || c === 0x0a) break
    end++
  }
  if (end < stored.length && stored.charCodeAt(end) !== 0x24) return null
  return { algorithm, rounds, custom, salt: stored.slice(p, Math.min(end, p + 16)) }
}

/** Drepper's SHA-crypt of `password` (latin1 bytes) with the setting of `stored`; null when libxcrypt refuses it. */
export function shaCrypt(password: string, stored: string): string | null {
  const s = shaSetting(stored)
  if (s === null) return null
  const size = s.algorithm === 'sha256' ? 32 : 64
  const pw = Buffer.from(password, 'latin1')
  const salt = Buffer.from(s.salt, 'latin1')
  const b = createHash(s.algorithm).update(pw).update(salt).update(pw).digest()
  const a = createHash(s.algorithm).update(pw).update(salt)
  let n = pw.length
  for (; n > size; n -= size) a.update(b)
  a.update(b.subarray(0, n))
  for (let i = pw.length; i > 0; i >>= 1) a.update(i & 1 ? b : pw)
  let digest = a.digest()
  const dp = createHash(s.algorithm)
  for (let i = 0; i < pw.length; i++) dp.update(pw)
  const p = repeat(dp.digest(), pw.length)
  const ds = createHash(s.algorithm)
  for (let i = 0; i < 16 + digest[0]!; i++) ds.update(salt)
  const sb = repeat(ds.digest(), salt.length)
  for (let r = 0; r < s.rounds; r++) {
    const c = createHash(s.algorithm)
    if (r & 1) c.update(p)
    else c.update(digest)
    if (r % 3 !== 0) c.update(sb)
    if (r % 7 !== 0) c.update(p)
    if (r & 1) c.update(digest)
    else c.update(p)
    digest = c.digest()
  }
  const order = s.algorithm === 'sha256' ? SHA256_ORDER : SHA512_ORDER
  let out = `$${s.algorithm === 'sha256' ? 5 : 6}$${s.custom ? `rounds=${s.rounds}$` : ''}${s.salt}$`
  for (let i = 0; i + 2 < order.length; i += 3) out += b64From24(digest[order[i]!]!, digest[order[i + 1]!]!, digest[order[i + 2]!]!, 4)
  if (size === 32) out += b64From24(0, digest[31]!, digest[30]!, 3)
  else out += b64From24(0, 0, digest[63]!, 2)
  return out
}

/** `length` bytes of `digest` repeated (steps 16 and 20 of the specification). */
function repeat(digest: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length)
  for (let off = 0; off < length; off += digest.length) digest.copy(out, off, 0, Math.min(digest.length, length - off))
  return out
}

function b64From24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0
  let s = ''
  while (n-- > 0) {
    s += ITOA64[w & 0x3f]
    w >>= 6
  }
  return s
}

// The byte triples of the final encoding, as in the specification (the last one or two bytes are handled apart).
const SHA256_ORDER = [0, 10, 20, 21, 1, 11, 12, 22, 2, 3, 13, 23, 24, 4, 14, 15, 25, 5, 6, 16, 26, 27, 7, 17, 18, 28, 8, 9, 19, 29]
const SHA512_ORDER = [
  0, 21, 42, 22, 43, 1, 44, 2, 23, 3, 24, 45, 25, 46, 4, 47, 5, 26, 6, 27, 48, 28, 49, 7, 50, 8, 29, 9, 30, 51, 31, 52,
  10, 53, 11, 32, 12, 33, 54, 34, 55, 13, 56, 14, 35, 15, 36, 57, 37, 58, 16, 59, 17, 38, 18, 39, 60, 40, 61, 19, 62,
  20, 41,
]

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import bcrypt from 'bcryptjs'
import { hashFormat, MATCH, MISMATCH, shaCrypt, UNSUPPORTED, verifyPassword } from './passwords.js'
import { findUser } from './auth-basic.js'

// Hashes made by libxcrypt 4.4.33 (Debian 12's crypt(3), which nginx calls): perl -e 'print crypt(PASSWORD, SETTING)'.
const LIBXCRYPT: Array<[string, string]> = [
  ['des-pw', 'XyvCiTHG2P/Q.'],
  // DES reads 8 characters of the password.
  ['longer-than-8', 'XykrdR9JYDQAY'],
  ['longer-t', 'XykrdR9JYDQAY'],
  ['pw', '$1$abcdefgh$IQtUouv7y7Q9dRWkQEPCc.'],
  ['pw', '$1$ab$b2XAKzcGJvTR.javvk3280'],
  ['b2y-pw', '$2y$05$abcdefghijklmnopqrstuuOLPq.frUHRPbRYx.YQFAvi1oTrReeWm'],
  ['b2a-pw', '$2a$04$ZYXWVUTSRQPONMLKJIHGFeZsUMrG8D1OZmVbMTOn4ihRRsFJd79w6'],
  ['p\xc3\xa4ss', '$2b$04$abcdefghijklmnopqrstuuF7KK/SfP9IRGj0pPJMr8GdtCS8xpmpC'],
  ['s5r-pw', '$5$rounds=1000$roundsalt$6lD3G/9.34KEs8IciNFwY3O.IEtqC0blICJEGmC3yj.'],
  ['s6r-pw', '$6$rounds=2000$0123456789abcdef$RKCgxIvcGKwDRGqa7UqyOsSBT4eUzosdesSkrIHcd.Z2kc/2ZOml5/kpCK0uJhRMnp1zEzZO6Z7bwCnRX7/X0.'],
  ['p\xc3\xa4ss', '$6$saltutf$aCz9xK/mjoOaaZXt77H4z5BC4GJ.r.VsM5Lg2YdEBIBeuqab/84.g0gxlXoyIrxLCODhG32GlN1b.F.m/LTek.'],
  // Debian's default yescrypt cost (mkpasswd, passwd), then other N, r, p, t and the scrypt and WORM flavors.
  ['yes-pw', '$y$j9T$F5Jx5fExrKuPp53xLKQ..1$1wzOs3/VG1PFk7e.acZzQ8bFIpJbyqGqqlctCMUihbC'],
  ['pw-yes', '$y$j7T$abcdefghijklmnop$fGSlc9skIO4yq2Adweq..b5sakzip6FEv57AB2.cRY8'],
  ['pw-yes', '$y$j7T..$abcdefghijklmnop$jslou8KRKlIWdy4Qii.sV3pDHzprCkSXmS.ZRAZdajD'],
  ['pw-yes', '$y$j7T//$abcdefghijklmnop$jnE1HwKSsK232J885c9xOr1FBNSNf2LPaqoLu0TzeZB'],
  ['pw-yes', '$y$.7T$abcdefghijklmnop$zxtDWkj94Pvh00dFZsGYLKeDEJvkdOiBkLcaRgbhnO/'],
  ['pw-yes', '$y$/7T//$abcdefghijklmnop$iaCT6yGde/NqWPITFbfdTXR/EU.tge3aR/ZsWhieUY4'],
  ['pw-yes', '$y$j75$abcdefghijklmnop$Pg7YQzypBRJtQUYbH8MegbgClioSybl3qulxoUWKKt/'],
  ['pw-yes', '$y$j7.$abcdefghijklmnop$w0Co5I8eyjoHrThTdtrSywcsibqg0zyhfhWmf9eDgB3'],
  ['pw-yes', '$y$j9T$$cVAjZulzLlKvyFCENkUzSVWzdS7yFs2X8ztEHA4kR30'],
]

test('verifyPassword: hashes made by crypt(3) match their password and no other', () => {
  for (const [pw, hash] of LIBXCRYPT) {
    assert.equal(verifyPassword(pw, hash), MATCH, `${pw} ${hash}`)
    assert.equal(verifyPassword('x' + pw, hash), MISMATCH, `x${pw} ${hash}`)
    assert.equal(hashFormat(hash), 'ok', hash)
  }
})

test('shaCrypt: the test vectors of the SHA-crypt specification', () => {
  const vectors: Array<[string, string, string]> = [
    ['$5$saltstring', 'Hello world!', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5'],
    ['$5$rounds=10000$saltstringsaltstring', 'Hello world!', '$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA'],
    ['$5$rounds=5000$toolongsaltstring', 'This is just a test', '$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5'],
    ['$6$saltstring', 'Hello world!', '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'],
    ['$6$rounds=10000$saltstringsaltstring', 'Hello world!', '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.'],
    ['$6$rounds=77777$short', 'we have a short salt string but not a short password', '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0'],
  ]
  for (const [setting, pw, want] of vectors) assert.equal(shaCrypt(pw, setting), want)
  // libxcrypt refuses rounds out of range and leading zeros (its *0): nothing matches.
  assert.equal(shaCrypt('pw', '$6$rounds=999$x'), null)
  assert.equal(shaCrypt('pw', '$6$rounds=01000$x'), null)
  assert.equal(hashFormat('$6$rounds=999$x$abc'), 'invalid')
})

test("nginx's own schemes: {PLAIN}, {SHA}, {SSHA}, $apr1$", () => {
  assert.equal(verifyPassword('secret', '{PLAIN}secret'), MATCH)
  assert.equal(verifyPassword('secre', '{PLAIN}secret'), MISMATCH)
  const sha = '{SHA}' + createHash('sha1').update('secret').digest('base64')
  assert.equal(verifyPassword('secret', sha), MATCH)
  assert.equal(verifyPassword('Secret', sha), MISMATCH)
  const salt = Buffer.from('NaCl!')
  const ssha = '{SSHA}' + Buffer.concat([createHash('sha1').update('secret').update(salt).digest(), salt]).toString('base64')
  assert.equal(verifyPassword('secret', ssha), MATCH)
  assert.equal(verifyPassword('secret!', ssha), MISMATCH)
  // A salt that does not decode counts as none: the stored value is never what SHA-1 gives back.
  assert.equal(verifyPassword('secret', '{SSHA}!!!!'), MISMATCH)
  // htpasswd -m / openssl passwd -apr1 -salt abcdefgh pw
  assert.equal(verifyPassword('pw', '$apr1$abcdefgh$5VEbMkemELfbhC5ck.U.z1'), MATCH)
  assert.equal(verifyPassword('px', '$apr1$abcdefgh$5VEbMkemELfbhC5ck.U.z1'), MISMATCH)
})

test('bcrypt through bcryptjs: $2a$, $2b$, $2y$', () => {
  const h = bcrypt.hashSync('bc-pw', 4)
  assert.equal(verifyPassword('bc-pw', h), MATCH)
  assert.equal(verifyPassword('bc-px', h), MISMATCH)
  // Bytes that are not UTF-8 cannot reach bcryptjs: no match.
  assert.equal(verifyPassword('\xff', h), MISMATCH)
})

test('formats: what crypt(3) refuses never matches; what it knows and dyups does not is UNSUPPORTED', () => {
  // libxcrypt's *0 for the last two: a salt whose bits do not fill whole bytes.
  for (const bad of ['', '!', '*', 'garbage', '$9$garbage', 'XyvCiTHG2P/Q', '$2b$04$short', '$y$j9T$ab$cVAjZulzLlKvyFCENkUzSVWzdS7yFs2X8ztEHA4kR30', '$y$j9T$0123456789$cVAjZulzLlKvyFCENkUzSVWzdS7yFs2X8ztEHA4kR30']) {
    assert.equal(verifyPassword('pw', bad), MISMATCH, bad)
    assert.equal(hashFormat(bad), 'invalid', bad)
  }
  for (const other of ['$gy$j9T$abcdefghijklmnop$.rI8y5nD12MSXgSWZ3gNuKBy73N8.qOb0JWdZUo/B70', '$7$CU..../....abcdefghijklmnop$k4rB/qE/dLYU9kop78l/c1wzA0fBVPCRz06ApUewLKC', '_J9..abcdTZ/33djMPto', '$md5$abcdefgh$$iExobWJIazoiKIDQnza6r/', '$sha1$1000$abcdefgh$N4FA5boZwbgLu3FpW13GlXZDlQjB', '$3$$8cc19b6a8cfeac299c2871c86b38de28', '$2x$05$abcdefghijklmnopqrstuuHIrMEWpUCQe2YqFR3sXwQ75u4od..9q']) {
    assert.equal(verifyPassword('pw', other), UNSUPPORTED, other)
    assert.equal(hashFormat(other), 'unsupported', other)
  }
})

test("findUser: nginx's scanner, comments, blank lines, the first match, and its quirks", () => {
  const f = (s: string, u: string) => findUser(Buffer.from(s, 'latin1'), u)
  const file = '# comment\n\nalice:h1:comment\r\nbob:h2\nalice:h3\n  carol:h4\n\rdave:h5\nerin:h6'
  assert.equal(f(file, 'alice'), 'h1')
  assert.equal(f(file, 'bob'), 'h2')
  // Leading spaces are part of the name; a line starting with CR is skipped.
  assert.equal(f(file, 'carol'), null)
  assert.equal(f(file, '  carol'), 'h4')
  assert.equal(f(file, 'dave'), null)
  // The last line needs no newline.
  assert.equal(f(file, 'erin'), 'h6')
  assert.equal(f(file, 'al'), null)
  assert.equal(f(file, '# comment'), null)
  // An empty hash, and a name without a colon.
  assert.equal(f('x:\n', 'x'), '')
  assert.equal(f('x\n', 'x'), null)
  // nginx's quirk: a line that is only a prefix of the name swallows the next line.
  assert.equal(f('al\nalice:h1\n', 'alice'), null)
  assert.equal(f('alice\nalice:h1\nalice:h2\n', 'alice'), 'h2')
})

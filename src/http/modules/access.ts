/**
 * `allow` / `deny` (ngx_http_access_module): rules checked in order, the first that matches decides; when none
 * matches the request is allowed. As in nginx the rules are kept per address family: an IPv4 client (including an
 * IPv4-mapped IPv6 address such as Node's `::ffff:10.0.0.1`) is checked against the IPv4 rules only, an IPv6 client
 * against the IPv6 rules, a unix-socket client against `unix:` rules; `all` is in every list.
 *
 * Per-request cost: the client address is parsed once into a number (IPv4) or a shared 16-byte scratch (IPv6),
 * then one AND/compare per rule. No allocation.
 *
 * Why not Node's `net.BlockList`: it answers "is the address in this set", while nginx's rules need order (the first
 * matching rule decides between allow and deny), one list per address family with IPv4-mapped clients checked as
 * IPv4, and `unix:` rules; encoding that as one BlockList per run of same-action rules works, but measured 5-16x
 * slower on the hot path (bench/access-check.ts, 10 rules, 1e6 checks, four runs on a loaded 2-core machine:
 * 50-200 ns per check here, 800-930 ns there).
 * `parseCidr` stays too: it is ngx_ptocidr's grammar, with its warning for host bits set.
 */
import { DyupsError } from '../../errors.js'
import type { Directive } from '../../config/index.js'
import { parseIPv4, parseIPv6 } from '../lib/ip.js'

type Warn = (message: string, at: { file: string; line: number }) => void

interface Cidr {
  family: 4 | 6
  addr4: number
  mask4: number
  addr6: Uint8Array
  mask6: Uint8Array
  /** true when host bits were set and have been cleared (nginx's NGX_DONE). */
  trimmed: boolean
}

/** `ngx_ptocidr`: `ADDR` or `ADDR/BITS`, IPv4 or IPv6. @returns null when invalid. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/')
  const end = slash < 0 ? text.length : slash
  const c: Cidr = {
    family: 4,
    addr4: 0,
    mask4: 0xffffffff,
    addr6: new Uint8Array(16),
    mask6: new Uint8Array(16).fill(0xff),
    trimmed: false,
  }
  const v4 = parseIPv4(text, 0, end)
  if (v4 >= 0) {
    c.addr4 = v4
  } else if (parseIPv6(text, c.addr6, 0, end)) {
    c.family = 6
  } else {
    return null
  }
  if (slash < 0) return c
  const bitsText = text.slice(slash + 1)
  if (!/^[0-9]+$/.test(bitsText)) return null
  const bits = Number(bitsText)
  if (c.family === 6) {
    if (bits > 128) return null
    let shift = bits
    for (let i = 0; i < 16; i++) {
      const s = shift > 8 ? 8 : shift
      shift -= s
      c.mask6[i] = (0xff << (8 - s)) & 0xff
      if (c.addr6[i] !== (c.addr6[i]! & c.mask6[i]!)) {
        c.trimmed = true
        c.addr6[i]! &= c.mask6[i]!
      }
    }
    return c
  }
  if (bits > 32) return null
  c.mask4 = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
  const masked = (c.addr4 & c.mask4) >>> 0
  if (masked !== c.addr4) {
    c.trimmed = true
    c.addr4 = masked
  }
  return c
}

const scratch6 = new Uint8Array(16)

/** {@link AccessRules.verdict}: no rule matched (nginx's NGX_DECLINED). */
export const NO_RULE = -1
/** {@link AccessRules.verdict}: an `allow` matched. */
export const ALLOWED = 0
/** {@link AccessRules.verdict}: a `deny` matched. */
export const DENIED = 1

/** Compiled `allow`/`deny` rules of one context. */
export class AccessRules {
  private readonly addr4: Uint32Array
  private readonly mask4: Uint32Array
  private readonly deny4: Uint8Array
  private readonly addr6: Uint8Array
  private readonly mask6: Uint8Array
  private readonly deny6: Uint8Array
  /** -1: no unix rule, else 1 = deny, 0 = allow (only the first one can ever match). */
  private readonly unix: number

  /** @internal use {@link compileAccess} */
  constructor(v4: Array<[number, number, boolean]>, v6: Array<[Uint8Array, Uint8Array, boolean]>, unix: number) {
    this.addr4 = Uint32Array.from(v4, (r) => r[0])
    this.mask4 = Uint32Array.from(v4, (r) => r[1])
    this.deny4 = Uint8Array.from(v4, (r) => (r[2] ? 1 : 0))
    this.addr6 = new Uint8Array(v6.length * 16)
    this.mask6 = new Uint8Array(v6.length * 16)
    this.deny6 = new Uint8Array(v6.length)
    v6.forEach(([a, m, d], i) => {
      this.addr6.set(a, i * 16)
      this.mask6.set(m, i * 16)
      this.deny6[i] = d ? 1 : 0
    })
    this.unix = unix
  }

  /**
   * Whether a client may proceed; false means 403 ("access forbidden by rule").
   * @param remoteAddr the client address as Node reports it (`10.0.0.1`, `::1`, `::ffff:10.0.0.1`, `fe80::1%eth0`),
   *   or `unix:` for a unix-socket client
   */
  allows(remoteAddr: string): boolean {
    return this.verdict(remoteAddr) !== DENIED
  }

  /**
   * What ngx_http_access_handler answers: {@link ALLOWED} or {@link DENIED} by the first rule that matches,
   * {@link NO_RULE} (nginx's NGX_DECLINED) when none does — which `satisfy any` tells from an allow.
   */
  verdict(remoteAddr: string): number {
    const n = remoteAddr.length
    if (n === 0) return NO_RULE
    if (remoteAddr.charCodeAt(0) === 0x75 /* u */) {
      return remoteAddr.startsWith('unix:') && this.unix >= 0 ? (this.unix === 1 ? DENIED : ALLOWED) : NO_RULE
    }
    let v4 = parseIPv4(remoteAddr)
    if (v4 < 0) {
      let end = remoteAddr.indexOf('%')
      if (end < 0) end = n
      if (!parseIPv6(remoteAddr, scratch6, 0, end)) return NO_RULE
      const b = scratch6
      const mapped =
        b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0 && b[4] === 0 && b[5] === 0 && b[6] === 0 &&
        b[7] === 0 && b[8] === 0 && b[9] === 0 && b[10] === 0xff && b[11] === 0xff
      if (mapped && this.deny4.length > 0) {
        v4 = ((b[12]! << 24) | (b[13]! << 16) | (b[14]! << 8) | b[15]!) >>> 0
      } else {
        return this.check6(b)
      }
    }
    const addr = this.addr4
    const mask = this.mask4
    for (let i = 0; i < addr.length; i++) {
      if (((v4 & mask[i]!) >>> 0) === addr[i]) return this.deny4[i] === 0 ? ALLOWED : DENIED
    }
    return NO_RULE
  }

  private check6(p: Uint8Array): number {
    const addr = this.addr6
    const mask = this.mask6
    const rules = this.deny6.length
    for (let r = 0; r < rules; r++) {
      const base = r * 16
      let k = 0
      while (k < 16 && (p[k]! & mask[base + k]!) === addr[base + k]) k++
      if (k === 16) return this.deny6[r] === 0 ? ALLOWED : DENIED
    }
    return NO_RULE
  }
}

/**
 * Compile the `allow`/`deny` directives among one context's directives, in order.
 * @param directives the children of an `http`, `server`, `location` or `limit_except` block
 * @param warn receives nginx's `low address bits of 10.0.0.1/8 are meaningless`
 * @returns null when the context has no such directive (it then inherits its parent's rules, see {@link inheritAccess})
 * @throws DyupsError E_CONFIG `invalid parameter "x"`, `invalid number of arguments in "allow" directive`
 */
export function compileAccess(directives: readonly Directive[], warn?: Warn): AccessRules | null {
  const v4: Array<[number, number, boolean]> = []
  const v6: Array<[Uint8Array, Uint8Array, boolean]> = []
  let unix = -1
  let any = false
  for (const d of directives) {
    if (d.name !== 'allow' && d.name !== 'deny') continue
    const at = { file: d.file, line: d.line }
    if (d.args.length !== 1) throw new DyupsError('E_CONFIG', `invalid number of arguments in "${d.name}" directive`, at)
    any = true
    const deny = d.name === 'deny'
    const value = d.args[0]!
    if (value === 'all') {
      v4.push([0, 0, deny])
      v6.push([new Uint8Array(16), new Uint8Array(16), deny])
      if (unix < 0) unix = deny ? 1 : 0
      continue
    }
    if (value === 'unix:') {
      if (unix < 0) unix = deny ? 1 : 0
      continue
    }
    const c = parseCidr(value)
    if (c === null) throw new DyupsError('E_CONFIG', `invalid parameter "${value}"`, at)
    if (c.trimmed && warn) warn(`low address bits of ${value} are meaningless`, at)
    if (c.family === 4) v4.push([c.addr4, c.mask4, deny])
    else v6.push([c.addr6, c.mask6, deny])
  }
  return any ? new AccessRules(v4, v6, unix) : null
}

/**
 * nginx's merge: a context with its own rules uses only those; one without takes its parent's.
 * @returns the rules in force, or null when no context up the chain has any (everything allowed)
 */
export function inheritAccess(own: AccessRules | null, parent: AccessRules | null): AccessRules | null {
  return own ?? parent
}

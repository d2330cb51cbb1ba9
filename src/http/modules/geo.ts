/**
 * `geo [$address] $var { … }` (ngx_http_geo_module): a variable whose value depends on the client address
 * (`$remote_addr` after realip, or the address another variable holds).
 *
 * - CIDR mode (the default): `NET VALUE;` with the longest matching prefix winning, IPv4 and IPv6 apart (an
 *   IPv4-mapped IPv6 address is looked up as IPv4), `default VALUE;` (0.0.0.0/0 and ::/0), `delete NET;`, a
 *   repeated network replacing the earlier value with nginx's warning.
 * - `ranges;` mode (IPv4 only): `A-B VALUE;`, `delete A-B;`, `default VALUE;`, kept as nginx keeps them — per /16
 *   block, a range inside another splits it, one that partly overlaps another is an error, with nginx's words.
 * - `proxy ADDR|CIDR;` and `proxy_recursive;`: from those addresses, the address is read from X-Forwarded-For as
 *   realip reads it.
 * An address that cannot be read (a variable not found or not an address, a unix-socket client) is looked up as
 * 255.255.255.255, as nginx does. Values are constant strings.
 */
import type { Directive } from '../../config/index.js'
import { configError } from '../../config/index.js'
import type { Pos } from '../../errors.js'
import { parseIPv4, parseIPv6 } from '../lib/ip.js'
import type { Template, Variables, VarSource } from '../lib/variables.js'
import { AccessRules, parseCidr } from './access.js'
import { forwardedReader, type RealIp } from './realip.js'

type Warn = (message: string, at: Pos) => void

const NONE = 0xffffffff
const scratch6 = new Uint8Array(16)

/** The IPv4 prefixes of a CIDR-mode geo: one map per prefix length, the longest tried first. */
class Tree4 {
  readonly byLen = new Map<number, Map<number, string>>()
  lens: number[] = []

  get(addr: number, bits: number): string | undefined {
    return this.byLen.get(bits)?.get(addr)
  }

  set(addr: number, bits: number, v: string): void {
    let m = this.byLen.get(bits)
    if (m === undefined) this.byLen.set(bits, (m = new Map()))
    m.set(addr, v)
  }

  delete(addr: number, bits: number): boolean {
    return this.byLen.get(bits)?.delete(addr) ?? false
  }

  finish(): void {
    this.lens = [...this.byLen.entries()].filter(([, m]) => m.size > 0).map(([l]) => l).sort((a, b) => b - a)
  }

  find(addr: number): string | undefined {
    const lens = this.lens
    for (let i = 0; i < lens.length; i++) {
      const bits = lens[i]!
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
      const v = this.byLen.get(bits)!.get((addr & mask) >>> 0)
      if (v !== undefined) return v
    }
    return undefined
  }
}

/** The IPv6 prefixes: keyed by the masked address's hex and the length; looked up longest first. */
class Tree6 {
  readonly entries = new Map<string, { addr: Uint8Array; bits: number; value: string }>()
  sorted: Array<{ addr: Uint8Array; bits: number; value: string }> = []

  static key(addr: Uint8Array, bits: number): string {
    return `${Buffer.from(addr).toString('hex')}/${bits}`
  }

  finish(): void {
    this.sorted = [...this.entries.values()].sort((a, b) => b.bits - a.bits)
  }

  find(p: Uint8Array): string | undefined {
    for (const e of this.sorted) {
      let bits = e.bits, k = 0
      for (; bits >= 8; k++, bits -= 8) if (p[k] !== e.addr[k]) break
      if (bits >= 8) continue
      if (bits > 0 && ((p[k]! ^ e.addr[k]!) & ((0xff << (8 - bits)) & 0xff)) !== 0) continue
      return e.value
    }
    return undefined
  }
}

interface Range {
  start: number
  end: number
  value: string
}

function bitsOf4(mask: number): number {
  let n = 0
  while (n < 32 && ((mask >>> (31 - n)) & 1) === 1) n++
  return n
}

function bitsOf6(mask: Uint8Array): number {
  let n = 0
  for (const b of mask) {
    let x = b
    while (x & 0x80) {
      n++
      x = (x << 1) & 0xff
    }
    if (b !== 0xff) break
  }
  return n
}

const dotted = (h: number, s: number): string => `${h >> 8}.${h & 0xff}.${s >> 8}.${s & 0xff}`

class Geo {
  source: Template | null = null
  proxies: RealIp | null = null
  ranges: Array<Range[] | undefined> | null = null
  rangeDefault = ''
  tree4: Tree4 | null = null
  tree6: Tree6 | null = null

  readonly get = (src: VarSource): string => {
    let text: string | undefined
    if (this.source === null) text = src.remoteAddr
    else {
      text = this.source.eval(src)
      // nginx reads the variable; "not found" makes the address unreadable, as an empty value does here.
      if (text === '') text = undefined
    }
    if (text !== undefined && this.proxies !== null) {
      const r = this.proxies.forwardedFor(src.headers, text)
      if (r !== null) text = r.addr
    }
    let v4 = NONE
    let v6: Uint8Array | null = null
    if (text !== undefined) {
      const a = parseIPv4(text)
      if (a >= 0) v4 = a
      else {
        let end = text.indexOf('%')
        if (end < 0) end = text.length
        if (parseIPv6(text, scratch6, 0, end)) {
          const b = scratch6
          const mapped = b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0 && b[4] === 0 && b[5] === 0 && b[6] === 0 &&
            b[7] === 0 && b[8] === 0 && b[9] === 0 && b[10] === 0xff && b[11] === 0xff
          if (mapped) v4 = ((b[12]! << 24) | (b[13]! << 16) | (b[14]! << 8) | b[15]!) >>> 0
          else v6 = b
        }
      }
    }
    if (this.ranges !== null) {
      if (v6 !== null) v4 = NONE
      const list = this.ranges[v4 >>> 16]
      if (list !== undefined) {
        const n = v4 & 0xffff
        for (let i = 0; i < list.length; i++) {
          const r = list[i]!
          if (n >= r.start && n <= r.end) return r.value
        }
      }
      return this.rangeDefault
    }
    if (v6 !== null) return this.tree6!.find(v6) ?? ''
    return this.tree4!.find(v4) ?? ''
  }
}

/**
 * Adds the `geo` blocks of the http level to `vars`.
 * @throws DyupsError E_CONFIG with nginx's words
 */
export function addGeo(http: readonly Directive[], vars: Variables, warn?: Warn): void {
  for (const d of http) {
    if (d.name === 'geo' && d.block !== null) addOne(d, vars, warn)
  }
}

function addOne(d: Directive, vars: Variables, warn: Warn | undefined): void {
  const at = { file: d.file, line: d.line }
  const g = new Geo()
  let name = d.args[0]!
  if (!name.startsWith('$')) throw configError(d, `invalid variable name "${name}"`)
  if (d.args.length === 2) {
    g.source = vars.compile(name, at)
    name = d.args[1]!
    if (!name.startsWith('$')) throw configError(d, `invalid variable name "${name}"`)
  }
  const proxies4: Array<[number, number, boolean]> = []
  const proxies6: Array<[Uint8Array, Uint8Array, boolean]> = []
  let anyProxy = false
  let recursive = false
  let rangeDefault: string | null = null
  for (const e of d.block!) {
    const eat = { file: e.file, line: e.line }
    const w = (m: string): void => warn?.(m, eat)
    if (e.args.length === 0) {
      if (e.name === 'ranges') {
        if (g.tree4 !== null) throw configError(e, 'the "ranges" directive must be the first directive inside "geo" block')
        g.ranges ??= []
        continue
      }
      if (e.name === 'proxy_recursive') {
        recursive = true
        continue
      }
    }
    if (e.args.length !== 1) throw configError(e, 'invalid number of the geo parameters')
    if (e.name === 'include') continue // expanded by the configuration loader
    if (e.name === 'proxy') {
      const c = cidrValue(e, e.args[0]!, w)
      anyProxy = true
      if (c.family === 4) proxies4.push([c.addr4, c.mask4, false])
      else proxies6.push([c.addr6, c.mask6, false])
      continue
    }
    const value = e.args[0]!
    if (g.ranges !== null) {
      if (e.name === 'default') {
        if (rangeDefault !== null) w(`duplicate default geo range value: "${value}", old value: "${rangeDefault}"`)
        rangeDefault = value
        continue
      }
      const del = e.name === 'delete'
      const net = del ? value : e.name
      const dash = net.indexOf('-')
      const start = dash < 0 ? -1 : parseIPv4(net, 0, dash)
      const end = dash < 0 ? -1 : parseIPv4(net, dash + 1)
      if (start < 0 || end < 0 || start > end) throw configError(e, `invalid range "${net}"`)
      if (del) {
        if (deleteRange(g.ranges, start, end)) w(`no address range "${net}" to delete`)
      } else {
        addRange(g.ranges, start, end, value, e, net, w)
      }
      continue
    }
    g.tree4 ??= new Tree4()
    g.tree6 ??= new Tree6()
    if (e.name === 'default') {
      cidrAdd(g, 4, 0, 0, new Uint8Array(16), value, 'default', w)
      cidrAdd(g, 6, 0, 0, new Uint8Array(16), value, 'default', w)
      continue
    }
    const del = e.name === 'delete'
    const net = del ? value : e.name
    const c = cidrValue(e, net, w)
    const bits = c.family === 4 ? bitsOf4(c.mask4) : bitsOf6(c.mask6)
    if (del) {
      const gone = c.family === 4 ? g.tree4.delete(c.addr4, bits) : g.tree6.entries.delete(Tree6.key(c.addr6, bits))
      if (!gone) w(`no network "${net}" to delete`)
      continue
    }
    cidrAdd(g, c.family, c.addr4, bits, c.addr6, e.args[0]!, net, w)
  }
  if (anyProxy) g.proxies = forwardedReader(new AccessRules(proxies4, proxies6, -1), recursive)
  if (g.ranges !== null) {
    g.rangeDefault = rangeDefault ?? ''
  } else {
    g.tree4 ??= new Tree4()
    g.tree6 ??= new Tree6()
    // Without `default`, addresses no network holds get an empty value (nginx inserts it last; a default stays).
    if (g.tree4.get(0, 0) === undefined) g.tree4.set(0, 0, '')
    const zero = Tree6.key(new Uint8Array(16), 0)
    if (!g.tree6.entries.has(zero)) g.tree6.entries.set(zero, { addr: new Uint8Array(16), bits: 0, value: '' })
    g.tree4.finish()
    g.tree6.finish()
  }
  vars.addComputed(name.slice(1), g.get, at)
}

/** ngx_http_geo_cidr_value: `255.255.255.255` as a host, else ngx_ptocidr with its warning. */
function cidrValue(e: Directive, net: string, w: (m: string) => void): NonNullable<ReturnType<typeof parseCidr>> {
  if (net === '255.255.255.255') {
    return { family: 4, addr4: NONE, mask4: NONE, addr6: new Uint8Array(16), mask6: new Uint8Array(16), trimmed: false }
  }
  const c = parseCidr(net)
  if (c === null) throw configError(e, `invalid network "${net}"`)
  if (c.trimmed) w(`low address bits of ${net} are meaningless`)
  return c
}

function cidrAdd(g: Geo, family: 4 | 6, addr4: number, bits: number, addr6: Uint8Array, value: string, net: string, w: (m: string) => void): void {
  if (family === 4) {
    const old = g.tree4!.get(addr4, bits)
    if (old !== undefined) w(`duplicate network "${net}", value: "${value}", old value: "${old}"`)
    g.tree4!.set(addr4, bits, value)
    return
  }
  const key = Tree6.key(addr6, bits)
  const old = g.tree6!.entries.get(key)
  if (old !== undefined) w(`duplicate network "${net}", value: "${value}", old value: "${old.value}"`)
  g.tree6!.entries.set(key, { addr: Uint8Array.from(addr6), bits, value })
}

/** ngx_http_geo_add_range, block by block of /16 as nginx keeps them. */
function addRange(low: Array<Range[] | undefined>, start: number, end: number, value: string, e: Directive, net: string, w: (m: string) => void): void {
  for (let n = start; n <= end; n = (n + 0x10000) - ((n + 0x10000) % 0x10000)) {
    const h = Math.floor(n / 0x10000)
    let s = n === start ? n % 0x10000 : 0
    let en = Math.floor(n / 0x10000) * 0x10000 + 0xffff > end ? end % 0x10000 : 0xffff
    const a = (low[h] ??= [])
    let i = a.length
    let done = false
    while (i > 0) {
      i--
      const r = a[i]!
      if (en < r.start) continue
      if (s > r.end) {
        a.splice(i + 1, 0, { start: s, end: en, value })
        done = true
        break
      }
      if (s === r.start && en === r.end) {
        w(`duplicate range "${net}", value: "${value}", old value: "${r.value}"`)
        r.value = value
        done = true
        break
      }
      if (s > r.start && en < r.end) {
        a.splice(i + 1, 0, { start: s, end: en, value }, { start: en + 1, end: r.end, value: r.value })
        r.end = s - 1
        done = true
        break
      }
      if (s === r.start && en < r.end) {
        a.splice(i, 0, { start: s, end: en, value })
        r.start = en + 1
        done = true
        break
      }
      if (s > r.start && en === r.end) {
        a.splice(i + 1, 0, { start: s, end: en, value })
        r.end = s - 1
        done = true
        break
      }
      s = r.start
      en = r.end
      throw configError(e, `range "${net}" overlaps "${dotted(h, s)}-${dotted(h, en)}"`)
    }
    if (!done) a.push({ start: s, end: en, value })
    if (h === 0xffff) break
  }
}

/** ngx_http_geo_delete_range. @returns true when nginx warns */
function deleteRange(low: Array<Range[] | undefined>, start: number, end: number): boolean {
  let warn = false
  for (let n = start; n <= end; n += 0x10000) {
    const h = Math.floor(n / 0x10000)
    const s = n === start ? n % 0x10000 : 0
    const e = Math.floor(n / 0x10000) * 0x10000 + 0xffff > end ? end % 0x10000 : 0xffff
    const a = low[h]
    if (a === undefined) {
      warn = true
      continue
    }
    for (let i = 0; i < a.length; i++) {
      const r = a[i]!
      if (s === r.start && e === r.end) {
        a.splice(i, 1)
        break
      }
      if (s !== r.start && e !== r.end) continue
      warn = true
    }
  }
  return warn
}

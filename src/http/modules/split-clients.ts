/**
 * `split_clients STRING $var { PERCENT% VALUE; … * VALUE; }` (ngx_http_split_clients_module): the string (variables
 * allowed) is hashed with nginx's MurmurHash2 and the 32-bit hash picks the part whose share of 0…2³²−1 it falls
 * in, in order, so the same key lands in the same bucket as with nginx. `*` takes the rest; a hash beyond the
 * listed parts when the total is under 100% gives an empty value. Values are constant strings.
 */
import type { Directive } from '../../config/index.js'
import { configError } from '../../config/index.js'
import type { Template, Variables, VarSource } from '../lib/variables.js'

/**
 * ngx_murmur_hash2 over the string's bytes (latin1, as request data is kept: one char per byte). Hand-written with
 * Math.imul for nginx-exact 32-bit arithmetic.
 */
export function murmurHash2(s: string): number {
  let len = s.length
  let h = len >>> 0
  let i = 0
  const M = 0x5bd1e995
  while (len >= 4) {
    let k = (s.charCodeAt(i) & 0xff) | ((s.charCodeAt(i + 1) & 0xff) << 8) | ((s.charCodeAt(i + 2) & 0xff) << 16) |
      ((s.charCodeAt(i + 3) & 0xff) << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
    i += 4
    len -= 4
  }
  // nginx's switch falls through from 3 to 1.
  if (len > 0) {
    if (len === 3) h ^= (s.charCodeAt(i + 2) & 0xff) << 16
    if (len >= 2) h ^= (s.charCodeAt(i + 1) & 0xff) << 8
    h ^= s.charCodeAt(i) & 0xff
    h = Math.imul(h, M)
  }
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h >>> 0
}

/** ngx_atofp(text, n, 2): a decimal with up to two digits after the point, times 100; -1: invalid. */
function atofp2(t: string): number {
  if (t.length === 0) return -1
  let value = 0, point = 2, dot = false
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i)
    if (c === 0x2e) {
      if (dot) return -1
      dot = true
      continue
    }
    if (c < 0x30 || c > 0x39) return -1
    if (point === 0) return -1
    value = value * 10 + (c - 0x30)
    if (value > Number.MAX_SAFE_INTEGER / 100) return -1
    if (dot) point--
  }
  while (point-- > 0) value *= 10
  return value
}

class Split {
  constructor(
    private readonly key: Template,
    /** Upper bounds (exclusive) of each part's hashes; 0 for `*`. */
    private readonly bounds: Float64Array,
    private readonly values: readonly string[],
  ) {}

  readonly get = (src: VarSource): string => {
    const h = murmurHash2(this.key.eval(src))
    const b = this.bounds
    for (let i = 0; i < b.length; i++) if (h < b[i]! || b[i] === 0) return this.values[i]!
    return ''
  }
}

/**
 * Adds the `split_clients` blocks of the http level to `vars`.
 * @throws DyupsError E_CONFIG with nginx's words: `invalid percent value "x"`, `percent total is greater than 100%`,
 *   `invalid variable name "x"`
 */
export function addSplitClients(http: readonly Directive[], vars: Variables): void {
  for (const d of http) {
    if (d.name !== 'split_clients' || d.block === null) continue
    const at = { file: d.file, line: d.line }
    const key = vars.compile(d.args[0]!, at)
    const name = d.args[1]!
    if (!name.startsWith('$')) throw configError(d, `invalid variable name "${name}"`)
    const percents: number[] = []
    const values: string[] = []
    for (const e of d.block) {
      if (e.name === 'include') continue // expanded by the configuration loader
      if (e.args.length !== 1) throw configError(e, 'invalid number of arguments in "split_clients" parameter')
      if (e.name === '*') {
        percents.push(0)
      } else {
        const n = e.name.endsWith('%') ? atofp2(e.name.slice(0, -1)) : -1
        if (n <= 0) throw configError(e, `invalid percent value "${e.name}"`)
        // nginx keeps it in 32 bits.
        percents.push(n >>> 0)
      }
      values.push(e.args[0]!)
    }
    let sum = 0, last = 0
    const bounds = new Float64Array(percents.length)
    for (let i = 0; i < percents.length; i++) {
      const p = percents[i]!
      sum = p !== 0 ? sum + p : 10000
      // The check is nginx's, at the block's closing line.
      if (sum > 10000) throw configError(d, 'percent total is greater than 100%', d.endLine ?? d.line)
      if (p !== 0) {
        last = (last + Number((BigInt(p) * 0xffffffffn) / 10000n)) >>> 0
        bounds[i] = last
      }
    }
    vars.addComputed(name.slice(1), new Split(key, bounds, values).get, at)
  }
}

/**
 * The one start-up warning about the dyups interface: whoever reaches a `dyups_interface` location can rewrite where
 * the proxy sends traffic, so one that a non-loopback address can reach (its server listens on a wildcard or another
 * address than loopback) and that no `allow`/`deny` rule guards is named once, with the listeners that expose it.
 * Loopback (`127.0.0.0/8`, `::1`, `::ffff:127.x.x.x`, `localhost`) and `unix:` listeners are local-only.
 */
import type { Pos } from '../../errors.js'
import { parseIPv4, parseIPv6 } from '../lib/ip.js'
import type { ServerConf } from './types.js'
import type { ListenInput } from './vhosts.js'

export interface OpenInterface {
  /** The warning, without its position. */
  message: string
  /** The `location` that holds `dyups_interface`. */
  at: Pos
}

/** Whether a listen key (`0.0.0.0:8081`, `[::1]:8081`, `unix:/path`, `localhost:8081`) accepts loopback clients only. */
export function loopbackOnly(key: string): boolean {
  if (key.startsWith('unix:')) return true
  let host: string
  if (key.startsWith('[')) host = key.slice(1, key.indexOf(']'))
  else host = key.slice(0, key.lastIndexOf(':') < 0 ? key.length : key.lastIndexOf(':'))
  if (host.toLowerCase() === 'localhost') return true
  const v4 = parseIPv4(host)
  if (v4 >= 0) return v4 >>> 24 === 127
  const b = new Uint8Array(16)
  if (!parseIPv6(host, b)) return false
  const zeros = (n: number): boolean => b.subarray(0, n).every((x) => x === 0)
  if (zeros(15) && b[15] === 1) return true
  return zeros(10) && b[10] === 0xff && b[11] === 0xff && b[12] === 127
}

/**
 * The interface locations reachable from other hosts without an access rule, one entry per location.
 * @param servers the compiled servers, and per server (same index) the listens it was declared with
 */
export function openInterfaces(servers: readonly ServerConf[], listens: readonly (readonly ListenInput[])[]): OpenInterface[] {
  const out: OpenInterface[] = []
  for (const s of servers) {
    const open = [...new Set((listens[s.index] ?? []).map((l) => l.key).filter((k) => !loopbackOnly(k)))]
    if (open.length === 0) continue
    for (const loc of s.locations.locations) {
      const conf = s.locConfs[loc.id]
      if (conf === undefined || conf.handler.kind !== 'dyups' || conf.access !== null) continue
      out.push({
        message: `the dyups interface is reachable from any address on ${open.join(', ')} and no "allow" or "deny" ` +
          `rule guards it: listen on 127.0.0.1, or add "allow 127.0.0.1; deny all;" to its location`,
        at: { file: loc.directive.file, line: loc.directive.line },
      })
    }
  }
  return out
}

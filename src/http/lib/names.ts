/**
 * `resolver`: a proxy_pass host that names no group and is no address is looked up in DNS, as nginx does with a
 * resolver configured (without one, dyups answers 502 at once instead of stalling on DNS). Answers are cached for
 * their TTL (or `valid=`), failures for a few seconds, and the cache is bounded.
 */
import { promises as dns } from 'node:dns'
import { createBalancer, type Balancer, type PeerStates } from '../../balancer/index.js'
import { parseCommands } from '../../upstream/index.js'

const NEGATIVE_TTL_MS = 5_000
const MAX_NAMES = 1024

interface Entry {
  balancer: Balancer | undefined
  expires: number
}

export class NameResolver {
  private readonly resolver: dns.Resolver
  private readonly cache = new Map<string, Entry>()

  /**
   * @param servers `resolver` addresses (`127.0.0.1`, `127.0.0.1:5353`, `[::1]:53`)
   * @param timeoutMs resolver_timeout
   * @param validMs `valid=`: overrides the answers' TTL; 0 keeps the TTL
   */
  constructor(servers: readonly string[], timeoutMs: number, private readonly validMs: number, private readonly states: PeerStates) {
    this.resolver = new dns.Resolver({ timeout: timeoutMs, tries: 2 })
    this.resolver.setServers(servers.map((s) => (/^[\d.]+:\d+$|^\[/.test(s) || !s.includes(':') ? s : `[${s}]`)))
  }

  /** A balancer over every address `host` (`name` or `name:port`) resolves to, or undefined when it does not. */
  async balancer(host: string): Promise<Balancer | undefined> {
    const now = Date.now()
    const hit = this.cache.get(host)
    if (hit !== undefined && hit.expires > now) return hit.balancer
    let ttl = NEGATIVE_TTL_MS / 1000
    const lookup = async (name: string): Promise<string[]> => {
      const v4 = await this.resolver.resolve4(name, { ttl: true }).catch(() => [])
      const v6 = v4.length > 0 ? [] : await this.resolver.resolve6(name, { ttl: true }).catch(() => [])
      const all = [...v4, ...v6]
      if (all.length > 0) ttl = Math.min(...all.map((a) => a.ttl))
      return all.map((a) => a.address)
    }
    let balancer: Balancer | undefined
    try {
      balancer = createBalancer(await parseCommands(host, `server ${host};`, lookup), this.states)
    } catch {
      balancer = undefined
    }
    const keep = balancer === undefined ? NEGATIVE_TTL_MS : this.validMs > 0 ? this.validMs : ttl * 1000
    if (this.cache.size >= MAX_NAMES) this.cache.delete(this.cache.keys().next().value!)
    hit?.balancer?.release()
    this.cache.set(host, { balancer, expires: now + keep })
    return balancer
  }
}

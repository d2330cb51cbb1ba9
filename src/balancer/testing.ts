/** Helpers for the balancer's tests: groups from command text, and request loops with explicit clocks. */
import { parseCommands, type UpstreamGroup } from '../upstream/index.js'
import type { Balancer, PeerSelection, RequestContext } from './balancer.js'
import type { Peer } from './peer.js'

/** A group from upstream-block text (IP literals only: no DNS). */
export function group(body: string, name = 'g'): Promise<UpstreamGroup> {
  return parseCommands(name, body, async () => {
    throw new Error('no DNS in balancer tests')
  })
}

/** The port of a peer: tests name their servers 127.0.0.1:1, :2, ... */
export const port = (p: Peer | null): number | null => (p === null ? null : p.server.port)

/** `n` requests that each succeed on their first peer; the ports they went to. */
export function picks(b: Balancer, n: number, ctx: Partial<RequestContext> = {}): (number | null)[] {
  const out: (number | null)[] = []
  for (let i = 0; i < n; i++) {
    const sel = b.begin({ clientAddr: '127.0.0.1', now: 1_000_000, ...ctx })
    const p = sel.next()
    out.push(port(p))
    if (p !== null) sel.done(p, true)
  }
  return out
}

/** One request that fails on every peer it gets; the ports it tried, in order. */
export function failAll(b: Balancer, now: number, ctx: Partial<RequestContext> = {}): number[] {
  const sel: PeerSelection = b.begin({ clientAddr: '127.0.0.1', now, ...ctx })
  const tried: number[] = []
  for (let p = sel.next(); p !== null; p = sel.next()) {
    tried.push(p.server.port)
    sel.done(p, false)
  }
  return tried
}

/** Counts per port. */
export function tally(ports: readonly (number | null)[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const p of ports) out[String(p)] = (out[String(p)] ?? 0) + 1
  return out
}

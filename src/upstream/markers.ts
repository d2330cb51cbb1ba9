/**
 * What nginx's syntax cannot say about a server — its stable `id` and `drain` — and a group's next id, written as
 * comments nginx skips, so PATH (`dyups_upstream_conf`) stays a valid `include` for nginx and Tengine:
 *
 *     upstream backend { # dyups: next_id=4
 *         server 10.0.0.1:80 weight=2; # dyups: id=0
 *         server 10.0.0.3:80; # dyups: id=3 drain
 *     }
 *
 * A marker belongs to the directive that ends (`;` or `{`) on its line. Command bodies read them too, so a block
 * of PATH posted back keeps its ids and drains. Words other than `id=N`, `next_id=N` and `drain` are ignored (left
 * for later versions).
 */
import type { Server, UpstreamGroup } from './types.js'

const MARK = /[;{][ \t]*# dyups:([^\n]*)$/

export interface LineMarker {
  id?: number
  nextId?: number
  drain?: boolean
}

/** Markers by line number (1-based) of `text`; empty when it holds none (the common case costs one indexOf). */
export function readLineMarkers(text: string): Map<number, LineMarker> {
  const out = new Map<number, LineMarker>()
  if (text.indexOf('# dyups:') === -1) return out
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.indexOf('# dyups:') === -1) continue
    const m = MARK.exec(line.endsWith('\r') ? line.slice(0, -1) : line)
    if (m === null) continue
    const mk: LineMarker = {}
    for (const w of m[1]!.trim().split(/[ \t]+/)) {
      let v: RegExpExecArray | null
      if ((v = /^id=(\d{1,9})$/.exec(w)) !== null) mk.id = Number(v[1])
      else if ((v = /^next_id=(\d{1,9})$/.exec(w)) !== null) mk.nextId = Number(v[1])
      else if (w === 'drain') mk.drain = true
    }
    out.set(i + 1, mk)
  }
  return out
}

/**
 * `g` with the markers of its lines applied: `serverLines[entry]` is the line of server directive `entry`,
 * `groupLine` that of the `upstream ... {` (PATH only). A marker's id goes to the first peer of its server line.
 */
export function withMarkers(g: UpstreamGroup, markers: Map<number, LineMarker>, serverLines: readonly number[], groupLine = -1): UpstreamGroup {
  if (markers.size === 0) return g
  let changed = false
  const servers: Server[] = g.servers.map((s, i) => {
    const mk = markers.get(serverLines[s.entry] ?? -1)
    if (mk === undefined) return s
    const first = i === 0 || g.servers[i - 1]!.entry !== s.entry
    const id = mk.id !== undefined && first ? mk.id : s.id
    const drain = mk.drain === true || s.drain
    if (id === s.id && drain === s.drain) return s
    changed = true
    return Object.freeze({ ...s, id, drain })
  })
  const next = markers.get(groupLine)?.nextId
  if (!changed && next === undefined) return g
  return Object.freeze({ ...g, servers: Object.freeze(servers), ...(next !== undefined ? { nextId: next } : {}) })
}

/** The marker comment of a server line (`# dyups: id=3 drain`), or '' for a server without an id yet. */
export function serverMarker(s: Server): string {
  if (s.id < 0 && !s.drain) return ''
  return ` # dyups:${s.id >= 0 ? ` id=${s.id}` : ''}${s.drain ? ' drain' : ''}`
}

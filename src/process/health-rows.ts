/** The prober's rows as the JSON interface's live state carries them (LiveReport.health). */
import type { HealthRow } from '../dyups/index.js'
import type { StatusRow } from '../health/index.js'

export function healthRows(rows: readonly StatusRow[]): HealthRow[] {
  return rows.map((r) => ({ upstream: r.upstream, name: r.name, down: r.down, rise: r.rise, fall: r.fall, checked: r.checked ?? 0, reason: r.reason ?? '' }))
}

/** The shapes the health checks exchange: table changes in, state changes and status rows out. */
import type { CheckType, UpstreamGroup } from '../upstream/index.js'

/**
 * One table change, as the store reports it (`Change` of store/, which this folder may not import): `put` creates
 * or replaces the group named `group.name`, `delete` removes `name`.
 */
export type GroupChange =
  | { readonly op: 'put'; readonly group: UpstreamGroup }
  | { readonly op: 'delete'; readonly name: string }

/** An address whose active-health state changed: `down` true when checks take it out of service. */
export type HealthChange = readonly [addr: string, down: boolean]

/** One line of the check_status page: a server of a group with a `check` line (Tengine's check peer). */
export interface StatusRow {
  /** Position among all rows (Tengine's peer index); kept when `?status=` filters rows out. */
  readonly index: number
  readonly upstream: string
  /** The server's address (`127.0.0.1:8080`). */
  readonly name: string
  readonly down: boolean
  /** Consecutive good checks. */
  readonly rise: number
  /** Consecutive failed checks. */
  readonly fall: number
  readonly type: CheckType
  /** `check port=`; 0 when the server's own port is probed. */
  readonly port: number
  /** When its last check ended (ms since the epoch); 0 or absent: not checked yet. */
  readonly checked?: number
  /** Why its last check failed; '' when it passed. */
  readonly reason?: string
}

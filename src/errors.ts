/**
 * Every failure dyups reports has a stable code; the HTTP status for each code is decided once, in STATUS.
 * Tests assert on `code`, never on wording.
 *
 * This file is a leaf: every folder may import it, it imports nothing.
 */
export type Code =
  | 'E_CONFIG'        // configuration error (file:line in the message)
  | 'E_COMMANDS'      // a dyups command body that does not parse or builds an invalid group
  | 'E_NO_GROUP'      // the named group does not exist
  | 'E_LOCKED'        // dyups_trylock on and another change is being applied
  | 'E_PRECONDITION'  // If-Match no longer matches the table version
  | 'E_PERSIST'       // the persistence write failed; nothing applied
  | 'E_INTERNAL'      // anything else that must not crash the process
  | 'E_BAD_REQUEST'   // malformed HTTP request
  | 'E_URI_TOO_LONG'
  | 'E_HEADER_TOO_LARGE'
  | 'E_BODY_TOO_LARGE'
  | 'E_NO_PEER'       // no usable upstream server
  | 'E_UPSTREAM'      // the upstream failed (refused, reset, invalid response)
  | 'E_TIMEOUT'       // the upstream timed out
  | 'E_PRIMARY_GONE'  // a worker outlived its primary: a change cannot be applied (or its answer never came)
  | 'E_CLUSTER'       // dyups_cluster: etcd cannot be reached, the change is not taken (or its outcome is unknown)
  | 'E_CLUSTER_ACK'   // dyups_cluster: committed, but not every live node applied it in dyups_cluster_ack_timeout
  | 'E_NOT_IMPLEMENTED' // a request this configuration does not serve yet (POST /api/batch with dyups_cluster)

export const STATUS: Record<Code, number> = {
  E_CONFIG: 500,
  // Tengine answers a bad command body with 500 "add server failed"; we keep the contract.
  E_COMMANDS: 500,
  E_NO_GROUP: 404,
  E_LOCKED: 409,
  E_PRECONDITION: 412,
  E_PERSIST: 500,
  E_INTERNAL: 500,
  E_BAD_REQUEST: 400,
  E_URI_TOO_LONG: 414,
  E_HEADER_TOO_LARGE: 400,
  E_BODY_TOO_LARGE: 413,
  E_NO_PEER: 502,
  E_UPSTREAM: 502,
  E_TIMEOUT: 504,
  // Unavailable, not failed: the same change succeeds once dyups is started again and its primary is back.
  E_PRIMARY_GONE: 503,
  // As E_PRIMARY_GONE: the same change succeeds once etcd is back.
  E_CLUSTER: 503,
  // A gateway that did not hear back in time: the change is committed, some nodes have not confirmed it.
  E_CLUSTER_ACK: 504,
  E_NOT_IMPLEMENTED: 501,
}

/** Where in a configuration file (or command body) something was found. */
export interface Pos {
  file: string
  line: number
}

export class DyupsError extends Error {
  constructor(
    readonly code: Code,
    message: string,
    readonly at?: Pos,
  ) {
    super(message)
    this.name = 'DyupsError'
  }

  get status(): number {
    return STATUS[this.code]
  }
}

export const isDyupsError = (e: unknown): e is DyupsError => e instanceof DyupsError

/** `message in file:line`, nginx's shape for configuration errors (`in command line` for `-g`). */
export function formatError(e: unknown): string {
  if (e instanceof DyupsError) {
    if (!e.at) return e.message
    return e.at.file === 'command line' ? `${e.message} in command line` : `${e.message} in ${e.at.file}:${e.at.line}`
  }
  return e instanceof Error ? e.message : String(e)
}

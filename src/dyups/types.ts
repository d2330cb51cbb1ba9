import type { Code } from '../errors.js'
import type { UpstreamGroup } from '../upstream/index.js'
import type { Change } from '../store/index.js'

/** A worker's current upstream table, read-only. */
export interface TableView {
  readonly version: number
  readonly size: number
  list(): Iterable<UpstreamGroup>
  get(name: string): UpstreamGroup | undefined
}

export interface Outcome {
  version: number
  error: { code: Code; message: string } | null
}

/** Where changes go: the primary's coordinator, over IPC or in process. */
export interface ChangeSink {
  submit(change: Change, ifMatch: number | null): Promise<Outcome>
  /** Whether a change is being applied right now (for dyups_trylock's check order). */
  busy(): Promise<boolean>
  /**
   * Where there is one, parses a command body away from the request path and applies the group (see
   * PARSE_AWAY_BYTES): the outcome's error is E_COMMANDS when the body does not build a group, E_LOCKED when
   * dyups_trylock finds the table busy (checked before the body is parsed, as Tengine does).
   */
  update?(name: string, body: string, ifMatch: number | null): Promise<Outcome>
}

export interface Reply {
  status: number
  /** latin1 bytes; null: the standard HTML error page for `status`. */
  body: string | null
  etag: number | null
}

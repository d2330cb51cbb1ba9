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
}

export interface Reply {
  status: number
  /** latin1 bytes; null: the standard HTML error page for `status`. */
  body: string | null
  etag: number | null
}

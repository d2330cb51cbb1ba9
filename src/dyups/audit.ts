/**
 * The audit log (`dyups_audit_log PATH;`, docs/api.md#audit-log): one JSON line per applied change, from any
 * source — the text and JSON interfaces, scripts, a reload — with who asked, when, the table version before and
 * after, and what changed (the diff of every group it touched). Written by the primary, the single writer, once the
 * change is durable, so lines come in version order and name only what was applied.
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import { log } from '../log.js'
import type { UpstreamGroup } from '../upstream/index.js'
import { groupDiff, type GroupDiff } from './diff.js'
import type { Actor } from './types.js'

/** A group change as the table applied it, with the group it replaced (undefined: none). */
export interface AppliedChange {
  name: string
  before: UpstreamGroup | undefined
  /** undefined: deleted. */
  after: UpstreamGroup | undefined
}

export interface AuditEntry {
  actor: Actor | undefined
  versionBefore: number
  versionAfter: number
  changes: readonly AppliedChange[]
}

/** The line of one entry (without its newline). */
export function auditLine(e: AuditEntry, now: Date = new Date()): string {
  const a = e.actor
  const diffs: GroupDiff[] = e.changes.map((c) => groupDiff(c.name, c.before, c.after))
  return JSON.stringify({
    time: now.toISOString(),
    source: a?.source ?? 'unknown',
    client: a?.client ?? '',
    user: a?.user ?? null,
    method: a?.method ?? '',
    target: a?.target ?? '',
    version_before: e.versionBefore,
    version_after: e.versionAfter,
    changes: diffs,
  })
}

/**
 * The file, opened for appending. Lines are written synchronously: the primary is not on any request path, a
 * line is small beside the journal fsync that precedes it, and a line is never half-written or reordered.
 */
export class AuditLog {
  #fd: number | null = null

  constructor(readonly path: string) {
    this.#open()
  }

  #open(): void {
    try {
      this.#fd = openSync(this.path, 'a', 0o640)
    } catch (e) {
      this.#fd = null
      log('alert', `dyups_audit_log "${this.path}" cannot be opened (${(e as Error).message})`)
    }
  }

  write(e: AuditEntry): void {
    if (this.#fd === null) return
    try {
      writeSync(this.#fd, auditLine(e) + '\n')
    } catch (err) {
      log('alert', `dyups_audit_log "${this.path}" write failed (${(err as Error).message})`)
    }
  }

  /** Reopens the file (SIGUSR1, `-s reopen`), so logrotate can move it away. */
  reopen(): void {
    this.close()
    this.#open()
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd)
    this.#fd = null
  }
}

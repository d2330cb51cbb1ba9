/**
 * Persistence of the table (`dyups_upstream_conf PATH`): a journal of changes beside PATH, PATH rewritten from
 * time to time, and the start-up restore.
 *
 * Files, with their invariant "PATH + PATH.journal.old + PATH.journal = the table of the last acknowledged change":
 * - PATH: the table at the version its `# dyups: version N` line names (upstream-conf.ts);
 * - PATH.journal: records of changes, each `{ v: version of its first change, c: [changes] }`;
 * - PATH.journal.old: the journal a rewrite of PATH is folding in. A rewrite renames the journal to .old between
 *   two commits, writes PATH at that version in the background while new records go to a fresh journal, then
 *   removes .old. Load replays .old and the journal, skipping what PATH already holds, so a crash at any step
 *   loses nothing and replays nothing twice.
 */
import { readFile, rename, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { DyupsError } from '../errors.js'
import type { Resolver } from '../upstream/index.js'
import { journalPath, oldJournalPath, StepError, step, syncDir, unlinkIfExists, writeFileAtomic } from './files.js'
import { JournalFile } from './journal.js'
import { decodeRecords } from './record.js'
import type { Table, TableImage } from './table.js'
import type { Change, GroupChange, PersistStats } from './types.js'
import { readUpstreamConf, renderUpstreamConf } from './upstream-conf.js'

export interface PersistOptions {
  /** Journal bytes that start a rewrite of PATH. */
  readonly compactBytes: number
  /** Journal records that start a rewrite of PATH. */
  readonly compactRecords: number
  /** Failures of background rewrites (the journal still holds everything; the next rewrite retries). */
  readonly onError?: ((e: DyupsError) => void) | undefined
}

/** Wraps any failure of a persistence step into E_PERSIST with a one-line reason. */
export function persistError(e: unknown): DyupsError {
  if (e instanceof DyupsError) return e.code === 'E_PERSIST' ? e : new DyupsError('E_PERSIST', e.message)
  if (e instanceof StepError) return new DyupsError('E_PERSIST', e.message)
  return new DyupsError('E_PERSIST', e instanceof Error ? e.message : String(e))
}

async function readIfExists(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new DyupsError('E_PERSIST', new StepError('read', path, e).message)
  }
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v)
    Object.freeze(o)
  }
  return o
}

function isGroupChange(c: unknown): c is GroupChange {
  const o = c as { op?: unknown; group?: { name?: unknown }; name?: unknown } | null
  if (typeof o !== 'object' || o === null) return false
  if (o.op === 'put') return typeof o.group === 'object' && o.group !== null && typeof o.group.name === 'string'
  return o.op === 'delete' && typeof o.name === 'string'
}

function isChange(c: unknown): c is Change {
  const o = c as { op?: unknown; changes?: unknown } | null
  if (typeof o === 'object' && o !== null && o.op === 'batch') return Array.isArray(o.changes) && o.changes.every(isGroupChange)
  return isGroupChange(c)
}

/** A change read back from the journal, its groups frozen as built groups are. */
function frozen(c: Change): Change {
  if (c.op === 'put') return { op: 'put', group: deepFreeze(c.group) }
  if (c.op === 'batch') return { op: 'batch', changes: c.changes.map((x) => (x.op === 'put' ? { op: 'put', group: deepFreeze(x.group) } : x)) }
  return c
}

/**
 * Applies the intact records of one journal file past the table's version.
 * @returns the records' count and their bytes (the tail past them is torn and ignored).
 * @throws DyupsError E_CONFIG when a record does not continue the table's version or is not ours.
 */
function replay(table: Table, buf: Buffer | null, file: string): { records: number; end: number } {
  if (buf === null) return { records: 0, end: 0 }
  const { payloads, end } = decodeRecords(buf)
  for (const payload of payloads) {
    let rec: { v?: unknown; c?: unknown }
    try {
      rec = JSON.parse(payload.toString('utf8'))
    } catch {
      throw new DyupsError('E_CONFIG', `invalid record in journal "${file}"`)
    }
    if (typeof rec !== 'object' || rec === null || !Number.isSafeInteger(rec.v) || !Array.isArray(rec.c) ||
        !rec.c.every(isChange)) {
      throw new DyupsError('E_CONFIG', `invalid record in journal "${file}"`)
    }
    let v = rec.v as number
    if (v > table.version + 1) {
      throw new DyupsError('E_CONFIG', `journal "${file}" continues from version ${v - 1}, ` +
        `but the table restored so far is at version ${table.version}`)
    }
    for (const change of rec.c as Change[]) {
      if (v > table.version) table.apply(frozen(change))
      v++
    }
  }
  return { records: payloads.length, end }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

export class Persistence {
  #journal: JournalFile | null
  /** The journal's state is unknown (moved away, or a failed append could not be undone): resync first. */
  #broken = false
  #oldExists: boolean
  #oldBytes: number
  #oldRecords: number
  #records: number
  #rewrite: Promise<void> | null = null
  /** Journal bytes and records when the last background rewrite failed: retry only after as many more again. */
  #backoff = { bytes: 0, records: 0 }
  #pathVersion: number
  #syncs = 0
  #written = 0
  #rewrites = 0

  private constructor(
    readonly path: string,
    private readonly opts: PersistOptions,
    journal: JournalFile,
    old: { exists: boolean; bytes: number; records: number },
    records: number,
    pathVersion: number,
  ) {
    this.#journal = journal
    this.#oldExists = old.exists
    this.#oldBytes = old.bytes
    this.#oldRecords = old.records
    this.#records = records
    this.#pathVersion = pathVersion
  }

  /**
   * Restores `table` (holding the static groups) from PATH and the journals, and opens the journal for appends.
   * A missing PATH is written at once, so that an `include` of it in nginx.conf finds a file.
   * @throws DyupsError E_CONFIG for bad content of PATH or the journals, E_PERSIST when files cannot be opened.
   */
  static async load(
    table: Table,
    path: string,
    resolve: Resolver | undefined,
    opts: PersistOptions,
  ): Promise<Persistence> {
    const conf = await readUpstreamConf(path, resolve)
    if (conf !== null) {
      for (const name of conf.deleted) table.removeStatic(name)
      for (const g of conf.groups) table.put(g)
      table.version = conf.version
    }
    const pathVersion = table.version
    const oldFile = oldJournalPath(path)
    const oldBuf = await readIfExists(oldFile)
    const old = replay(table, oldBuf, oldFile)
    const file = journalPath(path)
    const cur = replay(table, await readIfExists(file), file)
    let journal: JournalFile
    try {
      journal = await JournalFile.open(file, cur.end)
    } catch (e) {
      throw persistError(e)
    }
    const p = new Persistence(path, opts, journal,
      { exists: oldBuf !== null, bytes: old.end, records: old.records }, cur.records, pathVersion)
    if (conf === null) {
      try {
        await p.#resync(table)
      } catch (e) {
        await p.#journal?.close()
        throw persistError(e)
      }
    }
    return p
  }

  get stats(): PersistStats {
    return {
      syncs: this.#syncs,
      records: this.#written,
      journalBytes: (this.#journal?.size ?? 0) + this.#oldBytes,
      rewrites: this.#rewrites,
      pathVersion: this.#pathVersion,
    }
  }

  /**
   * Appends one record (a whole group commit) and fsyncs it. `table` is the table before the record's changes:
   * if the journal has to be replaced first, PATH is rewritten from it.
   * @throws DyupsError E_PERSIST; nothing of the record remains in the journal.
   */
  async append(record: Buffer, table: Table): Promise<void> {
    try {
      if (!this.#broken && this.#journal !== null && !this.#journal.isCurrent()) this.#broken = true
      if (this.#broken || this.#journal === null) await this.#resync(table)
      await this.#journal!.append(record)
    } catch (e) {
      if (this.#journal === null || this.#journal.damaged) this.#broken = true
      throw persistError(e)
    }
    this.#syncs++
    this.#written++
    this.#records++
  }

  /**
   * Starts a background rewrite of PATH when the journals have grown past the thresholds. Called between two
   * commits: the journal rotation it does first must not interleave with an append. Never throws.
   */
  async maybeRewrite(table: Table): Promise<void> {
    if (this.#rewrite !== null || this.#broken || this.#journal === null) return
    const bytes = this.#journal.size + this.#oldBytes
    const records = this.#records + this.#oldRecords
    if (bytes < this.opts.compactBytes + this.#backoff.bytes &&
        records < this.opts.compactRecords + this.#backoff.records) return
    if (!this.#oldExists) {
      // With .old still there (a failed or interrupted rewrite), the journal is not rotated: .old must keep
      // only records older than the PATH about to be written, and the journal's records are then skipped by
      // version at load until a later rewrite rotates it.
      const file = this.#journal.path
      const oldFile = oldJournalPath(this.path)
      try {
        await step('rename', file, () => rename(file, oldFile))
      } catch (e) {
        this.#failed(e)
        return
      }
      const prev = this.#journal
      this.#oldExists = true
      this.#oldBytes = prev.size
      this.#oldRecords = this.#records
      this.#records = 0
      this.#journal = null
      await prev.close()
      try {
        this.#journal = await JournalFile.open(file, 0)
        await syncDir(dirname(file))
      } catch (e) {
        this.#broken = true
        this.#failed(e)
        return
      }
    }
    const image = table.image()
    this.#rewrite = this.#fold(image).finally(() => {
      this.#rewrite = null
    })
  }

  /** A background rewrite of PATH is in progress. */
  get busy(): boolean {
    return this.#rewrite !== null
  }

  /** Waits for a background rewrite in progress. */
  async settle(): Promise<void> {
    while (this.#rewrite !== null) await this.#rewrite
  }

  /**
   * Writes PATH at the current version and removes the journals, PATH being durable first.
   * @throws DyupsError E_PERSIST; the journals then stay, and the next start replays them.
   */
  async close(table: Table): Promise<void> {
    await this.settle()
    try {
      if (this.#pathVersion !== table.version || !(await exists(this.path))) await this.#writePath(table.image())
      await unlinkIfExists(journalPath(this.path))
      await unlinkIfExists(oldJournalPath(this.path))
      await syncDir(dirname(this.path))
    } catch (e) {
      throw persistError(e)
    } finally {
      await this.#journal?.close()
      this.#journal = null
    }
  }

  async #writePath(image: TableImage): Promise<void> {
    await writeFileAtomic(this.path, renderUpstreamConf(image))
    if (image.version > this.#pathVersion) this.#pathVersion = image.version
    this.#rewrites++
  }

  /** The background half of a rewrite: PATH at `image`, then .old (all older than `image`) goes. */
  async #fold(image: TableImage): Promise<void> {
    try {
      await this.#writePath(image)
      await unlinkIfExists(oldJournalPath(this.path))
      this.#oldExists = false
      this.#oldBytes = 0
      this.#oldRecords = 0
      this.#backoff = { bytes: 0, records: 0 }
    } catch (e) {
      this.#failed(e)
    }
  }

  #failed(e: unknown): void {
    this.#backoff = {
      bytes: (this.#journal?.size ?? 0) + this.#oldBytes,
      records: this.#records + this.#oldRecords,
    }
    this.opts.onError?.(persistError(e))
  }

  /**
   * Makes `table` durable as PATH whatever the journals hold, then empties them: a reload changes which groups
   * nginx.conf defines, and the journal's records only mean what they meant against the old ones (a replayed
   * "delete a" removes a static group that nginx.conf has just added). PATH is written at `table.version`, which
   * is at least that of every record, so a crash before the journals are emptied replays none of them.
   * Called between two commits, like append().
   * @throws DyupsError E_PERSIST when PATH cannot be written; the files are then as they were. A failure to
   *   empty the journals afterwards is not one: PATH already holds the table, the journal is resynced before
   *   the next append, and `onError` hears of it.
   */
  async checkpoint(table: Table): Promise<void> {
    // A background rewrite holds an older image: it must not land after this one.
    await this.settle()
    try {
      await this.#writePath(table.image())
    } catch (e) {
      // The rename may have happened before a later step failed: PATH is rewritten from the table the store
      // keeps before the next append (or at close), so it never stays ahead of the journal.
      this.#pathVersion = -1
      this.#broken = true
      throw persistError(e)
    }
    try {
      await this.#freshJournal()
    } catch (e) {
      this.#broken = true
      this.opts.onError?.(persistError(e))
    }
  }

  /**
   * Starts over from a known state when the journal cannot be trusted: PATH at the table's version, then a new
   * empty journal. Everything acknowledged is in PATH before the journal is emptied.
   */
  async #resync(table: Table): Promise<void> {
    await this.settle()
    if (this.#pathVersion !== table.version || !(await exists(this.path))) await this.#writePath(table.image())
    await this.#freshJournal()
  }

  /** Removes .old and starts an empty journal; PATH must already hold everything they did. */
  async #freshJournal(): Promise<void> {
    await unlinkIfExists(oldJournalPath(this.path))
    this.#oldExists = false
    this.#oldBytes = 0
    this.#oldRecords = 0
    const prev = this.#journal
    this.#journal = null
    await prev?.close()
    this.#journal = await JournalFile.open(journalPath(this.path), 0)
    await syncDir(dirname(this.path))
    this.#records = 0
    this.#broken = false
  }
}

/** The record of one group commit. */
export function encodeChanges(firstVersion: number, changes: readonly Change[]): Buffer {
  return Buffer.from(JSON.stringify({ v: firstVersion, c: changes }), 'utf8')
}


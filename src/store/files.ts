/** File plumbing for persistence: the names beside PATH, atomic rewrites, directory fsyncs, error wording. */
import { open, rename, stat, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'

/** The journal of changes not yet folded into PATH. Suffixes keep the names out of an `include *.conf` glob. */
export const journalPath = (path: string): string => `${path}.journal`
/** The journal being folded into PATH by a rewrite in progress (or interrupted by a crash). */
export const oldJournalPath = (path: string): string => `${path}.journal.old`
export const tempPath = (path: string): string => `${path}.tmp`

/** `write() "/x/y" failed (ENOSPC: no space left on device)`: one line, as nginx words system errors. */
export function describe(op: string, path: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException
  if (typeof e?.code === 'string') {
    // Node's message is "CODE: text, op 'path'"; keep the text only.
    const m = /^[A-Z0-9_]+: ([^,]*)/.exec(e.message)
    return `${op}() "${path}" failed (${e.code}: ${m !== null ? m[1] : e.message})`
  }
  return `${op}() "${path}" failed (${e instanceof Error ? e.message : String(err)})`
}

/** An error from a step, labelled with the step, so describe() can word it. */
export class StepError extends Error {
  constructor(
    readonly op: string,
    readonly path: string,
    readonly reason: unknown,
  ) {
    super(describe(op, path, reason))
  }
}

/** Runs one file-system step, labelling its failure. */
export async function step<T>(op: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    throw e instanceof StepError ? e : new StepError(op, path, e)
  }
}

/** Makes a rename, create or unlink in `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await step('open', dir, () => open(dir, 'r'))
  try {
    await step('fsync', dir, () => fh.sync())
  } finally {
    await fh.close()
  }
}

/** Unlinks `path` if it exists. @returns whether it existed. */
export async function unlinkIfExists(path: string): Promise<boolean> {
  try {
    await unlink(path)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw new StepError('unlink', path, e)
  }
}

const CHUNK = 1 << 20

/**
 * Replaces `path` with the text `chunks` yield (latin1), atomically and durably: temp file in the same directory,
 * fsync, rename, fsync of the directory. A crash at any point leaves either the old or the new file.
 * Each chunk is written before the next is produced, so a large table is rendered without blocking for long.
 * @throws StepError naming the step that failed; the temp file is removed.
 */
export async function writeFileAtomic(path: string, chunks: Iterable<string>): Promise<void> {
  const tmp = tempPath(path)
  let mode = 0o644
  try {
    mode = (await stat(path)).mode & 0o7777
  } catch {
    // a new file
  }
  const fh = await step('open', tmp, () => open(tmp, 'w', mode))
  try {
    let pending = ''
    for (const chunk of chunks) {
      pending += chunk
      if (pending.length >= CHUNK) {
        await writeAll(fh, Buffer.from(pending, 'latin1'), tmp)
        pending = ''
      }
    }
    if (pending.length > 0) await writeAll(fh, Buffer.from(pending, 'latin1'), tmp)
    await step('fsync', tmp, () => fh.sync())
  } catch (e) {
    await fh.close().catch(() => undefined)
    await unlink(tmp).catch(() => undefined)
    throw e
  }
  await step('close', tmp, () => fh.close())
  try {
    await step('rename', tmp, () => rename(tmp, path))
  } catch (e) {
    await unlink(tmp).catch(() => undefined)
    throw e
  }
  await syncDir(dirname(path))
}

type Writable = { write(b: Buffer, off: number, len: number, pos: number | null): Promise<{ bytesWritten: number }> }

/** Writes all of `buf` at `pos` (or the current offset), looping over short writes. */
export async function writeAll(fh: Writable, buf: Buffer, label: string, pos: number | null = null): Promise<void> {
  let off = 0
  while (off < buf.length) {
    const { bytesWritten } = await step('write', label, () =>
      fh.write(buf, off, buf.length - off, pos === null ? null : pos + off),
    )
    if (bytesWritten === 0) throw new StepError('write', label, new Error('wrote 0 bytes'))
    off += bytesWritten
  }
}

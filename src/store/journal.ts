/**
 * The journal file that is appended to: positional writes at the last good offset, one fdatasync per append.
 *
 * Positional writes (not O_APPEND) let a failed append be overwritten by the next one, so even when the partial
 * bytes cannot be truncated away, no good record ever follows a bad one.
 *
 * The identity check and the write are synchronous: they only touch the page cache (a few microseconds), while
 * each asynchronous file call costs a round trip through the thread pool that every group commit would wait for.
 * Only the fdatasync, which waits for the disk, runs in the pool.
 */
import { constants, statSync, writeSync } from 'node:fs'
import { open, stat, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { StepError, step, syncDir } from './files.js'

const { O_RDWR, O_CREAT, O_TRUNC } = constants

export class JournalFile {
  /** Bytes of intact records: where the next append goes. */
  size: number
  /** An append failed and its bytes could not be removed: the file must be replaced before the next one. */
  damaged = false

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private readonly dev: number,
    private readonly ino: number,
    size: number,
  ) {
    this.size = size
  }

  /**
   * Opens (creating it if needed) the journal and cuts it to `keep` bytes, the intact records a load found.
   * `keep` 0 starts an empty journal. A created file's directory entry is fsynced, since records acknowledged
   * later are only as durable as the name that reaches them.
   * @throws StepError
   */
  static async open(path: string, keep: number): Promise<JournalFile> {
    let existed = true
    try {
      await stat(path)
    } catch {
      existed = false
    }
    const flags = O_RDWR | O_CREAT | (keep === 0 ? O_TRUNC : 0)
    const fh = await step('open', path, () => open(path, flags, 0o644))
    try {
      const st = await step('fstat', path, () => fh.stat())
      if (!st.isFile()) throw new StepError('open', path, new Error('not a regular file'))
      if (st.size !== keep) {
        await step('ftruncate', path, () => fh.truncate(keep))
        await step('fdatasync', path, () => fh.datasync())
      }
      if (!existed) await syncDir(dirname(path))
      return new JournalFile(path, fh, st.dev, st.ino, keep)
    } catch (e) {
      await fh.close().catch(() => undefined)
      throw e
    }
  }

  /** Whether `path` still names the file we write (an operator may have moved or replaced it). */
  isCurrent(): boolean {
    try {
      const st = statSync(this.path, { throwIfNoEntry: false })
      return st !== undefined && st.dev === this.dev && st.ino === this.ino
    } catch {
      return false
    }
  }

  /**
   * Writes `buf` after the last good record and makes it durable.
   * On failure the partial bytes are truncated away; if even that fails, `damaged` is set.
   * @throws StepError
   */
  async append(buf: Buffer): Promise<void> {
    try {
      writeAllSync(this.fh.fd, buf, this.path, this.size)
      // fdatasync also flushes the size change of an append; the inode times need not be durable.
      await step('fdatasync', this.path, () => this.fh.datasync())
    } catch (e) {
      try {
        await this.fh.truncate(this.size)
        await this.fh.datasync()
      } catch {
        this.damaged = true
      }
      throw e
    }
    this.size += buf.length
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined)
  }
}

/** Writes all of `buf` at `pos`, looping over short writes. @throws StepError */
function writeAllSync(fd: number, buf: Buffer, label: string, pos: number): void {
  let off = 0
  while (off < buf.length) {
    let n: number
    try {
      n = writeSync(fd, buf, off, buf.length - off, pos + off)
    } catch (e) {
      throw new StepError('write', label, e)
    }
    if (n === 0) throw new StepError('write', label, new Error('wrote 0 bytes'))
    off += n
  }
}

/**
 * A request body read whole before the backend is contacted (proxy_request_buffering on): kept in memory up to
 * client_body_buffer_size, beyond that in a temp file under client_body_temp_path, as nginx does.
 *
 * The temp file is unlinked right after it is created (nginx's ngx_open_tempfile without `persistent`): only the
 * descriptor names it, so closing it frees the space, and no file is left behind whatever ends the request (an
 * error, a client that leaves, a worker that crashes).
 *
 * File I/O is synchronous, as nginx's own temp-file writes are (without aio): small writes to the page cache, and
 * the reader of the socket that produced the data waits for them, which is the backpressure.
 */
import { closeSync, mkdirSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/** nginx's temp numbers are 10 digits; each worker starts elsewhere so that workers rarely collide. */
let tempNumber = (process.pid * 7919) % 1_000_000_000

/** A temp directory with nginx's `levels` (client_body_temp_path DIR [L1 [L2 [L3]]]). */
export class TempPath {
  /**
   * @param dir absolute directory
   * @param levels digits per subdirectory level, from the end of the file name (nginx's `levels`)
   */
  constructor(
    readonly dir: string,
    readonly levels: readonly number[] = [],
  ) {}

  /** Creates the directory as nginx does at start-up. @throws the fs error when it cannot be created */
  create(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
  }

  /**
   * Creates a new temp file, opened for reading and writing, and unlinks it at once.
   * @returns the descriptor and the name it had (for the log)
   * @throws the fs error when no file can be created
   */
  open(): { fd: number; path: string } {
    for (let attempt = 0; ; attempt++) {
      tempNumber = (tempNumber + 1) % 10_000_000_000
      const name = String(tempNumber).padStart(10, '0')
      let dir = this.dir
      let end = name.length
      for (const n of this.levels) {
        dir = join(dir, name.slice(end - n, end))
        end -= n
      }
      const path = join(dir, name)
      let fd: number
      try {
        fd = openSync(path, 'wx+', 0o600)
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code
        if (attempt < 100 && code === 'EEXIST') continue
        if (code !== 'ENOENT') throw e
        // A level directory (or the path itself, removed meanwhile) is created on first use, as nginx does.
        mkdirSync(dir, { recursive: true, mode: 0o700 })
        fd = openSync(path, 'wx+', 0o600)
      }
      try {
        unlinkSync(path)
      } catch (e) {
        closeSync(fd)
        throw e
      }
      return { fd, path }
    }
  }
}

export class BodySpool {
  /** Bytes held so far. */
  size = 0
  /** The temp file's name while one is used ('' in memory). */
  path = ''
  private parts: Buffer[] = []
  private whole: Buffer | null = null
  private fd = -1

  /**
   * @param limit bytes kept in memory (client_body_buffer_size)
   * @param temp where a larger body goes
   */
  constructor(
    private readonly limit: number,
    private readonly temp: TempPath,
  ) {}

  get inFile(): boolean {
    return this.fd >= 0
  }

  /**
   * Appends body bytes: copied while the body is in memory, written before this returns once it is in a file, so
   * `data` may be a read buffer that is reused afterwards.
   * @returns true when this call moved the body to a temp file (nginx logs that)
   * @throws the fs error when the temp file cannot be created or written
   */
  write(data: Buffer): boolean {
    if (this.fd < 0) {
      if (this.size + data.length <= this.limit) {
        this.parts.push(Buffer.from(data))
        this.size += data.length
        return false
      }
      const f = this.temp.open()
      this.fd = f.fd
      this.path = f.path
      let at = 0
      for (const p of this.parts) at += writeAll(this.fd, p, at)
      this.parts = []
      writeAll(this.fd, data, at)
      this.size += data.length
      return true
    }
    this.size += writeAll(this.fd, data, this.size)
    return false
  }

  /**
   * Up to `max` bytes from `pos` (fewer only at the end): a view of the memory body, or the bytes read from the
   * file into `into` (a view of it; `into` is allocated when not given).
   * @throws the fs error when the temp file cannot be read
   */
  read(pos: number, max: number, into?: Buffer): Buffer {
    const n = Math.min(max, this.size - pos)
    if (this.fd < 0) {
      this.whole ??= this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size)
      return this.whole.subarray(pos, pos + n)
    }
    const b = into !== undefined && into.length >= n ? into : Buffer.allocUnsafeSlow(n)
    let got = 0
    while (got < n) {
      const r = readSync(this.fd, b, got, n - got, pos + got)
      if (r === 0) throw new Error(`temp file ${this.path} ended at ${pos + got} of ${this.size}`)
      got += r
    }
    return b.length === n ? b : b.subarray(0, n)
  }

  /** The whole body when it is in memory (nginx's `$request_body`), else null (in a temp file, or freed). */
  memoryBody(): Buffer | null {
    if (this.fd >= 0 || this.size === 0 || this.parts.length === 0) return null
    return (this.whole ??= this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size))
  }

  /** Frees the memory and the temp file; safe to call twice. */
  close(): void {
    this.parts = []
    this.whole = null
    if (this.fd >= 0) {
      const fd = this.fd
      this.fd = -1
      try {
        closeSync(fd)
      } catch {
        // Already closed: nothing more to free.
      }
    }
  }
}

function writeAll(fd: number, data: Buffer, pos: number): number {
  let done = 0
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, pos + done)
  return data.length
}

/**
 * The content phase of a location without another handler, as nginx's index and static modules and the end of
 * ngx_http_core_content_phase do it: a URI ending in `/` looks for its index files (an internal redirect to the
 * first that exists, 403 "directory index … is forbidden" when none does); any other URI is a file answered with
 * Last-Modified, ETag, conditional requests (304, 412), byte ranges (206, 416), or a 301 to `uri/` for a directory.
 *
 * Disk access is asynchronous (fs/promises, libuv's thread pool): the event loop never waits on the disk. The body
 * is read as a stream and written with backpressure (Connection.sendStream), so a large file is never held whole.
 */
import { open, stat, type FileHandle } from 'node:fs/promises'
import { constants, type Stats } from 'node:fs'
import { Readable } from 'node:stream'
import { log } from '../../log.js'
import type { Responder } from '../lib/context.js'
import { etagListMatches, etagOf, parseHttpTime, parseRanges, RANGE_NOT_SATISFIABLE, type ByteRange } from '../filters/conditional.js'
import { charsetSuffix } from '../filters/charset.js'
import { expiresLines } from '../filters/expires.js'
import { GZ_COMPRESS, GZ_VARY, gzipLocal, gzipStream, gzipWhole } from '../filters/gzip.js'
import { contentTypeFor } from '../conf/mime.js'
import type { HttpRequest } from '../conf/types.js'
import { ALIAS_WHOLE, fullName, type StaticSettings } from '../conf/static.js'
import { requestContext } from '../lib/log-context.js'
import { escapeUri } from '../lib/uri.js'
import type { VarSource } from '../lib/variables.js'
import { errnoText } from '../../errno.js'

/** What mapping a URI to a path reads: the variables (for `$uri`, captures) and try_files' mark. */
export type PathSource = VarSource & { addUriToAlias: boolean }

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK

/** Read size of file bodies: 64 KiB per chunk, as large as the socket takes in one go. */
const CHUNK = 64 * 1024

/** Bodies up to this size are read whole and written with the head: a stream costs more than the bytes. */
const SMALL = 64 * 1024


/** A path for fs calls: paths are byte strings (latin1), so a UTF-8 name reaches the file system as its bytes. */
export const fsPath = (p: string): Buffer => Buffer.from(p, 'latin1')


/** The request context nginx appends to error lines. */
export const context = requestContext

/**
 * What the static handler answers when opening the file fails (ngx_http_static_handler), and the level it logs at.
 * @returns [status, level]
 */
export function openFailure(code: string | undefined): [number, 'error' | 'crit'] {
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ENAMETOOLONG':
      return [404, 'error']
    case 'EACCES':
    case 'EMLINK':
    case 'ELOOP':
      return [403, 'error']
    default:
      return [500, 'crit']
  }
}

/** Whether `path` has a `..` segment: a value of a variable or an alias that would leave the document root. */
export function escapesRoot(path: string): boolean {
  let i = path.indexOf('..')
  while (i >= 0) {
    if ((i === 0 || path.charCodeAt(i - 1) === 0x2f) && (i + 2 === path.length || path.charCodeAt(i + 2) === 0x2f)) return true
    i = path.indexOf('..', i + 2)
  }
  return false
}

/**
 * The root part of the path (ngx_http_map_uri_to_path before the URI is appended): the root, the alias, or for an
 * alias of a regex location its whole value.
 */
export function rootOf(fc: StaticSettings, req: PathSource): string {
  return fc.root.tpl === null ? fc.root.text : fullName(fc.prefix, fc.root.tpl.eval(req))
}

/** ngx_http_map_uri_to_path: the file `$uri` names under the location's root or alias. */
export function mapUriToPath(fc: StaticSettings, req: PathSource): string {
  const base = rootOf(fc, req)
  const alias = fc.root.alias
  if (alias === ALIAS_WHOLE) return req.addUriToAlias ? base + req.uri : base
  return base + (alias > 0 ? req.uri.slice(alias) : req.uri)
}

const METHOD_OK = new Set(['GET', 'HEAD', 'POST'])

/** A close that fails leaves nothing to do: the descriptor is gone either way. */
const ignore = (): void => {}

/** The content phase of a location that has no other handler. */
export function serveStatic(c: Responder, req: HttpRequest): void {
  if (!METHOD_OK.has(req.method)) return c.finishLocal(405)
  void serve(c, req)
}

async function serve(c: Responder, req: HttpRequest): Promise<void> {
  try {
    if (req.uri.endsWith('/')) await serveIndex(c, req)
    else await serveFile(c, req)
  } catch (e) {
    internalError(c, req, e)
  }
}

/** What nothing else expected (a bug, not a file error): logged, 500 if nothing was sent, never a crash. */
export function internalError(c: Responder, req: HttpRequest, e: unknown): void {
  log('alert', `static file handling failed: ${e instanceof Error ? e.message : String(e)}${context(req)}`)
  if (c.gone) return
  if (req.headerSent) return void c.abort()
  c.finishLocal(500)
}

/** ngx_http_index_handler, then the core content phase's 403 for a directory without index. */
async function serveIndex(c: Responder, req: HttpRequest): Promise<void> {
  const fc = req.loc!.files
  const base = mapUriToPath(fc, req)
  let dirTested = false
  for (const tpl of fc.index) {
    const name = tpl.eval(req)
    if (name.startsWith('/')) return c.internalRedirect(name, req.args)
    const path = base + name
    try {
      await stat(fsPath(path))
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOTDIR' || code === 'ENAMETOOLONG' || code === 'EACCES') return indexError(c, req, path, e)
      if (!dirTested) {
        // ngx_http_index_test_dir: the directory itself, without its trailing slash (an alias may have none).
        const dir = base.length > 1 && base.endsWith('/') ? base.slice(0, -1) : base
        try {
          const st = await stat(fsPath(dir))
          if (!st.isDirectory()) {
            log('alert', `"${dir}" is not a directory${context(req)}`)
            return c.finishLocal(500)
          }
        } catch (de) {
          const dcode = (de as NodeJS.ErrnoException).code
          if (dcode === 'ENOENT') return indexError(c, req, path, de)
          if (dcode !== 'EACCES') {
            log('crit', `stat() "${dir}" failed (${errnoText(de)})${context(req)}`)
            return c.finishLocal(500)
          }
        }
        dirTested = true
      }
      if (code === 'ENOENT') continue
      log('crit', `stat() "${path}" failed (${errnoText(e)})${context(req)}`)
      return c.finishLocal(500)
    }
    if (c.gone) return
    // The URI of the index file: the directory's URI and the name (with an alias too: the URI is not the path).
    return c.internalRedirect(req.uri + name, req.args)
  }
  if (c.gone) return
  log('error', `directory index of "${base}" is forbidden${context(req)}`)
  c.finishLocal(403)
}

/** ngx_http_index_error */
function indexError(c: Responder, req: HttpRequest, path: string, e: unknown): void {
  if (c.gone) return
  if ((e as NodeJS.ErrnoException).code === 'EACCES') {
    log('error', `"${path}" is forbidden (${errnoText(e)})${context(req)}`)
    return c.finishLocal(403)
  }
  if (req.loc!.files.logNotFound) log('error', `"${path}" is not found (${errnoText(e)})${context(req)}`)
  c.finishLocal(404)
}

/** ngx_http_static_handler */
async function serveFile(c: Responder, req: HttpRequest): Promise<void> {
  const path = mapUriToPath(req.loc!.files, req)
  if (escapesRoot(path)) {
    log('error', `"${path}" is outside the document root${context(req)}`)
    return c.finishLocal(403)
  }
  let fh: FileHandle
  let st: Stats
  try {
    fh = await open(fsPath(path), OPEN_FLAGS)
  } catch (e) {
    const [status, level] = openFailure((e as NodeJS.ErrnoException).code)
    if (status !== 404 || req.loc!.files.logNotFound) log(level, `open() "${path}" failed (${errnoText(e)})${context(req)}`)
    if (!c.gone) c.finishLocal(status)
    return
  }
  try {
    st = await fh.stat()
  } catch (e) {
    await fh.close().catch(ignore)
    log('crit', `fstat() "${path}" failed (${errnoText(e)})${context(req)}`)
    if (!c.gone) c.finishLocal(500)
    return
  }
  if (c.gone || !st.isFile()) {
    await fh.close().catch(ignore)
    if (c.gone) return
    if (st.isDirectory()) {
      // nginx escapes the URI here (NGX_ESCAPE_URI), unlike in most of its redirects.
      // Relative, as nginx's static module leaves it: the header filter makes it absolute ahead of Connection.
      const loc = escapeUri(req.uri) + '/' + (req.args === '' ? '' : `?${req.args}`)
      return c.sendLocal(301, null, [['Location', loc]])
    }
    log('crit', `"${path}" is not a regular file${context(req)}`)
    return c.finishLocal(404)
  }
  if (req.method === 'POST') {
    await fh.close().catch(ignore)
    return c.finishLocal(405)
  }
  await respond(c, req, fh, st, path)
}

/** The answer for an open regular file: nginx's not_modified and range filters, then the body. */
async function respond(c: Responder, req: HttpRequest, fh: FileHandle, st: Stats, path: string): Promise<void> {
  const lc = req.loc!
  const fc = lc.files
  const size = st.size
  const mtime = Math.floor(st.mtimeMs / 1000)
  const etag = fc.etag ? etagOf(mtime, size) : null
  // ngx_http_send_header: an error page's code replaces the 200 before the filters, so a file served as an error
  // page gets no 304, 412 or range, and the header filter drops Last-Modified off 200, 206 and 304.
  const ok = req.errStatus <= 0 || req.errStatus === 200
  const lastModified = ok ? `Last-Modified: ${new Date(mtime * 1000).toUTCString()}\r\n` : ''
  const etagLine = etag === null ? '' : `ETag: ${etag}\r\n`
  const head = req.head

  // ngx_http_not_modified_header_filter
  const ius = ok ? head.get('if-unmodified-since') : null
  const im = ok ? head.get('if-match') : null
  if ((ius !== null && !(parseHttpTime(ius) >= mtime)) || (im !== null && !etagListMatches(im, etag, false))) {
    void fh.close().catch(ignore)
    return c.finishLocal(412)
  }
  const ims = ok ? head.get('if-modified-since') : null
  const inm = ok ? head.get('if-none-match') : null
  if (ims !== null || inm !== null) {
    const modified = (ims !== null && isModified(fc.ifModifiedSince, ims, mtime)) || (inm !== null && !etagListMatches(inm, etag, true))
    if (!modified) {
      void fh.close().catch(ignore)
      return c.sendStream(304, lastModified, etagLine + expiresLines(lc.expires, 304, mtime, req.answerTime()), null, 0)
    }
  }

  const mime = req.carriedType ?? contentTypeFor(lc.types, req.uri, lc.defaultType)
  const type = `Content-Type: ${mime}${charsetSuffix(lc.charset, mime)}\r\n`
  // ngx_http_gzip_header_filter runs before the range filter: a compressed answer has no length, hence no range.
  const gz = lc.gzip !== null ? gzipLocal(lc.gzip, req, ok ? 200 : req.errStatus, mime, size) : 0
  if (gz & GZ_COMPRESS) return sendGzipped(c, req, fh, ok ? 200 : req.errStatus, type + lastModified, etag, gz, size, expiresLines(lc.expires, ok ? 200 : req.errStatus, mtime, req.answerTime()))
  let start = 0
  let end = size
  let status = ok ? 200 : req.errStatus
  // nginx's headers filter (Expires, Cache-Control) runs before the range filter (Accept-Ranges, Content-Range).
  let after = fc.maxRanges === 0 || !ok ? '' : 'Accept-Ranges: bytes\r\n'
  // ngx_http_range_header_filter
  const range = ok ? head.get('range') : null
  if (range !== null && fc.maxRanges > 0 && range.length >= 7 && range.slice(0, 6).toLowerCase() === 'bytes=' && ifRangeHolds(head.get('if-range'), etag, mtime)) {
    const r = parseRanges(range.slice(6), size, fc.maxRanges)
    if (r === RANGE_NOT_SATISFIABLE) {
      void fh.close().catch(ignore)
      return c.sendLocal(416, null, [['Content-Range', `bytes */${size}`]])
    }
    if (typeof r !== 'number' && r.length === 1) {
      start = r[0]!.start
      end = r[0]!.end
      status = 206
      after = `Content-Range: bytes ${start}-${end - 1}/${size}\r\n`
    } else if (typeof r !== 'number') {
      return multipart(c, req, fh, r, size, mime + charsetSuffix(lc.charset, mime), lastModified, etagLine + expiresLines(lc.expires, 206, mtime, req.answerTime()))
    }
  }
  const length = end - start
  const before = `${type}Content-Length: ${length}\r\n${lastModified}`
  after = etagLine + expiresLines(lc.expires, status, mtime, req.answerTime()) + after
  if (gz & GZ_VARY) after = `Vary: Accept-Encoding\r\n${after}`
  if (req.method === 'HEAD' || length === 0) {
    void fh.close().catch(ignore)
    return c.sendStream(status, before, after, null, length)
  }
  if (length <= SMALL) return sendSmall(c, fh, status, before, after, start, length, path)
  const body: Readable = fh.createReadStream({ start, end: end - 1, highWaterMark: CHUNK })
  c.sendStream(status, before, after, body, length, path)
}

/**
 * A whole file compressed (nginx's gzip filter): chunked to an HTTP/1.1 client, until the close to HTTP/1.0; the
 * ETag made weak, Content-Encoding last. A small file is read and compressed at once, a larger one as it is read.
 */
async function sendGzipped(c: Responder, req: HttpRequest, fh: FileHandle, status: number, before: string, etag: string | null, gz: number, size: number, expires: string): Promise<void> {
  const client11 = req.versionMinor === 1
  const head = req.method === 'HEAD'
  if (!client11 && !head) req.keepAlive = false
  const framing = client11 && !head ? 'Transfer-Encoding: chunked\r\n' : ''
  const after = `${gz & GZ_VARY ? 'Vary: Accept-Encoding\r\n' : ''}${etag === null ? '' : `ETag: ${etag.startsWith('W/') ? etag : `W/${etag}`}\r\n`}${expires}`
  const last = 'Content-Encoding: gzip\r\n'
  const level = req.loc!.gzip!.level
  if (head) {
    void fh.close().catch(ignore)
    return c.sendStream(status, before + framing, after, null, 0, '', last)
  }
  if (size <= SMALL) {
    const buf = Buffer.allocUnsafe(size)
    let n: number
    try {
      n = (await fh.read(buf, 0, size, 0)).bytesRead
    } finally {
      void fh.close().catch(ignore)
    }
    if (c.gone) return
    const z = gzipWhole(n === size ? buf : buf.subarray(0, n), level, client11)
    return c.sendStream(status, before + framing, after, z, z.length, '', last)
  }
  // The compressed length is unknown: a file that shrinks meanwhile just ends the body sooner.
  const body = gzipStream(fh.createReadStream({ highWaterMark: CHUNK }), level, client11)
  c.sendStream(status, before + framing, after, body, 0, '', last)
}

/** One read into one buffer; a short read (the file shrank) is sent as it is and ends the connection. */
async function sendSmall(c: Responder, fh: FileHandle, status: number, before: string, after: string, start: number, length: number, path: string): Promise<void> {
  const buf = Buffer.allocUnsafe(length)
  let n: number
  try {
    n = (await fh.read(buf, 0, length, start)).bytesRead
  } finally {
    void fh.close().catch(ignore)
  }
  if (c.gone) return
  c.sendStream(status, before, after, n === length ? buf : buf.subarray(0, n), length, path)
}

/** nginx's boundaries count up from 1 (ngx_next_temp_number), written as 20 digits. */
let boundaries = 0

/**
 * Several ranges: a multipart/byteranges body (ngx_http_range_multipart_header), each part with its own
 * Content-Type and Content-Range, read range by range from the open file.
 */
function multipart(c: Responder, req: HttpRequest, fh: FileHandle, ranges: ByteRange[], size: number, type: string, lastModified: string, etagLine: string): void {
  const boundary = String(++boundaries).padStart(20, '0')
  const partHead = `\r\n--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes `
  const trailer = `\r\n--${boundary}--\r\n`
  let length = trailer.length
  const heads: string[] = []
  for (const r of ranges) {
    const h = `${partHead}${r.start}-${r.end - 1}/${size}\r\n\r\n`
    heads.push(h)
    length += h.length + r.end - r.start
  }
  const before = `Content-Type: multipart/byteranges; boundary=${boundary}\r\nContent-Length: ${length}\r\n${lastModified}`
  if (req.method === 'HEAD') {
    void fh.close().catch(ignore)
    return c.sendStream(206, before, etagLine, null, length)
  }
  c.sendStream(206, before, etagLine, Readable.from(parts(fh, ranges, heads, trailer), { objectMode: false, highWaterMark: CHUNK }), length)
}

/** The multipart body; the file is closed when it ends or when the client leaves (the generator's finally). */
async function* parts(fh: FileHandle, ranges: ByteRange[], heads: string[], trailer: string): AsyncGenerator<Buffer> {
  try {
    for (let i = 0; i < ranges.length; i++) {
      yield Buffer.from(heads[i]!, 'latin1')
      const r = ranges[i]!
      for await (const chunk of fh.createReadStream({ start: r.start, end: r.end - 1, autoClose: false, highWaterMark: CHUNK })) {
        yield chunk as Buffer
      }
    }
    yield Buffer.from(trailer, 'latin1')
  } finally {
    await fh.close().catch(ignore)
  }
}

/** ngx_http_test_if_modified */
function isModified(mode: StaticSettings['ifModifiedSince'], value: string, mtime: number): boolean {
  if (mode === 'off') return true
  const ims = parseHttpTime(value)
  if (ims === mtime) return false
  return mode === 'exact' || ims < mtime
}

/** If-Range: an entity tag must equal the ETag, a date the modification time; no header holds. */
function ifRangeHolds(v: string | null, etag: string | null, mtime: number): boolean {
  if (v === null) return true
  if (v.length >= 2 && v.endsWith('"')) return etag !== null && v === etag
  return parseHttpTime(v) === mtime
}

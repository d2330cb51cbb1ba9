/**
 * gzip, as nginx's gzip filter decides it (ngx_http_gzip_header_filter, ngx_http_gzip_ok): a response is a candidate
 * when gzip is on, its status is 200, 403 or 404, it has no Content-Encoding, its Content-Length (when known) is at
 * least gzip_min_length and its type is in gzip_types (text/html always); HEAD answers included. A candidate gets
 * `Vary: Accept-Encoding` with gzip_vary. It is compressed when the request accepts gzip (nginx's own reading of
 * Accept-Encoding, q-values included), is not from MSIE 4–6 with `gzip_disable msie6`, is at least
 * gzip_http_version, and either has no `Via` header or gzip_proxied allows the answer; and no gzip_disable regex
 * matches its User-Agent.
 *
 * Compressed bodies lose Content-Length and Accept-Ranges, their ETag becomes weak, and they go out chunked (HTTP/1.1)
 * or until the connection closes (HTTP/1.0). Proxied bodies are compressed as they arrive, with backpressure: the
 * backend is paused while the compressor holds a buffer's worth, and the compressor while the client is full.
 */
import type { ClientOut } from '../../proxy/index.js'
import { pipeline, Transform, type Readable } from 'node:stream'
import { createGzip, gzipSync, type Gzip } from 'node:zlib'
import { parseSize, type Directive } from '../../config/index.js'
import { ChunkedScanner, LAST_CHUNK, type ResponseHead } from '../../http1/index.js'
import { compileRegex } from '../lib/regex.js'
import type { Request } from '../lib/request.js'

const PROXIED_OFF = 1
const PROXIED_EXPIRED = 2
const PROXIED_NO_CACHE = 4
const PROXIED_NO_STORE = 8
const PROXIED_PRIVATE = 16
const PROXIED_NO_LM = 32
const PROXIED_NO_ETAG = 64
const PROXIED_AUTH = 128
const PROXIED_ANY = 256

const PROXIED_BITS: Readonly<Record<string, number>> = {
  off: PROXIED_OFF, expired: PROXIED_EXPIRED, 'no-cache': PROXIED_NO_CACHE, 'no-store': PROXIED_NO_STORE,
  private: PROXIED_PRIVATE, no_last_modified: PROXIED_NO_LM, no_etag: PROXIED_NO_ETAG, auth: PROXIED_AUTH,
  any: PROXIED_ANY,
}

/** The gzip settings of one level. */
export interface GzipConf {
  readonly enable: boolean
  readonly level: number
  /** Lowercased types; null: `*`, any type. */
  readonly types: ReadonlySet<string> | null
  readonly minLength: number
  readonly vary: boolean
  readonly proxied: number
  /** The lowest request version compressed: 0 for 1.0, 1 for 1.1. */
  readonly httpMinor: number
  readonly disableMsie6: boolean
  readonly disable: readonly RegExp[]
}

/** nginx's defaults: gzip off, text/html, 20 bytes, level 1, gzip_proxied off, HTTP/1.1. */
export const GZIP_DEFAULT: GzipConf = {
  enable: false, level: 1, types: new Set(['text/html']), minLength: 20, vary: false, proxied: PROXIED_OFF,
  httpMinor: 1, disableMsie6: false, disable: [],
}

/**
 * The settings of one level over its parent's (each directive inherited on its own, as nginx merges them); the
 * parent object itself when the level sets none. Values were checked by the registry.
 * @throws DyupsError E_CONFIG from a gzip_disable regex that does not compile
 */
export function gzipLevel(parent: GzipConf, block: readonly Directive[]): GzipConf {
  let c: { -readonly [K in keyof GzipConf]: GzipConf[K] } | null = null
  let disable: RegExp[] | null = null
  for (const d of block) {
    if (!d.name.startsWith('gzip')) continue
    c ??= { ...parent }
    const a0 = d.args[0] ?? ''
    switch (d.name) {
      case 'gzip': c.enable = a0 === 'on'; break
      case 'gzip_comp_level': c.level = Number(a0); break
      case 'gzip_vary': c.vary = a0 === 'on'; break
      case 'gzip_http_version': c.httpMinor = a0 === '1.0' ? 0 : 1; break
      case 'gzip_min_length': c.minLength = parseSize(a0) ?? c.minLength; break
      case 'gzip_proxied': {
        let bits = 0
        for (const a of d.args) bits |= PROXIED_BITS[a.toLowerCase()] ?? 0
        c.proxied = bits
        break
      }
      case 'gzip_types': {
        if (c.types === parent.types) c.types = new Set(['text/html'])
        for (const a of d.args) {
          if (a === '*') {
            c.types = null
            break
          }
          if (c.types !== null) (c.types as Set<string>).add(a.toLowerCase())
        }
        break
      }
      case 'gzip_disable': {
        disable ??= []
        for (const a of d.args) {
          if (a === 'msie6') c.disableMsie6 = true
          else if (a !== 'degradation') disable.push(compileRegex(a, true, { file: d.file, line: d.line }))
        }
        c.disable = disable
        break
      }
    }
  }
  return c ?? parent
}

/** What the header filter decided: nothing, a Vary header only, or compression (with or without Vary). */
export const GZ_VARY = 1
export const GZ_COMPRESS = 2

/**
 * A local answer (return, echo, error page): its status, type and length, for the request.
 * @returns a combination of GZ_VARY and GZ_COMPRESS
 */
export function gzipLocal(c: GzipConf, req: Request, status: number, type: string | undefined, length: number): number {
  if (!candidate(c, status, length) || !typeMatches(c, type ?? '')) return 0
  return (c.vary ? GZ_VARY : 0) | (gzipOk(c, req, null) ? GZ_COMPRESS : 0)
}

/** A proxied answer's head, for the request. @returns a combination of GZ_VARY and GZ_COMPRESS */
export function gzipProxied(c: GzipConf, req: Request, rh: ResponseHead, status: number): number {
  if (!candidate(c, status, rh.contentLength)) return 0
  if (headerValue(rh, 'content-encoding') !== '') return 0
  if (!typeMatches(c, typeKey(headerValue(rh, 'content-type')))) return 0
  return (c.vary ? GZ_VARY : 0) | (gzipOk(c, req, rh) ? GZ_COMPRESS : 0)
}

function candidate(c: GzipConf, status: number, length: number): boolean {
  if (status !== 200 && status !== 403 && status !== 404) return false
  // HEAD is not excluded: nginx's header filter sets header_only after the gzip filter has run.
  return length < 0 || length >= c.minLength
}

function typeMatches(c: GzipConf, type: string): boolean {
  if (c.types === null) return true
  return type !== '' && c.types.has(type.toLowerCase())
}

/** The first value of a header ('' when absent). */
function headerValue(rh: ResponseHead, lower: string): string {
  return rh.get(lower) ?? ''
}

/**
 * The part of a Content-Type nginx compares with gzip_types: cut before a `;` only when `charset=` follows it
 * (ngx_http_upstream_copy_content_type).
 */
export function typeKey(ct: string): string {
  let from = 0
  for (;;) {
    const semi = ct.indexOf(';', from)
    if (semi < 0) return ct
    let p = semi + 1
    while (ct.charCodeAt(p) === 0x20) p++
    if (p >= ct.length) return ct
    if (ct.slice(p, p + 8).toLowerCase() === 'charset=') return ct.slice(0, semi)
    from = p
  }
}

/** ngx_http_gzip_ok. `rh`: the proxied answer's head (null for a local one). */
function gzipOk(c: GzipConf, req: Request, rh: ResponseHead | null): boolean {
  const h = req.head
  const ae = h.get('accept-encoding')
  if (ae === null || ae.length < 4) return false
  if (!ae.startsWith('gzip,') && !acceptsGzip(ae)) return false
  const ua = h.get('user-agent')
  if (c.disableMsie6 && ua !== null && isMsie6(ua)) return false
  if (req.versionMinor < c.httpMinor) return false
  if (h.get('via') !== null && !proxiedOk(c.proxied, req, rh)) return false
  if (ua !== null) for (const re of c.disable) if (re.test(ua)) return false
  return true
}

function proxiedOk(p: number, req: Request, rh: ResponseHead | null): boolean {
  if (p & PROXIED_OFF) return false
  if (p & PROXIED_ANY) return true
  if (req.head.get('authorization') !== null && p & PROXIED_AUTH) return true
  const expires = rh?.get('expires') ?? null
  if (expires !== null) {
    if (!(p & PROXIED_EXPIRED)) return false
    const t = Date.parse(expires)
    if (Number.isNaN(t)) return false
    return Math.floor(t / 1000) < Math.floor(Date.now() / 1000)
  }
  if (rh !== null && rh.indexOf('cache-control') >= 0) {
    if (p & PROXIED_NO_CACHE && cacheControlHas(rh, 'no-cache')) return true
    if (p & PROXIED_NO_STORE && cacheControlHas(rh, 'no-store')) return true
    if (p & PROXIED_PRIVATE && cacheControlHas(rh, 'private')) return true
    return false
  }
  if (p & PROXIED_NO_LM && rh?.get('last-modified') != null) return false
  if (p & PROXIED_NO_ETAG && rh?.get('etag') != null) return false
  return true
}

/** ngx_http_parse_multi_header_lines: `name` as a token of any Cache-Control line. */
function cacheControlHas(rh: ResponseHead, name: string): boolean {
  for (let i = rh.indexOf('cache-control'); i >= 0; i = rh.indexOf('cache-control', i + 1)) {
    for (const part of rh.value(i).split(',')) {
      const t = part.trim().toLowerCase()
      if (t === name || t.startsWith(name + '=') || t.startsWith(name + ' ')) return true
    }
  }
  return false
}

/** ngx_http_gzip_accept_encoding: `gzip` as a coding, with a q-value nginx reads as non-zero. */
export function acceptsGzip(ae: string): boolean {
  const lower = ae.toLowerCase()
  let start = 0
  let p: number
  for (;;) {
    p = lower.indexOf('gzip', start)
    if (p < 0) return false
    if (p === 0 || lower[p - 1] === ',' || lower[p - 1] === ' ') break
    start = p + 4
  }
  p += 4
  const last = ae.length
  while (p < last) {
    const ch = ae[p++]
    if (ch === ',') return true
    if (ch === ';') {
      while (p < last) {
        const c2 = ae[p++]
        if (c2 === 'q' || c2 === 'Q') {
          if (p + 2 > last || ae[p++] !== '=') return false
          return quantity(ae, p) > 0
        }
        if (c2 !== ' ') return false
      }
      return true
    }
    if (ch !== ' ') return false
  }
  return true
}

/** ngx_http_gzip_quantity, its arithmetic kept (`0.5` reads as 5, `1.5` as too large). */
function quantity(s: string, p: number): number {
  const last = s.length
  let c = s[p++]
  if (c !== '0' && c !== '1') return 0
  let q = (c === '1' ? 1 : 0) * 100
  if (p === last) return q
  c = s[p++]
  if (c === ',' || c === ' ') return q
  if (c !== '.') return 0
  let n = 0
  while (p < last) {
    c = s[p++]!
    if (c === ',' || c === ' ') break
    if (c >= '0' && c <= '9') {
      q += c.charCodeAt(0) - 48
      n++
      continue
    }
    return 0
  }
  if (q > 100 || n > 3) return 0
  return q
}

/** nginx's r->headers_in.msie6 (ngx_http_process_user_agent). */
export function isMsie6(ua: string): boolean {
  if (ua.includes('Opera')) return false
  const m = ua.indexOf('MSIE ')
  if (m < 0 || !(m + 7 < ua.length)) return false
  if (ua[m + 6] !== '.') return false
  const v = ua[m + 5]
  if (v === '4' || v === '5') return true
  return v === '6' && !ua.slice(m + 8).includes('SV1')
}

/** A whole local body compressed, framed as one chunk and the last one when `chunked`. */
export function gzipWhole(body: string | Buffer, level: number, chunked: boolean): Buffer {
  const z = gzipSync(typeof body === 'string' ? Buffer.from(body, 'latin1') : body, { level })
  if (!chunked) return z
  return Buffer.concat([Buffer.from(z.length.toString(16) + '\r\n', 'latin1'), z, Buffer.from('\r\n', 'latin1'), LAST_CHUNK])
}

/** Frames each buffer as one chunk, and ends with the last chunk. */
function chunkFramer(): Transform {
  return new Transform({
    transform(b: Buffer, _enc, cb): void {
      if (b.length === 0) return cb()
      cb(null, Buffer.concat([Buffer.from(b.length.toString(16) + '\r\n', 'latin1'), b, CRLF]))
    },
    flush(cb): void {
      cb(null, LAST_CHUNK)
    },
  })
}

const CRLF = Buffer.from('\r\n', 'latin1')

/**
 * A file's body compressed as it is read, framed as chunks when `chunked`; backpressure on the result reaches the
 * file. An error of any stage destroys the result with it.
 */
export function gzipStream(src: Readable, level: number, chunked: boolean): Readable {
  const z = createGzip({ level })
  const ignore = (): void => {}
  return chunked ? pipeline(src, z, chunkFramer(), ignore) : pipeline(src, z, ignore)
}

/** Feeds the data of a chunked body to the compressor. */
class Dechunk extends ChunkedScanner {
  full = false
  constructor(private readonly z: Gzip) {
    super({ upstream: true })
  }

  protected override data(buf: Buffer, start: number, end: number): boolean {
    if (!this.z.write(buf.subarray(start, end))) this.full = true
    return true
  }
}

/**
 * One proxied body on its way through the compressor to the client. Created per compressed response only.
 */
export class GzipBody {
  private readonly z: Gzip
  private readonly dechunk: Dechunk | null
  private done: (() => void) | null = null

  /**
   * @param chunked frame the output as chunks (an HTTP/1.1 client)
   * @param fromChunked the backend's body is chunked: its framing is taken off first
   * @param drained called when the compressor can take more after write() said it was full
   */
  constructor(level: number, client: ClientOut & { destroy(): void }, private readonly chunked: boolean, fromChunked: boolean, drained: () => void) {
    const z = createGzip({ level })
    this.z = z
    this.dechunk = fromChunked ? new Dechunk(z) : null
    z.on('data', (b: Buffer) => {
      let ok: boolean
      if (this.chunked) {
        client.cork()
        client.write(b.length.toString(16) + '\r\n', 'latin1')
        client.write(b)
        ok = client.write('\r\n', 'latin1')
        client.uncork()
      } else ok = client.write(b)
      if (!ok) z.pause()
    })
    z.on('drain', drained)
    z.on('end', () => {
      if (this.chunked) client.write(LAST_CHUNK)
      const d = this.done
      this.done = null
      d?.()
    })
    z.on('error', () => client.destroy())
  }

  /** Bytes of the backend's body (as framed by the backend). @returns false when the caller should pause. */
  write(data: Buffer): boolean {
    if (this.dechunk === null) return this.z.write(data)
    this.dechunk.full = false
    this.dechunk.execute(data, 0)
    return !this.dechunk.full
  }

  /** The body is complete: `cb` runs once the last compressed byte was handed to the client. */
  end(cb: () => void): void {
    this.done = cb
    this.z.end()
  }

  /** The client drained: let compressed output flow again. */
  resume(): void {
    this.z.resume()
  }

  destroy(): void {
    this.done = null
    this.z.destroy()
  }
}

/**
 * `types { text/html html htm; … }` and `default_type`: the Content-Type nginx gives a response it generates
 * itself (`return 200 "text"`, static files) from the extension of `$uri` (ngx_http_set_content_type).
 *
 * Per-request cost: one scan of the last path segment, one Map lookup; a lower-cased copy of the extension only
 * when it has an upper-case letter (as nginx).
 */
import { DyupsError } from '../../errors.js'
import type { Directive } from '../../config/index.js'

/** An extension → type table, built once. */
export class MimeTypes {
  private readonly map: ReadonlyMap<string, string>

  constructor(map: ReadonlyMap<string, string>) {
    this.map = map
  }

  /** The type for an extension (any case), or undefined. */
  lookup(ext: string): string | undefined {
    const hit = this.map.get(ext)
    if (hit !== undefined || ext.length === 0) return hit
    for (let i = 0; i < ext.length; i++) {
      const c = ext.charCodeAt(i)
      if (c >= 0x41 && c <= 0x5a) return this.map.get(ext.toLowerCase())
    }
    return undefined
  }

  /** How many extensions the table knows. */
  get size(): number {
    return this.map.size
  }
}

/** nginx's table when no `types` block is configured anywhere (ngx_http_core_default_types). */
export const DEFAULT_TYPES = new MimeTypes(
  new Map([
    ['html', 'text/html'],
    ['gif', 'image/gif'],
    ['jpg', 'image/jpeg'],
  ]),
)

/** nginx's `default_type` when none is configured. */
export const DEFAULT_TYPE = 'text/plain'

/**
 * Compile a `types { … }` block (`include`s already expanded by the config loader).
 * A later mapping of an extension replaces an earlier one, with nginx's warning.
 *
 * @param warn receives `duplicate extension "x", content type: "b", previous content type: "a"` and its position
 * @throws DyupsError E_CONFIG when `d` is not a block
 */
export function compileTypes(
  d: Directive,
  warn?: (message: string, at: { file: string; line: number }) => void,
): MimeTypes {
  if (d.block === null) {
    throw new DyupsError('E_CONFIG', `directive "${d.name}" has no opening "{"`, { file: d.file, line: d.line })
  }
  const map = new Map<string, string>()
  for (const entry of d.block) {
    // `include` inside `types` is expanded by the loader, as nginx's ngx_http_core_type does it.
    if (entry.name === 'include') continue
    const type = entry.name
    for (const raw of entry.args) {
      const ext = raw.toLowerCase()
      const old = map.get(ext)
      if (old !== undefined && warn) {
        warn(`duplicate extension "${ext}", content type: "${type}", previous content type: "${old}"`, {
          file: entry.file,
          line: entry.line,
        })
      }
      map.set(ext, type)
    }
  }
  return new MimeTypes(map)
}

/**
 * nginx's `exten` of a normalized `$uri`: what follows the last `.` of the last path segment, where the dots that
 * open a segment (`.htaccess`, `..x`) do not count, exactly as ngx_http_parse_complex_uri() sets `uri_ext`.
 * `/a/b.tar.gz` → `gz`, `/a.d/b` → '', `/.htaccess` → '', `/a/x.` → ''.
 */
export function extensionOf(uri: string): string {
  const n = uri.length
  let seg = uri.lastIndexOf('/') + 1
  // nginx's sw_slash → sw_dot → sw_dot_dot → usual: up to three leading dots are copied without marking an
  // extension.
  for (let k = 0; k < 3 && seg < n && uri.charCodeAt(seg) === 0x2e; k++) seg++
  const dot = uri.lastIndexOf('.')
  if (dot < seg) return ''
  return uri.slice(dot + 1)
}

/**
 * The Content-Type nginx sets for a response it generates for `uri`.
 * @param defaultType the location's `default_type` @default 'text/plain'
 */
export function contentTypeFor(types: MimeTypes, uri: string, defaultType: string = DEFAULT_TYPE): string {
  const ext = extensionOf(uri)
  if (ext.length === 0) return defaultType
  return types.lookup(ext) ?? defaultType
}

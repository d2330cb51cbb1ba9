/**
 * `charset`, as nginx's charset filter without recoding: a response whose type is in charset_types and whose
 * Content-Type has no parameters gets `; charset=NAME` appended; one that already names a charset (or has any other
 * parameter) keeps its header. A backend's Content-Encoding changes nothing (nginx appends the charset even so).
 */

/** nginx's default charset_types. */
const CHARSET_TYPES = new Set(['text/html', 'text/xml', 'text/plain', 'text/vnd.wap.wml', 'application/javascript', 'application/rss+xml'])

/** The suffix a `charset NAME` level appends, precomputed; null for `charset off` (the default). */
export function charsetOf(name: string): string | null {
  return name === 'off' ? null : `; charset=${name}`
}

/**
 * What to append to a Content-Type value: the location's suffix, or '' when nginx's filter would not touch it.
 * @param suffix the location's {@link charsetOf}
 */
export function charsetSuffix(suffix: string | null, type: string | undefined): string {
  if (suffix === null || type === undefined || type === '') return ''
  // ngx_http_header_filter appends the charset only to a type without parameters.
  if (type.includes(';')) return ''
  return CHARSET_TYPES.has(type.trim().toLowerCase()) ? suffix : ''
}

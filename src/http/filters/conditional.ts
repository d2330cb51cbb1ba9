/**
 * What decides the status of a static file's answer, as nginx's filters do it: the ETag format
 * (ngx_http_set_etag), HTTP dates (ngx_parse_http_time), If-Match / If-None-Match lists
 * (ngx_http_test_if_match), and `Range: bytes=` (ngx_http_range_parse). Pure functions on strings and numbers.
 */

/** `"5f3e2a1b-264"`: mtime (seconds) and size in lower-case hex, quoted (ngx_http_set_etag). */
export function etagOf(mtimeSec: number, size: number): string {
  return `"${mtimeSec.toString(16)}-${size.toString(16)}"`
}

const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec'

function digits(s: string, i: number, n: number): number {
  let v = 0
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(i + k) - 0x30
    if (!(c >= 0 && c <= 9)) return -1
    v = v * 10 + c
  }
  return v
}

/**
 * ngx_parse_http_time: `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 1123), `Sunday, 06-Nov-94 08:49:37 GMT` (RFC 850),
 * `Sun Nov  6 08:49:37 1994` (asctime). The weekday is skipped, not checked.
 * @returns seconds since the epoch, or -1 when the text is none of them (nginx's NGX_ERROR).
 */
export function parseHttpTime(s: string): number {
  let p = 0
  const end = s.length
  while (p < end && s[p] !== ',' && s[p] !== ' ') p++
  if (p >= end) return -1
  let day: number, month: number, year: number
  let asctime = false
  if (s[p] === ',') {
    p++
    while (p < end && s[p] === ' ') p++
    day = digits(s, p, 2)
    if (day < 0) return -1
    p += 2
    if (s[p] === ' ') {
      // RFC 1123
      month = MONTHS.indexOf(s.slice(p + 1, p + 4))
      if (month < 0 || month % 3 !== 0 || s[p + 4] !== ' ') return -1
      p += 5
      year = digits(s, p, 4)
      if (year < 0) return -1
      p += 4
    } else if (s[p] === '-') {
      // RFC 850
      month = MONTHS.indexOf(s.slice(p + 1, p + 4))
      if (month < 0 || month % 3 !== 0 || s[p + 4] !== '-') return -1
      p += 5
      year = digits(s, p, 2)
      if (year < 0) return -1
      year += year < 70 ? 2000 : 1900
      p += 2
    } else {
      return -1
    }
  } else {
    // asctime: `Sun Nov  6 08:49:37 1994`
    asctime = true
    p++
    month = MONTHS.indexOf(s.slice(p, p + 3))
    if (month < 0 || month % 3 !== 0 || s[p + 3] !== ' ') return -1
    p += 4
    if (s[p] === ' ') p++
    const two = digits(s, p, 2)
    if (two >= 0) {
      day = two
      p += 2
    } else {
      day = digits(s, p, 1)
      if (day < 0) return -1
      p += 1
    }
    year = 0
  }
  if (s[p] !== ' ') return -1
  p++
  const hour = digits(s, p, 2)
  if (hour < 0 || s[p + 2] !== ':') return -1
  const min = digits(s, p + 3, 2)
  if (min < 0 || s[p + 5] !== ':') return -1
  const sec = digits(s, p + 6, 2)
  if (sec < 0) return -1
  p += 8
  if (asctime) {
    if (s[p] !== ' ') return -1
    year = digits(s, p + 1, 4)
    if (year < 0) return -1
  }
  if (hour > 23 || min > 59 || sec > 59) return -1
  month = month / 3
  const dim = [31, (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
  if (day < 1 || day > dim[month]!) return -1
  return Date.UTC(year, month, day, hour, min, sec) / 1000
}

/**
 * ngx_http_test_if_match: whether the comma-separated entity-tag `list` holds `etag` (`*` holds anything when
 * there is a tag). `weak`: the If-None-Match comparison, where `W/` prefixes are ignored on both sides.
 * @param etag null: the response has none.
 */
export function etagListMatches(list: string, etag: string | null, weak: boolean): boolean {
  if (list === '*') return true
  if (etag === null) return false
  if (weak && etag.length > 2 && etag.startsWith('W/')) etag = etag.slice(2)
  let p = 0
  const end = list.length
  while (p < end) {
    if (weak && end - p > 2 && list[p] === 'W' && list[p + 1] === '/') p += 2
    if (etag.length > end - p) return false
    if (list.startsWith(etag, p)) {
      let q = p + etag.length
      while (q < end && (list[q] === ' ' || list[q] === '\t')) q++
      if (q === end || list[q] === ',') return true
    }
    while (p < end && list[p] !== ',') p++
    while (p < end && (list[p] === ' ' || list[p] === '\t' || list[p] === ',')) p++
  }
  return false
}

/** The byte at `i`, 0 past the end (nginx's terminating NUL). */
const at = (s: string, i: number): number => (i < s.length ? s.charCodeAt(i) : 0)
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

/** ngx_http_range_parse results besides a range. */
export const RANGE_DECLINED = -1
export const RANGE_NOT_SATISFIABLE = -2

/** One satisfiable byte range: `start` to `end` exclusive. */
export interface ByteRange {
  start: number
  end: number
}

/**
 * ngx_http_range_parse of the value after `bytes=`.
 * @returns the ranges (several for a multipart request), RANGE_NOT_SATISFIABLE (416), or RANGE_DECLINED (the
 *   whole body with 200: a range from 0 that is empty, or ranges larger in total than the body).
 */
export function parseRanges(spec: string, length: number, maxRanges = Number.MAX_SAFE_INTEGER): ByteRange[] | number {
  const out: ByteRange[] = []
  let p = 0
  let size = 0
  let left = maxRanges
  for (;;) {
    let start = 0
    let end = 0
    let suffix = false
    let found = false
    while (at(spec, p) === 0x20) p++
    if (at(spec, p) !== 0x2d) {
      if (!isDigit(at(spec, p))) return RANGE_NOT_SATISFIABLE
      while (isDigit(at(spec, p))) {
        start = start * 10 + (at(spec, p++) - 0x30)
        if (start > Number.MAX_SAFE_INTEGER / 10) return RANGE_NOT_SATISFIABLE
      }
      while (at(spec, p) === 0x20) p++
      if (at(spec, p++) !== 0x2d) return RANGE_NOT_SATISFIABLE
      while (at(spec, p) === 0x20) p++
      if (at(spec, p) === 0x2c || at(spec, p) === 0) {
        end = length
        found = true
      }
    } else {
      suffix = true
      p++
    }
    if (!found) {
      if (!isDigit(at(spec, p))) return RANGE_NOT_SATISFIABLE
      while (isDigit(at(spec, p))) {
        end = end * 10 + (at(spec, p++) - 0x30)
        if (end > Number.MAX_SAFE_INTEGER / 10) return RANGE_NOT_SATISFIABLE
      }
      while (at(spec, p) === 0x20) p++
      if (at(spec, p) !== 0x2c && at(spec, p) !== 0) return RANGE_NOT_SATISFIABLE
      if (suffix) {
        start = end < length ? length - end : 0
        end = length - 1
      }
      end = end >= length ? length : end + 1
    }
    if (start < end) {
      out.push({ start, end })
      size += end - start
      if (left-- === 0) return RANGE_DECLINED
    } else if (start === 0) {
      return RANGE_DECLINED
    }
    if (at(spec, p++) !== 0x2c) break
  }
  if (out.length === 0) return RANGE_NOT_SATISFIABLE
  if (size > length) return RANGE_DECLINED
  return out
}

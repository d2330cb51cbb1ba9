import { DyupsError } from '../errors.js'
import type { Directive } from './types.js'

/**
 * nginx keeps these in 64-bit signed integers; JS numbers are exact only to 2^53, which is past any timeout, size
 * or count a configuration can mean, so that is our limit and anything larger is invalid.
 */
const MAX = Number.MAX_SAFE_INTEGER

/**
 * `ngx_atoi`: decimal digits only, no sign, no spaces.
 * @returns the value, or null when `s` is empty, has a non-digit or is too large.
 */
export function parseNumber(s: string): number | null {
  if (s.length === 0) return null
  let v = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return null
    v = v * 10 + c
    if (v > MAX) return null
  }
  return v
}

/** {@link parseNumber} that also rejects 0. */
export function parsePositive(s: string): number | null {
  const v = parseNumber(s)
  return v === null || v === 0 ? null : v
}

/** {@link parseNumber} under its usual name for counts that may be 0. */
export const parseNonNegative = parseNumber

/**
 * `ngx_parse_time`: `1h30m`, `1h 30m`, `500ms`, `10` (seconds), units `y M w d h m s ms`, each at most once and
 * from the largest down.
 * @param unit `'s'` parses as nginx's second-valued directives do (`ngx_conf_set_sec_slot`: `ms` is invalid);
 *   `'ms'` as its millisecond-valued ones (`ngx_conf_set_msec_slot`: `y` and `M` are invalid, `ms` allowed).
 *   A bare number is seconds in both.
 * @default unit 's'
 * @returns milliseconds, or null when invalid.
 */
export function parseTime(s: string, unit: 's' | 'ms' = 's'): number | null {
  const isSec = unit === 's'
  // st_start 0, year 1, month 2, week 3, day 4, hour 5, min 6, sec 7, msec 8, last 9
  let step = isSec ? 0 : 2
  let valid = false
  let value = 0
  let total = 0
  let p = 0
  const n = s.length

  while (p < n) {
    const c = s.charCodeAt(p)
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48)
      if (value > MAX) return null
      valid = true
      p++
      continue
    }

    let scale: number
    let next: number
    switch (s[p++]) {
      case 'y':
        if (step > 0) return null
        next = 1
        scale = 60 * 60 * 24 * 365
        break
      case 'M':
        if (step >= 2) return null
        next = 2
        scale = 60 * 60 * 24 * 30
        break
      case 'w':
        if (step >= 3) return null
        next = 3
        scale = 60 * 60 * 24 * 7
        break
      case 'd':
        if (step >= 4) return null
        next = 4
        scale = 60 * 60 * 24
        break
      case 'h':
        if (step >= 5) return null
        next = 5
        scale = 60 * 60
        break
      case 'm':
        if (s[p] === 's') {
          if (isSec || step >= 8) return null
          p++
          next = 8
          scale = 1
          break
        }
        if (step >= 6) return null
        next = 6
        scale = 60
        break
      case 's':
        if (step >= 7) return null
        next = 7
        scale = 1
        break
      case ' ':
        // "5 1": a number followed by a space counts as seconds, as in nginx.
        if (step >= 7) return null
        next = 9
        scale = 1
        break
      default:
        return null
    }
    step = next
    // Everything but `ms` is in seconds; the result is in milliseconds either way.
    if (next !== 8) scale *= 1000
    value *= scale
    if (value > MAX || total > MAX - value) return null
    total += value
    value = 0
    while (p < n && s[p] === ' ') p++
  }

  if (!valid) return null
  value *= 1000
  if (value > MAX || total > MAX - value) return null
  return total + value
}

function scaled(s: string, units: string): number | null {
  if (s.length === 0) return null
  const last = s[s.length - 1]
  let scale = 1
  let digits = s
  const i = units.indexOf(last.toLowerCase())
  if (i !== -1) {
    scale = 1024 ** (i + 1)
    digits = s.slice(0, -1)
  }
  const v = parseNumber(digits)
  if (v === null || v > MAX / scale) return null
  return v * scale
}

/**
 * `ngx_parse_size`, for nginx's size-valued directives (`proxy_buffer_size 8k`): a number of bytes with an optional
 * `k`/`K` or `m`/`M`. nginx accepts no `g` here (`client_header_buffer_size 1g` is "invalid value").
 * @returns bytes, or null when invalid.
 */
export function parseSize(s: string): number | null {
  return scaled(s, 'km')
}

/**
 * `ngx_parse_offset`, for nginx's offset-valued directives (`client_max_body_size 1g`): as {@link parseSize}, plus
 * `g`/`G`.
 * @returns bytes, or null when invalid.
 */
export function parseOffset(s: string): number | null {
  return scaled(s, 'kmg')
}

/**
 * `ngx_conf_set_flag_slot`: `on` or `off`, any case, as the directive's only argument.
 * @throws DyupsError E_CONFIG `invalid value "x" in "daemon" directive, it must be "on" or "off"`
 */
export function parseFlag(d: Directive): boolean {
  const v = d.args[0] ?? ''
  const l = v.toLowerCase()
  if (l === 'on') return true
  if (l === 'off') return false
  throw new DyupsError('E_CONFIG', `invalid value "${v}" in "${d.name}" directive, it must be "on" or "off"`, {
    file: d.file,
    line: d.line,
  })
}

/** How `expires` sets the time (ngx_http_headers_filter_module's NGX_HTTP_EXPIRES_*). */
export const EXPIRES_OFF = 0
export const EXPIRES_ACCESS = 1
export const EXPIRES_MODIFIED = 2
export const EXPIRES_DAILY = 3
export const EXPIRES_EPOCH = 4
export const EXPIRES_MAX = 5

/** An `expires` setting: its kind and seconds (from the access, from Last-Modified, or the time of day). */
export interface ExpiresSetting {
  kind: number
  time: number
}

/**
 * ngx_http_headers_expires and ngx_http_parse_expires: `[modified] [+|-]TIME`, `@TIME`, `epoch`, `max`, `off`.
 * @returns the setting, or nginx's message (said after `"expires" directive`)
 */
export function parseExpires(args: readonly string[]): ExpiresSetting | string {
  let kind = EXPIRES_ACCESS
  if (args.length === 2) {
    if (args[0] !== 'modified') return 'invalid value'
    kind = EXPIRES_MODIFIED
  }
  let v = args[args.length - 1]!
  if (v === 'epoch') return { kind: EXPIRES_EPOCH, time: 0 }
  if (v === 'max') return { kind: EXPIRES_MAX, time: 0 }
  if (v === 'off') return { kind: EXPIRES_OFF, time: 0 }
  let minus = false
  if (v.startsWith('@')) {
    v = v.slice(1)
    if (kind === EXPIRES_MODIFIED) return 'daily time cannot be used with "modified" parameter'
    kind = EXPIRES_DAILY
  } else if (v.startsWith('+')) v = v.slice(1)
  else if (v.startsWith('-')) {
    v = v.slice(1)
    minus = true
  }
  const ms = parseTime(v, 's')
  if (ms === null) return 'invalid value'
  const t = ms / 1000
  if (kind === EXPIRES_DAILY && t > 24 * 60 * 60) return 'daily time value must be less than 24 hours'
  return { kind, time: minus ? -t : t }
}

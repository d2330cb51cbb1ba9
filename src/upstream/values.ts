/**
 * nginx's value parsers as the upstream directives use them: ngx_atoi, ngx_parse_time and ngx_parse_size
 * (src/core/ngx_string.c, src/core/ngx_parse.c), byte for byte in what they accept.
 *
 * One deliberate limit: nginx accepts integers up to 2^63-1; JS numbers are exact only to 2^53-1, so larger
 * values are rejected here rather than silently rounded.
 */

const MAX = Number.MAX_SAFE_INTEGER

/** ngx_atoi: one or more ASCII digits, nothing else (no sign, no space). -1 when invalid. */
export function ngxAtoi(s: string): number {
  if (s.length === 0) return -1
  let v = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 0x30
    if (c < 0 || c > 9) return -1
    v = v * 10 + c
    if (v > MAX) return -1
  }
  return v
}

const enum Step {
  Start,
  Year,
  Month,
  Week,
  Day,
  Hour,
  Min,
  Sec,
  Msec,
  Last,
}

/**
 * ngx_parse_time: `1h 30m`, `30s`, `500ms`, `2m`, a bare number. `isSec`: the result is in seconds and `ms` is
 * invalid (nginx's ngx_parse_time(s, 1), used by fail_timeout); otherwise milliseconds, and `y`/`M` are invalid
 * (as in nginx, whose millisecond form starts at the month step). Returns null when invalid.
 */
export function ngxParseTime(s: string, isSec: boolean): number | null {
  let valid = false
  let value = 0
  let total = 0
  let step = isSec ? Step.Start : Step.Month
  let p = 0
  const last = s.length

  while (p < last) {
    const c = s.charCodeAt(p)
    if (c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30)
      if (value > MAX) return null
      p++
      valid = true
      continue
    }
    p++
    let scale: number
    switch (c) {
      case 0x79: // y
        if (step > Step.Start) return null
        step = Step.Year
        scale = 60 * 60 * 24 * 365
        break
      case 0x4d: // M
        if (step >= Step.Month) return null
        step = Step.Month
        scale = 60 * 60 * 24 * 30
        break
      case 0x77: // w
        if (step >= Step.Week) return null
        step = Step.Week
        scale = 60 * 60 * 24 * 7
        break
      case 0x64: // d
        if (step >= Step.Day) return null
        step = Step.Day
        scale = 60 * 60 * 24
        break
      case 0x68: // h
        if (step >= Step.Hour) return null
        step = Step.Hour
        scale = 60 * 60
        break
      case 0x6d: // m, ms
        if (p < last && s.charCodeAt(p) === 0x73) {
          if (isSec || step >= Step.Msec) return null
          p++
          step = Step.Msec
          scale = 1
          break
        }
        if (step >= Step.Min) return null
        step = Step.Min
        scale = 60
        break
      case 0x73: // s
        if (step >= Step.Sec) return null
        step = Step.Sec
        scale = 1
        break
      case 0x20: // a space ends the number: what follows is a plain number
        if (step >= Step.Sec) return null
        step = Step.Last
        scale = 1
        break
      default:
        return null
    }
    if (step !== Step.Msec && !isSec) scale *= 1000
    value *= scale
    if (value > MAX || total > MAX - value) return null
    total += value
    value = 0
    while (p < last && s.charCodeAt(p) === 0x20) p++
  }

  if (!valid) return null
  if (!isSec) value *= 1000
  if (value > MAX || total > MAX - value) return null
  return total + value
}

/** ngx_parse_size: digits with an optional `k`/`K`, `m`/`M`, `g`/`G` suffix; bytes, or null when invalid. */
export function ngxParseSize(s: string): number | null {
  if (s.length === 0) return null
  let scale = 1
  let digits = s
  switch (s[s.length - 1]) {
    case 'k':
    case 'K':
      scale = 1024
      break
    case 'm':
    case 'M':
      scale = 1024 * 1024
      break
    case 'g':
    case 'G':
      scale = 1024 * 1024 * 1024
      break
  }
  if (scale !== 1) digits = s.slice(0, -1)
  const n = ngxAtoi(digits)
  if (n < 0 || n * scale > MAX) return null
  return n * scale
}

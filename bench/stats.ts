/** Order statistics and number formatting shared by the scenarios and the report. */

/** The q-quantile (0..1) of `xs` by linear interpolation; NaN for an empty list. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo)
}

/** The median of `xs`; NaN for an empty list. */
export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5)
}

/** a / b, or null when either is missing or b is zero. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null
  return a / b
}

/** A number with as many digits as a human wants to read: 84 982, 635, 12.2, 0.432. */
export function fmt(x: number | null | undefined): string {
  if (x == null || Number.isNaN(x)) return '—'
  if (!Number.isFinite(x)) return String(x)
  const a = Math.abs(x)
  if (a >= 1000) return Math.round(x).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ' ')
  if (a >= 100 || Number.isInteger(x)) return x.toFixed(0)
  if (a >= 10) return x.toFixed(1)
  if (a >= 1) return x.toFixed(2)
  if (a === 0) return '0'
  return x.toPrecision(3)
}

/** A ratio as `0.93×`. */
export function fmtRatio(r: number | null | undefined): string {
  return r == null || !Number.isFinite(r) ? '—' : `${r.toFixed(2)}×`
}

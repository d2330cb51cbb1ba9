/**
 * The `Date:` value, formatted once per second rather than once per response (IMF-fixdate, RFC 9110 §5.6.7).
 */
let cached = ''
let cachedSec = -1

export function httpDate(now = Date.now()): string {
  const sec = Math.floor(now / 1000)
  if (sec !== cachedSec) {
    cachedSec = sec
    cached = new Date(sec * 1000).toUTCString()
  }
  return cached
}

/**
 * `expires`, as nginx's headers filter sets it (ngx_http_set_expires): on 200, 201, 204, 206, 301, 302, 303, 304,
 * 307 and 308 answers, an `Expires` date and a `Cache-Control` (`max-age=N`, or `no-cache` for a time in the past).
 * A backend's own Expires gets the new value in its place, its first Cache-Control too and the others are dropped;
 * missing ones are added after the answer's other headers, before add_header's.
 */
import {
  EXPIRES_ACCESS, EXPIRES_DAILY, EXPIRES_EPOCH, EXPIRES_MAX, EXPIRES_OFF, parseExpires, type Directive, type ExpiresSetting,
} from '../../config/index.js'

/** The two values for one answer. */
export interface ExpiresValues {
  expires: string
  cacheControl: string
}

/** The level's setting over its parent's; null: off. Values were checked by the registry. */
export function expiresLevel(parent: ExpiresSetting | null, block: readonly Directive[]): ExpiresSetting | null {
  const d = block.find((x) => x.name === 'expires')
  if (d === undefined) return parent
  const r = parseExpires(d.args) as ExpiresSetting
  return r.kind === EXPIRES_OFF ? null : r
}

/** ngx_next_time: the next local time of day `when` (seconds after midnight) after `now`. */
function nextTime(when: number, now: number): number {
  const d = new Date(now * 1000)
  d.setHours(Math.floor(when / 3600), Math.floor((when % 3600) / 60), when % 60, 0)
  if (d.getTime() / 1000 - now > 0) return d.getTime() / 1000
  d.setDate(d.getDate() + 1)
  return d.getTime() / 1000
}

/**
 * The values for an answer with `status` whose Last-Modified is `lastModified` (seconds; negative when none).
 * @returns null when the status is not one nginx sets them on
 */
export function expiresValues(e: ExpiresSetting, status: number, lastModified: number, nowMs: number = Date.now()): ExpiresValues | null {
  switch (status) {
    case 200: case 201: case 204: case 206: case 301: case 302: case 303: case 304: case 307: case 308: break
    default: return null
  }
  if (e.kind === EXPIRES_EPOCH) return { expires: 'Thu, 01 Jan 1970 00:00:01 GMT', cacheControl: 'no-cache' }
  if (e.kind === EXPIRES_MAX) return { expires: 'Thu, 31 Dec 2037 23:55:55 GMT', cacheControl: 'max-age=315360000' }
  const now = Math.floor(nowMs / 1000)
  let at: number, maxAge: number
  if (e.kind === EXPIRES_DAILY) {
    at = nextTime(e.time, now)
    maxAge = at - now
  } else if (e.kind === EXPIRES_ACCESS || lastModified < 0) {
    at = now + e.time
    maxAge = e.time
  } else {
    at = lastModified + e.time
    maxAge = at - now
  }
  const expires = new Date(at * 1000).toUTCString()
  return { expires, cacheControl: e.time < 0 || maxAge < 0 ? 'no-cache' : `max-age=${maxAge}` }
}

/** The two header lines for an answer nginx sets them on; '' otherwise (or without `expires`). */
export function expiresLines(e: ExpiresSetting | null, status: number, lastModified: number, nowMs: number = Date.now()): string {
  if (e === null) return ''
  const v = expiresValues(e, status, lastModified, nowMs)
  return v === null ? '' : `Expires: ${v.expires}\r\nCache-Control: ${v.cacheControl}\r\n`
}

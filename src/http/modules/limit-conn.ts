/**
 * `limit_conn_zone` / `limit_conn` (ngx_http_limit_conn_module): requests in progress per key, counted in a zone the
 * workers share (lib/shm-zone.ts) from the pre-access phase until the request ends (after its access-log line, as
 * nginx releases them with the request's pool); `limit_conn_status`, `limit_conn_log_level`, `limit_conn_dry_run`,
 * `$limit_conn_status`. Once per request (not again after an internal redirect), after limit_req.
 */
import type { Directive } from '../../config/index.js'
import { configError, parseSize } from '../../config/index.js'
import { log, type Level } from '../../log.js'
import type { Template, Variables, VarSource } from '../lib/variables.js'
import { COUNT, ZoneMemory, type StaleCheck } from '../lib/shm-zone.js'

export const LIMIT_CONN_PASSED = 1
export const LIMIT_CONN_REJECTED = 2
export const LIMIT_CONN_REJECTED_DRY_RUN = 3

/** A slot of a zone is freed as soon as its count drops to 0: none is ever stale. */
const NEVER: StaleCheck = { isStale: () => false }

export class ConnZone {
  constructor(
    readonly name: string,
    readonly key: Template,
    readonly mem: ZoneMemory,
  ) {}
}

interface Limit {
  zone: ConnZone
  conn: number
}

export interface LimitConnConf {
  limits: readonly Limit[]
  status: number
  logLevel: Level
  dryRun: boolean
}

export interface LimitConnLevel {
  limits: readonly Limit[] | null
  status: number
  logLevel: Level | null
  dryRun: boolean | null
}

export const NO_LIMIT_CONN: LimitConnLevel = { limits: null, status: 0, logLevel: null, dryRun: null }

export interface LimitConnTarget extends VarSource {
  limitConnStatus: number
  /** The zones and slots this request counts in, released when it ends; null: none. */
  limitConnHeld: Array<object | number> | null
}

const out = { created: false }

/**
 * nginx's ngx_http_limit_conn_handler.
 * @returns 0 to go on, else the status to answer
 */
export function limitConn(c: LimitConnConf, req: LimitConnTarget, host: { where(): string }): number {
  if (req.limitConnStatus !== 0) return 0
  for (const l of c.limits) {
    const zone = l.zone
    const key = zone.key.eval(req)
    if (key.length === 0) continue
    if (key.length > 255) {
      log('error', `the value of the "${zone.key.text}" key is more than 255 bytes: "${key}"${host.where()}`)
      continue
    }
    req.limitConnStatus = LIMIT_CONN_PASSED
    const mem = zone.mem
    mem.lock()
    const slot = mem.find(key, NEVER, out)
    if (slot < 0) {
      mem.unlock()
      log('alert', `could not allocate node in limit_conn zone "${zone.name}"`)
      return reject(c, req)
    }
    const at = mem.base(slot) + COUNT
    if (!out.created && mem.i32[at]! >= l.conn) {
      mem.unlock()
      log(c.logLevel, `limiting connections${c.dryRun ? ', dry run,' : ''} by zone "${zone.name}"${host.where()}`)
      return reject(c, req)
    }
    mem.i32[at] = out.created ? 1 : mem.i32[at]! + 1
    mem.unlock()
    ;(req.limitConnHeld ??= []).push(mem, slot)
  }
  return 0
}

function reject(c: LimitConnConf, req: LimitConnTarget): number {
  releaseLimitConn(req)
  if (c.dryRun) {
    req.limitConnStatus = LIMIT_CONN_REJECTED_DRY_RUN
    return 0
  }
  req.limitConnStatus = LIMIT_CONN_REJECTED
  return c.status
}

/** The request ends: it no longer counts in its zones (nginx's ngx_http_limit_conn_cleanup). */
export function releaseLimitConn(req: LimitConnTarget): void {
  const held = req.limitConnHeld
  if (held === null) return
  req.limitConnHeld = null
  for (let i = 0; i < held.length; i += 2) {
    const mem = held[i] as ZoneMemory
    const slot = held[i + 1] as number
    mem.lock()
    const at = mem.base(slot) + COUNT
    const n = mem.i32[at]! - 1
    mem.i32[at] = n
    if (n <= 0) mem.free(slot)
    mem.unlock()
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Configuration

/** The `limit_conn_zone` directives of the http level. */
export function compileConnZones(http: readonly Directive[], vars: Variables, shm: string | null): Map<string, ConnZone> {
  const zones = new Map<string, ConnZone>()
  for (const d of http) {
    if (d.name !== 'limit_conn_zone') continue
    let name = '', size = 0
    for (const a of d.args.slice(1)) {
      if (a.startsWith('zone=')) {
        const v = a.slice(5)
        const colon = v.lastIndexOf(':')
        const sz = colon > 0 ? parseSize(v.slice(colon + 1)) : null
        if (sz === null) throw configError(d, `invalid zone size "${a}"`)
        if (sz < 8 * 4096) throw configError(d, `zone "${a}" is too small`)
        name = v.slice(0, colon)
        size = sz
        continue
      }
      throw configError(d, `invalid parameter "${a}"`)
    }
    if (name === '') throw configError(d, '"limit_conn_zone" must have "zone" parameter')
    if (zones.has(name)) throw configError(d, `duplicate zone "${name}"`)
    const key = vars.compile(d.args[0]!, { file: d.file, line: d.line })
    zones.set(name, new ConnZone(name, key, ZoneMemory.open(`conn.${name}`, size, shm)))
  }
  return zones
}

const LOG_LEVELS: Record<string, Level> = { info: 'info', notice: 'notice', warn: 'warn', error: 'error' }

/** Applies one level's limit_conn directives over its parent's. */
export function limitConnLevel(parent: LimitConnLevel, block: readonly Directive[], zones: Map<string, ConnZone>): LimitConnLevel {
  let out: LimitConnLevel | null = null
  let limits: Limit[] | null = null
  for (const d of block) {
    if (d.name === 'limit_conn') {
      const zone = zones.get(d.args[0]!)
      if (zone === undefined) throw configError(d, `zero size shared memory zone "${d.args[0]}"`)
      const n = /^\d+$/.test(d.args[1]!) ? Number(d.args[1]) : 0
      if (n <= 0) throw configError(d, `invalid number of connections "${d.args[1]}"`)
      if (n > 65535) throw configError(d, `connection limit must be less 65536`)
      limits ??= []
      if (limits.some((l) => l.zone === zone)) throw configError(d, '"limit_conn" directive is duplicate')
      limits.push({ zone, conn: n })
    } else if (d.name === 'limit_conn_status') {
      out ??= { ...parent }
      out.status = Number(d.args[0])
    } else if (d.name === 'limit_conn_log_level') {
      out ??= { ...parent }
      out.logLevel = LOG_LEVELS[d.args[0]!]!
    } else if (d.name === 'limit_conn_dry_run') {
      out ??= { ...parent }
      out.dryRun = d.args[0] === 'on'
    }
  }
  if (limits === null) return out ?? parent
  out ??= { ...parent }
  out.limits = limits
  return out
}

export function compileLimitConn(l: LimitConnLevel): LimitConnConf | null {
  if (l.limits === null || l.limits.length === 0) return null
  return { limits: l.limits, status: l.status || 503, logLevel: l.logLevel ?? 'error', dryRun: l.dryRun === true }
}

/**
 * `limit_req_zone` / `limit_req` (ngx_http_limit_req_module): the leaky bucket of nginx, with its integer arithmetic
 * (excess in 1/1000 of a request, `rate` in requests per 1000 s), `burst`, `nodelay`, `delay=`, several limits in
 * one context (the last one accounts, the others are held and accounted after, as nginx does), `limit_req_status`,
 * `limit_req_log_level` (delays logged one level lower), `limit_req_dry_run` and `$limit_req_status`. The zone's
 * state is shared by the workers (lib/shm-zone.ts). It runs before the access checks, after realip, once per
 * request (not again after an internal redirect).
 */
import type { Directive } from '../../config/index.js'
import { configError, parseSize } from '../../config/index.js'
import { log, type Level } from '../../log.js'
import type { Template, Variables, VarSource } from '../lib/variables.js'
import { COUNT, EXCESS, ZoneMemory, type StaleCheck } from '../lib/shm-zone.js'

export const LIMIT_REQ_PASSED = 1
export const LIMIT_REQ_DELAYED = 2
export const LIMIT_REQ_REJECTED = 3
export const LIMIT_REQ_DELAYED_DRY_RUN = 4
export const LIMIT_REQ_REJECTED_DRY_RUN = 5

export class ReqZone implements StaleCheck {
  /** "Now" of the lookup in progress, for {@link isStale}. */
  now = 0

  constructor(
    readonly name: string,
    readonly key: Template,
    /** Requests per 1000 s (nginx's ctx->rate). */
    readonly rate: number,
    readonly mem: ZoneMemory,
  ) {}

  /** nginx's ngx_http_limit_req_expire: a state unused for a minute and drained may go. */
  isStale(s: number): boolean {
    const mem = this.mem
    const ms = Math.abs(this.now - mem.last(s))
    return ms >= 60000 && mem.i32[mem.base(s) + EXCESS]! - Math.floor((this.rate * ms) / 1000) <= 0
  }
}

interface Limit {
  zone: ReqZone
  /** burst × 1000 */
  burst: number
  /** delay × 1000 (nodelay: no delay at all) */
  delay: number
}

/** The limit_req settings of a context. */
export interface LimitReqConf {
  limits: readonly Limit[]
  status: number
  logLevel: Level
  delayLevel: Level
  dryRun: boolean
}

/** The limit_req directives in force at a level (nginx merges each apart). */
export interface LimitReqLevel {
  limits: readonly Limit[] | null
  status: number
  logLevel: Level | null
  dryRun: boolean | null
}

export const NO_LIMIT_REQ: LimitReqLevel = { limits: null, status: 0, logLevel: null, dryRun: null }

/** What the handler needs of the request. */
export interface LimitReqTarget extends VarSource {
  limitReqStatus: number
}

// Nodes held by the earlier limits of the request being checked (nginx's ctx->node), reused by every request.
const held: number[] = []
const out = { created: false }

/**
 * nginx's ngx_http_limit_req_handler.
 * @returns 0 to go on, a status to answer, or −ms: delay the request that long, then go on
 */
export function limitReq(c: LimitReqConf, req: LimitReqTarget, host: { where(): string }): number {
  if (req.limitReqStatus !== 0) return 0
  const limits = c.limits
  let excess = 0
  let rc = DECLINED
  let n = 0
  held.length = 0
  for (; n < limits.length; n++) {
    const limit = limits[n]!
    const zone = limit.zone
    const key = zone.key.eval(req)
    if (key.length === 0) {
      held.push(-1)
      continue
    }
    if (key.length > 65535) {
      log('error', `the value of the "${zone.key.text}" key is more than 65535 bytes: "${key}"${host.where()}`)
      held.push(-1)
      continue
    }
    const mem = zone.mem
    mem.lock()
    const r = lookup(limit, key, n === limits.length - 1)
    mem.unlock()
    rc = r.rc
    excess = r.excess
    held.push(r.slot)
    if (rc !== AGAIN) break
  }
  if (rc === DECLINED) return 0
  if (rc === BUSY || rc === ERROR) {
    const limit = limits[n]!
    if (rc === BUSY) {
      log(c.logLevel, `limiting requests${c.dryRun ? ', dry run' : ''}, excess: ${thousandths(excess)} by zone "${limit.zone.name}"${host.where()}`)
    }
    unlock(limits, n)
    if (c.dryRun) {
      req.limitReqStatus = LIMIT_REQ_REJECTED_DRY_RUN
      return 0
    }
    req.limitReqStatus = LIMIT_REQ_REJECTED
    return c.status
  }
  if (rc === AGAIN) excess = 0
  // nginx's ngx_http_limit_req_account: n is the last limit looked up (all of them when every one was AGAIN).
  if (n === limits.length) n--
  let limit = limits[n]!
  let maxDelay = excess <= limit.delay ? 0 : Math.floor(((excess - limit.delay) * 1000) / limit.zone.rate)
  for (let i = n - 1; i >= 0; i--) {
    const slot = held[i]!
    if (slot < 0) continue
    const l = limits[i]!
    const zone = l.zone
    const mem = zone.mem
    mem.lock()
    const now = Date.now()
    const ms = clampMs(now - mem.last(slot))
    let e = mem.i32[mem.base(slot) + EXCESS]! - Math.floor((zone.rate * ms) / 1000) + 1000
    if (e < 0) e = 0
    if (ms !== 0) mem.setLast(slot, now)
    mem.i32[mem.base(slot) + EXCESS] = e
    mem.i32[mem.base(slot) + COUNT]!--
    mem.unlock()
    if (e <= l.delay) continue
    const delay = Math.floor(((e - l.delay) * 1000) / zone.rate)
    if (delay > maxDelay) {
      maxDelay = delay
      excess = e
      limit = l
    }
  }
  if (maxDelay === 0) {
    req.limitReqStatus = LIMIT_REQ_PASSED
    return 0
  }
  log(c.delayLevel, `delaying request${c.dryRun ? ', dry run' : ''}, excess: ${thousandths(excess)}, by zone "${limit.zone.name}"${host.where()}`)
  if (c.dryRun) {
    req.limitReqStatus = LIMIT_REQ_DELAYED_DRY_RUN
    return 0
  }
  req.limitReqStatus = LIMIT_REQ_DELAYED
  return -maxDelay
}

const DECLINED = 0
const OK = 1
const AGAIN = 2
const BUSY = 3
const ERROR = 4

const result = { rc: 0, excess: 0, slot: -1 }

function clampMs(ms: number): number {
  return ms < -60000 ? 1 : ms < 0 ? 0 : ms
}

function thousandths(e: number): string {
  const r = e % 1000
  return `${Math.floor(e / 1000)}.${r < 10 ? '00' + r : r < 100 ? '0' + r : r}`
}

/** ngx_http_limit_req_lookup, under the zone's lock. */
function lookup(limit: Limit, key: string, account: boolean): typeof result {
  const zone = limit.zone
  const mem = zone.mem
  const now = Date.now()
  const rate = zone.rate
  zone.now = now
  const slot = mem.find(key, zone, out)
  result.slot = slot
  if (slot < 0) {
    log('alert', `could not allocate node in limit_req zone "${zone.name}"`)
    result.rc = ERROR
    result.excess = 0
    return result
  }
  const b = mem.base(slot)
  const a = mem.i32
  mem.touch(slot)
  if (!out.created) {
    const ms = clampMs(now - mem.last(slot))
    let excess = a[b + EXCESS]! - Math.floor((rate * ms) / 1000) + 1000
    if (excess < 0) excess = 0
    result.excess = excess
    if (excess > limit.burst) {
      result.rc = BUSY
      return result
    }
    if (account) {
      a[b + EXCESS] = excess
      if (ms !== 0) mem.setLast(slot, now)
      result.rc = OK
      return result
    }
    a[b + COUNT]!++
    result.rc = AGAIN
    return result
  }
  result.excess = 0
  if (account) {
    mem.setLast(slot, now)
    a[b + COUNT] = 0
    result.rc = OK
    return result
  }
  mem.setLast(slot, 0)
  a[b + COUNT] = 1
  result.rc = AGAIN
  return result
}

/** ngx_http_limit_req_unlock: releases the nodes held by limits before `n`. */
function unlock(limits: readonly Limit[], n: number): void {
  for (let i = n - 1; i >= 0; i--) {
    const slot = held[i]!
    if (slot < 0) continue
    const mem = limits[i]!.zone.mem
    mem.lock()
    mem.i32[mem.base(slot) + COUNT]!--
    mem.unlock()
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Configuration

/** `NUMBER` + `k`/`m` as ngx_parse_size, for `zone=NAME:SIZE`. */
function zoneSpec(d: Directive, a: string): { name: string; size: number } {
  const v = a.slice(5)
  const colon = v.lastIndexOf(':')
  if (colon <= 0) throw configError(d, `invalid zone size "${a}"`)
  const name = v.slice(0, colon)
  const size = parseSize(v.slice(colon + 1))
  if (size === null) throw configError(d, `invalid zone size "${a}"`)
  if (size < 8 * 4096) throw configError(d, `zone "${a}" is too small`)
  return { name, size }
}

/**
 * The `limit_req_zone` directives of the http level.
 * @param shm the prefix of the primary's shared objects; null: this process's memory
 */
export function compileReqZones(http: readonly Directive[], vars: Variables, shm: string | null): Map<string, ReqZone> {
  const zones = new Map<string, ReqZone>()
  for (const d of http) {
    if (d.name !== 'limit_req_zone') continue
    let zone: { name: string; size: number } | null = null
    let rate = 0
    let scale = 1
    for (const a of d.args.slice(1)) {
      if (a.startsWith('zone=')) {
        zone = zoneSpec(d, a)
        continue
      }
      if (a.startsWith('rate=')) {
        const m = /^(\d+)r\/(s|m)$/.exec(a.slice(5))
        if (m === null || Number(m[1]) <= 0) throw configError(d, `invalid rate "${a}"`)
        rate = Number(m[1])
        scale = m[2] === 'm' ? 60 : 1
        continue
      }
      if (a === 'sync') continue
      throw configError(d, `invalid parameter "${a}"`)
    }
    if (zone === null) throw configError(d, '"limit_req_zone" must have "zone" parameter')
    if (zones.has(zone.name)) throw configError(d, `duplicate zone "${zone.name}"`)
    const key = vars.compile(d.args[0]!, { file: d.file, line: d.line })
    zones.set(zone.name, new ReqZone(zone.name, key, Math.floor((rate * 1000) / scale), ZoneMemory.open(`req.${zone.name}`, zone.size, shm)))
  }
  return zones
}

const LOG_LEVELS: Record<string, Level> = { info: 'info', notice: 'notice', warn: 'warn', error: 'error' }
const LOWER: Record<string, Level> = { info: 'info', notice: 'info', warn: 'notice', error: 'warn' }

/** Applies one level's limit_req directives over its parent's. */
export function limitReqLevel(parent: LimitReqLevel, block: readonly Directive[], zones: Map<string, ReqZone>): LimitReqLevel {
  let out: LimitReqLevel | null = null
  let limits: Limit[] | null = null
  for (const d of block) {
    if (d.name === 'limit_req') {
      let zone: ReqZone | undefined
      let burst = 0, delay = 0, nodelay = false
      for (const a of d.args) {
        if (a.startsWith('zone=')) {
          const name = a.slice(5)
          zone = zones.get(name)
          if (zone === undefined) throw configError(d, `zero size shared memory zone "${name}"`)
          continue
        }
        if (a.startsWith('burst=')) {
          burst = /^\d+$/.test(a.slice(6)) ? Number(a.slice(6)) : -1
          if (burst <= 0) throw configError(d, `invalid burst value "${a}"`)
          continue
        }
        if (a.startsWith('delay=')) {
          delay = /^\d+$/.test(a.slice(6)) ? Number(a.slice(6)) : -1
          if (delay <= 0) throw configError(d, `invalid delay value "${a}"`)
          continue
        }
        if (a === 'nodelay') {
          nodelay = true
          continue
        }
        throw configError(d, `invalid parameter "${a}"`)
      }
      if (zone === undefined) throw configError(d, '"limit_req" must have "zone" parameter')
      limits ??= []
      if (limits.some((l) => l.zone === zone)) throw configError(d, '"limit_req" directive is duplicate')
      // nodelay: nginx's NGX_MAX_INT_T_VALUE / 1000, never reached.
      limits.push({ zone, burst: burst * 1000, delay: nodelay ? Number.MAX_SAFE_INTEGER : delay * 1000 })
      continue
    }
    if (d.name === 'limit_req_status') {
      out ??= { ...parent }
      out.status = Number(d.args[0])
    } else if (d.name === 'limit_req_log_level') {
      out ??= { ...parent }
      out.logLevel = LOG_LEVELS[d.args[0]!]!
    } else if (d.name === 'limit_req_dry_run') {
      out ??= { ...parent }
      out.dryRun = d.args[0] === 'on'
    }
  }
  if (limits === null) return out ?? parent
  out ??= { ...parent }
  out.limits = limits
  return out
}

/** The settings a location uses; null without limits (nothing to do per request). */
export function compileLimitReq(l: LimitReqLevel): LimitReqConf | null {
  if (l.limits === null || l.limits.length === 0) return null
  const level = l.logLevel ?? 'error'
  return { limits: l.limits, status: l.status || 503, logLevel: level, delayLevel: LOWER[level]!, dryRun: l.dryRun === true }
}

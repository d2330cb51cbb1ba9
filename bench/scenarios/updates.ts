/**
 * Update rate of the interface: POSTs per second from 1, 8 and 16 concurrent clients (each on its own keepalive
 * connection, back to back), replacing existing groups or creating new ones, while paced traffic flows through
 * the proxy. Measured without persistence and with `dyups_upstream_conf`; the disk's write+fsync rate is measured
 * in the same run, as the ceiling for one client of a persisting interface.
 */
import { performance } from 'node:perf_hooks'
import { Client } from '../client.js'
import type { Ctx, Scenario } from '../context.js'
import { commands, upstreamBlock } from '../config.js'
import { fsyncRate } from '../fsync.js'
import { order } from '../measure.js'
import { runPaced } from '../pacer.js'
import { withProxies } from '../proxies.js'
import type { Proxy } from '../proxies.js'
import { atLeast, makeRow } from '../report.js'
import type { Section, Target } from '../report.js'
import { median } from '../stats.js'
import type { ProxyConf } from '../config.js'

const GROUPS = 100
const TENGINE_REPLACE = 'Tengine: 5 378/s replacing'
const TENGINE_CREATE = 'Tengine: 2 120/s creating'

interface Variant { name: string, clients: number, create: boolean }
const VARIANTS: readonly Variant[] = [
  { name: 'replace, 1 client', clients: 1, create: false },
  { name: 'replace, 8 clients', clients: 8, create: false },
  { name: 'replace, 16 clients', clients: 16, create: false },
  { name: 'create, 1 client', clients: 1, create: true },
]

interface Burst { perSec: number, failed: number, trafficFailed: number, reasons: Record<string, number> }

let created = 0

/** `clients` connections POSTing back to back for `seconds`, with paced traffic on the proxy meanwhile. */
async function burst(ctx: Ctx, p: Proxy, v: Variant, seconds: number): Promise<Burst> {
  const b = ctx.backends
  const sets = [commands([b.addr('A'), b.addr('B')], 16), commands([b.addr('C'), b.addr('D')], 16)]
  const stop = new AbortController()
  const traffic = runPaced({ port: p.port, rate: ctx.opts.quick ? 500 : 1000, seconds: seconds + 5, conns: 8,
    hosts: ['bench'], signal: stop.signal })
  const conns = Array.from({ length: v.clients }, () => new Client(p.ifPort!))
  let ok = 0
  let failed = 0
  const reasons: Record<string, number> = {}
  const why = (r: string): void => {
    failed++
    reasons[r] = (reasons[r] ?? 0) + 1
  }
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  await Promise.all(conns.map(async (c, k) => {
    for (let i = 0; performance.now() < end; i++) {
      const name = v.create ? `new${++created}` : `u${1 + ((k * 7 + i * 13) % GROUPS)}`
      try {
        const r = await c.request('POST', `/upstream/${name}`, {}, sets[i & 1]!)
        if (r.status === 200) ok++
        else why(`POST ${r.status} ${r.body.toString('latin1').slice(0, 40).trim()}`)
      } catch (e) {
        why(`POST: ${(e as Error).message}`)
      }
    }
  }))
  const elapsed = (performance.now() - t0) / 1000
  for (const c of conns) c.close()
  stop.abort()
  const t = await traffic
  for (const k in t.failures) reasons[`traffic: ${k}`] = t.failures[k]!
  return { perSec: ok / elapsed, failed, trafficFailed: t.failed, reasons }
}

export const updates: Scenario = {
  id: 'updates',
  title: 'update rate through the interface, under traffic (dyups only)',
  dyupsOnly: true,
  async run(ctx: Ctx): Promise<Section[]> {
    const b = ctx.backends
    const { opts } = ctx
    const dy = ctx.contenders[0]!
    const s: Section = { id: this.id, title: this.title, labels: [dy.label], rows: [], notes: [] }
    let upstreams = upstreamBlock('bench', [b.addr('A'), b.addr('B')], 16)
    for (let i = 1; i <= GROUPS; i++) upstreams += upstreamBlock(`u${i}`, [b.addr('A'), b.addr('B')], 16)
    const seconds = opts.quick ? 1 : 3
    const res: Record<string, Burst[]> = {}
    const fsyncs: number[] = []
    const modes = [{ key: 'no persistence', persist: false }, { key: 'dyups_upstream_conf', persist: true }]
    const conf = (persist: boolean): ProxyConf => ({ workers: 'auto', routing: 'host', upstreams, persist })
    // Two dyups, one per mode, running side by side and measured alternately.
    await withProxies([{ ...dy, label: 'plain' }], conf(false), ctx.tmp, async ([plain]) => {
      await withProxies([{ ...dy, label: 'durable' }], conf(true), ctx.tmp, async ([durable]) => {
        const procs = [{ mode: modes[0]!, p: plain! }, { mode: modes[1]!, p: durable! }]
        for (let rep = 0; rep < opts.runs; rep++) {
          // Same filesystem as the persistence file.
          fsyncs.push(fsyncRate(durable!.prefix, 1))
          for (const v of VARIANTS) {
            for (const { mode, p } of order(procs, rep)) {
              ctx.log(`updates: ${v.name}, ${mode.key}`)
              ;(res[`${v.name}|${mode.key}`] ??= []).push(await burst(ctx, p, v, seconds))
            }
          }
        }
      })
    })
    const one = (xs: number[]): Record<string, number[]> => ({ [dy.label]: xs })
    const fsyncMed = median(fsyncs)
    for (const mode of modes) {
      for (const v of VARIANTS) {
        const bs = res[`${v.name}|${mode.key}`]!
        let target: Target | undefined
        if (!mode.persist && v.name === 'replace, 1 client') target = atLeast(5000, '/s')
        if (mode.persist && v.name === 'replace, 16 clients') target = atLeast(5000, '/s')
        const opt: { target?: Target, reference: string } = { reference: v.create ? TENGINE_CREATE : TENGINE_REPLACE }
        if (target) opt.target = target
        s.rows.push(makeRow(`${v.name}, ${mode.key}`, 'updates/s', one(bs.map((x) => x.perSec)), opt))
        if (mode.persist && v.name === 'replace, 1 client') {
          s.rows.push(makeRow(`${v.name}, ${mode.key}`, 'updates/s ÷ fsync/s', one(bs.map((x) => x.perSec / fsyncMed)),
            { target: { text: '≥ 0.8', check: (x) => x >= 0.8 } }))
        }
        s.rows.push(makeRow(`${v.name}, ${mode.key}`, 'failed POSTs + failed requests',
          one(bs.map((x) => x.failed + x.trafficFailed)), { target: { text: '0', check: (x) => x === 0 } }))
      }
    }
    s.rows.push(makeRow('disk', 'write+fsync of 64 B /s', one(fsyncs)))
    for (const k in res) {
      const seen: Record<string, number> = {}
      for (const x of res[k]!) for (const r in x.reasons) seen[r] = (seen[r] ?? 0) + x.reasons[r]!
      if (Object.keys(seen).length > 0) s.notes.push(`failures, ${k.replace('|', ', ')}: ${Object.entries(seen).map(([r, n]) => `${n}× ${r}`).join('; ')}`)
    }
    s.notes.push(`${seconds} s per point; ${opts.quick ? 500 : 1000} req/s of paced traffic through the proxy meanwhile; ` +
      `replace = POST to one of ${GROUPS} existing groups, create = POST to a new name; worker_processes auto.`)
    return [s]
  },
}

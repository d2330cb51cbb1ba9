/**
 * Micro-benchmark of the per-request work of realip, limit_req and limit_conn (src/http/modules/realip.ts,
 * limit-req.ts, limit-conn.ts): ns per request over 1000 client addresses, best of 5 rounds, with the zones in
 * shared memory (as the workers have them) and in this process's memory. Not a test: timings depend on the machine
 * and its load. Compare with the CPU time of a whole proxied request (tens of microseconds).
 *
 *   npm run build && node bin/node24.js dist/bench/limit-check.js [requests]
 */
import { loadavg } from 'node:os'
import type { Directive } from '../src/config/index.js'
import { BasicVarSource, Variables } from '../src/http/lib/variables.js'
import { compileLimitReq, compileReqZones, limitReq, limitReqLevel, NO_LIMIT_REQ } from '../src/http/modules/limit-req.js'
import { compileConnZones, compileLimitConn, limitConn, limitConnLevel, NO_LIMIT_CONN, releaseLimitConn } from '../src/http/modules/limit-conn.js'
import { compileRealIp, NO_REALIP, realIpLevel } from '../src/http/modules/realip.js'
import { removeZoneObjects, sharedZonesUnavailable } from '../src/http/lib/shm-zone.js'

const d = (name: string, ...args: string[]): Directive => ({ name, args, block: null, file: 'bench', line: 1 })

class Req extends BasicVarSource {
  limitConnHeld: Array<object | number> | null = null
}

const host = { where: () => '' }
const n = Number(process.argv[2] ?? 1e6)
const ADDRS = Array.from({ length: 1000 }, (_, i) => `10.${(i >> 8) & 0xff}.${i & 0xff}.7`)

function setup(shm: string | null): { req: ReturnType<typeof compileLimitReq>; conn: ReturnType<typeof compileLimitConn> } {
  const vars = new Variables({ version: 'bench' })
  const http = [d('limit_req_zone', '$binary_remote_addr', 'zone=one:10m', 'rate=1000000r/s'), d('limit_conn_zone', '$binary_remote_addr', 'zone=addr:10m')]
  const reqZones = compileReqZones(http, vars, shm)
  const connZones = compileConnZones(http, vars, shm)
  vars.finish()
  return {
    req: compileLimitReq(limitReqLevel(NO_LIMIT_REQ, [d('limit_req', 'zone=one', 'burst=1000000', 'nodelay')], reqZones)),
    conn: compileLimitConn(limitConnLevel(NO_LIMIT_CONN, [d('limit_conn', 'addr', '100')], connZones)),
  }
}

function time(name: string, body: (r: Req, i: number) => void): void {
  const reqs = ADDRS.map((a) => {
    const r = new Req()
    r.remoteAddr = a
    return r
  })
  let best = Infinity
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) body(reqs[i % reqs.length]!, i)
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n)
  }
  process.stdout.write(`${name.padEnd(44)} ${best.toFixed(1).padStart(7)} ns/request\n`)
}

process.stdout.write(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; shared memory: ${sharedZonesUnavailable() || 'available'}\n`)
const realip = compileRealIp(realIpLevel(NO_REALIP, [d('set_real_ip_from', '10.0.0.0/8'), d('real_ip_header', 'X-Forwarded-For')]))!
time('realip (X-Forwarded-For, one hop)', (r) => {
  r.realipAddr = null
  r.remoteAddr = '10.0.0.1'
  r.headers = ['Host', 'x', 'X-Forwarded-For', '203.0.113.9']
  realip.apply(r)
})
for (const [label, shm] of [['shared memory', `/dyups-${process.pid}`], ['process memory', null]] as const) {
  const { req, conn } = setup(shm)
  time(`limit_req (${label})`, (r) => {
    r.limitReqStatus = 0
    limitReq(req!, r, host)
  })
  time(`limit_conn + release (${label})`, (r) => {
    r.limitConnStatus = 0
    limitConn(conn!, r, host)
    releaseLimitConn(r)
  })
}
removeZoneObjects(process.pid)

/**
 * The upstream table under stress: a huge group (tens of thousands of servers, a POST body of about a megabyte)
 * posted while traffic flows, then reload storms (SIGHUP to the primary many times in a row) under the same
 * traffic. Every request must be answered by the backend (2xx, nothing refused or reset), the huge group must be
 * whole in the table and routable from every worker right after its 200, and every storm must leave the table
 * exactly as it was.
 */
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { alive, ans, answer, backend, childPids, iget, ipost, startInterface, table, waitFor, type Table } from '../helpers.js'
import {
  describe, getRaw, latency, Load, nextSignal, once, paceText, reconfigurations, stormEnd, tally, within, type Pace, type Sample,
} from './load.js'
import { asTest, type Scope } from './scope.js'

export interface TableReport {
  servers: number
  bodyBytes: number
  postMs: number
  /** Latency of the traffic in the second before the POST and while it was being applied. */
  latencyBefore: ReturnType<typeof latency>
  latencyDuringPost: ReturnType<typeof latency>
  storms: {
    reloads: number
    pace: Pace
    /** Reloads the error log tells of (back-to-back signals may be coalesced). */
    reconfigured: number
    /** From the first SIGHUP to the last answer from a worker of an earlier generation. */
    ms: number
    rpsBefore: number
    rpsDuring: number
    latencyDuring: ReturnType<typeof latency>
  }[]
  total: ReturnType<typeof tally>
}

const bad = (samples: readonly Sample[]): string[] =>
  samples.filter((x) => x.kind !== 'ok' || x.status !== 200 || x.body !== 'b').slice(0, 5).map((x) => `${x.kind} ${x.status} ${x.detail || x.body.slice(0, 80)}`)

/**
 * Posts a group of `servers` lines to a dyups with 2 workers under `concurrency` clients, then runs each storm of
 * `storms` (`reloads` SIGHUPs `gapMs` apart) under the same clients. Asserts what the file header says.
 */
export async function hugeGroupAndStorms(s: Scope, o: { servers: number; concurrency: number; baselineMs: number; storms: { reloads: number; pace: Pace }[] }): Promise<TableReport> {
  const t = asTest(s)
  const back = await backend(t, 'b')
  // X-Pid on every proxied answer tells which generation of workers answered.
  const st = await startInterface(t, { workers: 2, server: '        add_header X-Pid $pid;\n', ifaceServer: '        client_max_body_size 64m;\n' })
  assert.deepEqual(answer(await ipost(st.iface, '/upstream/back', `server 127.0.0.1:${back.port};`)), ans(200, 'success'))
  const body = `server 127.0.0.1:${back.port};\n`.repeat(o.servers)
  const load = new Load(st.proxy, () => getRaw('back'), o.concurrency)
  const report: TableReport = {
    servers: o.servers, bodyBytes: body.length, postMs: 0, latencyBefore: latency([]), latencyDuringPost: latency([]), storms: [],
    total: tally([]),
  }
  try {
    assert.ok(await waitFor(() => load.answered() >= 20, 30_000, 5), 'the traffic is answered')
    const w0 = load.now()
    await waitFor(() => load.now() - w0 >= o.baselineMs, o.baselineMs + 1_000, 10)

    // The POST, under traffic.
    const p0 = load.now()
    const t0 = performance.now()
    const posted = answer(await ipost(st.iface, '/upstream/huge', body))
    report.postMs = Math.round(performance.now() - t0)
    const p1 = load.now()
    assert.deepEqual(posted, ans(200, 'success'), `the ${o.servers}-server POST`)
    report.latencyBefore = latency(within(load.samples, p0 - o.baselineMs, p0))
    report.latencyDuringPost = latency(within(load.samples, p0, p1))
    s.diagnostic(`POST of ${o.servers} servers (${body.length} bytes) took ${report.postMs} ms under ${o.concurrency} clients; ` +
      `latency before p50/p99/max ${fmt(report.latencyBefore)}, during ${fmt(report.latencyDuringPost)}`)

    // Right afterwards: the table holds it whole, and every worker routes to it.
    const want = `server 127.0.0.1:${back.port}\n`.repeat(o.servers)
    assert.deepEqual(answer(await iget(st.iface, '/upstream/huge')), ans(200, want), 'GET /upstream/huge right after the 200')
    assert.deepEqual(answer(await iget(st.iface, '/list')), ans(200, 'back\nhuge\n'))
    await routesFromEveryWorker(st.proxy, st.d.pid, 'huge')
    const before: Table = await table(st.iface)

    for (const storm of o.storms) {
      // A baseline of plain traffic first: the reads of the table above stall a worker for a moment.
      const b0 = load.now()
      await waitFor(() => load.now() - b0 >= o.baselineMs, o.baselineMs + 1_000, 10)
      const old = childPids(st.d.pid)
      const log0 = st.d.errorLog().length
      const s0 = load.now()
      for (let i = 0; i < storm.reloads; i++) {
        process.kill(st.d.pid, 'SIGHUP')
        if (i + 1 < storm.reloads) await nextSignal(i, storm.pace, s0, load, () => reconfigurations(st.d.errorLog().slice(log0)))
      }
      const settled = await waitFor(() => old.every((w) => !alive(w)) && childPids(st.d.pid).length === 2, 120_000, 10)
      assert.ok(settled, `the storm settles: old workers ${old.filter(alive).join(', ')} alive, workers now ${childPids(st.d.pid).join(', ')}`)
      // Right afterwards the table is what it was, and the new workers route to the huge group.
      assert.deepEqual(await table(st.iface), before, `the table after ${storm.reloads} reloads`)
      await routesFromEveryWorker(st.proxy, st.d.pid, 'huge')
      // Then as long as the baseline, so the traffic has seen the last of the old workers.
      const final = childPids(st.d.pid)
      const e0 = load.now()
      await waitFor(() => load.now() - e0 >= o.baselineMs, o.baselineMs + 1_000, 10)
      const s1 = stormEnd(load.samples, s0, final)
      const during = within(load.samples, s0, s1)
      const base = within(load.samples, s0 - o.baselineMs, s0)
      const r = {
        reloads: storm.reloads, pace: storm.pace, reconfigured: reconfigurations(st.d.errorLog().slice(log0)), ms: Math.round(s1 - s0),
        rpsBefore: Math.round(base.length / (o.baselineMs / 1000)),
        rpsDuring: Math.round(during.length / ((s1 - s0) / 1000)), latencyDuring: latency(during),
      }
      report.storms.push(r)
      s.diagnostic(`${storm.reloads} SIGHUPs ${paceText(storm.pace)} (${r.reconfigured} reloads logged), the last old worker answered ` +
        `${r.ms} ms after the first: ${r.rpsBefore} req/s before, ${r.rpsDuring} during; latency during p50/p99/max ${fmt(r.latencyDuring)}`)
    }
  } finally {
    await load.stop()
  }
  report.total = tally(load.samples)
  s.diagnostic(`traffic throughout: ${describe(report.total)}`)
  assert.deepEqual(bad(load.samples), [], 'every request was answered 200 by the backend')
  return report
}

const fmt = (l: ReturnType<typeof latency>): string => `${l.p50}/${l.p99}/${l.max} ms (${l.n})`

/** Requests to `host` on new connections until every current worker answered one with the backend's `b`. */
async function routesFromEveryWorker(port: number, primary: number, host: string): Promise<void> {
  const workers = childPids(primary)
  const seen = new Set<number>()
  const wrong: string[] = []
  const ok = await waitFor(async () => {
    const rs = await Promise.all(Array.from({ length: 8 }, () => once(port, `GET /pid HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)))
    const routed = await Promise.all(Array.from({ length: 8 }, () => once(port, getRaw(host))))
    for (const r of rs) if (r.status === 200) seen.add(Number(r.body))
    for (const r of routed) if (r.status !== 200 || r.body !== 'b') wrong.push(`${r.kind} ${r.status} ${r.body.slice(0, 80)}`)
    return seen.size >= workers.length && workers.every((w) => seen.has(w))
  }, 30_000, 10)
  assert.deepEqual(wrong.slice(0, 5), [], `${host} routes to the backend`)
  assert.ok(ok, `every worker was reached: ${[...seen].join(', ')} of ${workers.join(', ')}`)
}

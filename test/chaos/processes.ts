/**
 * Chaos over the process model: workers killed with -9 again and again under a new-connection load, and reload
 * storms (SIGHUP to the primary many times in a row) under load. The listening sockets belong to the primary, so
 * neither may refuse a connection; the only connections that may fail are those a killed worker had accepted and
 * not answered yet. Each experiment runs on dyups or, for comparison, on nginx with the same configuration.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import {
  alive, backend, childPids, freePorts, reachWorkers, readText, startDyups, tempPrefix, waitFor, waitGone, writeConf,
} from '../helpers.js'
import { startNginx } from '../nginx.js'
import {
  describe, getRaw, latency, Load, nextSignal, paceText, pidOf, reconfigurations, stormEnd, tally, within, type Pace, type Sample, type Tally,
} from './load.js'
import { int, type Rnd } from './prng.js'
import { asTest, type Scope } from './scope.js'

export type Kind = 'dyups' | 'nginx'

/** A proxy to one backend, `/pid` answering the worker's pid, and the pid on every proxied answer too. */
const conf = (kind: Kind, port: number, back: number, workers: number): string => `${kind === 'dyups' ? 'daemon off;' : 'pid logs/nginx.pid;'}
worker_processes ${workers};
error_log logs/error.log info;
events {}
http {
    access_log off;
    upstream back { server 127.0.0.1:${back}; }
    server {
        listen 127.0.0.1:${port};
        location = /pid { return 200 $pid; }
        location / { proxy_pass http://back; add_header X-Pid $pid; }
    }
}
`

export interface Proxy {
  kind: Kind
  pid: number
  port: number
  workers: number
  errorLog: () => string
}

/** dyups (or nginx) in a fresh prefix, proxying to a backend that answers `b`; stopped by the scope. */
export async function startProxy(s: Scope, kind: Kind, workers: number): Promise<Proxy> {
  const t = asTest(s)
  const back = await backend(t, 'b')
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', conf(kind, port, back.port, workers))
  const pid = kind === 'dyups' ? (await startDyups(t, prefix, [port])).pid : (await startNginx(t, prefix, [port])).pid
  assert.ok(await waitFor(() => childPids(pid).length === workers, 30_000), `${kind}: ${workers} workers`)
  assert.equal((await reachWorkers(port, workers)).length, workers, `${kind}: every worker answers`)
  return { kind, pid, port, workers, errorLog: () => readText(join(prefix, 'logs/error.log')) }
}

/** A proxied answer is right when it is the backend's `b`, with the answering worker's pid. */
function wrongAnswers(samples: readonly Sample[]): string[] {
  return samples.filter((x) => x.kind === 'ok' && (x.status !== 200 || x.body !== 'b' || !/^\d+$/.test(x.headers['x-pid'] ?? '')))
    .slice(0, 5).map((x) => `${x.status} ${JSON.stringify(x.body.slice(0, 100))}`)
}

export interface KillReport {
  kind: Kind
  workers: number
  cycles: number
  /** Workers killed in all. */
  killed: number
  tally: Tally
  /** Reset connections: each was in flight when a kill was sent. */
  resets: number
  /** ms from each kill until the first answer from a worker started after it (median, max). */
  recoverMs: { p50: number; max: number }
}

/**
 * `cycles` kills under `concurrency` clients opening new connections: each cycle kills one random worker, or every
 * worker at once when `all` (or at random when 'mixed'), once the full set of workers is back and answering.
 * Asserts: no connection refused, no other failure, every answer is the backend's, and every reset connection was
 * in flight at a kill (it had started before the kill and ended after it), at most `concurrency` per kill.
 * `check: false` reports without asserting.
 */
export async function killWorkers(s: Scope, p: Proxy, o: { cycles: number; all: boolean | 'mixed'; concurrency: number; rnd: Rnd; check?: boolean }): Promise<KillReport> {
  const load = new Load(p.port, () => getRaw('t'), o.concurrency)
  const kills: { at: number; victims: number[] }[] = []
  const recover: number[] = []
  let killed = 0
  try {
    for (let c = 0; c < o.cycles; c++) {
      // The set of workers is whole again and the ones not killed last answered 20 requests since the last kill.
      const last = kills[kills.length - 1]
      const ready = await waitFor(() => {
        if (childPids(p.pid).length !== p.workers) return false
        if (last === undefined) return load.answered() >= 20
        return load.samples.filter((x) => x.start > last.at && x.kind === 'ok' && !last.victims.includes(pidOf(x))).length >= 20
      }, 30_000, 5)
      assert.ok(ready, `cycle ${c}: the workers are back and answering (${childPids(p.pid).length} of ${p.workers})`)
      const workers = childPids(p.pid)
      const all = o.all === 'mixed' ? o.rnd() < 0.5 : o.all
      const victims = all ? workers : [workers[int(o.rnd, workers.length)]!]
      kills.push({ at: load.now(), victims })
      for (const v of victims) process.kill(v, 'SIGKILL')
      killed += victims.length
      assert.deepEqual(await waitGone(victims), [], 'the victims are gone')
    }
    const last = kills[kills.length - 1]!
    assert.ok(await waitFor(() => childPids(p.pid).length === p.workers &&
      load.samples.some((x) => x.start > last.at && x.kind === 'ok' && !last.victims.includes(pidOf(x))), 30_000, 5), 'the workers are back after the last kill')
  } finally {
    await load.stop()
  }
  const samples = load.samples
  for (const k of kills) {
    const first = samples.filter((x) => x.kind === 'ok' && x.end > k.at && !k.victims.includes(pidOf(x)) && pidOf(x) !== 0)
      .filter((x) => !kills.some((j) => j.at < k.at && j.victims.includes(pidOf(x))))
    if (first.length > 0) recover.push(Math.min(...first.map((x) => x.end)) - k.at)
  }
  const t = tally(samples)
  const resets = samples.filter((x) => x.kind === 'reset')
  s.diagnostic(`${p.kind}, worker_processes ${p.workers}: ${o.cycles} kill cycles (${killed} workers killed): ${describe(t)}`)
  if (o.check !== false) checkKills(p, o.concurrency, kills, samples, t)
  const sorted = [...recover].sort((a, b) => a - b)
  return {
    kind: p.kind, workers: p.workers, cycles: o.cycles, killed, tally: t, resets: resets.length,
    recoverMs: { p50: Math.round(sorted[Math.floor(sorted.length / 2)] ?? NaN), max: Math.round(sorted[sorted.length - 1] ?? NaN) },
  }
}

function checkKills(p: Proxy, concurrency: number, kills: readonly { at: number }[], samples: readonly Sample[], t: Tally): void {
  const resets = samples.filter((x) => x.kind === 'reset')
  assert.equal(t.refused, 0, 'no connection was refused')
  assert.deepEqual(samples.filter((x) => x.kind === 'other').map((x) => x.detail).slice(0, 5), [], 'no other failure')
  assert.deepEqual(wrongAnswers(samples), [], 'every answer is the backend\'s')
  const stray = resets.filter((x) => !kills.some((k) => x.start <= k.at && x.end >= k.at))
  assert.deepEqual(stray.map((x) => `${x.start.toFixed(0)}-${x.end.toFixed(0)} ms: ${x.detail}`), [],
    `every reset connection was in flight at a kill (kills at ${kills.map((k) => k.at.toFixed(0)).join(', ')} ms)`)
  assert.ok(resets.length <= concurrency * kills.length, `${resets.length} resets, at most ${concurrency} per kill`)
  assert.ok(alive(p.pid), 'the primary lives on')
}

export interface StormReport {
  kind: Kind
  reloads: number
  tally: Tally
  /** Requests per second before the storm and from its first HUP until every old worker had exited. */
  /** Reloads the error log tells of (back-to-back signals may be coalesced). */
  reconfigured: number
  rpsBefore: number
  rpsDuring: number
  /** From the first SIGHUP to the last answer from a worker of an earlier generation. */
  stormMs: number
  latencyBefore: ReturnType<typeof latency>
  latencyDuring: ReturnType<typeof latency>
}

/**
 * `reloads` SIGHUPs to the primary, `gapMs` apart (0: each as soon as the one before was logged), under `concurrency` clients opening new
 * connections. Asserts: every request answered by the backend (2xx), none refused or reset; afterwards the
 * configured number of workers and none of the old ones. `check: false` reports without asserting (nginx, for comparison).
 */
export async function reloadStorm(s: Scope, p: Proxy, o: { reloads: number; pace: Pace; concurrency: number; baselineMs: number; check?: boolean }): Promise<StormReport> {
  const before = childPids(p.pid)
  const log0 = p.errorLog().length
  const load = new Load(p.port, () => getRaw('t'), o.concurrency)
  let t1 = 0, t2 = 0
  let final: number[] = []
  try {
    const warm = await waitFor(() => load.answered() >= 20, 30_000, 5)
    assert.ok(warm, 'the load is answered before the storm')
    const t0 = load.now()
    await waitFor(() => load.now() - t0 >= o.baselineMs, o.baselineMs + 1_000, 10)
    t1 = load.now()
    for (let i = 0; i < o.reloads; i++) {
      process.kill(p.pid, 'SIGHUP')
      if (i + 1 < o.reloads) await nextSignal(i, o.pace, t1, load, () => reconfigurations(p.errorLog().slice(log0)))
    }
    // The storm is over when the workers that started the storm are gone and the set is whole again.
    const settled = await waitFor(() => before.every((w) => !alive(w)) && childPids(p.pid).length === p.workers, 60_000, 10)
    assert.ok(settled, `the old workers exited and ${p.workers} new ones run: ${childPids(p.pid).join(', ')}`)
    // Answers from the workers running now, then as long again as the baseline, so the load has seen the end.
    const last = childPids(p.pid)
    const t3 = load.now()
    assert.ok(await waitFor(() => load.samples.some((x) => x.start > t3 && last.includes(pidOf(x))), 30_000, 5), 'the new workers answer')
    const t4 = load.now()
    await waitFor(() => load.now() - t4 >= o.baselineMs, o.baselineMs + 1_000, 10)
    final = childPids(p.pid)
  } finally {
    await load.stop()
  }
  t2 = stormEnd(load.samples, t1, final)
  const samples = load.samples
  const t = tally(samples)
  s.diagnostic(`${p.kind}: ${o.reloads} SIGHUPs ${paceText(o.pace)} under ${o.concurrency} clients ` +
    `(${reconfigurations(p.errorLog().slice(log0))} reloads logged): ${describe(t)}`)
  if (o.check !== false) {
    assert.deepEqual([t.refused, t.reset, t.other, t.non2xx], [0, 0, 0, {}],
      `nothing refused, reset or failed: ${samples.filter((x) => x.kind !== 'ok').slice(0, 5).map((x) => x.detail).join('; ')}`)
    assert.deepEqual(wrongAnswers(samples), [], 'every answer is the backend\'s')
  }
  const base = within(samples, t1 - o.baselineMs, t1)
  const during = within(samples, t1, t2)
  return {
    kind: p.kind, reloads: o.reloads, tally: t, reconfigured: reconfigurations(p.errorLog().slice(log0)),
    rpsBefore: Math.round(base.length / (o.baselineMs / 1000)), rpsDuring: Math.round(during.length / ((t2 - t1) / 1000)),
    stormMs: Math.round(t2 - t1), latencyBefore: latency(base), latencyDuring: latency(during),
  }
}

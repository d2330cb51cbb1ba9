/**
 * Traffic at a fixed rate, not as fast as possible: request i is due at t0 + i/rate and its latency is counted
 * from then (to the timer's 1 ms), including any wait for a free socket, so a stall in the proxy shows up as
 * latency instead of silently lowering the load (coordinated omission). Bounded: a fixed set of keepalive sockets and a queue of at most `rate` requests.
 */
import { performance } from 'node:perf_hooks'
import { HttpConn } from './client.js'

export interface PacedRun {
  port: number
  /** requests per second */
  rate: number
  seconds: number
  /** keepalive sockets */
  conns: number
  /** Host header of request i is hosts[i % hosts.length] */
  hosts: readonly string[]
  path?: string
  /** stops scheduling new requests early; those in flight still complete */
  signal?: AbortSignal
}

export interface PacedResult {
  sent: number
  ok: number
  failed: number
  /** failure reason (status or error message) -> count */
  failures: Record<string, number>
  /** per successful request, ms from its due time to its complete response */
  latencies: number[]
}

/** Runs paced traffic; never rejects: every failure is counted in the result. */
export async function runPaced(r: PacedRun): Promise<PacedResult> {
  const res: PacedResult = { sent: 0, ok: 0, failed: 0, failures: {}, latencies: [] }
  let total = Math.round(r.rate * r.seconds)
  const path = r.path ?? '/'
  const free: HttpConn[] = []
  const queue: number[] = []
  let next = 0
  let inFlight = 0
  let opening = 0
  const fail = (why: string): void => {
    res.failed++
    res.failures[why] = (res.failures[why] ?? 0) + 1
  }
  let done = false
  const openOne = (): void => {
    if (done) return
    opening++
    HttpConn.open(r.port).then((c) => { opening--; free.push(c); dispatch() },
      (e: Error) => { opening--; fail(`connect: ${e.message}`); setTimeout(openOne, 50) })
  }
  const send = (c: HttpConn, due: number, i: number): void => {
    inFlight++
    res.sent++
    c.request('GET', path, { Host: r.hosts[i % r.hosts.length]! }).then((rep) => {
      if (rep.status === 200) {
        res.ok++
        res.latencies.push(performance.now() - due)
      } else {
        fail(`status ${rep.status}`)
      }
    }, (e: Error) => fail(e.message)).finally(() => {
      inFlight--
      if (c.open) free.push(c)
      else openOne()
      dispatch()
    })
  }
  let sentIndex = 0
  const dispatch = (): void => {
    while (queue.length > 0 && free.length > 0) send(free.pop()!, queue.shift()!, sentIndex++)
  }
  for (let i = 0; i < r.conns; i++) openOne()
  const ready = performance.now() + 5000
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (opening === 0 || performance.now() > ready) {
        clearInterval(t)
        resolve()
      }
    }, 1)
  })
  const t0 = performance.now()
  const period = 1000 / r.rate
  const deadline = t0 + (r.seconds + 10) * 1000
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now()
      if (r.signal?.aborted) total = Math.min(total, next)
      const due = Math.min(total, Math.floor((now - t0) / period) + 1)
      while (next < due) {
        if (queue.length >= r.rate) fail('client queue full')
        // Counted from the tick that found it due, not from its exact due time: the 1 ms timer is the
        // client's granularity, not the proxy's latency; time spent waiting for a free socket still counts.
        else queue.push(now)
        next++
      }
      dispatch()
      if ((next >= total && queue.length === 0 && inFlight === 0) || now > deadline) {
        clearInterval(timer)
        for (let i = 0; i < inFlight + queue.length; i++) fail('no answer before the deadline')
        resolve()
      }
    }, 1)
  })
  done = true
  for (const c of free) c.close()
  return res
}

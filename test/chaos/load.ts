/**
 * Load for the chaos experiments: clients that each open a new connection per request (so every request goes
 * through accept(), where a dead worker or a reload would show as a refusal or a reset), send one request with
 * `Connection: close`, read the answer to the close, and record what happened and when. A keep-alive client would
 * measure the keep-alive race instead (a server closing an idle connection while the client writes on it), which
 * nginx has too and HTTP leaves to the client to retry.
 */
import { connect } from 'node:net'
import { performance } from 'node:perf_hooks'

/** ok: a whole HTTP response; refused: ECONNREFUSED; reset: reset or closed without a whole answer. */
export type Kind = 'ok' | 'refused' | 'reset' | 'other'

export interface Sample {
  /** ms since the load started. */
  start: number
  end: number
  kind: Kind
  /** The status of a whole response, else 0. */
  status: number
  /** The response's headers (lower-case names) and body, for an 'ok'; why otherwise. */
  headers: Record<string, string>
  body: string
  detail: string
}

/** A whole response in `data`: its head and, by Content-Length, its body; null when not (yet) whole. */
function whole(data: string): { status: number; headers: Record<string, string>; body: string } | null {
  const end = data.indexOf('\r\n\r\n')
  if (end < 0) return null
  const lines = data.slice(0, end).split('\r\n')
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)
  if (m === null) return null
  const headers: Record<string, string> = {}
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':')
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim()
  }
  const body = data.slice(end + 4)
  const cl = headers['content-length']
  if (cl !== undefined && body.length !== Number(cl)) return null
  return { status: Number(m[1]), headers, body }
}

/** One request on a new connection, read to the close; bounded by `ms`. */
export function once(port: number, raw: string | Buffer, ms = 15_000, host = '127.0.0.1'): Promise<Omit<Sample, 'start' | 'end'>> {
  return new Promise((resolve) => {
    const s = connect(port, host)
    let data = ''
    let done = false
    const end = (o: Omit<Sample, 'start' | 'end'>): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      s.destroy()
      resolve(o)
    }
    const fail = (kind: Kind, detail: string): void => end({ kind, status: 0, headers: {}, body: '', detail })
    const timer = setTimeout(() => fail('other', `no answer within ${ms} ms: ${JSON.stringify(data.slice(0, 200))}`), ms)
    s.on('connect', () => s.write(raw))
    s.on('data', (b: Buffer) => (data += b.toString('latin1')))
    s.on('error', (e: NodeJS.ErrnoException) => {
      // A reset after a whole answer still leaves the answer.
      const w = whole(data)
      if (w !== null) end({ kind: 'ok', ...w, detail: '' })
      else if (e.code === 'ECONNREFUSED') fail('refused', e.code)
      else if (e.code === 'ECONNRESET' || e.code === 'EPIPE') fail('reset', `${e.code} after ${JSON.stringify(data.slice(0, 200))}`)
      else fail('other', `${e.code}: ${e.message}`)
    })
    s.on('close', () => {
      const w = whole(data)
      if (w !== null) end({ kind: 'ok', ...w, detail: '' })
      else fail('reset', `closed after ${JSON.stringify(data.slice(0, 200))}`)
    })
  })
}

/** `GET path` with `Host: host` and `Connection: close`. */
export const getRaw = (host: string, path = '/'): string => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`

export interface Tally {
  total: number
  ok: number
  /** Whole answers whose status was not 2xx, by status. */
  non2xx: Record<number, number>
  refused: number
  reset: number
  other: number
}

export function tally(samples: readonly Sample[]): Tally {
  const t: Tally = { total: samples.length, ok: 0, non2xx: {}, refused: 0, reset: 0, other: 0 }
  for (const s of samples) {
    if (s.kind === 'ok') {
      if (s.status >= 200 && s.status < 300) t.ok++
      else t.non2xx[s.status] = (t.non2xx[s.status] ?? 0) + 1
    } else t[s.kind]++
  }
  return t
}

export const describe = (t: Tally): string =>
  `${t.total} requests: ${t.ok} 2xx, ${Object.entries(t.non2xx).map(([k, v]) => `${v} ${k}`).join(', ') || '0 other statuses'}, ` +
  `${t.refused} refused, ${t.reset} reset, ${t.other} other`

/**
 * `concurrency` clients sending `raw()` on new connections, each as soon as its previous answer is in, until
 * stop() or `maxMs` (a bound, so a load left running by a failed experiment still ends).
 */
export class Load {
  readonly samples: Sample[] = []
  readonly t0 = performance.now()
  private stopped = false
  private readonly clients: Promise<void>[]

  constructor(port: number, raw: () => string | Buffer, concurrency: number, maxMs = 600_000) {
    const client = async (): Promise<void> => {
      while (!this.stopped && this.now() < maxMs) {
        const start = this.now()
        const r = await once(port, raw())
        this.samples.push({ start, end: this.now(), ...r })
      }
    }
    this.clients = Array.from({ length: concurrency }, client)
  }

  /** ms since the load started. */
  now(): number {
    return performance.now() - this.t0
  }

  /** Answers (any status) received so far. */
  answered(): number {
    let n = 0
    for (const s of this.samples) if (s.kind === 'ok') n++
    return n
  }

  /** Stops the clients and waits for their last requests. */
  async stop(): Promise<Sample[]> {
    this.stopped = true
    await Promise.all(this.clients)
    return this.samples
  }
}

/** Samples that ended within [from, to). */
export const within = (samples: readonly Sample[], from: number, to: number): Sample[] => samples.filter((s) => s.end >= from && s.end < to)

/** The q-quantile (0..1) of `xs`, nearest rank; NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!
}

/** Latency quantiles (ms) of the answered samples: p50, p99, max. */
export function latency(samples: readonly Sample[]): { n: number; p50: number; p99: number; max: number } {
  const xs = samples.filter((s) => s.kind === 'ok').map((s) => s.end - s.start)
  const r = (x: number): number => Math.round(x * 10) / 10
  return { n: xs.length, p50: r(quantile(xs, 0.5)), p99: r(quantile(xs, 0.99)), max: r(quantile(xs, 1)) }
}

/** The worker pid a proxied answer carries (`add_header X-Pid $pid`), or 0. */
export const pidOf = (x: Sample): number => Number(x.headers['x-pid'] ?? 0)

/**
 * When a reload storm that began at `from` was over, seen from the traffic: the end of the last answer given by a
 * worker that is not one of `final` (the workers running once it settled). Signals sent back to back may be
 * coalesced, and reloads run one after another, so the signals say little about when the last one is done.
 */
export function stormEnd(samples: readonly Sample[], from: number, final: readonly number[]): number {
  let end = from
  for (const x of samples) if (x.kind === 'ok' && x.end > end && pidOf(x) !== 0 && !final.includes(pidOf(x))) end = x.end
  return end
}

/**
 * How many reloads an error log tells of: dyups logs `signal process started; reconfiguring` once per reload; nginx
 * logs `signal 1 (SIGHUP) received from PID, reconfiguring` per signal it handles and `reconfiguring` per reload.
 */
export const reconfigurations = (log: string): number => log.match(/(?:; |#\d+: )reconfiguring$/gm)?.length ?? 0

/**
 * How the SIGHUPs of a storm follow each other: `burst`, sent back to back (the kernel coalesces a signal sent while
 * the same one is pending, so ten in a row may be one reload, in nginx too); `logged`, each as soon as the reload of
 * the one before has been logged (each is a reload of its own, sent while the one before still starts its workers);
 * a number, that many ms apart.
 */
export type Pace = 'burst' | 'logged' | number

/** Waits before SIGHUP number `i + 2` of a storm that began at `from`; `logged()` counts the reloads logged since. */
export async function nextSignal(i: number, pace: Pace, from: number, load: Load, logged: () => number): Promise<void> {
  if (pace === 'burst') return
  const deadline = Date.now() + 30_000
  const done = pace === 'logged' ? () => logged() >= i + 1 : () => load.now() - from >= (i + 1) * pace
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2))
}

export const paceText = (p: Pace): string => (p === 'burst' ? 'back to back' : p === 'logged' ? 'each once the one before was logged' : `${p} ms apart`)

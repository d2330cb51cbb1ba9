/**
 * One probe at a time against one address: connect (or reuse the kept connection), send the type's request, read
 * until the type's parser decides, all within `timeout` ms from the start, as Tengine's check_timeout covers
 * connect, send and receive together. A connection is kept for the next probe only for http and ajp with
 * `check_keepalive_requests` above 1, after a good answer (Tengine closes on 4xx/5xx and errors); between probes
 * whatever the server still sends is read and dropped.
 */
import { connect, type Socket } from 'node:net'
import type { CheckSpec } from '../upstream/index.js'
import { AGAIN, UP, keepsAlive, parseAnswer, requestOf } from './protocols.js'

/** Where a probe connects: the server's host and the check port (or its own), or a unix socket path. */
export interface ProbeAddress {
  readonly host: string
  readonly port: number
  /** Unix socket path; null for TCP. */
  readonly path: string | null
}

/** The outcome of one probe: `ok`, or why not (for the error log). */
export type ProbeDone = (ok: boolean, reason: string) => void

export class Checker {
  #sock: Socket | null = null
  /** Requests sent on the kept connection. */
  #requests = 0
  #busy = false
  #closed = false
  #finish: ((ok: boolean, reason: string) => void) | null = null
  #timer: NodeJS.Timeout | null = null

  constructor(
    readonly address: ProbeAddress,
    readonly spec: CheckSpec,
  ) {}

  get busy(): boolean {
    return this.#busy
  }

  /** Runs one probe; `done` is called exactly once, unless close() comes first (then never). */
  run(done: ProbeDone): void {
    if (this.#busy || this.#closed) return
    this.#busy = true
    const spec = this.spec
    let sock = this.#sock
    const reused = sock !== null && !sock.destroyed && sock.readyState === 'open'
    if (!reused) {
      this.#drop()
      const a = this.address
      sock = a.path !== null ? connect({ path: a.path }) : connect({ host: a.host, port: a.port })
      sock.setNoDelay(true)
      this.#sock = sock
      this.#requests = 0
    }
    const s = sock!
    s.removeAllListeners('data')
    s.removeAllListeners('close')
    s.removeAllListeners('error')
    s.removeAllListeners('connect')

    let buf = ''
    const finish = (ok: boolean, reason: string): void => {
      if (this.#finish !== finish) return
      this.#finish = null
      this.#clearTimer()
      this.#busy = false
      s.removeAllListeners('connect')
      s.removeAllListeners('data')
      if (ok && keepsAlive(spec) && this.#requests < spec.keepaliveRequests && !s.destroyed) {
        // Tengine's discard handler: bytes that arrive between probes are dropped.
        s.on('data', () => {})
      } else {
        this.#drop()
      }
      done(ok, reason)
    }
    this.#finish = finish
    this.#timer = setTimeout(() => finish(false, 'check time out'), spec.timeout)

    s.on('error', (e: NodeJS.ErrnoException) => {
      if (this.#sock === s) this.#sock = null
      finish(false, e.code !== undefined ? `${e.code}: ${e.message}` : e.message)
    })
    s.on('close', () => {
      if (this.#sock === s) this.#sock = null
      finish(false, 'connection closed before an answer')
    })
    const start = (): void => {
      if (spec.type === 'tcp') return finish(true, '')
      const req = requestOf(spec)
      if (req !== null && req.length > 0) {
        s.write(req)
        this.#requests++
      }
      s.on('data', (chunk: Buffer) => {
        buf += chunk.toString('latin1')
        const a = parseAnswer(spec, buf)
        if (a.verdict === AGAIN) return
        finish(a.verdict === UP, a.reason)
      })
    }
    if (reused) start()
    else s.once('connect', start)
  }

  /** Stops at once: the probe in flight (if any) never reports, the connection is closed. */
  close(): void {
    this.#closed = true
    this.#finish = null
    this.#clearTimer()
    this.#busy = false
    this.#drop()
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  #drop(): void {
    const s = this.#sock
    this.#sock = null
    if (s === null) return
    s.removeAllListeners('data')
    s.removeAllListeners('close')
    s.removeAllListeners('connect')
    // A late error on a socket we gave up on must not become an uncaught exception.
    s.removeAllListeners('error')
    s.on('error', () => {})
    s.destroy()
  }
}

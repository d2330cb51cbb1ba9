/**
 * The error log, in nginx's line format:
 *   2026/11/25 14:39:40 [error] 1234#0: message
 * A leaf module (every folder may use it). Writes are synchronous appends, as nginx's are: error logging is rare,
 * and a line must reach the file even when the process dies right after.
 */
import { closeSync, openSync, writeSync } from 'node:fs'

export const LEVELS = ['debug', 'info', 'notice', 'warn', 'error', 'crit', 'alert', 'emerg'] as const
export type Level = (typeof LEVELS)[number]

const rank = (l: Level): number => LEVELS.indexOf(l)

interface Sink {
  path: string | null // null: stderr
  fd: number
  min: number
}

let sinks: Sink[] = [{ path: null, fd: 2, min: rank('error') }]
let ident = `${process.pid}#0`

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n)
}

function stamp(d: Date): string {
  return `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** Configure where error lines go: each `error_log FILE LEVEL` of the main context. `stderr` is the terminal. */
export function configureLog(targets: readonly { path: string; level: Level }[]): void {
  const next: Sink[] = []
  for (const t of targets) {
    if (t.path === 'stderr') next.push({ path: null, fd: 2, min: rank(t.level) })
    else next.push({ path: t.path, fd: openSync(t.path, 'a'), min: rank(t.level) })
  }
  const old = sinks
  sinks = next.length > 0 ? next : [{ path: null, fd: 2, min: rank('error') }]
  for (const s of old) if (s.path !== null) closeSync(s.fd)
}

/** Reopen every log file (SIGUSR1 / `-s reopen`), so logrotate can move them away. */
export function reopenLog(): void {
  for (const s of sinks) {
    if (s.path === null) continue
    const fd = openSync(s.path, 'a')
    closeSync(s.fd)
    s.fd = fd
  }
}

/** Workers name themselves `PID#0` like nginx; nothing else changes. */
export function setLogIdent(pid: number): void {
  ident = `${pid}#0`
}

export function log(level: Level, message: string): void {
  const r = rank(level)
  let line: string | null = null
  for (const s of sinks) {
    if (r < s.min) continue
    line ??= `${stamp(new Date())} [${level}] ${ident}: ${message}\n`
    try {
      writeSync(s.fd, line, null, 'latin1')
    } catch {
      // A full disk must not take the proxy down with it.
    }
  }
}

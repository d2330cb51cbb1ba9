/** The pid file, so `-s` finds the primary, as nginx's does. */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { DyupsError } from '../errors.js'

export function writePid(path: string): void {
  try {
    writeFileSync(path, `${process.pid}\n`)
  } catch (e) {
    throw new DyupsError('E_CONFIG', `open() "${path}" failed (${sysError(e)})`)
  }
}

export function removePid(path: string): void {
  try {
    if (readFileSync(path, 'latin1').trim() === String(process.pid)) unlinkSync(path)
  } catch {
    // Already gone: nothing to clean.
  }
}

/**
 * The dyups the pid file at `path` names, if it runs: the file holds the pid of a live process other than this one
 * which, where the system shows command lines (/proc), runs dyups. null for no file, a dead process, or a pid the
 * system gave to another program since (a stale file must not keep dyups from starting).
 */
export function runningPid(path: string): number | null {
  let pid: number
  try {
    pid = readPid(path)
  } catch {
    return null
  }
  if (pid === process.pid || pid === process.ppid) return null
  try {
    process.kill(pid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return null
  }
  const argv = readArgv(pid)
  // No /proc (not Linux): a live pid is taken for dyups.
  if (argv === null) return readArgv(process.pid) === null ? pid : null
  // `node [options] …/dyups[.js] ARGS`: the script is one of the arguments after the interpreter.
  return argv.slice(1).some((a) => /(^|\/)dyups(\.js)?$/.test(a)) ? pid : null
}

/** A process's arguments from /proc, or null when they cannot be read. */
function readArgv(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0')
  } catch {
    return null
  }
}

/** A pid file that cannot be used: nginx's `-s` reports these at [error], not [emerg]; the command line reads `level`. */
export class PidFileError extends DyupsError {
  readonly level: 'error' | 'alert' = 'error'
}

/** A signal that could not be delivered: nginx reports it at [alert]. */
export class SignalError extends PidFileError {
  override readonly level = 'alert'
}

/** The pid `-s` signals. @throws PidFileError when the file is missing or does not hold a pid. */
export function readPid(path: string): number {
  let text: string
  try {
    text = readFileSync(path, 'latin1')
  } catch (e) {
    throw new PidFileError('E_CONFIG', `open() "${path}" failed (${sysError(e)})`)
  }
  const t = text.trim()
  const pid = /^\d+$/.test(t) ? Number(t) : NaN
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new PidFileError('E_CONFIG', `invalid PID number "${t}" in "${path}"`)
  return pid
}

const ERRNO: Record<string, number> = { ENOENT: 2, EACCES: 13, EISDIR: 21, ENOTDIR: 20, ESRCH: 3, EPERM: 1, EROFS: 30 }

/** `2: No such file or directory`, the errno shape nginx prints. */
export function sysError(e: unknown): string {
  const err = e as NodeJS.ErrnoException
  const code = err.code ?? 'EIO'
  const text = ({ ENOENT: 'No such file or directory', EACCES: 'Permission denied', EISDIR: 'Is a directory',
    ENOTDIR: 'Not a directory', ESRCH: 'No such process', EPERM: 'Operation not permitted', EROFS: 'Read-only file system' } as Record<string, string>)[code]
  return `${ERRNO[code] ?? err.errno ?? 5}: ${text ?? err.message}`
}

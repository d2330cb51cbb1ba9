/**
 * Workers that outlive their primary, as nginx's do when its master is killed: they keep serving with the table they
 * have (worker.ts), and the next `dyups` started on the same pid file stops them and takes their place.
 *
 * To find them, the primary records its workers beside the pid file (`PIDFILE.workers`: `primary PID` then one
 * `worker PID` line each), rewritten atomically whenever one starts or exits, removed at a clean stop. A pid read
 * there is trusted only when the process is a dyups worker forked for this very pid file (its environment, fixed
 * at its start, says so: /proc/PID/environ) and its primary is gone (it was reparented): a pid the system gave to
 * another program since, or a worker whose primary lives, is never signalled. Without /proc nothing can be
 * verified, so nothing is signalled.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import type { HttpConfig } from '../http/index.js'
import { bindAll, BindError, type Bound } from './listeners.js'

/** The environment variable that names, in a worker, the pid file of the dyups that forked it. */
export const PID_PATH_ENV = 'DYUPS_PID_PATH'

/** The file listing the workers of the primary that the pid file `pidPath` names. */
export const workersPath = (pidPath: string): string => `${pidPath}.workers`

/**
 * Records the primary `primary` and its `workers`: written to a temporary file and renamed over the old one, so a
 * reader sees the old list or the new one, never a part.
 * @throws the file system's error
 */
export function writeWorkerPids(pidPath: string, primary: number, workers: readonly number[]): void {
  const path = workersPath(pidPath)
  const tmp = `${path}.${process.pid}.tmp`
  try {
    writeFileSync(tmp, `primary ${primary}\n${workers.map((w) => `worker ${w}\n`).join('')}`)
    renameSync(tmp, path)
  } catch (e) {
    try {
      unlinkSync(tmp)
    } catch {
      // Never written.
    }
    throw e
  }
}

/** Removes the list, if it is still the one `primary` wrote (a later start may have written its own). */
export function removeWorkerPids(pidPath: string, primary: number): void {
  const path = workersPath(pidPath)
  try {
    if (readList(path)?.primary === primary) unlinkSync(path)
  } catch {
    // Gone already.
  }
}

interface List {
  primary: number
  workers: number[]
}

function readList(path: string): List | null {
  let text: string
  try {
    text = readFileSync(path, 'latin1')
  } catch {
    return null
  }
  let primary = 0
  const workers: number[] = []
  for (const line of text.split('\n')) {
    const m = /^(primary|worker) (\d{1,10})$/.exec(line)
    if (m === null) continue
    const pid = Number(m[2])
    if (pid <= 1) continue
    if (m[1] === 'primary') primary = pid
    else workers.push(pid)
  }
  return { primary, workers }
}

/** State and parent of a process, from /proc/PID/stat; null when it is gone or /proc is not there. */
function procStat(pid: number): { state: string; ppid: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // The fields after the command name (which may hold spaces and parentheses) start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { state: f[0]!, ppid: Number(f[1]) }
  } catch {
    return null
  }
}

/** Whether `pid` runs (a zombie does not: it holds no socket any more). Without /proc, whether it can be signalled. */
export function running(pid: number): boolean {
  const st = procStat(pid)
  if (st !== null) return st.state !== 'Z'
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Whether `pid` is a worker forked for `pidPath` whose primary `primary` is gone: it runs, its environment names
 * this pid file, and its parent is no longer that primary (a process whose parent dies is given to another one, so
 * a parent still equal to the recorded primary means that primary lives; a pid reused since cannot change that).
 */
function isOrphan(pid: number, primary: number, pidPath: string): boolean {
  if (pid === process.pid) return false
  const st = procStat(pid)
  if (st === null || st.state === 'Z' || st.ppid === primary || st.ppid === process.pid) return false
  let env: string[]
  try {
    env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0')
  } catch {
    // Another user's process, or gone: not ours to signal.
    return false
  }
  return env.includes('DYUPS_WORKER=1') && env.includes(`${PID_PATH_ENV}=${pidPath}`)
}

/** Orphaned workers found through the list: the primary they had, and their pids. */
export interface Orphans {
  primary: number
  pids: number[]
}

/**
 * The orphaned workers of the last primary on `pidPath` that still run: the pids of the list that pass the checks
 * of isOrphan, in the list's order. None when there is no list, or no /proc to check them with.
 */
export function findOrphans(pidPath: string): Orphans {
  const list = readList(workersPath(pidPath))
  if (list === null) return { primary: 0, pids: [] }
  return { primary: list.primary, pids: list.workers.filter((pid) => isOrphan(pid, list.primary, pidPath)) }
}

/**
 * Sends `signal` to each of `orphans` that is still an orphan of `pidPath` (checked again right before: time has
 * passed since it was found, and the list may have been rewritten since). @returns the pids signalled
 */
export function signalOrphans(pidPath: string, orphans: Orphans, signal: NodeJS.Signals): number[] {
  const sent: number[] = []
  for (const pid of orphans.pids) {
    if (!isOrphan(pid, orphans.primary, pidPath)) continue
    try {
      process.kill(pid, signal)
      sent.push(pid)
    } catch {
      // Exited meanwhile.
    }
  }
  return sent
}

/** How often a start that waits for orphans to release the sockets tries to bind them again. */
const RETRY_MS = 5

/**
 * Binds `listeners` while orphaned workers `orphans`, told to stop, release the same addresses: an address still
 * in use is tried again every RETRY_MS until it is free, for at most `ms`, and no longer than some orphan still
 * runs (then the address is somebody else's, and the bind's error is final).
 * @throws BindError (nginx's bind() message), DyupsError
 */
export async function bindWhenFree(listeners: HttpConfig['listeners'], orphans: readonly number[], ms: number): Promise<Map<string, Bound>> {
  const deadline = Date.now() + ms
  for (;;) {
    // Before the try: an orphan that exited just now has closed its sockets, so this try is the last one needed.
    const waiting = orphans.some(running)
    try {
      return await bindAll(listeners)
    } catch (e) {
      if (!(e instanceof BindError) || !e.inUse || !waiting || Date.now() > deadline) throw e
    }
    await new Promise((r) => setTimeout(r, RETRY_MS))
  }
}

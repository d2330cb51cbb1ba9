/**
 * Every process the benchmark starts is registered here and stopped by PID: at the end of its scenario,
 * and again at exit, on error or on SIGINT/SIGTERM, so no server outlives a run.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import { descendants } from './procstat.js'

interface Entry { name: string, child: ChildProcess, exited: Promise<void> }

const live = new Map<number, Entry>()

/**
 * Starts a process and registers it for cleanup.
 * @throws Error when the process could not be started (no pid).
 */
export function spawnTracked(name: string, cmd: string, args: readonly string[], opts: SpawnOptions): ChildProcess {
  const child = spawn(cmd, args, opts)
  let why = ''
  // A spawn failure (ENOENT, EACCES) arrives as an event; without a listener it would end the benchmark.
  child.on('error', (e) => { why = e.message })
  if (child.pid === undefined) throw new Error(`cannot start ${name}: ${cmd} ${why}`.trimEnd())
  const pid = child.pid
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  live.set(pid, { name, child, exited })
  child.once('exit', () => live.delete(pid))
  return child
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch { /* already gone */ }
}

/**
 * Stops a registered process: `sig` to the root, then SIGKILL to the root and to whatever of its
 * descendants (workers) is still alive after `graceMs`. Resolves once the root has exited.
 */
export async function stopTracked(pid: number, sig: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  const e = live.get(pid)
  const kids = descendants(pid)
  if (!e) {
    for (const k of kids) signal(k, 'SIGKILL')
    return
  }
  signal(pid, sig)
  let timer: NodeJS.Timeout | undefined
  const timedOut = await Promise.race([
    e.exited.then(() => false),
    new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), graceMs) }),
  ])
  clearTimeout(timer)
  if (timedOut) {
    signal(pid, 'SIGKILL')
    await e.exited
  }
  // Workers normally leave with their root; a stuck one is killed by the PID noted before the stop.
  const deadline = Date.now() + 1000
  while (kids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  for (const k of kids) if (alive(k)) signal(k, 'SIGKILL')
}

/** Stops every registered process (in parallel). */
export async function stopAll(graceMs = 3000): Promise<void> {
  await Promise.all([...live.keys()].map((pid) => stopTracked(pid, 'SIGTERM', graceMs)))
}

/** Last resort, synchronous, for process 'exit': SIGKILL every registered process and its descendants. */
function killAllNow(): void {
  for (const pid of live.keys()) {
    for (const k of descendants(pid)) signal(k, 'SIGKILL')
    signal(pid, 'SIGKILL')
  }
}

let installed = false

/** Makes SIGINT/SIGTERM and process exit stop every registered process. */
export function installCleanup(onSignal: () => Promise<void>): void {
  if (installed) return
  installed = true
  process.on('exit', killAllNow)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      console.error(`\n${sig}: stopping every server started by the benchmark`)
      onSignal().finally(() => process.exit(130))
    })
  }
}

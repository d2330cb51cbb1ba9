/**
 * CPU time, RSS and socket ownership of a process tree, read from /proc (Linux only).
 * A proxy is a root process (nginx master, dyups primary) plus its workers; figures cover the whole tree.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

let clkTck = 0
function ticksPerSecond(): number {
  if (clkTck === 0) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clkTck = 100
    }
  }
  return clkTck
}

/** Direct children of `pid` (every thread's children file), [] when it is gone. */
export function childrenOf(pid: number): number[] {
  const out: number[] = []
  let tasks: string[]
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'latin1').split(' ')) {
        if (c.trim() !== '') out.push(Number(c))
      }
    } catch { /* thread ended */ }
  }
  return out
}

/** Every descendant of `pid`, depth first. */
export function descendants(pid: number): number[] {
  const out: number[] = []
  const stack = childrenOf(pid)
  while (stack.length > 0) {
    const p = stack.pop()!
    out.push(p)
    stack.push(...childrenOf(p))
  }
  return out
}

/** user + system CPU seconds of one process (not its children), 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / ticksPerSecond()
  } catch {
    return 0
  }
}

/** Resident set size of one process in bytes, 0 when it is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

export interface TreeSample {
  /** root first, then descendants */
  pids: number[]
  /** processes that serve requests: the descendants, or the root itself when it has none */
  workers: number[]
  cpuSec: number
  rssTotal: number
  rssWorkerMax: number
}

/** One reading of the tree under `root`. */
export function sampleTree(root: number): TreeSample {
  const kids = descendants(root)
  const pids = [root, ...kids]
  const workers = kids.length > 0 ? kids : [root]
  let cpuSec = 0
  let rssTotal = 0
  let rssWorkerMax = 0
  for (const p of pids) {
    cpuSec += cpuSeconds(p)
    const r = rssBytes(p)
    rssTotal += r
    if (workers.includes(p) && r > rssWorkerMax) rssWorkerMax = r
  }
  return { pids, workers, cpuSec, rssTotal, rssWorkerMax }
}

/** Samples a tree every `intervalMs` and keeps the peaks, so short RSS spikes during a run are seen. */
export class PeakSampler {
  rssTotalPeak = 0
  rssWorkerPeak = 0
  private timer: NodeJS.Timeout | null = null

  constructor(private readonly root: number, private readonly intervalMs = 250) {}

  start(): this {
    this.take()
    this.timer = setInterval(() => this.take(), this.intervalMs)
    this.timer.unref()
    return this
  }

  stop(): this {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.take()
    return this
  }

  private take(): void {
    const s = sampleTree(this.root)
    if (s.rssTotal > this.rssTotalPeak) this.rssTotalPeak = s.rssTotal
    if (s.rssWorkerMax > this.rssWorkerPeak) this.rssWorkerPeak = s.rssWorkerMax
  }
}

/** Inode of the accepted socket for the loopback connection serverPort <- clientPort, or null. */
export function socketInode(serverPort: number, clientPort: number): number | null {
  const want = `:${serverPort.toString(16).toUpperCase().padStart(4, '0')}`
  const peer = `:${clientPort.toString(16).toUpperCase().padStart(4, '0')}`
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = readFileSync(table, 'latin1')
    } catch {
      continue
    }
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/)
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
      if (f.length < 10 || !f[1]!.endsWith(want) || !f[2]!.endsWith(peer)) continue
      return Number(f[9])
    }
  }
  return null
}

/**
 * Which of `pids` holds the server side of the loopback connection serverPort <- clientPort.
 * This is how the propagation scenario learns which worker a keepalive connection landed on.
 */
export function socketOwner(pids: readonly number[], serverPort: number, clientPort: number): number | null {
  const inode = socketInode(serverPort, clientPort)
  if (inode === null || inode === 0) return null
  const link = `socket:[${inode}]`
  for (const pid of pids) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return pid
      } catch { /* fd closed meanwhile */ }
    }
  }
  return null
}

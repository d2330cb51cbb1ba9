/** This process's figures for dyups_metrics' process metrics (read when scraped, never on the request path). */
import type { ProcStat } from '../dyups/index.js'

const START = Math.floor(Date.now() / 1000 - process.uptime())

export function procStat(role: ProcStat['role']): ProcStat {
  const c = process.cpuUsage()
  const m = process.memoryUsage()
  return { pid: process.pid, role, cpu: (c.user + c.system) / 1e6, rss: m.rss, heap: m.heapUsed, start: START }
}

/** The disk's rate of small durable writes, the ceiling for one client of a persisting interface. */
import { openSync, writeSync, fsyncSync, closeSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'

/**
 * Appends a 64-byte record and fsyncs it, in a loop for `seconds`, in a temporary file in `dir`.
 * Blocks the event loop on purpose: nothing else should run meanwhile.
 * @returns operations per second
 */
export function fsyncRate(dir: string, seconds: number): number {
  const p = join(dir, `fsync-probe-${process.pid}`)
  const fd = openSync(p, 'w')
  const rec = Buffer.alloc(64, 'r')
  let n = 0
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  try {
    while (performance.now() < end) {
      writeSync(fd, rec)
      fsyncSync(fd)
      n++
    }
  } finally {
    closeSync(fd)
    unlinkSync(p)
  }
  return n / ((performance.now() - t0) / 1000)
}

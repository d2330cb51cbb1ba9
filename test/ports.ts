/**
 * Ports for tests. A port the kernel hands out for `listen(0)` and that is then closed is free only for a moment: the
 * kernel gives the same range to every outgoing connection and every `listen(0)` on the machine, so another test (or
 * another process) can take it before the test binds it. freePorts() therefore hands out ports below (or above) the
 * kernel's ephemeral range, which the kernel never picks by itself, each reserved across processes by a lock file
 * holding the owner's pid, and checked to have no listener. A port stays reserved until the test process exits, so a
 * test may stop and restart a server on it, or keep it as a refused address, without anyone else taking it.
 *
 * Used by test/ and by the unit tests under src/ alike; it imports nothing of dyups.
 */
import { chmodSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Ports other people's servers use on a development machine (nginx's examples, the example configuration). */
const AVOID_PORTS = new Set([8080, 8081, 8088, 8089])

/** Where the reservations live: one file per port, shared by every process on the machine. */
const PORT_LOCKS = join(tmpdir(), 'dyups-test-ports')

/** The kernel's ephemeral range (net.ipv4.ip_local_port_range); Linux's default when it cannot be read. */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/).map(Number)
    if (Number.isInteger(lo) && Number.isInteger(hi) && lo! > 0 && hi! >= lo!) return [lo!, hi!]
  } catch {
    // Not Linux, or /proc not mounted.
  }
  return [32768, 60999]
}

/** The ports freePorts() picks from: up to 12000 right below the ephemeral range, else the ones above it. */
export function testPortRange(): [number, number] {
  const [lo, hi] = ephemeralRange()
  const below: [number, number] = [Math.max(10_000, lo - 12_000), lo - 1]
  const above: [number, number] = [hi + 1, Math.min(65_535, hi + 12_000)]
  const size = ([a, b]: [number, number]): number => b - a + 1
  return size(below) >= size(above) ? below : above
}

/** `PID STARTTIME` of a process (the start time tells a reused pid from the owner), or null when it is gone. */
function processIdentity(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return f[0] === 'Z' ? null : `${pid} ${f[19]}`
  } catch {
    return null
  }
}

let myIdentity: string | null = null
const reservedPorts = new Set<number>()

/** Whether the owner a lock file names is still running (an unreadable or empty file counts as running). */
function ownerAlive(text: string): boolean {
  const m = /^(\d+) (\d+)\n?$/.exec(text)
  if (m === null) return true
  return processIdentity(Number(m[1])) === `${m[1]} ${m[2]}`
}

/**
 * Reserves `port` for this process with a lock file created exclusively; a lock left by a process that is gone is
 * taken over (moved aside first, so that two processes taking it over at once cannot both win).
 */
function reservePort(port: number): boolean {
  const path = join(PORT_LOCKS, String(port))
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, `${myIdentity}\n`, { flag: 'wx' })
      return true
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    let owner: string
    try {
      owner = readFileSync(path, 'latin1')
    } catch {
      continue // released meanwhile
    }
    if (ownerAlive(owner)) return false
    const aside = `${path}.stale.${process.pid}.${Math.random().toString(36).slice(2)}`
    try {
      renameSync(path, aside)
    } catch {
      continue // someone else moved it meanwhile
    }
    let moved = ''
    try {
      moved = readFileSync(aside, 'latin1')
    } catch {
      // Gone: not the lock that was read.
    }
    if (moved !== owner) {
      // Another process took the stale lock over between the read and the rename: give its lock back.
      try {
        linkSync(aside, path)
      } catch {
        // It cannot be given back; the port is not ours either way.
      }
      rmSync(aside, { force: true })
      return false
    }
    rmSync(aside, { force: true })
  }
  return false
}

function releasePorts(): void {
  for (const port of reservedPorts) {
    const path = join(PORT_LOCKS, String(port))
    try {
      if (readFileSync(path, 'latin1') === `${myIdentity}\n`) unlinkSync(path)
    } catch {
      // Gone already.
    }
  }
  reservedPorts.clear()
}

/** Whether a listener can bind `port` on `host` right now (nothing listens there, on it or on a wildcard). */
function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer()
    s.once('error', (e: NodeJS.ErrnoException) => res(e.code === 'EADDRNOTAVAIL' || e.code === 'EAFNOSUPPORT'))
    s.listen({ port, host, exclusive: true }, () => s.close(() => res(true)))
  })
}

let nextPort = -1

/**
 * `n` ports for the test to listen on or to use as refused addresses: outside the kernel's ephemeral range, never
 * 8080, 8081, 8088 or 8089, reserved for this test process until it exits (across processes: a lock file per port
 * under the temp directory, holding the owner's pid; a dead owner's lock is taken over), and with no listener on
 * 127.0.0.1 or ::1 when handed out.
 */
export async function freePorts(n: number): Promise<number[]> {
  if (myIdentity === null) {
    myIdentity = processIdentity(process.pid) ?? `${process.pid} 0`
    if (mkdirSync(PORT_LOCKS, { recursive: true }) !== undefined) chmodSync(PORT_LOCKS, 0o1777) // any user's tests share it
    process.once('exit', releasePorts)
  }
  const [lo, hi] = testPortRange()
  const size = hi - lo + 1
  if (nextPort < 0) nextPort = lo + Math.floor(Math.random() * size)
  const ports: number[] = []
  for (let tried = 0; ports.length < n; tried++) {
    if (tried >= size) throw new Error(`no free test port in ${lo}-${hi}: ${ports.length} of ${n} found`)
    const port = nextPort
    nextPort = nextPort >= hi ? lo : nextPort + 1
    if (AVOID_PORTS.has(port) || reservedPorts.has(port) || !reservePort(port)) continue
    reservedPorts.add(port)
    if ((await bindable(port, '127.0.0.1')) && (await bindable(port, '::1'))) ports.push(port)
    // A port something listens on stays reserved (and unused) until this process exits.
  }
  return ports
}

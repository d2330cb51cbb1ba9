/**
 * The listening sockets, opened once by the process that starts dyups and kept for its whole life, as nginx's master
 * keeps them: workers come and go (a crash, a reload), the sockets stay, so a connection that arrives while no
 * worker is there waits in the kernel's queue instead of being refused.
 *
 * The primary binds each socket and sends the bound handle to every worker it forks (`subprocess.send(msg, handle)`,
 * the descriptor passed over the IPC channel); each worker calls listen() on it and accepts from it. The socket is
 * one, shared by every process holding it: the first listen() puts it in the LISTEN state, and it stays there while
 * any process, the primary at least, holds it. The primary itself never polls it, so it never accepts.
 */
import { lookup } from 'node:dns/promises'
import { lstatSync, unlinkSync } from 'node:fs'
import * as net from 'node:net'
import { getSystemErrorMap } from 'node:util'
import { DyupsError } from '../errors.js'
import type { HttpConfig } from '../http/index.js'

type Listener = HttpConfig['listeners'][number]

/** A bound libuv handle (TCP or Pipe), as node:net makes it and child_process sends it. */
export type ListenHandle = object & { close(cb?: () => void): void; getsockname?(out: object): number }

export interface Bound {
  listener: Listener
  handle: ListenHandle
  /** A unix socket's file, as bound: removed at the end only while it is still this one. */
  file?: { path: string; dev: number; ino: number }
}

/** node:net's handle factory, the one node:cluster's primary binds its shared sockets with (it does not listen). */
const createServerHandle = (net as unknown as {
  _createServerHandle: (address: string | null, port: number, addressType: number, fd?: number, flags?: number) => ListenHandle | number
})._createServerHandle

/** libuv's UV_TCP_IPV6ONLY. */
const UV_TCP_IPV6ONLY = 1

const ERRNO_TEXT: Record<string, string> = {
  EADDRINUSE: '98: Address already in use',
  EACCES: '13: Permission denied',
  EADDRNOTAVAIL: '99: Cannot assign requested address',
  ENOENT: '2: No such file or directory',
  ENOTDIR: '20: Not a directory',
  EROFS: '30: Read-only file system',
}

/**
 * nginx's words for a socket that cannot be bound: `bind() to 127.0.0.1:80 failed (98: Address already in use)`.
 * `err`: a libuv error number (negative errno).
 */
function bindError(key: string, err: number): BindError {
  const [code, text] = getSystemErrorMap().get(err) ?? [String(err), 'unknown error']
  return new BindError('E_CONFIG', `bind() to ${key} failed (${ERRNO_TEXT[code] ?? `${-err}: ${text}`})`, undefined, code === 'EADDRINUSE')
}

/** A socket that cannot be bound; `inUse`: another socket holds the address (a start waiting for orphans retries). */
export class BindError extends DyupsError {
  constructor(code: DyupsError['code'], message: string, at: DyupsError['at'], readonly inUse: boolean) {
    super(code, message, at)
  }
}

/** libuv's EADDRINUSE. */
const UV_EADDRINUSE = [...getSystemErrorMap()].find(([, [code]]) => code === 'EADDRINUSE')?.[0] ?? -98

/**
 * Whether something accepts on the unix socket `path`: a live socket must not be unlinked (another process
 * serves on it), a dead one, left by a process that was killed, must be, or the bind fails.
 */
function unixAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

async function bindOne(l: Listener): Promise<Bound> {
  let r: ListenHandle | number
  if (l.path !== null) {
    let socket = false
    try {
      socket = lstatSync(l.path).isSocket()
    } catch {
      // Absent: nothing to clear.
    }
    if (socket) {
      if (await unixAlive(l.path)) throw bindError(l.key, UV_EADDRINUSE)
      try {
        unlinkSync(l.path)
      } catch {
        // Gone meanwhile, or not ours to remove: the bind tells.
      }
    }
    r = createServerHandle(l.path, -1, -1)
  } else {
    let host = l.host!
    let family = net.isIP(host)
    if (family === 0) {
      try {
        const a = await lookup(host)
        host = a.address
        family = a.family
      } catch (e) {
        throw new DyupsError('E_CONFIG', `host not found in "${l.key}" of the "listen" directive (${(e as NodeJS.ErrnoException).code ?? e})`)
      }
    }
    r = createServerHandle(host, l.port, family, undefined, family === 6 && l.ipv6only ? UV_TCP_IPV6ONLY : 0)
    // libuv defers EADDRINUSE from bind() to the next call on the socket: ask for its name to hear it now.
    if (typeof r !== 'number') {
      const err = r.getsockname?.({}) ?? 0
      if (err !== 0) {
        r.close()
        r = err
      }
    }
  }
  if (typeof r === 'number') throw bindError(l.key, r)
  if (l.path === null) return { listener: l, handle: r }
  try {
    const st = lstatSync(l.path)
    return { listener: l, handle: r, file: { path: l.path, dev: st.dev, ino: st.ino } }
  } catch {
    return { listener: l, handle: r }
  }
}

/**
 * Binds every listener not in `keep` (by key); those in it are reused, as nginx keeps an address's socket across
 * a reload. On failure nothing new stays open.
 * @throws DyupsError with nginx's bind() message
 */
export async function bindAll(listeners: readonly Listener[], keep: ReadonlyMap<string, Bound> = new Map()): Promise<Map<string, Bound>> {
  const out = new Map<string, Bound>()
  const opened: ListenHandle[] = []
  try {
    for (const l of listeners) {
      const old = keep.get(l.key)
      if (old !== undefined) {
        out.set(l.key, { ...old, listener: l })
        continue
      }
      const b = await bindOne(l)
      opened.push(b.handle)
      out.set(l.key, b)
    }
  } catch (e) {
    for (const h of opened) h.close()
    throw e
  }
  return out
}

/**
 * Closes the sockets of `bound` that `keep` does not hold. Closing a unix socket's bound handle removes its file
 * (libuv unlinks the path it bound), as nginx's master removes its socket files.
 */
export function closeAll(bound: ReadonlyMap<string, Bound>, keep: ReadonlyMap<string, Bound> = new Map()): void {
  for (const [key, b] of bound) if (keep.get(key)?.handle !== b.handle) b.handle.close()
}

/**
 * Removes the unix socket files of `bound` that are still the ones bound (not a file another process made since),
 * for a process whose own servers took the handles over (`master_process off`): they close the sockets, but a
 * server that adopted a unix socket by its descriptor does not know its file.
 */
export function removeSocketFiles(bound: ReadonlyMap<string, Bound>): void {
  for (const b of bound.values()) {
    if (b.file === undefined) continue
    try {
      const st = lstatSync(b.file.path)
      if (st.dev === b.file.dev && st.ino === b.file.ino) unlinkSync(b.file.path)
    } catch {
      // Gone already.
    }
  }
}

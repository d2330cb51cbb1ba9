/**
 * Accepted plain sockets read into one buffer shared by every client connection of the worker process, as net's
 * public `onread` option does for sockets we connect (the backend side, proxy/conn.ts): a read costs no Buffer
 * allocation and skips the Readable machinery (push, addChunk, 'data', resume). Node offers no such option for the
 * sockets a server accepts, so this sets the socket's own onread fields (kBuffer, kBufferCb — what its constructor
 * sets from `onread`) and tells the handle with useUserBuffer(), as net does when it sets up a handle.
 *
 * Those are net's internals: the feature check below falls back to the usual 'data' path when they are missing,
 * and `DYUPS_NO_SHARED_READ=1` in the environment forces that path (the tests run both). pause() and resume() keep
 * working: on a socket with kBuffer set, net stops and restarts the handle's reading itself. TLS sockets always
 * read the usual way.
 *
 * The buffer is overwritten by the next read: a caller must use or copy the bytes before its callback returns.
 */
import type { Socket } from 'node:net'

/** Off with DYUPS_NO_SHARED_READ=1: client sockets then read as Node's default ('data', a Buffer per read). */
export const SHARED_READ = process.env['DYUPS_NO_SHARED_READ'] !== '1'

const READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024)

/** net's symbols, found once on the first socket; null: not found (another Node), the fallback is used. */
let symbols: { buffer: symbol; callback: symbol } | null | undefined

interface UserBufferHandle {
  useUserBuffer?: (b: Uint8Array) => void
}

function netSymbols(socket: Socket): { buffer: symbol; callback: symbol } | null {
  let buffer: symbol | undefined
  let callback: symbol | undefined
  for (const s of Object.getOwnPropertySymbols(socket)) {
    if (s.description === 'kBuffer') buffer = s
    else if (s.description === 'kBufferCb') callback = s
  }
  return buffer !== undefined && callback !== undefined ? { buffer, callback } : null
}

/**
 * Makes `socket` (accepted, plain, nothing read yet) read into the shared buffer and hand each read to `onRead`
 * instead of emitting 'data'. @returns false, changing nothing, where it cannot (switched off, net's fields or the
 * handle's useUserBuffer missing, a socket already reading into a buffer of its own): use 'data' then.
 */
export function readIntoShared(socket: Socket, onRead: (b: Buffer) => void): boolean {
  if (!SHARED_READ) return false
  const handle = (socket as unknown as { _handle?: UserBufferHandle | null })._handle
  if (handle === undefined || handle === null || typeof handle.useUserBuffer !== 'function') return false
  if (symbols === undefined) symbols = netSymbols(socket)
  if (symbols === null) return false
  const o = socket as unknown as Record<symbol, unknown>
  // Own fields the constructor set (null without `onread`): anything else is a Node this was not made for.
  if (o[symbols.buffer] !== null || o[symbols.callback] !== null) return false
  o[symbols.buffer] = READ_BUFFER
  o[symbols.callback] = (n: number, buf: Buffer) => {
    onRead(buf.subarray(0, n))
    return true
  }
  handle.useUserBuffer(READ_BUFFER)
  return true
}

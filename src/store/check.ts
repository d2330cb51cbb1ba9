/** Checks for `dyups -t` and the helper that tells PATH's blocks from nginx.conf's own. */
import { accessSync, constants, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { DyupsError, type Pos } from '../errors.js'
import { describe, journalPath, oldJournalPath } from './files.js'

/**
 * Checks that `dyups_upstream_conf PATH` can be written: its directory exists and is writable, and PATH and its
 * journals, where they exist, are regular writable files.
 * @throws DyupsError E_CONFIG with the reason (and `at`, the directive's position, when given).
 */
export function checkWritable(path: string, at?: Pos): void {
  const fail = (reason: string): never => {
    throw new DyupsError('E_CONFIG', `dyups_upstream_conf "${path}" is not usable: ${reason}`, at)
  }
  const dir = dirname(path)
  try {
    if (!statSync(dir).isDirectory()) fail(`"${dir}" is not a directory`)
    accessSync(dir, constants.W_OK | constants.X_OK)
  } catch (e) {
    if (e instanceof DyupsError) throw e
    fail(describe((e as NodeJS.ErrnoException).syscall ?? 'access', dir, e))
  }
  for (const file of [path, journalPath(path), oldJournalPath(path)]) {
    try {
      if (!statSync(file).isFile()) fail(`"${file}" is not a regular file`)
      accessSync(file, constants.R_OK | constants.W_OK)
    } catch (e) {
      if (e instanceof DyupsError) throw e
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue
      fail(describe((e as NodeJS.ErrnoException).syscall ?? 'access', file, e))
    }
  }
}

/**
 * Returns a test for `Directive.file`: whether a directive comes from PATH. nginx.conf usually `include`s PATH,
 * and its `upstream` blocks are the Store's to restore (Store.open reads PATH itself), so the caller leaves them
 * out of `staticGroups`. Names are compared resolved, then by device and inode (a symlink, another spelling);
 * results are cached per file name.
 */
export function upstreamConfMatcher(path: string | undefined): (file: string) => boolean {
  if (path === undefined) return () => false
  const target = resolve(path)
  const cache = new Map<string, boolean>()
  let id: string | null | undefined
  const identity = (p: string): string | null => {
    try {
      const st = statSync(p)
      return `${st.dev}:${st.ino}`
    } catch {
      return null
    }
  }
  return (file: string): boolean => {
    let hit = cache.get(file)
    if (hit === undefined) {
      const abs = resolve(file)
      if (abs === target) hit = true
      else {
        if (id === undefined) id = identity(target)
        hit = id !== null && identity(abs) === id
      }
      cache.set(file, hit)
    }
    return hit
  }
}

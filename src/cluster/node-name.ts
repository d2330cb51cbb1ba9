/**
 * A node's name when dyups_cluster names none: generated once (host name and a random suffix, so several
 * instances on one host differ) and kept in a file of the instance's prefix, so a restart is the same node.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'

/** @throws Error when the file can be neither read nor written. */
export function nodeName(path: string): string {
  try {
    const kept = readFileSync(path, 'utf8').trim()
    if (/^[A-Za-z0-9._:-]{1,128}$/.test(kept)) return kept
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  const host = hostname().replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 60) || 'node'
  const name = `${host}-${randomBytes(4).toString('hex')}`
  writeFileSync(path, name + '\n', { mode: 0o644 })
  return name
}

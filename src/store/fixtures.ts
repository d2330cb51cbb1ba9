/** Helpers shared by the store's tests (and the crash child): groups from command text, table dumps, temp dirs. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseCommands, type UpstreamGroup } from '../upstream/index.js'
import type { GroupChange as Change, TableCounts, TableEntry } from './types.js'

/** A group built exactly as a POST body would build it (addresses only: no DNS in tests). */
export function group(name: string, body = 'server 127.0.0.1:8088;'): Promise<UpstreamGroup> {
  return parseCommands(name, body)
}

/** A put of `name` whose servers depend on `n`, so replacements are visible. */
export async function put(name: string, n = 1): Promise<Change> {
  return { op: 'put', group: await group(name, `server 127.0.0.${(n % 250) + 1}:${8000 + (n % 1000)} weight=${(n % 9) + 1};`) }
}

export const del = (name: string): Change => ({ op: 'delete', name })

interface Readable {
  readonly version: number
  list(): TableEntry[]
  counts(): TableCounts
}

/** Everything a restore must reproduce: version, order, spelling, static flags, groups, counts. */
export function dump(s: Readable): { version: number; counts: TableCounts; entries: string[] } {
  return {
    version: s.version,
    counts: s.counts(),
    entries: s.list().map((e) => `${e.static ? 'static' : 'created'} ${JSON.stringify(e.group)}`),
  }
}

/** Names in /list order, static ones marked with `*`. */
export const names = (s: Readable): string[] => s.list().map((e) => (e.static ? '*' : '') + e.group.name)

/** A temp dir removed after the test. */
export async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dyups-store-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Static groups `names`, as nginx.conf would give them. */
export function statics(...list: string[]): Promise<UpstreamGroup[]> {
  return Promise.all(list.map((n, i) => group(n, `server 10.0.0.${i + 1}:80;`)))
}

/**
 * A deterministic sequence of changes over a small pool of names (some static), mixing creates, replaces,
 * deletes, re-creates and deletes of unknown names.
 */
export async function script(count: number, seed = 1): Promise<Change[]> {
  const pool = ['s1', 'S2', 's3', 'a', 'B', 'c', 'dd', 'e e', 'x"y', 'caf\u00e9', '\u00ff', 'Z']
  let x = seed
  const rnd = (n: number): number => {
    x = (x * 1103515245 + 12345) & 0x7fffffff
    return x % n
  }
  const out: Change[] = []
  for (let i = 0; i < count; i++) {
    const name = pool[rnd(pool.length)]!
    const spelled = rnd(2) === 0 ? name : name.replace(/[a-z]/g, (c) => c.toUpperCase())
    out.push(rnd(3) === 0 ? del(spelled) : await put(spelled, i))
  }
  return out
}

export const SCRIPT_STATICS = ['s1', 's2', 'S3']

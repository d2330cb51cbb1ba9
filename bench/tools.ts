/** Finds the programs the benchmark drives, and says how to install what is missing. */
import { accessSync, constants } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { delimiter, join } from 'node:path'

export interface Tools {
  nginx: string
  wrk: string
  /** nghttp2's h2load, for the HTTP/2 scenario; null when missing (that scenario is then skipped) */
  h2load: string | null
  nginxVersion: string
  wrkVersion: string
}

function which(name: string, extra: readonly string[]): string | null {
  const dirs = [...extra, ...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean)]
  for (const d of dirs) {
    const p = join(d, name)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch { /* keep looking */ }
  }
  return null
}

/** Output of a version flag, stdout and stderr together (nginx -v prints on stderr, wrk -v exits 1). */
function versionOf(bin: string, flag: string): string {
  const r = spawnSync(bin, [flag], { encoding: 'utf8' })
  return `${r.stdout ?? ''}${r.stderr ?? ''}`
}

/**
 * Locates nginx and wrk (/usr/sbin, /usr/bin and the like first, then PATH).
 * @throws Error listing what is missing and the apt-get line that installs it.
 */
export function findTools(): Tools {
  const nginx = which('nginx', ['/usr/sbin', '/usr/local/nginx/sbin', '/usr/local/sbin'])
  const wrk = which('wrk', ['/usr/bin', '/usr/local/bin'])
  const missing = [nginx ? '' : 'nginx', wrk ? '' : 'wrk'].filter(Boolean)
  if (nginx === null || wrk === null) {
    throw new Error(`bench needs ${missing.join(' and ')}, not found in PATH, /usr/sbin or /usr/bin.\n` +
      `  install with: apt-get install ${missing.join(' ')}`)
  }
  const nv = /nginx\/(\S+)/.exec(versionOf(nginx, '-v'))?.[1] ?? 'unknown'
  const wv = /^wrk (\S+)/m.exec(versionOf(wrk, '-v'))?.[1] ?? 'unknown'
  return { nginx, wrk, h2load: which('h2load', ['/usr/bin', '/usr/local/bin']), nginxVersion: nv, wrkVersion: wv }
}

/** Who is compared with nginx: dyups from this repository when it is ready, or the binary given with --proxy-bin. */
import { cpSync, existsSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { basename, join, resolve } from 'node:path'
import type { Contender } from './proxies.js'

export interface CandidateChoice {
  contenders: Contender[]
  notices: string[]
}

/** Why dyups cannot run yet, or null when `bin/dyups.js -t` accepts the example configuration. */
export function dyupsNotReady(repo: string): string | null {
  if (!existsSync(join(repo, 'dist', 'src', 'cli.js'))) return 'dist/src/cli.js is missing (build with npx tsc -p tsconfig.json)'
  try {
    execFileSync(process.execPath, [join(repo, 'bin', 'dyups.js'), '-t', '-p', 'example', '-c', 'conf/nginx.conf'],
      { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000 })
    return null
  } catch (e) {
    const err = e as { stderr?: Buffer, message: string }
    const lines = (err.stderr?.toString() ?? '').trim().split('\n').filter(Boolean)
    const why = lines.find((l) => /error|emerg/i.test(l)) ?? lines[0]
    return `bin/dyups.js -t -p example -c conf/nginx.conf fails: ${why || err.message.split('\n')[0]}`
  }
}

/** `commit abc1234` (with `+ uncommitted changes` when the tree is dirty), for the report. */
function commitOf(repo: string): string {
  try {
    const sha = execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['-C', repo, 'status', '--porcelain', '--', 'src', 'bin'], { encoding: 'utf8' }).trim() !== ''
    return `commit ${sha}${dirty ? ' + uncommitted changes in src/' : ''}`
  } catch {
    return 'commit unknown'
  }
}

/**
 * Copies bin/, dist/src/ and package.json (for "type": "module") into `tmp`, so every dyups of the run is the
 * same build even when dist/ is rebuilt meanwhile. Returns the copied bin/dyups.js.
 */
export function snapshot(repo: string, tmp: string): string {
  const dst = join(tmp, 'dyups-build')
  cpSync(join(repo, 'bin'), join(dst, 'bin'), { recursive: true })
  cpSync(join(repo, 'dist', 'src'), join(dst, 'dist', 'src'), { recursive: true })
  cpSync(join(repo, 'package.json'), join(dst, 'package.json'))
  return join(dst, 'bin', 'dyups.js')
}

/**
 * nginx, plus the candidate: `proxyBin` when given (an nginx binary is compared as `nginx-b`, without the
 * interface scenarios; a .js file runs under node), else this repository's dyups if ready (a snapshot of it).
 * `sched`: `both` adds dyups with NODE_CLUSTER_SCHED_POLICY=none as a third contender `dyups-none`.
 */
export function chooseContenders(repo: string, nginx: string, proxyBin: string | null,
  sched: 'default' | 'none' | 'both', profileDir: string | null, tmp: string): CandidateChoice {
  const contenders: Contender[] = [{ label: 'nginx', kind: 'nginx', argv: [nginx] }]
  const notices: string[] = []
  let dyups: Contender | null = null
  if (proxyBin !== null) {
    const bin = resolve(proxyBin)
    if (basename(bin).startsWith('nginx')) {
      contenders.push({ label: 'nginx-b', kind: 'nginx', argv: [bin] })
      notices.push(`candidate = ${bin} (an nginx stand-in: interface scenarios are skipped)`)
    } else {
      dyups = { label: 'dyups', kind: 'dyups', argv: /\.[cm]?js$/.test(bin) ? [process.execPath, bin] : [bin] }
    }
  } else {
    const why = dyupsNotReady(repo)
    if (why === null) {
      dyups = { label: 'dyups', kind: 'dyups', argv: [process.execPath, snapshot(repo, tmp)] }
      notices.push(`dyups = a copy of ${repo}bin + dist/src taken at start, ${commitOf(repo)}`)
    } else {
      notices.push(`dyups not ready: ${why}. Measuring nginx only; --proxy-bin /usr/sbin/nginx exercises both sides.`)
    }
  }
  if (dyups !== null) {
    if (profileDir !== null) dyups.profileDir = profileDir
    if (sched === 'none') dyups.env = { NODE_CLUSTER_SCHED_POLICY: 'none' }
    contenders.push(dyups)
    if (sched === 'both') {
      contenders.push({ ...dyups, label: 'dyups-none', env: { NODE_CLUSTER_SCHED_POLICY: 'none' } })
    }
  }
  return { contenders, notices }
}

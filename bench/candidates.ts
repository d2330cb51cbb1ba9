/**
 * Who is compared with nginx: dyups from this repository when it is ready, or the binary given with --proxy-bin;
 * under the harness's own Node, or once under each Node given with --node.
 */
import { cpSync, existsSync, symlinkSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
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
 * Copies bin/, dist/src/ and package.json (for "type": "module") into `tmp`, with a link to node_modules, so every dyups of the run is the
 * same build even when dist/ is rebuilt meanwhile. Returns the copied bin/dyups.js.
 */
export function snapshot(repo: string, tmp: string): string {
  const dst = join(tmp, 'dyups-build')
  cpSync(join(repo, 'bin'), join(dst, 'bin'), { recursive: true })
  cpSync(join(repo, 'dist', 'src'), join(dst, 'dist', 'src'), { recursive: true })
  cpSync(join(repo, 'package.json'), join(dst, 'package.json'))
  // The dependencies as installed: the copy imports them as the repository does.
  symlinkSync(join(repo, 'node_modules'), join(dst, 'node_modules'))
  return join(dst, 'bin', 'dyups.js')
}

/** `v24.1.0` for a node binary, by running it. @throws RangeError when it does not run. */
export function nodeVersion(node: string): string {
  try {
    return execFileSync(node, ['-p', 'process.version'], { encoding: 'utf8', timeout: 20000, stdio: ['ignore', 'pipe', 'pipe'] }).trim()
  } catch (e) {
    throw new RangeError(`--node ${node}: it does not run as node (${(e as Error).message.split('\n')[0]})`)
  }
}

/**
 * One dyups contender per Node binary in `nodes` (labels `dyups-node20`, `dyups-node24`, ...), each running
 * `script` under its Node with DYUPS_NODE naming it, so bin/dyups.js runs there instead of handing over to Node 24.
 * No `nodes`: the one contender `dyups` under the harness's own Node.
 */
export function dyupsContenders(script: string, nodes: readonly string[]): { contenders: Contender[], notices: string[] } {
  if (nodes.length === 0) return { contenders: [{ label: 'dyups', kind: 'dyups', argv: [process.execPath, script] }], notices: [] }
  const contenders: Contender[] = []
  const notices: string[] = []
  for (const n of nodes) {
    const node = resolve(n)
    const version = nodeVersion(node)
    let label = `dyups-node${version.replace(/^v/, '').split('.')[0]}`
    for (let i = 2; contenders.some((c) => c.label === label); i++) label = `${label.replace(/-\d+$/, '')}-${i}`
    contenders.push({ label, kind: 'dyups', argv: [node, script], env: { DYUPS_NODE: node } })
    notices.push(`${label} = dyups under ${node} (Node.js ${version})`)
  }
  return { contenders, notices }
}

/**
 * nginx, plus the candidate: `proxyBin` when given (an nginx binary is compared as `nginx-b`, without the
 * interface scenarios; a .js file runs under node), else this repository's dyups if ready (a snapshot of it).
 * `nodes`: run the dyups candidate once under each of these Node binaries (see dyupsContenders).
 * `sched`: `both` adds each dyups with NODE_CLUSTER_SCHED_POLICY=none as a contender `<label>-none`.
 */
export function chooseContenders(repo: string, nginx: string, proxyBin: string | null,
  sched: 'default' | 'none' | 'both', profileDir: string | null, tmp: string, nodes: readonly string[] = []): CandidateChoice {
  const contenders: Contender[] = [{ label: 'nginx', kind: 'nginx', argv: [nginx] }]
  const notices: string[] = []
  let dyups: Contender[] = []
  if (proxyBin !== null) {
    const bin = resolve(proxyBin)
    if (basename(bin).startsWith('nginx')) {
      if (nodes.length > 0) throw new RangeError('--node runs dyups under another Node: it does not apply to an nginx --proxy-bin')
      contenders.push({ label: 'nginx-b', kind: 'nginx', argv: [bin] })
      notices.push(`candidate = ${bin} (an nginx stand-in: interface scenarios are skipped)`)
    } else if (/\.[cm]?js$/.test(bin)) {
      const d = dyupsContenders(bin, nodes)
      dyups = d.contenders
      notices.push(...d.notices)
    } else {
      if (nodes.length > 0) throw new RangeError('--node needs a .js --proxy-bin (or none): it runs a script under each Node')
      dyups = [{ label: 'dyups', kind: 'dyups', argv: [bin] }]
    }
  } else {
    const why = dyupsNotReady(repo)
    if (why === null) {
      const d = dyupsContenders(snapshot(repo, tmp), nodes)
      dyups = d.contenders
      notices.push(`dyups = a copy of ${repo}bin + dist/src taken at start, ${commitOf(repo)}`, ...d.notices)
    } else {
      notices.push(`dyups not ready: ${why}. Measuring nginx only; --proxy-bin /usr/sbin/nginx exercises both sides.`)
    }
  }
  for (const c of dyups) {
    if (profileDir !== null) c.profileDir = profileDir
    if (sched === 'none') c.env = { ...c.env, NODE_CLUSTER_SCHED_POLICY: 'none' }
    contenders.push(c)
    if (sched === 'both') {
      contenders.push({ ...c, label: c.label === 'dyups' ? 'dyups-none' : `${c.label}-none`, env: { ...c.env, NODE_CLUSTER_SCHED_POLICY: 'none' } })
    }
  }
  return { contenders, notices }
}

/** Node's floor (relay.ts): a byte relay through Node's stream layer, run beside nginx and dyups with 1 worker. */
export function relayContender(): Contender {
  const js = join(dirname(fileURLToPath(import.meta.url)), 'relay.js')
  return { label: 'relay', kind: 'relay', argv: [process.execPath, js] }
}

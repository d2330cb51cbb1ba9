/**
 * The command line, as nginx's:
 *   dyups [-?hvVtTq] [-s signal] [-p prefix] [-c filename] [-g directives]
 */
import { resolve } from 'node:path'
import { VERSION } from './version.js'
import { formatError } from './errors.js'

export interface Options {
  prefix: string
  confFile: string
  globals: string
  test: boolean
  dump: boolean
  quiet: boolean
  signal: 'stop' | 'quit' | 'reopen' | 'reload' | null
}

const USAGE = `Usage: dyups [-?hvVtTq] [-s signal] [-p prefix]
             [-e filename] [-c filename] [-g directives]

Options:
  -?,-h         : this help
  -v            : show version and exit
  -V            : show version and configure options then exit
  -t            : test configuration and exit
  -T            : test configuration, dump it and exit
  -q            : suppress non-error messages during configuration testing
  -s signal     : send signal to a master process: stop, quit, reopen, reload
  -p prefix     : set prefix path (default: current directory)
  -e filename   : set error log file (default: logs/error.log)
  -c filename   : set configuration file (default: conf/nginx.conf)
  -g directives : set global directives out of configuration file
`

class UsageError extends Error {}

/** Parses argv like nginx: flags may be grouped (`-tq`), values attached (`-pDIR`) or separate (`-p DIR`). */
export function parseArgs(argv: readonly string[], cwd = process.cwd()): Options | 'help' | 'version' | 'version-full' {
  let prefix: string | null = null
  let conf: string | null = null
  let globals = ''
  let test = false, dump = false, quiet = false
  let signal: Options['signal'] = null
  let out: 'help' | 'version' | 'version-full' | null = null
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a[0] !== '-' || a.length < 2) throw new UsageError(`invalid option: "${a}"`)
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!
      const value = (what: string): string => {
        const rest = a.slice(j + 1)
        j = a.length
        if (rest !== '') return rest
        const next = argv[++i]
        if (next === undefined) throw new UsageError(`option "-${c}" requires ${what}`)
        return next
      }
      switch (c) {
        case '?': case 'h': out ??= 'help'; break
        case 'v': out = out === 'version-full' ? out : 'version'; break
        case 'V': out = 'version-full'; break
        case 't': test = true; break
        case 'T': test = true; dump = true; break
        case 'q': quiet = true; break
        case 'p': prefix = value('directory name'); break
        case 'c': conf = value('file name'); break
        case 'e': value('file name'); break // nginx's early error log; dyups logs to stderr until error_log is read
        case 'g': globals = value('parameters'); break
        case 's': {
          const s = value('parameter')
          if (s !== 'stop' && s !== 'quit' && s !== 'reopen' && s !== 'reload') throw new UsageError(`invalid option: "-s ${s}"`)
          signal = s
          break
        }
        default: throw new UsageError(`invalid option: "${a.slice(j)}"`)
      }
    }
  }
  if (out !== null) return out
  const p = resolve(cwd, prefix ?? '.')
  return { prefix: p, confFile: resolve(p, conf ?? 'conf/nginx.conf'), globals, test, dump, quiet, signal }
}

export async function main(argv: readonly string[]): Promise<void> {
  let opts
  try {
    opts = parseArgs(argv)
  } catch (e) {
    if (!(e instanceof UsageError)) throw e
    process.stderr.write(`dyups: ${e.message}\n\n${USAGE}`)
    process.exit(1)
  }
  if (opts === 'help') {
    process.stderr.write(`dyups version: dyups/${VERSION}\n${USAGE}`)
    return
  }
  if (opts === 'version' || opts === 'version-full') {
    process.stderr.write(`dyups version: dyups/${VERSION}\n`)
    if (opts === 'version-full') process.stderr.write(`built with Node.js ${process.version}\nconfigure arguments: none (nginx-syntax configuration, Tengine dyups interface)\n`)
    return
  }
  const { run, testConfig, sendSignal } = await import('./process/index.js')
  try {
    if (opts.test) process.exit(await testConfig(opts))
    if (opts.signal !== null) process.exit(await sendSignal(opts))
    await run(opts)
  } catch (e) {
    // Configuration errors are [emerg]; some failures carry nginx's own level (a missing pid file is [error]).
    const level = (e as { level?: unknown } | null)?.level
    process.stderr.write(`dyups: [${typeof level === 'string' ? level : 'emerg'}] ${formatError(e)}\n`)
    process.exit(1)
  }
}

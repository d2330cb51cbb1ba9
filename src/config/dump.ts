import type { Pos } from '../errors.js'
import { COMMAND_LINE, type LoadedConfig } from './load.js'

/**
 * The `-T` output, as nginx prints it: for each file read, in order, `# configuration file PATH:`, a newline, the
 * file's bytes, a newline. The result is a latin1 string: write it with `Buffer.from(s, 'latin1')` to get the
 * files' bytes back.
 */
export function dumpConfig(loaded: Pick<LoadedConfig, 'files'>): string {
  let out = ''
  for (const f of loaded.files) out += `# configuration file ${f.path}:\n${f.text}\n`
  return out
}

/**
 * The suffix nginx puts after a configuration message: ` in FILE:LINE`, ` in command line` for the `-g` string,
 * nothing without a position.
 */
export function formatPos(at: Pos | undefined): string {
  if (at === undefined) return ''
  if (at.file === COMMAND_LINE) return ' in command line'
  return ` in ${at.file}:${at.line}`
}

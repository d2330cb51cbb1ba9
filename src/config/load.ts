import { readFileSync, statSync } from 'node:fs'
import { posix } from 'node:path'
import { DyupsError, type Pos } from '../errors.js'
import type { Directive } from './types.js'
import { parseInto } from './parser.js'
import { globSync, hasGlobMagic } from './glob.js'
import { checkTree } from './check.js'
import type { Registry } from './registry.js'
import { errnoText } from '../errno.js'

export interface LoadOptions {
  /** `-c`: the main configuration file; relative to the prefix when relative, as in nginx. */
  readonly confFile: string
  /** `-p`: the prefix. */
  readonly prefix: string
  /** `-g`: directives parsed in the main context before the file, named `command line` in errors. */
  readonly globals?: string
  /** Used only to report, after a syntax error, an earlier error nginx would have reported first. */
  readonly registry?: Registry
}

export interface LoadedConfig {
  /** The `-g` directives, then the main file's, with every `include` replaced by the directives it read. */
  readonly tree: Directive[]
  /** Every file read, once each, in the order first read: what `-T` prints. */
  readonly files: { path: string; text: string }[]
  /** One line per `include`: which file(s) it used and how the path was resolved (for `-t`). */
  readonly notes: string[]
  /** The main configuration file, absolute. */
  readonly confFile: string
  /** The prefix, absolute, ending in `/`. */
  readonly prefix: string
}

/** The file name nginx uses in messages about the `-g` string. */
export const COMMAND_LINE = 'command line'

/** Files larger than this are refused: no configuration is this big, and reading one would stall start-up. */
export const MAX_FILE_SIZE = 64 * 1024 * 1024

/** nginx has no limit, but an include cycle would recurse until it runs out of memory. */
export const MAX_INCLUDE_DEPTH = 32



/** JS strings from the command line are UTF-16; the configuration works on bytes, one char each. */
const toLatin1 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1')
const bytes = (p: string): Buffer => Buffer.from(p, 'latin1')

function exists(p: string): boolean {
  try {
    statSync(bytes(p))
    return true
  } catch {
    return false
  }
}

/**
 * Reads the nginx configuration: the `-g` string, then the main file, expanding `include` (with globs) wherever it
 * appears. Synchronous: it runs once at start-up and on reload.
 *
 * Relative include paths resolve against the main file's directory, as in nginx; when nothing is there, dyups
 * tries the prefix (the module documentation's `include conf/upstream.conf;` inside `conf/nginx.conf`) and says so in `notes`.
 * @throws DyupsError E_CONFIG: syntax errors, `open() "/abs" failed (2: No such file or directory)`, files over
 *   64 MiB, include nesting deeper than 32. After a syntax error, the directives read before it are checked with
 *   {@link checkTree} and an error found there is thrown instead, since nginx checks each directive as it reads it.
 */
export function loadConfig(opts: LoadOptions): LoadedConfig {
  const prefix = withSlash(posix.resolve(toLatin1(opts.prefix)))
  const confFile = posix.resolve(prefix, toLatin1(opts.confFile))
  const confDir = withSlash(posix.dirname(confFile))
  const tree: Directive[] = []
  const files: { path: string; text: string }[] = []
  const seen = new Set<string>()
  const notes: string[] = []
  let depth = 0

  const read = (path: string, at: Pos | undefined): string => {
    let size: number
    try {
      size = statSync(bytes(path)).size
    } catch (e) {
      throw new DyupsError('E_CONFIG', `open() "${path}" failed (${errnoText(e)})`, at)
    }
    if (size > MAX_FILE_SIZE) {
      throw new DyupsError('E_CONFIG', `"${path}" is too large (${size} bytes, the limit is 64 MiB)`, at)
    }
    let text: string
    try {
      text = readFileSync(bytes(path)).toString('latin1')
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      // nginx opens a directory fine and fails reading it, logging no configuration position.
      if (code === 'EISDIR' || code === 'EIO') throw new DyupsError('E_CONFIG', `pread() "${path}" failed (${errnoText(e)})`)
      throw new DyupsError('E_CONFIG', `open() "${path}" failed (${errnoText(e)})`, at)
    }
    if (!seen.has(path)) {
      seen.add(path)
      files.push({ path, text })
    }
    return text
  }

  const parseFile = (path: string, into: Directive[], at: Pos | undefined): void => {
    const text = read(path, at)
    parseInto(text, path, into, { include })
  }

  const include = (d: Directive, into: Directive[]): void => {
    const at = { file: d.file, line: d.line }
    const arg = d.args[0]
    if (depth >= MAX_INCLUDE_DEPTH) {
      throw new DyupsError(
        'E_CONFIG',
        `include "${arg}" nests deeper than ${MAX_INCLUDE_DEPTH} levels, probably an include cycle`,
        at,
      )
    }
    const { paths, note } = resolveInclude(arg, confDir, prefix)
    notes.push(note)
    depth++
    try {
      for (const p of paths) parseFile(p, into, at)
    } finally {
      depth--
    }
  }

  try {
    if (opts.globals !== undefined && opts.globals.length > 0) {
      parseInto(toLatin1(opts.globals), COMMAND_LINE, tree, { param: true, include })
    }
    parseFile(confFile, tree, undefined)
  } catch (e) {
    if (e instanceof DyupsError) checkTree(tree, { partial: true, registry: opts.registry })
    throw e
  }
  return { tree, files, notes, confFile, prefix }
}

const withSlash = (p: string): string => (p.endsWith('/') ? p : `${p}/`)

/** Where an `include` argument points: the files to read, in order, and a line saying how it was resolved. */
export function resolveInclude(arg: string, confDir: string, prefix: string): { paths: string[]; note: string } {
  const magic = hasGlobMagic(arg)
  const found = (paths: string[], how: string): { paths: string[]; note: string } => {
    if (!magic) return { paths, note: `include "${arg}" resolved to ${paths[0]} (${how})` }
    const what = paths.length === 0 ? 'matched no files' : `matched ${paths.join(', ')}`
    return { paths, note: `include "${arg}" ${what} (${how})` }
  }

  if (arg.startsWith('/')) {
    return found(magic ? globSync(arg) : [arg], 'absolute path')
  }

  const primary = posix.resolve(confDir, arg)
  const secondary = posix.resolve(prefix, arg)
  const inConf = `relative to the configuration directory ${confDir}`
  const inPrefix = `relative to the prefix ${prefix}, nothing at ${primary}`

  if (!magic) {
    if (secondary !== primary && !exists(primary) && exists(secondary)) return found([secondary], inPrefix)
    return found([primary], inConf)
  }
  const matches = globSync(primary)
  if (matches.length === 0 && secondary !== primary) {
    const other = globSync(secondary)
    if (other.length > 0) return found(other, inPrefix)
  }
  return found(matches, inConf)
}

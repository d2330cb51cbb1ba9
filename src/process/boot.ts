/**
 * Start-up and `-t`: read the configuration, check it, and build everything that can fail before a socket is opened
 * (settings, the static upstream groups with their DNS lookups, the request-path configuration).
 */
import { checkTree, loadConfig, type Directive, type LoadedConfig } from '../config/index.js'
import { DyupsError } from '../errors.js'
import { errnoText } from '../errno.js'
import { closeSync, openSync } from 'node:fs'
import { buildGroup, groupKey, type UpstreamGroup } from '../upstream/index.js'
import { compileHttp, type HttpConfig } from '../http/index.js'
import { checkWritable, upstreamConfMatcher } from '../store/index.js'
import { first, readSettings, type Settings } from './settings.js'
import type { Boot } from './protocol.js'

export interface Booted {
  loaded: LoadedConfig
  settings: Settings
  /** Groups of `upstream {}` blocks outside the persistence file, in configuration order. */
  staticGroups: UpstreamGroup[]
  /** What a worker needs to build its request path. */
  boot: Boot
  /** The sockets to listen on, one per address (process/listeners.ts binds them). */
  listeners: HttpConfig['listeners']
  /** Start-up warnings, `message in FILE:LINE` (a `dyups_interface` open to every address). */
  warnings: string[]
}

export interface BootOptions {
  prefix: string
  confFile: string
  globals: string
}

export async function bootConfig(opts: BootOptions): Promise<Booted> {
  const loaded = loadConfig({ confFile: opts.confFile, prefix: opts.prefix, globals: opts.globals })
  checkTree(loaded.tree)
  const settings = readSettings(loaded.tree, opts.prefix)
  const http = first(loaded.tree, 'http')
  const confDirective = http?.block ? first(http.block, 'dyups_upstream_conf') : undefined
  if (settings.upstreamConf !== null && confDirective) {
    checkWritable(settings.upstreamConf, { file: confDirective.file, line: confDirective.line })
  }
  if (settings.auditLog !== null) {
    // Opened as nginx opens its log files at start and at -t: a path that cannot be written fails now, not later.
    try {
      closeSync(openSync(settings.auditLog, 'a', 0o640))
    } catch (e) {
      throw new DyupsError('E_CONFIG', `open() "${settings.auditLog}" failed (${errnoText(e)})`)
    }
  }
  const inPath = upstreamConfMatcher(settings.upstreamConf ?? undefined)
  const fromPath = (d: Directive): boolean => inPath(d.file)

  const staticGroups: UpstreamGroup[] = []
  const seen = new Map<string, Directive>()
  for (const d of http?.block ?? []) {
    if (d.name !== 'upstream' || fromPath(d)) continue
    const key = groupKey(d.args[0]!)
    if (seen.has(key)) throw new DyupsError('E_CONFIG', `duplicate upstream "${d.args[0]}"`, { file: d.file, line: d.line })
    seen.set(key, d)
    staticGroups.push(await buildGroup(d.args[0]!, d.block ?? [], { source: 'config', at: { file: d.file, line: d.line } }))
  }

  // Workers get the tree without upstream blocks: the table's snapshot carries every group, static ones too, in
  // a fraction of the bytes (100 000 blocks as directives are about 100 MB of objects in every worker).
  const tree = http
    ? loaded.tree.map((d) => (d !== http ? d : { ...http, block: http.block!.filter((c) => c.name !== 'upstream') }))
    : loaded.tree
  const boot: Boot = { prefix: opts.prefix, confFile: opts.confFile, tree }
  // Compiling the request path here makes `-t` report listen, location and variable errors, as nginx -t does.
  const warnings: string[] = []
  const compiled = compileHttp({ ...boot, warn: (message, at) => warnings.push(`${message} in ${at.file}:${at.line}`) })
  compiled.logFiles.close()
  return { loaded, settings, staticGroups, boot, listeners: compiled.listeners, warnings }
}

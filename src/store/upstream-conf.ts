/**
 * The PATH file (`dyups_upstream_conf`): the table in nginx syntax, so the same file can be `include`d inside
 * `http {}` by nginx, Tengine and dyups alike.
 *
 * It holds every group that is not an unchanged static one, as `upstream NAME { ... }` blocks in table order, and
 * comment lines that nginx skips and dyups reads back:
 *
 *     # dyups: version 42            the table version PATH reflects (the journal continues from it)
 *     # dyups: deleted "host2"       a static group (from nginx.conf) that was deleted
 *
 * Loading applies, on top of the static groups: every `deleted` marker, then every block in file order. A block
 * whose name is a static group replaces it in place; any other block is appended. With the markers written
 * before the blocks, this rebuilds the table's order exactly: replaced static groups keep their static position,
 * and created groups (including a deleted static name created again) follow in PATH's order, which is table order.
 */
import { readFile } from 'node:fs/promises'
import { parseText, type Directive } from '../config/index.js'
import { buildGroup, groupKey, readLineMarkers, renderUpstreamBlock, withMarkers, type Resolver, type UpstreamGroup } from '../upstream/index.js'
import { DyupsError } from '../errors.js'
import type { TableImage } from './table.js'

const MARK = '# dyups: '

const HEADER =
  '# Written by dyups (dyups_upstream_conf): the upstream table, for `include` inside http {}.\n' +
  '# dyups rewrites this file; edits made while it runs are lost. Lines starting with "# dyups:"\n' +
  '# are read back by dyups (nginx ignores comments).\n'

/**
 * Quotes a name for a marker line: a comment ends at LF, so control bytes, DEL and bytes >= 0x80 become \xHH,
 * `"` and `\` are backslash-escaped. Any byte string round-trips through unquoteName().
 */
export function quoteName(name: string): string {
  let out = '"'
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c === 0x22 || c === 0x5c) out += '\\' + name[i]
    else if (c < 0x20 || c >= 0x7f) out += '\\x' + c.toString(16).padStart(2, '0')
    else out += name[i]
  }
  return out + '"'
}

/** The inverse of quoteName(); null when `s` is not exactly one quoted name. */
export function unquoteName(s: string): string | null {
  if (s.length < 2 || s[0] !== '"' || s[s.length - 1] !== '"') return null
  let out = ''
  for (let i = 1; i < s.length - 1; i++) {
    const ch = s[i]!
    if (ch === '"') return null
    if (ch !== '\\') {
      out += ch
      continue
    }
    if (i + 1 >= s.length - 1) return null // the backslash would take the closing quote
    const next = s[++i]
    if (next === '"' || next === '\\') out += next
    else if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16))
      i += 2
    } else return null
  }
  return out
}

/** PATH's text in pieces (latin1), for writeFileAtomic(). */
export function* renderUpstreamConf(image: TableImage): Generator<string> {
  let head = HEADER + `${MARK}version ${image.version}\n`
  for (const name of image.deleted) head += `${MARK}deleted ${quoteName(name)}\n`
  yield head
  for (const e of image.entries) {
    if (e.static && e.pristine) continue
    const block = renderUpstreamBlock(e.group)
    yield block.endsWith('\n') ? '\n' + block : '\n' + block + '\n'
  }
}

/** What PATH holds. */
export interface UpstreamConf {
  readonly version: number
  /** Names of deleted static groups, as spelled in the markers. */
  readonly deleted: readonly string[]
  /** Groups in file order. */
  readonly groups: readonly UpstreamGroup[]
}

const lineAt = (text: string, pos: number): number => {
  let line = 1
  for (let i = text.indexOf('\n'); i !== -1 && i < pos; i = text.indexOf('\n', i + 1)) line++
  return line
}

/** Reads the `# dyups:` marker lines. */
function readMarkers(text: string, file: string): { version: number; deleted: string[] } {
  let version = -1
  const deleted: string[] = []
  let at = text.startsWith(MARK) ? 0 : text.indexOf('\n' + MARK)
  while (at !== -1) {
    const start = text[at] === '\n' ? at + 1 : at
    let end = text.indexOf('\n', start)
    if (end === -1) end = text.length
    let line = text.slice(start + MARK.length, end)
    if (line.endsWith('\r')) line = line.slice(0, -1)
    const sp = line.indexOf(' ')
    const word = sp === -1 ? line : line.slice(0, sp)
    const arg = sp === -1 ? '' : line.slice(sp + 1)
    const fail = (msg: string): never => {
      throw new DyupsError('E_CONFIG', msg, { file, line: lineAt(text, start) })
    }
    if (word === 'version') {
      if (version !== -1) fail('duplicate "# dyups: version" line')
      if (!/^[0-9]{1,15}$/.test(arg)) fail(`invalid version "${arg}"`)
      version = Number(arg)
    } else if (word === 'deleted') {
      const name = unquoteName(arg)
      if (name === null || name === '') fail(`invalid deleted group name ${arg}`)
      deleted.push(name!)
    }
    // Other words are left for later versions of this format.
    at = text.indexOf('\n' + MARK, end)
  }
  return { version: version === -1 ? 0 : version, deleted }
}

/** Any failure while building a group from PATH is a configuration error at its position. */
function asConfigError(e: unknown, d: Directive): unknown {
  if (!(e instanceof DyupsError) || e.code === 'E_CONFIG') return e
  return new DyupsError('E_CONFIG', e.message, e.at ?? { file: d.file, line: d.line })
}

/**
 * Reads PATH. A missing file is an empty one (null).
 * @throws DyupsError E_CONFIG with file and line for anything but `upstream NAME { ... }` blocks and markers,
 *   a duplicate group, or an invalid group.
 */
export async function readUpstreamConf(path: string, resolve?: Resolver): Promise<UpstreamConf | null> {
  let text: string
  try {
    text = await readFile(path, 'latin1')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new DyupsError('E_CONFIG', `cannot read dyups_upstream_conf "${path}" (${(e as Error).message})`)
  }
  const { version, deleted } = readMarkers(text, path)
  const seen = new Set<string>()
  const groups: UpstreamGroup[] = []
  const lineMarkers = readLineMarkers(text)
  for (const d of parseText(text, path)) {
    const at = { file: d.file, line: d.line }
    if (d.name !== 'upstream') throw new DyupsError('E_CONFIG', `"${d.name}" directive is not allowed here`, at)
    if (d.block === null) throw new DyupsError('E_CONFIG', 'directive "upstream" has no opening "{"', at)
    if (d.args.length !== 1) throw new DyupsError('E_CONFIG', 'invalid number of arguments in "upstream" directive', at)
    const name = d.args[0]!
    if (name === '') throw new DyupsError('E_CONFIG', 'invalid upstream name ""', at)
    const key = groupKey(name)
    if (seen.has(key)) throw new DyupsError('E_CONFIG', `duplicate upstream "${name}"`, at)
    seen.add(key)
    try {
      const g = await buildGroup(name, d.block, { source: 'config', resolve, at: { file: d.file, line: d.line } })
      const lines: number[] = []
      for (const x of d.block) if (x.name === 'server') lines.push(x.line)
      groups.push(withMarkers(g, lineMarkers, lines, d.line))
    } catch (e) {
      throw asConfigError(e, d)
    }
  }
  return { version, deleted, groups }
}

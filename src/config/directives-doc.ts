/**
 * The directive reference, docs/directives.md, rendered from the registry (DIRECTIVES, UNSUPPORTED) so that the
 * documentation cannot drift from what `-t` accepts. directives-doc.test.ts compares the file in the repository with
 * this output; directives-doc-main.ts writes it.
 */
import { DIRECTIVES } from './directives.js'
import type { DirectiveSpec } from './registry.js'
import type { Context } from './types.js'
import { UNSUPPORTED } from './unsupported.js'

/** The command that regenerates the file, quoted in the file itself and in the test's failure message. */
export const REGENERATE = 'npx tsc -p tsconfig.json && node dist/src/config/directives-doc-main.js > docs/directives.md'

/** The contexts the reference is grouped by, outermost first. */
const SECTIONS: readonly { context: Context; title: string; intro: string }[] = [
  { context: 'main', title: 'main', intro: 'The top level of the configuration file.' },
  { context: 'events', title: 'events', intro: 'Inside `events { }`.' },
  { context: 'http', title: 'http', intro: 'Inside `http { }`; most can also be set per server and per location.' },
  { context: 'server', title: 'server', intro: 'Inside a virtual server, `server { }` in `http { }`.' },
  { context: 'location', title: 'location', intro: 'Inside `location { }`.' },
  {
    context: 'upstream',
    title: 'upstream',
    intro:
      'Inside `upstream NAME { }`, and in the bodies of `POST /upstream/NAME` (see [api.md](api.md#the-body)), ' +
      'which are read in this context.',
  },
]

/** The contexts the reference has sections for; `if` and `limit_except` are blocks inside a location. */
const SHOWN: readonly Context[] = ['main', 'events', 'http', 'server', 'location', 'upstream']

const INTRO = `# Directives

Every directive dyups reads, with its arguments, nginx's default, the contexts it may appear in and what it does.
dyups reads nginx's syntax and checks every value as nginx does, with nginx's messages ending in \`in FILE:LINE\`;
\`dyups -t\` tests a configuration. A real nginx directive that dyups does not implement fails \`-t\` with
\`"x" directive is not supported by dyups\` (the list is at the end) instead of being silently ignored; any other
name is an \`unknown directive\`.

Each directive appears once, under the outermost context it may appear in; the contexts column lists all of them
(leaving out \`if\`; \`limit_except\` is named for the directives a \`limit_except\` block may hold).
**Arguments** counts the arguments (\`1-2\`: one or two; \`1+\`: one or more); *block* marks a directive followed by
\`{ }\`. **Default** is the value in effect when the directive is absent (\`A|B\`: depends on the platform, as in
nginx). The dyups interface itself (\`dyups_interface\`, the \`dyups_*\` directives and the bodies of its POSTs) is
described in [api.md](api.md).

Regular expressions (\`location ~\`, \`server_name ~\`, \`map\`, \`rewrite\`, \`if\`, \`proxy_redirect ~\`, \`proxy_cookie_* ~\`)
are read as PCRE reads them (without UTF, as nginx compiles them): \`\\h\`, \`\\H\`, \`\\v\`, \`\\V\`, \`\\R\`, \`\\A\`, \`\\z\`, \`\\Z\`,
\`\\Q...\\E\`, \`\\x{HH}\`, POSIX classes, \`(?#...)\`, \`(?P<name>...)\`, \`(?'name'...)\`, \`(?P=name)\`, \`\\k{name}\`, \`\\g{N}\`, and
the inline flags \`i\`, \`m\`, \`s\` (\`(?i)\`, \`(?-i)\`, \`(?i:...)\`) anywhere, holding to the end of their group across its
alternatives. What JavaScript's engine cannot do the same way (atomic groups \`(?>...)\`, possessive quantifiers such as
\`a++\`, recursion, conditionals, branch reset, backtracking verbs \`(*...)\`, \`\\K\`, \`\\G\`, the \`x\` flag) fails \`dyups -t\`
with \`regex "..." uses ..., which dyups does not support\` rather than matching differently.

This file is generated from the directive registry (\`src/config/directives.ts\`); edit the registry, not this file,
and regenerate it with \`${REGENERATE}\`.
`

const NOOP_INTRO = `## Accepted, with no effect

These directives are accepted and their values validated as nginx validates them, so existing configurations pass
\`-t\` unchanged, but they have no effect in dyups: they tune mechanisms dyups does not have (sendfile, hash table
sizes, temp files, OCSP, ...). The last column says what they do in nginx.
`

const UNSUPPORTED_INTRO = `## Not supported by dyups

Real nginx directives (stock modules and common third-party ones) that dyups does not implement. A configuration
that uses one fails \`-t\` with \`"x" directive is not supported by dyups\`, naming the file and line, so it is clear
the directive is fine for nginx and has to be taken out (or its job done elsewhere) for dyups.
`

function code(s: string): string {
  return '`' + s + '`'
}

/** Escapes what would break a table cell: a pipe ends the cell, a newline the row. */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

/** A code span in a table cell: a pipe still needs escaping there; backslashes stay literal. */
function codeCell(s: string): string {
  return '`' + s.replace(/\|/g, '\\|') + '`'
}

/**
 * The argument count of a spec as the reference shows it: `0`, `1`, `1-2`, `1+`, followed by `, block` for a block
 * directive (`, Lua block` for `*_by_lua_block`).
 */
export function argsText(spec: DirectiveSpec): string {
  const a = spec.args
  let text: string
  if (typeof a === 'number') text = String(a)
  else if (a[1] === Infinity) text = `${a[0]}+`
  else text = a[0] === a[1] ? String(a[0]) : `${a[0]}-${a[1]}`
  if (spec.luaBlock) return `${text}, Lua block`
  if (spec.block !== undefined) return `${text}, block`
  return text
}

/** The contexts column: the readable ones, or `any` for `include`. */
export function contextsText(spec: DirectiveSpec): string {
  const shown = SHOWN.filter((c) => spec.contexts.includes(c))
  if (shown.length === SHOWN.length) return 'any'
  if (spec.contexts.includes('limit_except')) shown.push('limit_except')
  return shown.join(', ')
}

/** The section a spec is listed in: its outermost readable context. */
function sectionOf(spec: DirectiveSpec): Context | undefined {
  return SHOWN.find((c) => spec.contexts.includes(c))
}

/** `specs` ordered by section, registry order within one (Array.prototype.sort is stable). */
function bySection(specs: readonly DirectiveSpec[]): DirectiveSpec[] {
  const rank = (s: DirectiveSpec): number => SHOWN.indexOf(sectionOf(s) ?? 'main')
  return [...specs].sort((a, b) => rank(a) - rank(b))
}

/** Greedy word wrap of one paragraph, so long generated lists read well as source too. */
export function wrap(text: string, width = 118): string {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/)) {
    if (word === '') continue
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  if (line !== '') lines.push(line)
  return lines.join('\n')
}

function row(spec: DirectiveSpec): string {
  const dflt = spec.default === undefined ? '-' : codeCell(spec.default)
  const docs = spec.docs === undefined ? '' : cell(spec.docs)
  return `| ${code(spec.name)} | ${argsText(spec)} | ${dflt} | ${contextsText(spec)} | ${docs} |`
}

function table(specs: readonly DirectiveSpec[], last: string): string {
  const head = `| directive | arguments | default | contexts | ${last} |\n|---|---|---|---|---|\n`
  return head + specs.map(row).join('\n') + '\n'
}

/**
 * Renders docs/directives.md from the registry: the intro, one table per context (main, events, http, server,
 * location, upstream) of the directives dyups implements, the no-ops, and the nginx directives dyups does not
 * support.
 * @example
 * writeFileSync('docs/directives.md', renderDirectivesDoc())
 */
export function renderDirectivesDoc(): string {
  const working = DIRECTIVES.filter((s) => !s.noop)
  const parts: string[] = [INTRO]
  for (const sec of SECTIONS) {
    const specs = working.filter((s) => sectionOf(s) === sec.context)
    if (specs.length === 0) continue
    parts.push(`## ${sec.title}\n\n${wrap(sec.intro)}\n\n${table(specs, 'description')}`)
  }
  parts.push(NOOP_INTRO + '\n' + table(bySection(DIRECTIVES.filter((s) => s.noop === true)), 'in nginx'))
  const names = [...UNSUPPORTED].sort().map(code).join(', ')
  parts.push(`${UNSUPPORTED_INTRO}\n${wrap(names + '.')}\n`)
  return parts.join('\n')
}

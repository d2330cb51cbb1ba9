import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { argsText, contextsText, REGENERATE, renderDirectivesDoc } from './directives-doc.js'
import { DIRECTIVES } from './directives.js'
import type { DirectiveSpec } from './registry.js'
import { UNSUPPORTED } from './unsupported.js'

// This file runs from dist/src/config/; the repository root is three levels up.
const root = (p: string): string => fileURLToPath(new URL(`../../../${p}`, import.meta.url))

const doc = renderDirectivesDoc()

/** The `## ` sections of the rendered doc, by title. */
function sections(text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of text.split(/^## /m).slice(1)) {
    const nl = part.indexOf('\n')
    out.set(part.slice(0, nl), part.slice(nl + 1))
  }
  return out
}

/** Cells of a table row, split on pipes that are not escaped. */
const cells = (row: string): string[] => row.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim())

const rows = (section: string): string[][] =>
  section.split('\n').filter((l) => l.startsWith('| `')).map(cells)

test('docs/directives.md is the output of renderDirectivesDoc()', () => {
  const file = readFileSync(root('docs/directives.md'), 'utf8')
  if (file === doc) return
  const a = file.split('\n')
  const b = doc.split('\n')
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  assert.fail(
    `docs/directives.md differs from the registry at line ${i + 1}:\n` +
      `  file:      ${JSON.stringify(a[i] ?? '(end of file)')}\n` +
      `  generated: ${JSON.stringify(b[i] ?? '(end of output)')}\n` +
      `Regenerate it: ${REGENERATE}`,
  )
})

test('every directive of the registry is listed once, in its table', () => {
  const secs = sections(doc)
  const titles = ['main', 'events', 'http', 'server', 'location', 'upstream']
  const expected = (s: DirectiveSpec): string => {
    if (s.noop) return 'Accepted, with no effect'
    return titles.find((t) => s.contexts.includes(t as never))!
  }
  const want = new Map<string, number>()
  for (const s of DIRECTIVES) {
    const key = `${expected(s)} / ${s.name}`
    want.set(key, (want.get(key) ?? 0) + 1)
  }
  const got = new Map<string, number>()
  for (const [title, body] of secs) {
    for (const r of rows(body)) {
      const key = `${title} / ${r[0]!.replace(/`/g, '')}`
      got.set(key, (got.get(key) ?? 0) + 1)
    }
  }
  assert.deepEqual(got, want)
})

test('every row has five cells, a description and the spec\'s default', () => {
  const byName = new Map<string, DirectiveSpec[]>()
  for (const s of DIRECTIVES) byName.set(s.name, [...(byName.get(s.name) ?? []), s])
  let n = 0
  for (const body of sections(doc).values()) {
    for (const r of rows(body)) {
      n++
      assert.equal(r.length, 5, `row ${r.join(' | ')}`)
      const name = r[0]!.replace(/`/g, '')
      const specs = byName.get(name)!
      assert.ok(r[4]!.length > 0, `"${name}" has no description`)
      const defaults = specs.map((s) => (s.default === undefined ? '-' : '`' + s.default.replace(/\|/g, '\\|') + '`'))
      assert.ok(defaults.includes(r[2]!), `"${name}" default ${r[2]}, registry ${defaults.join(' or ')}`)
    }
  }
  assert.equal(n, DIRECTIVES.length)
})

test('every spec in the registry has a one-line description', () => {
  const missing = DIRECTIVES.filter((s) => s.docs === undefined || s.docs.trim() === '' || s.docs.includes('\n'))
  assert.deepEqual(missing.map((s) => s.name), [])
})

test('the unsupported directives are listed, and only there', () => {
  const secs = sections(doc)
  const body = secs.get('Not supported by dyups')!
  for (const name of UNSUPPORTED) assert.ok(body.includes('`' + name + '`'), name)
  const listed = new Set<string>()
  for (const [title, b] of secs) if (title !== 'Not supported by dyups') for (const r of rows(b)) listed.add(r[0]!)
  for (const name of UNSUPPORTED) assert.ok(!listed.has('`' + name + '`'), `${name} is also in a table`)
})

test('argsText and contextsText', () => {
  const s = (args: DirectiveSpec['args'], extra: Partial<DirectiveSpec> = {}): DirectiveSpec =>
    ({ name: 'x', contexts: ['http'], args, ...extra })
  const cases: [DirectiveSpec, string][] = [
    [s(0), '0'],
    [s(2), '2'],
    [s([1, 2]), '1-2'],
    [s([0, Infinity]), '0+'],
    [s([2, 2]), '2'],
    [s(0, { block: 'events' }), '0, block'],
    [s([1, 2], { block: 'location' }), '1-2, block'],
    [s(0, { luaBlock: true }), '0, Lua block'],
  ]
  for (const [spec, want] of cases) assert.equal(argsText(spec), want, JSON.stringify(spec.args))
  const ctx: [DirectiveSpec['contexts'], string][] = [
    [['http', 'server', 'location', 'if'], 'http, server, location'],
    [['location', 'if', 'limit_except'], 'location, limit_except'],
    [['main', 'events', 'http', 'server', 'location', 'upstream', 'if', 'map', 'types'], 'any'],
  ]
  for (const [contexts, want] of ctx) assert.equal(contextsText({ name: 'x', contexts, args: 0 }), want)
})

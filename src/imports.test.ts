/**
 * Imports run one way: no file of src/ reaches itself through its imports, type-only imports included (they shape
 * the design as much as the others, though the compiled JavaScript drops them). Reads the TypeScript sources.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import test from 'node:test'
import { fileURLToPath } from 'node:url'

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src')

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) sources(p, out)
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) out.push(p)
  }
  return out
}

/** Relative specifiers of `import … from`, `export … from`, `import '…'` and `import('…')`. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm

export function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const file of sources(root)) {
    const text = readFileSync(file, 'utf8')
    const deps: string[] = []
    for (const m of text.matchAll(SPECIFIER)) deps.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')))
    graph.set(file, deps)
  }
  return graph
}

/** Strongly connected components of more than one file, or of one file importing itself (Tarjan). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const on = new Set<string>()
  const out: string[][] = []
  const visit = (v: string): void => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    on.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!idx.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
    }
    if (low.get(v) !== idx.get(v)) return
    const scc: string[] = []
    let w: string
    do {
      w = stack.pop()!
      on.delete(w)
      scc.push(w)
    } while (w !== v)
    if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort())
  }
  for (const v of graph.keys()) if (!idx.has(v)) visit(v)
  return out
}

test('the walker finds a cycle when there is one', () => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ])
  assert.deepEqual(cycles(g), [['a', 'b', 'c']])
})

test('no import cycle in src/, type imports included', () => {
  const graph = importGraph(SRC)
  assert.ok(graph.size > 100, `read ${graph.size} files of ${SRC}`)
  const found = cycles(graph).map((c) => c.map((f) => relative(SRC, f)).join(' → '))
  assert.deepEqual(found, [])
})

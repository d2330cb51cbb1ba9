/**
 * Every relative link in the Markdown documents, and every `docs/<file>.md#<anchor>` that code, tests and the bench
 * cite in their comments, names a file of the repository and, with an anchor, one of its headings (as GitHub
 * makes heading anchors). A renamed heading or a moved file fails here, not in a reader's browser.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Files under `dir` (relative to the root) whose names end with one of `exts`. */
function files(dir: string, exts: string[]): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(join(ROOT, d), { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (exts.some((x) => e.name.endsWith(x))) out.push(p)
    }
  }
  if (existsSync(join(ROOT, dir))) walk(dir)
  return out
}

/** GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped, spaces to `-`. */
export function slug(heading: string): string {
  return heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

const anchorCache = new Map<string, Set<string>>()

/** The anchors of a Markdown file's headings, numbered as GitHub numbers repeats (`name`, `name-1`, …). */
function anchors(file: string): Set<string> {
  let set = anchorCache.get(file)
  if (set !== undefined) return set
  set = new Set()
  const seen = new Map<string, number>()
  let fenced = false
  for (const line of readFileSync(join(ROOT, file), 'utf8').split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced
    if (fenced) continue
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (m === null) continue
    const base = slug(m[1]!)
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    set.add(n === 0 ? base : `${base}-${n}`)
  }
  anchorCache.set(file, set)
  return set
}

/** What is wrong with a link to `target` (relative to `from`'s folder, or to the root when `fromRoot`), or null. */
function check(from: string, target: string, fromRoot = false): string | null {
  const [path, anchor] = target.split('#', 2) as [string, string | undefined]
  const file = path === '' ? from : relative(ROOT, resolve(ROOT, fromRoot ? '' : dirname(from), decodeURI(path)))
  if (!existsSync(join(ROOT, file))) return `${target}: no file ${file}`
  if (anchor === undefined || anchor === '' || !file.endsWith('.md') || statSync(join(ROOT, file)).isDirectory()) return null
  return anchors(file).has(anchor.toLowerCase()) ? null : `${target}: no heading "#${anchor}" in ${file}`
}

test('slug: as GitHub makes heading anchors', () => {
  assert.equal(slug('POST: creating and replacing a group'), 'post-creating-and-replacing-a-group')
  assert.equal(slug('The interface: loopback and `allow`/`deny`'), 'the-interface-loopback-and-allowdeny')
  assert.equal(slug('Persistence (`dyups_*`)'), 'persistence-dyups_')
  assert.equal(slug('ETag and If-Match: safe read-modify-write'), 'etag-and-if-match-safe-read-modify-write')
})

test('relative links in the Markdown documents name a file and a heading that exist', () => {
  const docs = ['README.md', ...files('docs', ['.md']), ...files('bench', ['.md']), ...files('contrib', ['.md'])]
  const broken: string[] = []
  let checked = 0
  for (const doc of docs) {
    let fenced = false
    const lines = readFileSync(join(ROOT, doc), 'utf8').split('\n')
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!
      if (/^\s*```/.test(line)) fenced = !fenced
      if (fenced) continue
      // Inline code is not a link.
      const text = line.replace(/`[^`]*`/g, '')
      for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1]!
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // http:, https:, mailto:
        checked++
        const why = check(doc, target)
        if (why !== null) broken.push(`${doc}:${i + 1}: ${why}`)
      }
    }
  }
  assert.ok(checked > 20, `only ${checked} links found: the scan is broken`)
  assert.deepEqual(broken, [])
})

test('docs/… references in code, tests and the bench name a file and a heading that exist', () => {
  const sources = [...files('src', ['.ts']), ...files('test', ['.ts']), ...files('bench', ['.ts']), ...files('bin', ['.js']), ...files('scripts', ['.js'])]
  const broken: string[] = []
  let checked = 0
  for (const src of sources) {
    const lines = readFileSync(join(ROOT, src), 'utf8').split('\n')
    for (let i = 0; i < lines.length; i++) {
      for (const m of lines[i]!.matchAll(/\bdocs\/[A-Za-z0-9_-]+\.md(?:#[A-Za-z0-9_-]+)?/g)) {
        checked++
        const why = check(src, m[0], true)
        if (why !== null) broken.push(`${src}:${i + 1}: ${why}`)
      }
    }
  }
  assert.ok(checked > 20, `only ${checked} references found: the scan is broken`)
  assert.deepEqual(broken, [])
})

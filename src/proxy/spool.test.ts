import assert from 'node:assert/strict'
import { closeSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'node:test'
import { BodySpool, TempPath } from './spool.js'

function tempDir(t: test.TestContext): string {
  const d = mkdtempSync(join(tmpdir(), 'dyups-spool-'))
  t.after(() => rmSync(d, { recursive: true, force: true }))
  return d
}

/** Descriptors of this process that point into `dir`. */
const openIn = (dir: string): string[] =>
  readdirSync('/proc/self/fd').map((n) => {
    try {
      return readlinkSync(`/proc/self/fd/${n}`)
    } catch {
      return ''
    }
  }).filter((p) => p.startsWith(dir + '/'))

test('a body up to the limit stays in memory; past it, all of it goes to an unlinked temp file', (t) => {
  const dir = tempDir(t)
  const cases: { parts: string[]; limit: number; file: boolean }[] = [
    { parts: ['abc', 'def'], limit: 6, file: false },
    { parts: ['abc', 'defg'], limit: 6, file: true },
    { parts: ['x'.repeat(100_000)], limit: 16, file: true },
    { parts: ['', 'a'], limit: 0, file: true },
  ]
  for (const c of cases) {
    const spool = new BodySpool(c.limit, new TempPath(dir))
    let moved = 0
    for (const p of c.parts) if (spool.write(Buffer.from(p, 'latin1'))) moved++
    const whole = c.parts.join('')
    assert.equal(spool.size, whole.length)
    assert.equal(spool.inFile, c.file, JSON.stringify(c))
    assert.equal(moved, c.file ? 1 : 0, 'moving to a file is reported once')
    assert.deepEqual(readdirSync(dir), [], 'the temp file has no name left')
    assert.equal(openIn(dir).length, c.file ? 1 : 0)
    // Read back in pieces of every size: the bytes come back in order, and a read past the end is empty.
    for (const step of [1, 7, 65536]) {
      let got = ''
      for (let pos = 0; pos < spool.size; pos += step) got += spool.read(pos, step).toString('latin1')
      assert.equal(got, whole)
    }
    assert.equal(spool.read(spool.size, 10).length, 0)
    spool.close()
    spool.close()
    assert.deepEqual(openIn(dir), [], 'closing frees the file')
  }
})

test('levels make subdirectories from the end of the name; taken names are skipped', (t) => {
  const dir = tempDir(t)
  const path = new TempPath(join(dir, 'body'), [1, 2])
  path.create()
  assert.ok(statSync(join(dir, 'body')).isDirectory())
  const a = path.open()
  const name = a.path.slice(a.path.lastIndexOf('/') + 1)
  assert.match(name, /^\d{10}$/)
  assert.equal(a.path, join(dir, 'body', name.slice(9), name.slice(7, 9), name))
  // The next number is taken by someone else's file: it is skipped, not overwritten.
  const next = String(Number(name) + 1).padStart(10, '0')
  const nextDir = join(dir, 'body', next.slice(9), next.slice(7, 9))
  mkdirSync(nextDir, { recursive: true })
  writeFileSync(join(nextDir, next), 'theirs')
  const b = path.open()
  assert.notEqual(b.path.slice(-10), next)
  assert.equal(readFileSync(join(nextDir, next), 'latin1'), 'theirs')
  closeSync(a.fd)
  closeSync(b.fd)
})

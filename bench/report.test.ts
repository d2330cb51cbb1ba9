import { test } from 'node:test'
import assert from 'node:assert/strict'
import { atLeast, below, makeRow, mdTable, ratioAtLeast, ratioAtMost, textTable } from './report.js'
import { fmt, median, quantile } from './stats.js'

test('medians, ratios to nginx and targets', () => {
  const r = makeRow('1 worker', 'req/s', { nginx: [100, 300, 200], dyups: [90, 150, 180] }, { target: ratioAtLeast(0.8) })
  assert.equal(r.values['nginx'], 200)
  assert.equal(r.values['dyups'], 150)
  assert.equal(r.ratios['dyups'], 0.75)
  assert.deepEqual(r.pass, { dyups: false })
  assert.equal(r.target, '≥ 0.8× nginx')
  const p99 = makeRow('1 worker', 'p99 ms', { nginx: [2], dyups: [3] }, { target: ratioAtMost(1.5) })
  assert.deepEqual(p99.pass, { dyups: true })
})

test('absolute targets, and a contender that was not measured', () => {
  assert.deepEqual(makeRow('x', 'RSS', { dyups: [79.9] }, { target: below(80, 'MB') }).pass, { dyups: true })
  assert.deepEqual(makeRow('x', 'RSS', { dyups: [80] }, { target: below(80, 'MB') }).pass, { dyups: false })
  assert.deepEqual(makeRow('x', 'u/s', { dyups: [5000] }, { target: atLeast(5000, '/s') }).pass, { dyups: true })
  const r = makeRow('x', 'p50', { nginx: [1], dyups: [] }, { target: ratioAtMost(1.5) })
  assert.equal(r.values['dyups'], null)
  assert.equal(r.ratios['dyups'], null)
  assert.deepEqual(r.pass, { dyups: null })
})

test('tables show values, ratios and pass/fail', () => {
  const s = { id: 's', title: 'small', labels: ['nginx', 'dyups'], notes: ['a note'],
    rows: [makeRow('p', 'req/s', { nginx: [20000], dyups: [18000] }, { target: ratioAtLeast(0.8), reference: 'ref' })] }
  const text = textTable(s)
  assert.match(text, /^== small\n/)
  assert.match(text, /p\s+req\/s\s+20 000\s+18 000\s+0\.90×\s+≥ 0\.8× nginx\s+pass\s+ref/)
  assert.match(text, /a note$/)
  const md = mdTable(s).split('\n')
  assert.equal(md[2], '| point | metric | nginx | dyups | dyups/nginx | target | pass | reference |')
  assert.equal(md[3], '| --- | --- | ---: | ---: | ---: | --- | --- | --- |')
  assert.equal(md[4], '| p | req/s | 20 000 | 18 000 | 0.90× | ≥ 0.8× nginx | pass | ref |')
})

test('order statistics and number formatting', () => {
  assert.equal(median([3, 1, 2]), 2)
  assert.equal(median([1, 2, 3, 4]), 2.5)
  assert.equal(quantile([0, 10], 0.99), 9.9)
  assert.ok(Number.isNaN(median([])))
  const cases: [number | null, string][] = [[84982.47, '84 982'], [635.9, '636'], [12.16, '12.2'], [1.234, '1.23'], [0.432, '0.432'], [0, '0'], [30, '30'], [null, '—']]
  for (const [x, s] of cases) assert.equal(fmt(x), s)
})

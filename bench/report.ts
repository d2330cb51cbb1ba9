/**
 * Results: rows of medians per contender, the candidate/nginx ratio, the target each row is held to, and
 * Tengine's published figure where there is one. Printed as text tables and written to
 * bench/results/latest.json and latest.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fmt, fmtRatio, median, ratio } from './stats.js'
import type { Machine } from './machine.js'

/** A goal printed beside a row; `check` sees the candidate's median and its ratio to nginx. */
export interface Target {
  text: string
  check: (value: number, ratioToNginx: number | null) => boolean | null
}

export interface Row {
  point: string
  metric: string
  /** contender label -> median of the samples (null when not measured) */
  values: Record<string, number | null>
  samples: Record<string, number[]>
  /** contender label -> its median / nginx's median */
  ratios: Record<string, number | null>
  target?: string
  /** contender label -> whether it meets the target (null: not measurable) */
  pass?: Record<string, boolean | null>
  reference?: string
}

export interface Section {
  id: string
  title: string
  /** the column order: nginx first when it takes part */
  labels: string[]
  rows: Row[]
  notes: string[]
}

export const BASELINE = 'nginx'
/** Columns measured for reference (Node's floor), held to no target. */
export const REFERENCES: ReadonlySet<string> = new Set(['relay'])

/** Builds a row from raw samples (one per repetition) per contender. */
export function makeRow(point: string, metric: string, samples: Record<string, number[]>,
  opts: { target?: Target, reference?: string } = {}): Row {
  const values: Record<string, number | null> = {}
  for (const k in samples) {
    const m = median(samples[k]!.filter((x) => Number.isFinite(x)))
    values[k] = Number.isNaN(m) ? null : m
  }
  const ratios: Record<string, number | null> = {}
  const pass: Record<string, boolean | null> = {}
  for (const k in values) {
    if (k === BASELINE) continue
    ratios[k] = ratio(values[k], values[BASELINE])
    if (opts.target && !REFERENCES.has(k)) pass[k] = values[k] == null ? null : opts.target.check(values[k]!, ratios[k]!)
  }
  const row: Row = { point, metric, values, samples, ratios }
  if (opts.target) {
    row.target = opts.target.text
    row.pass = pass
  }
  if (opts.reference) row.reference = opts.reference
  return row
}

/** Target: candidate/nginx ≥ r (higher is better). */
export const ratioAtLeast = (r: number): Target =>
  ({ text: `≥ ${r}× nginx`, check: (_v, q) => (q == null ? null : q >= r) })
/** Target: candidate/nginx ≤ r (lower is better). */
export const ratioAtMost = (r: number): Target =>
  ({ text: `≤ ${r}× nginx`, check: (_v, q) => (q == null ? null : q <= r) })
/** Target: value < limit. */
export const below = (limit: number, unit: string): Target =>
  ({ text: `< ${limit} ${unit}`, check: (v) => v < limit })
/** Target: value ≥ limit. */
export const atLeast = (limit: number, unit: string): Target =>
  ({ text: `≥ ${limit} ${unit}`, check: (v) => v >= limit })

function passText(p: boolean | null | undefined): string {
  return p == null ? '—' : p ? 'pass' : 'FAIL'
}

function columns(s: Section): { head: string[], cells: string[][] } {
  const others = s.labels.filter((l) => l !== BASELINE)
  const withBase = s.labels.includes(BASELINE)
  const head = ['point', 'metric', ...s.labels]
  if (withBase) for (const o of others) head.push(`${o}/nginx`)
  head.push('target', 'pass', 'reference')
  const cells = s.rows.map((r) => {
    const c = [r.point, r.metric, ...s.labels.map((l) => fmt(r.values[l]))]
    if (withBase) for (const o of others) c.push(fmtRatio(r.ratios[o]))
    c.push(r.target ?? '', r.pass ? others.filter((o) => !REFERENCES.has(o)).map((o) => passText(r.pass![o])).join(' ') : '', r.reference ?? '')
    return c
  })
  // Drop trailing columns that no row fills.
  for (let i = head.length - 1; i >= 2 && cells.every((c) => c[i] === ''); i--) {
    head.splice(i, 1)
    for (const c of cells) c.splice(i, 1)
  }
  return { head, cells }
}

/** A section as an aligned plain-text table. */
export function textTable(s: Section): string {
  const { head, cells } = columns(s)
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: string[]): string => c.map((x, i) => (i < 2 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('  ').trimEnd()
  const out = [`== ${s.title}`, line(head), ...cells.map(line)]
  for (const n of s.notes) out.push(`   ${n}`)
  return out.join('\n')
}

/** A section as a Markdown table. */
export function mdTable(s: Section): string {
  const { head, cells } = columns(s)
  // Numbers align right; point, metric, target, pass and reference are text.
  const numeric = (h: string): boolean => s.labels.includes(h) || h.endsWith('/nginx')
  const out = [`### ${s.title}`, '', `| ${head.join(' | ')} |`, `|${head.map((h) => (numeric(h) ? ' ---: ' : ' --- ')).join('|')}|`]
  for (const c of cells) out.push(`| ${c.join(' | ')} |`)
  if (s.notes.length > 0) out.push('', ...s.notes.map((n) => `- ${n}`))
  return out.join('\n')
}

export interface Report {
  date: string
  machine: Machine
  options: Record<string, unknown>
  contenders: { label: string, command: string }[]
  notices: string[]
  sections: Section[]
  /** scenario id -> error message, for scenarios that could not run */
  failures: Record<string, string>
  durationSec: number
}

/** Every row that carries a target, as `[section, point, metric, label, value, target, pass]`. */
export function targetRows(rep: Report): string[][] {
  const out: string[][] = []
  for (const s of rep.sections) {
    for (const r of s.rows) {
      if (!r.pass) continue
      for (const l in r.pass) {
        const v = r.values[l]
        const q = r.ratios[l]
        out.push([s.title, r.point, r.metric, l, `${fmt(v)}${q != null ? ` (${fmtRatio(q)})` : ''}`, r.target!, passText(r.pass[l])])
      }
    }
  }
  return out
}

function machineLines(m: Machine): string[] {
  return [
    `machine: ${m.cores} cores, ${m.cpuModel}, ${m.memoryGiB} GiB, Linux ${m.kernel}, ` +
      `load average ${m.loadAvgAtStart.join(' ')} at start${m.loadAvgAtEnd ? `, ${m.loadAvgAtEnd.join(' ')} at end` : ''}`,
    `versions: Node ${m.node}, nginx ${m.nginx}, wrk ${m.wrk}`,
  ]
}

/** The whole report as text for the console. */
export function textReport(rep: Report): string {
  const out = [...machineLines(rep.machine), ...rep.contenders.map((c) => `${c.label}: ${c.command}`), ...rep.notices, '']
  for (const s of rep.sections) out.push(textTable(s), '')
  for (const id in rep.failures) out.push(`!! ${id}: ${rep.failures[id]}`)
  const t = targetRows(rep)
  if (t.length > 0) {
    out.push('== targets')
    for (const r of t) out.push(`${r[6]!.padEnd(4)}  ${r[0]} / ${r[1]} / ${r[2]}: ${r[3]} ${r[4]}, want ${r[5]}`)
  }
  return out.join('\n')
}

/** The whole report as Markdown. */
export function mdReport(rep: Report): string {
  const out = [`# dyups benchmark — ${rep.date}`, '', ...machineLines(rep.machine).map((l) => `- ${l}`),
    ...rep.contenders.map((c) => `- ${c.label}: \`${c.command}\``), `- options: \`${JSON.stringify(rep.options)}\``,
    `- duration: ${Math.round(rep.durationSec)} s`, ...rep.notices.map((n) => `- ${n}`), '',
    'Values are medians over the repetitions; ratios are candidate / nginx on the same run.', '']
  for (const s of rep.sections) out.push(mdTable(s), '')
  if (Object.keys(rep.failures).length > 0) {
    out.push('## Scenarios that failed', '')
    for (const id in rep.failures) out.push(`- ${id}: \`${rep.failures[id]!.split('\n')[0]}\``)
    out.push('')
  }
  const t = targetRows(rep)
  if (t.length > 0) {
    out.push('## Targets', '', '| scenario | point | metric | contender | value | target | pass |', '| --- | --- | --- | --- | ---: | --- | --- |')
    for (const r of t) out.push(`| ${r.join(' | ')} |`)
  }
  return `${out.join('\n')}\n`
}

/** Writes NAME.json and NAME.md into `dir`; returns their paths. */
export function writeReport(dir: string, rep: Report, name = 'latest'): string[] {
  mkdirSync(dir, { recursive: true })
  const json = join(dir, `${name}.json`)
  const md = join(dir, `${name}.md`)
  writeFileSync(json, `${JSON.stringify(rep, null, 2)}\n`)
  writeFileSync(md, mdReport(rep))
  return [json, md]
}

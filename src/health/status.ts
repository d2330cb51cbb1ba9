/**
 * The check_status page, byte for byte as Tengine's ngx_http_upstream_check_module writes it: html (the default),
 * csv, json or prometheus (Tengine's, not yaoweibin's original module, which has no prometheus), chosen by the
 * directive's argument or by `?format=`, and `?status=up|down` to show only servers in that state. Tengine prints
 * names raw; we escape them where the format needs it (`<` in html, `"` in json and prometheus), so a group name
 * cannot break the page. Not the request path: plain string building.
 */
import type { StatusRow } from './types.js'

export type StatusFormat = 'html' | 'csv' | 'json' | 'prometheus'

export const STATUS_FORMATS: readonly StatusFormat[] = ['html', 'csv', 'json', 'prometheus']

export const STATUS_DOWN = 1
export const STATUS_UP = 2

export interface StatusQuery {
  readonly format: StatusFormat
  /** STATUS_DOWN and/or STATUS_UP; 0 shows every server. Down wins when both are asked for, as in Tengine. */
  readonly flag: number
}

const CONTENT_TYPES: Record<StatusFormat, string> = { html: 'text/html', csv: 'text/plain', json: 'application/json', prometheus: 'text/plain' }

/** nginx's ngx_http_arg: the value of the first `name=` argument (name case-insensitive), raw; null if absent. */
export function queryArg(args: string, name: string): string | null {
  const lower = args.toLowerCase()
  const want = name.toLowerCase() + '='
  for (let i = lower.indexOf(want); i >= 0; i = lower.indexOf(want, i + 1)) {
    if (i !== 0 && args[i - 1] !== '&') continue
    const start = i + want.length
    const end = args.indexOf('&', start)
    return args.slice(start, end < 0 ? args.length : end)
  }
  return null
}

/**
 * Reads `?format=` and `?status=` from the query string. A bad value is ignored (the default stays), and named in
 * `errors` for the log, as Tengine logs `http upstream check, bad argument`.
 */
export function parseStatusQuery(args: string, dflt: StatusFormat): { query: StatusQuery; errors: string[] } {
  let format = dflt
  let flag = 0
  const errors: string[] = []
  const f = queryArg(args, 'format')
  if (f !== null) {
    if ((STATUS_FORMATS as readonly string[]).includes(f)) format = f as StatusFormat
    else errors.push(f)
  }
  const s = queryArg(args, 'status')
  if (s !== null) {
    const v = s.toLowerCase()
    if (v === 'down') flag |= STATUS_DOWN
    else if (v === 'up') flag |= STATUS_UP
    else errors.push(s)
  }
  return { query: { format, flag }, errors }
}

const shown = (r: StatusRow, flag: number): boolean =>
  flag & STATUS_DOWN ? r.down : flag & STATUS_UP ? !r.down : true

/** The page body and its Content-Type. `generation`: Tengine's configuration generation (1 until a reload). */
export function renderStatus(rows: readonly StatusRow[], q: StatusQuery, generation = 1): { body: string; contentType: string } {
  const list = rows.filter((r) => shown(r, q.flag))
  const contentType = CONTENT_TYPES[q.format]
  switch (q.format) {
    case 'csv':
      return { body: list.map((r) => `${r.index},${r.upstream},${r.name},${state(r)},${r.rise},${r.fall},${r.type},${r.port}\n`).join(''), contentType }
    case 'json':
      return { body: json(list, generation), contentType }
    case 'prometheus':
      return { body: prometheus(list, generation), contentType }
    default:
      return { body: html(list, generation), contentType }
  }
}

const state = (r: StatusRow): string => (r.down ? 'down' : 'up')

function html(list: readonly StatusRow[], generation: number): string {
  let out =
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN\n' +
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n' +
    '<html xmlns="http://www.w3.org/1999/xhtml">\n' +
    '<head>\n' +
    '  <title>Nginx http upstream check status</title>\n' +
    '</head>\n' +
    '<body>\n' +
    '<h1>Nginx http upstream check status</h1>\n' +
    `<h2>Check upstream server number: ${list.length}, generation: ${generation}</h2>\n` +
    '<table style="background-color:white" cellspacing="0"        cellpadding="3" border="1">\n' +
    '  <tr bgcolor="#C0C0C0">\n' +
    '    <th>Index</th>\n' +
    '    <th>Upstream</th>\n' +
    '    <th>Name</th>\n' +
    '    <th>Status</th>\n' +
    '    <th>Rise counts</th>\n' +
    '    <th>Fall counts</th>\n' +
    '    <th>Check type</th>\n' +
    '    <th>Check port</th>\n' +
    '  </tr>\n'
  for (const r of list) {
    out +=
      `  <tr${r.down ? ' bgcolor="#FF0000"' : ''}>\n` +
      `    <td>${r.index}</td>\n` +
      `    <td>${escapeHtml(r.upstream)}</td>\n` +
      `    <td>${escapeHtml(r.name)}</td>\n` +
      `    <td>${state(r)}</td>\n` +
      `    <td>${r.rise}</td>\n` +
      `    <td>${r.fall}</td>\n` +
      `    <td>${r.type}</td>\n` +
      `    <td>${r.port}</td>\n` +
      '  </tr>\n'
  }
  return out + '</table>\n</body>\n</html>\n'
}

function json(list: readonly StatusRow[], generation: number): string {
  let downs = 0
  for (const r of list) if (r.down) downs++
  let out =
    '{"servers": {\n' +
    `  "total": ${list.length},\n` +
    `  "up": ${list.length - downs},\n` +
    `  "down": ${downs},\n` +
    `  "generation": ${generation},\n` +
    '  "server": [\n'
  for (let i = 0; i < list.length; i++) {
    const r = list[i]!
    out +=
      `    {"index": ${r.index}, "upstream": "${escapeJson(r.upstream)}", "name": "${escapeJson(r.name)}", ` +
      `"status": "${state(r)}", "rise": ${r.rise}, "fall": ${r.fall}, "type": "${r.type}", "port": ${r.port}}` +
      `${i === list.length - 1 ? '' : ','}\n`
  }
  return out + '  ]\n}}\n'
}

/**
 * Tengine's prometheus format: the counts, then each server's rise and fall counters and whether it is up, labelled
 * with its index, group, address, state (not on `active`), check type and check port.
 */
function prometheus(list: readonly StatusRow[], generation: number): string {
  let downs = 0
  for (const r of list) if (r.down) downs++
  let out =
    '# HELP nginx_upstream_count_total Nginx total number of servers\n' +
    '# TYPE nginx_upstream_count_total gauge\n' +
    `nginx_upstream_count_total ${list.length}\n` +
    '# HELP nginx_upstream_count_up Nginx total number of servers that are UP\n' +
    '# TYPE nginx_upstream_count_up gauge\n' +
    `nginx_upstream_count_up ${list.length - downs}\n` +
    '# HELP nginx_upstream_count_down Nginx total number of servers that are DOWN\n' +
    '# TYPE nginx_upstream_count_down gauge\n' +
    `nginx_upstream_count_down ${downs}\n` +
    '# HELP nginx_upstream_count_generation Nginx generation\n' +
    '# TYPE nginx_upstream_count_generation gauge\n' +
    `nginx_upstream_count_generation ${generation}\n`
  const labels = (r: StatusRow, status: boolean): string =>
    `index="${r.index}",upstream="${escapeLabel(r.upstream)}",name="${escapeLabel(r.name)}",${status ? `status="${state(r)}",` : ''}type="${r.type}",port="${r.port}"`
  out += '# HELP nginx_upstream_server_rise Nginx rise counter\n# TYPE nginx_upstream_server_rise counter\n'
  for (const r of list) out += `nginx_upstream_server_rise{${labels(r, true)}} ${r.rise}\n`
  out += '# HELP nginx_upstream_server_fall Nginx fall counter\n# TYPE nginx_upstream_server_fall counter\n'
  for (const r of list) out += `nginx_upstream_server_fall{${labels(r, true)}} ${r.fall}\n`
  out += '# HELP nginx_upstream_server_active Nginx active 1 for UP / 0 for DOWN\n# TYPE nginx_upstream_server_active gauge\n'
  for (const r of list) out += `nginx_upstream_server_active{${labels(r, false)}} ${r.down ? 0 : 1}\n`
  return out
}

/** A Prometheus label value: backslash, double quote and line feed escaped. */
function escapeLabel(s: string): string {
  return s.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'))
}

/** JSON string escapes for `"`, `\` and control bytes; other bytes pass through as they are (latin1). */
function escapeJson(s: string): string {
  return s.replace(/["\\\x00-\x1f\x7f]/g, (c) => {
    if (c === '"' || c === '\\') return `\\${c}`
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
  })
}

/**
 * The exact bytes dyups shows for groups: `/list`, `/detail`, `/upstream/NAME` (docs/api.md#get-reading-the-table), and a group as a
 * plain nginx `upstream NAME { ... }` block for the persistence file, which nginx and Tengine also accept.
 */
import { parseAddress } from './address.js'
import { serverMarker } from './markers.js'
import { defaultExpectAlive, HTTP_DEFAULT_SEND } from './check.js'
import type { CheckSpec, Server, UpstreamGroup } from './types.js'

/** `/list`: each name followed by `\n`. */
export function renderList(groups: Iterable<UpstreamGroup>): string {
  let out = ''
  for (const g of groups) out += g.name + '\n'
  return out
}

/**
 * `/detail`: per group its name, one line per server line (a host name shows its first address), then an empty
 * line: `NAME\nserver ADDR weight=W max_conns=C max_fails=F fail_timeout=T backup=B down=D\n...\n`.
 */
export function renderDetail(groups: Iterable<UpstreamGroup>): string {
  let out = ''
  for (const g of groups) {
    out += g.name + '\n'
    const ss = g.servers
    for (let i = 0; i < ss.length; i++) {
      const s = ss[i]!
      if (i > 0 && ss[i - 1]!.entry === s.entry) continue
      out +=
        `server ${s.addr} weight=${s.weight} max_conns=${s.maxConns} max_fails=${s.maxFails}` +
        ` fail_timeout=${s.failTimeout} backup=${s.backup ? 1 : 0} down=${s.down ? 1 : 0}\n`
    }
    out += '\n'
  }
  return out
}

/** `/upstream/NAME`: `server ADDR\n` per server line, nothing else. */
export function renderServers(group: UpstreamGroup): string {
  let out = ''
  const ss = group.servers
  for (let i = 0; i < ss.length; i++) {
    if (i > 0 && ss[i - 1]!.entry === ss[i]!.entry) continue
    out += `server ${ss[i]!.addr}\n`
  }
  return out
}

/**
 * The group as an nginx `upstream` block: the method, one `server` line per peer with every parameter that is
 * not the default, keepalive and check settings. Parsing it and building it again gives an equal group, except
 * that peers resolved from a host name are written as their addresses (the file must not depend on DNS at start),
 * so they come back as separate server lines named by address.
 */
export function renderUpstreamBlock(group: UpstreamGroup): string {
  // Stable ids and drains ride on comments nginx skips (markers.ts), so the block stays valid for nginx.
  let out = `upstream ${quoteArg(group.name)} {${group.nextId !== undefined ? ` # dyups: next_id=${group.nextId}` : ''}\n`
  const p = group.policy
  switch (p.name) {
    case 'ip_hash':
    case 'least_conn':
      out += `    ${p.name};\n`
      break
    case 'hash':
      out += `    hash ${quoteArg(p.key ?? '')}${p.consistent ? ' consistent' : ''};\n`
      break
    case 'consistent_hash':
      out += `    consistent_hash ${quoteArg(p.key ?? '')};\n`
      break
    case 'random':
      out += p.two ? '    random two;\n' : '    random;\n'
      break
  }
  for (const s of group.servers) out += `    server ${serverLine(s)};${serverMarker(s)}\n`

  const k = group.keepalive
  if (k.connections > 0) out += `    keepalive ${k.connections};\n`
  if (k.timeout !== 60000) out += `    keepalive_timeout ${k.timeout}ms;\n`
  if (k.requests !== 1000) out += `    keepalive_requests ${k.requests};\n`
  if (k.time !== 3600000) out += `    keepalive_time ${k.time}ms;\n`
  if (group.check !== null) out += checkLines(group.check)
  return out + '}\n'
}

function serverLine(s: Server): string {
  // A literal address is written as it was typed, so `hash ... consistent` (which hashes the written form) keeps
  // its points across a restart; a resolved name is written as the address it resolved to.
  let line = quoteArg(parseAddress(s.name).kind === 'name' ? s.addr : s.name)
  if (s.weight !== 1) line += ` weight=${s.weight}`
  if (s.maxFails !== 1) line += ` max_fails=${s.maxFails}`
  if (s.failTimeout !== 10) line += ` fail_timeout=${s.failTimeout}s`
  if (s.maxConns !== 0) line += ` max_conns=${s.maxConns}`
  if (s.slowStart !== 0) line += ` slow_start=${s.slowStart}s`
  if (s.backup) line += ' backup'
  if (s.down) line += ' down'
  return line
}

/** A check spec as its `check` and `check_*` lines (each indented, each ending in a newline). */
export function checkLines(c: CheckSpec): string {
  let out =
    `    check interval=${c.interval} rise=${c.rise} fall=${c.fall} timeout=${c.timeout}` +
    ` default_down=${c.defaultDown} type=${c.type}`
  if (c.port !== 0) out += ` port=${c.port}`
  if (c.unique) out += ' unique=true'
  out += ';\n'
  if (c.send !== (c.type === 'http' ? HTTP_DEFAULT_SEND : '')) out += `    check_http_send ${quoteArg(c.send)};\n`
  const alive = defaultExpectAlive(c.type)
  if (c.expectAlive.length !== alive.length || c.expectAlive.some((x, i) => x !== alive[i])) {
    out += `    check_http_expect_alive ${c.expectAlive.join(' ')};\n`
  }
  if (c.keepaliveRequests !== 1) out += `    check_keepalive_requests ${c.keepaliveRequests};\n`
  for (const [name, value] of c.fastcgiParams) out += `    check_fastcgi_param ${quoteArg(name)} ${quoteArg(value)};\n`
  return out
}

/**
 * One nginx configuration argument: bare when nginx's lexer reads it back unchanged, otherwise in double quotes
 * with `\"`, `\\`, `\n`, `\r`, `\t` escaped (the escapes ngx_conf_read_token undoes).
 */
export function quoteArg(s: string): string {
  if (s.length > 0 && !needsQuotes(s)) return s
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!
    switch (ch) {
      case '"':
        out += '\\"'
        break
      case '\\':
        out += '\\\\'
        break
      case '\n':
        out += '\\n'
        break
      case '\r':
        out += '\\r'
        break
      case '\t':
        out += '\\t'
        break
      default:
        out += ch
    }
  }
  return out + '"'
}

function needsQuotes(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c <= 0x20 || c === 0x7f) return true
    switch (c) {
      case 0x22: // "
      case 0x27: // '
      case 0x7b: // {
      case 0x7d: // }
      case 0x3b: // ;
      case 0x23: // #
      case 0x5c: // \
        return true
    }
  }
  return false
}

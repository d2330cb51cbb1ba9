import type { Context, Directive } from './types.js'
import { Registry, configError, type CheckContext, type DirectiveSpec } from './registry.js'
import { parseExpires, parseFlag, parseNumber, parseOffset, parseSize, parseTime } from './values.js'
import { isCidr, parseAddress } from './addresses.js'
import { checkListen, checkSslListens } from './listen.js'
import { UNSUPPORTED } from './unsupported.js'
import { parseCluster } from './cluster.js'

// Contexts as nginx's NGX_*_CONF flags combine them. `if` stands for nginx's "if in location"; an `if` at the server
// level may hold rewrite directives only, which compiling the request path checks (src/http/modules/rewrite.ts).
const MAIN: Context[] = ['main']
const EVENTS: Context[] = ['events']
const HTTP: Context[] = ['http']
const SRV: Context[] = ['server']
const LOC: Context[] = ['location']
const UPS: Context[] = ['upstream']
const HS: Context[] = ['http', 'server']
const HSL: Context[] = ['http', 'server', 'location']
const HSLI: Context[] = ['http', 'server', 'location', 'if']
const LI: Context[] = ['location', 'if']
const ANY: Context[] = ['main', 'events', 'http', 'server', 'location', 'upstream', 'if', 'limit_except', 'map', 'types']

type Extra = Omit<Partial<DirectiveSpec>, 'name' | 'contexts'>
const MORE = Infinity

/** `"x" directive invalid value`: what nginx prints when a slot handler returns "invalid value". */
const invalidValue = (d: Directive) => configError(d, `"${d.name}" directive invalid value`)

function spec(name: string, contexts: Context[], args: DirectiveSpec['args'], extra: Extra = {}): DirectiveSpec {
  return { name, contexts, args, ...extra }
}

/** ngx_conf_set_flag_slot */
const flag = (name: string, contexts: Context[], extra: Extra = {}): DirectiveSpec =>
  spec(name, contexts, 1, { unique: true, validate: (d) => void parseFlag(d), ...extra })

/** ngx_conf_set_msec_slot */
const msec = (name: string, contexts: Context[], extra: Extra = {}): DirectiveSpec =>
  spec(name, contexts, 1, {
    unique: true,
    validate: (d) => {
      if (parseTime(d.args[0], 'ms') === null) throw invalidValue(d)
    },
    ...extra,
  })

/** ngx_conf_set_sec_slot */
const sec = (name: string, contexts: Context[], extra: Extra = {}): DirectiveSpec =>
  spec(name, contexts, 1, {
    unique: true,
    validate: (d) => {
      if (parseTime(d.args[0], 's') === null) throw invalidValue(d)
    },
    ...extra,
  })

/** ngx_conf_set_size_slot */
const size = (name: string, contexts: Context[], extra: Extra = {}): DirectiveSpec =>
  spec(name, contexts, 1, {
    unique: true,
    validate: (d) => {
      if (parseSize(d.args[0]) === null) throw invalidValue(d)
    },
    ...extra,
  })

/** ngx_conf_set_off_slot */
const offset = (name: string, contexts: Context[], extra: Extra = {}): DirectiveSpec =>
  spec(name, contexts, 1, {
    unique: true,
    validate: (d) => {
      if (parseOffset(d.args[0]) === null) throw invalidValue(d)
    },
    ...extra,
  })

/** ngx_conf_set_num_slot */
const num = (name: string, contexts: Context[], extra: Extra = {}): DirectiveSpec =>
  spec(name, contexts, 1, {
    unique: true,
    validate: (d) => {
      if (parseNumber(d.args[0]) === null) throw configError(d, `"${d.name}" directive invalid number`)
    },
    ...extra,
  })

/** ngx_conf_set_str_slot */
const str = (name: string, contexts: Context[], extra: Extra = {}): DirectiveSpec =>
  spec(name, contexts, 1, { unique: true, ...extra })

/** ngx_conf_set_enum_slot: one of `values`, any case. */
const oneOf = (name: string, contexts: Context[], values: string[], extra: Extra = {}): DirectiveSpec =>
  spec(name, contexts, 1, {
    unique: true,
    validate: (d) => {
      if (!values.includes(d.args[0].toLowerCase())) throw configError(d, `invalid value "${d.args[0]}"`)
    },
    ...extra,
  })

/** ngx_conf_set_bitmask_slot: one or more of `values`, any case. */
const someOf = (name: string, contexts: Context[], values: string[], extra: Extra = {}): DirectiveSpec =>
  spec(name, contexts, [1, MORE], {
    validate: (d) => {
      for (const a of d.args) if (!values.includes(a.toLowerCase())) throw configError(d, `invalid value "${a}"`)
    },
    ...extra,
  })

/** ngx_conf_set_bufs_slot: `number size`, both non-zero. */
const bufs = (name: string, contexts: Context[], extra: Extra = {}): DirectiveSpec =>
  spec(name, contexts, 2, {
    unique: true,
    validate: (d) => {
      if (!(parseNumber(d.args[0])! > 0) || !(parseSize(d.args[1])! > 0)) throw invalidValue(d)
    },
    ...extra,
  })

const noop: Extra = { noop: true }

/** ngx_conf_set_path_slot: `levels` are 1 to 3 numbers of 1 or 2 digits. */
function checkTempPath(d: Directive): void {
  for (const a of d.args.slice(1)) {
    if (!/^[12]$/.test(a)) throw invalidValue(d)
  }
}

/** nginx 1.19.7 made these obsolete: each is accepted with a warning naming the directive whose value applies. */
export const OBSOLETE_HTTP2: readonly (readonly [string, string])[] = [
  ['http2_recv_timeout', 'client_header_timeout'],
  ['http2_idle_timeout', 'keepalive_timeout'],
  ['http2_max_field_size', 'large_client_header_buffers'],
  ['http2_max_header_size', 'large_client_header_buffers'],
  ['http2_max_requests', 'keepalive_requests'],
]

// ---- value checks of single directives -------------------------------------------------------------------------

const LOG_LEVELS = ['emerg', 'alert', 'crit', 'error', 'warn', 'notice', 'info', 'debug']
const DEBUG_LEVELS = ['debug_core', 'debug_alloc', 'debug_mutex', 'debug_event', 'debug_http', 'debug_mail', 'debug_stream']

/** ngx_log_set_levels */
function checkErrorLog(d: Directive): void {
  let level = false
  let debug = false
  for (const a of d.args.slice(1)) {
    if (LOG_LEVELS.includes(a)) {
      if (level) throw configError(d, `duplicate log level "${a}"`)
      level = true
    } else if (DEBUG_LEVELS.includes(a)) {
      if (level && !debug) throw configError(d, `invalid log level "${a}"`)
      debug = true
    } else {
      throw configError(d, `invalid log level "${a}"`)
    }
  }
}

/** ngx_http_core_server_name */
function checkServerName(d: Directive): void {
  for (const n of d.args) {
    if ((n[0] === '*' && (n.length < 3 || n[1] !== '.')) || (n[0] === '.' && n.length < 2)) {
      throw configError(d, `server name "${n}" is invalid`)
    }
  }
}

interface LocationInfo {
  readonly name: string
  readonly exact: boolean
  readonly named: boolean
  readonly regex: boolean
}

/** How nginx reads a location's arguments (ngx_http_core_location). */
export function locationInfo(d: Directive): LocationInfo {
  if (d.args.length === 2) {
    const [mod, name] = d.args
    if (mod === '=') return { name, exact: true, named: false, regex: false }
    if (mod === '^~') return { name, exact: false, named: false, regex: false }
    if (mod === '~' || mod === '~*') return { name, exact: false, named: false, regex: true }
    throw configError(d, `invalid location modifier "${mod}"`)
  }
  const a = d.args[0]
  if (a.startsWith('=')) return { name: a.slice(1), exact: true, named: false, regex: false }
  if (a.startsWith('^~')) return { name: a.slice(2), exact: false, named: false, regex: false }
  if (a.startsWith('~*')) return { name: a.slice(2), exact: false, named: false, regex: true }
  if (a.startsWith('~')) return { name: a.slice(1), exact: false, named: false, regex: true }
  return { name: a, exact: false, named: a.startsWith('@'), regex: false }
}

function checkLocation(d: Directive, cx: CheckContext): void {
  const loc = locationInfo(d)
  const parent = cx.parents[cx.parents.length - 1]
  if (parent === undefined || parent.name !== 'location') return
  const outer = locationInfo(parent)
  if (outer.exact) throw configError(d, `location "${loc.name}" cannot be inside the exact location "${outer.name}"`)
  if (outer.named) throw configError(d, `location "${loc.name}" cannot be inside the named location "${outer.name}"`)
  if (loc.named) throw configError(d, `named location "${loc.name}" can be on the server level only`)
  if (!loc.regex && !loc.name.startsWith(outer.name)) {
    throw configError(d, `location "${loc.name}" is outside location "${outer.name}"`)
  }
}

/** ngx_http_rewrite_return */
function checkReturn(d: Directive): void {
  const code = parseNumber(d.args[0])
  if (code === null) {
    const a = d.args[0]
    const url = a.startsWith('http://') || a.startsWith('https://') || a.startsWith('$scheme')
    if (d.args.length === 1 && url) return
    throw configError(d, `invalid return code "${a}"`)
  }
  if (code > 999) throw configError(d, `invalid return code "${d.args[0]}"`)
}

/** ngx_http_rewrite: the flag, when given, is one of nginx's four. */
function checkRewriteFlag(d: Directive): void {
  const f = d.args[2]
  if (f !== undefined && f !== 'last' && f !== 'break' && f !== 'redirect' && f !== 'permanent') {
    throw configError(d, `invalid parameter "${f}"`)
  }
}

/** ngx_http_core_error_page */
function checkErrorPage(d: Directive): void {
  const a = d.args
  let codes = a.length - 1
  const last = a[a.length - 2]
  if (last.startsWith('=')) {
    if (a.length === 2 || (last.length > 1 && parseNumber(last.slice(1)) === null)) {
      throw configError(d, `invalid value "${last}"`)
    }
    codes--
  }
  for (let i = 0; i < codes; i++) {
    const code = parseNumber(a[i])
    if (code === null || code === 499) throw configError(d, `invalid value "${a[i]}"`)
    if (code < 300 || code > 599) throw configError(d, `value "${a[i]}" must be between 300 and 599`)
  }
}

/** The methods nginx knows (ngx_methods_names), which `limit_except` may list. */
export const LIMIT_METHODS: readonly string[] = [
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'MKCOL', 'COPY', 'MOVE', 'OPTIONS', 'PROPFIND', 'PROPPATCH', 'LOCK', 'UNLOCK', 'PATCH',
]

/** ngx_http_core_limit_except: known methods, any case. */
function checkLimitExcept(d: Directive): void {
  for (const a of d.args) if (!LIMIT_METHODS.includes(a.toUpperCase())) throw configError(d, `invalid method "${a}"`)
}

/** ngx_http_realip_from: an address or CIDR (nginx also resolves a host name; dyups reads addresses only). */
function checkRealIpFrom(d: Directive): void {
  const a = d.args[0]
  if (a === 'unix:' || isCidr(a)) return
  throw configError(d, `host name "${a}" in "set_real_ip_from" is not supported by dyups, use addresses`)
}

/** ngx_conf_set_num_slot with nginx's bounds for limit_req_status / limit_conn_status. */
function checkLimitStatus(d: Directive): void {
  const v = d.args[0]
  if (!/^\d+$/.test(v)) throw invalidValue(d)
  const n = Number(v)
  if (n < 400 || n > 599) throw configError(d, 'value must be between 400 and 599')
}

/** ngx_http_access_rule */
function checkAccess(d: Directive): void {
  const a = d.args[0]
  if (a === 'all' || a === 'unix:') return
  if (!isCidr(a)) throw configError(d, `invalid parameter "${a}"`)
}

const LOG_FORMATS = 'log_format names'

function logFormats(cx: CheckContext): Set<string> {
  let s = cx.state.get(LOG_FORMATS) as Set<string> | undefined
  if (s === undefined) {
    s = new Set(['combined'])
    cx.state.set(LOG_FORMATS, s)
  }
  return s
}

/** ngx_http_log_set_format */
function checkLogFormat(d: Directive, cx: CheckContext): void {
  const formats = logFormats(cx)
  if (formats.has(d.args[0])) throw configError(d, `duplicate "log_format" name "${d.args[0]}"`)
  formats.add(d.args[0])
  const esc = d.args[1]
  if (esc.startsWith('escape=') && !['default', 'json', 'none'].includes(esc.slice(7))) {
    throw configError(d, `unknown log format escaping "${esc.slice(7)}"`)
  }
}

/** ngx_http_log_set_log */
function checkAccessLog(d: Directive, cx: CheckContext): void {
  const a = d.args
  if (a[0] === 'off') {
    if (a.length > 1) throw configError(d, `invalid parameter "${a[1]}"`)
    return
  }
  const format = a[1] ?? 'combined'
  if (!logFormats(cx).has(format)) throw configError(d, `unknown log format "${format}"`)
  let buffer = false
  let flush = false
  for (const p of a.slice(2)) {
    if (p.startsWith('buffer=')) {
      if (!(parseSize(p.slice(7))! > 0)) throw configError(d, `invalid buffer size "${p.slice(7)}"`)
      buffer = true
    } else if (p.startsWith('flush=')) {
      if (!(parseTime(p.slice(6), 'ms')! > 0)) throw configError(d, `invalid flush time "${p.slice(6)}"`)
      flush = true
    } else if (p === 'gzip' || p.startsWith('gzip=')) {
      const level = p === 'gzip' ? 1 : parseNumber(p.slice(5))
      if (level === null || level < 1 || level > 9) throw configError(d, `invalid compression level "${p.slice(5)}"`)
      buffer = true
    } else if (!p.startsWith('if=')) {
      throw configError(d, `invalid parameter "${p}"`)
    }
  }
  if (flush && !buffer) throw configError(d, `no buffer is defined for access_log "${a[0]}"`)
}

/** ngx_http_headers_add */
function checkAddHeader(d: Directive): void {
  if (d.args.length === 3 && d.args[2] !== 'always') throw configError(d, `invalid parameter "${d.args[2]}"`)
}

/** ngx_resolver_create */
function checkResolver(d: Directive): void {
  let ipv4 = true
  let ipv6 = true
  for (const a of d.args) {
    if (a.startsWith('valid=')) {
      if (parseTime(a.slice(6), 's') === null) throw configError(d, `invalid parameter: ${a}`)
    } else if (a.startsWith('ipv4=') || a.startsWith('ipv6=')) {
      const v = a.slice(5)
      if (v !== 'on' && v !== 'off') throw configError(d, `invalid parameter: ${a}`)
      if (a[3] === '4') ipv4 = v === 'on'
      else ipv6 = v === 'on'
    } else if (!a.startsWith('status_zone=')) {
      const addr = parseAddress(a)
      if (typeof addr === 'string') throw configError(d, `${addr} in resolver "${a}"`)
    }
  }
  if (!ipv4 && !ipv6) throw configError(d, '"ipv4" and "ipv6" cannot both be "off"')
}

/** ngx_http_proxy_pass: literal URLs only; with variables the URL is checked per request. */
function checkProxyPass(d: Directive): void {
  const url = d.args[0]
  if (url.includes('$')) return
  const lower = url.toLowerCase()
  const skip = lower.startsWith('http://') ? 7 : lower.startsWith('https://') ? 8 : 0
  if (skip === 0) throw configError(d, 'invalid URL prefix')
  const rest = url.slice(skip)
  const addr = parseAddress(rest, { uriPart: true })
  if (typeof addr === 'string' && addr !== 'host not found') throw configError(d, `${addr} in upstream "${rest}"`)
}

/** ngx_http_core_pool_size on 64-bit: NGX_MIN_POOL_SIZE (112) and NGX_POOL_ALIGNMENT (16). */
function checkPoolSize(d: Directive): void {
  const v = parseSize(d.args[0]!)
  if (v === null) throw invalidValue(d)
  if (v < 112) throw configError(d, 'the pool size must be no less than 112')
  if (v % 16 !== 0) throw configError(d, 'the pool size must be a multiple of 16')
}

/** ngx_http_log_open_file_cache: `max=N [inactive=T] [min_uses=N] [valid=T]` or `off`. */
function checkOpenLogFileCache(d: Directive): void {
  let max = 0
  let off = false
  for (const a of d.args) {
    const eq = a.indexOf('=')
    const key = eq < 0 ? a : a.slice(0, eq + 1)
    const v = eq < 0 ? '' : a.slice(eq + 1)
    const n = /^\d+$/.test(v) ? Number(v) : -1
    if (key === 'max=' && n >= 0) max = n
    else if (key === 'min_uses=' && n >= 0) continue
    else if ((key === 'inactive=' || key === 'valid=') && parseTime(v, 's') !== null) continue
    else if (a === 'off') off = true
    else throw configError(d, `invalid "open_log_file_cache" parameter "${a}"`)
  }
  if (!off && max === 0) throw configError(d, '"open_log_file_cache" must have "max" parameter')
}

/** ngx_http_proxy_cookie_domain/_path: one argument must be `off`. */
function checkCookieRule(d: Directive): void {
  if (d.args.length === 1 && d.args[0] !== 'off') throw configError(d, `invalid parameter "${d.args[0]}"`)
}

function checkProxyRedirect(d: Directive): void {
  if (d.args.length === 1 && !['off', 'default', 'false'].includes(d.args[0])) {
    throw configError(d, `invalid parameter "${d.args[0]}"`)
  }
}

/** ngx_http_ssl_session_cache */
function checkSessionCache(d: Directive): void {
  for (const a of d.args) {
    if (a === 'off' || a === 'none' || a === 'builtin') continue
    const builtin = /^builtin:(.*)$/.exec(a)
    if (builtin !== null && parseNumber(builtin[1]) !== null) continue
    const shared = /^shared:([^:]+):(.*)$/.exec(a)
    if (shared !== null && parseSize(shared[2]) !== null && parseSize(shared[2])! >= 8 * 4096) continue
    throw configError(d, `invalid session cache "${a}"`)
  }
}

function checkVariableName(d: Directive, arg: string): void {
  if (!arg.startsWith('$')) throw configError(d, `invalid variable name "${arg}"`)
}

/** ngx_http_map entries: `key value`, or `hostnames;` / `volatile;`. */
function checkMapEntry(e: Directive): void {
  if (e.args.length === 0 && (e.name === 'hostnames' || e.name === 'volatile')) return
  if (e.args.length !== 1) throw configError(e, 'invalid number of the map parameters')
}

function checkIndex(d: Directive): void {
  // nginx names the first argument whichever one is empty.
  for (const a of d.args) if (a.length === 0) throw configError(d, `index "${d.args[0]}" in "index" directive is invalid`)
}

/** ngx_http_disable_symlinks: `off`, `on` or `if_not_owner` [`from=part`]; dyups follows links, so only `off`. */
function checkDisableSymlinks(d: Directive): void {
  const v = d.args[0]
  if (v !== 'off' && v !== 'on' && v !== 'if_not_owner') throw configError(d, `invalid parameter "${v}"`)
  if (d.args.length === 2 && !d.args[1].startsWith('from=')) throw configError(d, `invalid parameter "${d.args[1]}"`)
  if (v !== 'off') throw configError(d, `"disable_symlinks ${v}" is not supported by dyups yet`)
  if (d.args.length === 2) throw configError(d, '"from=" cannot be used with "off" parameter')
}

/** ngx_conf_check_num_bounds after ngx_conf_set_num_slot */
const bounded = (low: number, high: number) => (d: Directive) => {
  const n = parseNumber(d.args[0])
  if (n === null) throw configError(d, `"${d.name}" directive invalid number`)
  if (n < low || n > high) throw configError(d, `value must be between ${low} and ${high}`)
}

// ---- upstream block ---------------------------------------------------------------------------------------------

function checkKeepalive(d: Directive): void {
  if (!(parseNumber(d.args[0])! > 0)) throw configError(d, `invalid value "${d.args[0]}" in "keepalive" directive`)
}

function checkHash(d: Directive): void {
  if (d.args.length === 2 && d.args[1] !== 'consistent') throw configError(d, `invalid parameter "${d.args[1]}"`)
}

function checkRandom(d: Directive): void {
  if (d.args.length >= 1 && d.args[0] !== 'two') throw configError(d, `invalid parameter "${d.args[0]}"`)
  if (d.args.length === 2 && d.args[1] !== 'least_conn') throw configError(d, `invalid parameter "${d.args[1]}"`)
}

/** ngx_http_upstream_zone: at least 8 pages. */
/** ngx_http_headers_expires */
function checkExpires(d: Directive): void {
  if (d.args.some((a) => a.includes('$'))) throw configError(d, '"expires" with variables is not supported by dyups yet')
  const r = parseExpires(d.args)
  if (typeof r === 'string') throw configError(d, `"expires" directive ${r}`)
}

function checkZone(d: Directive): void {
  if (d.args.length < 2) return
  const n = parseSize(d.args[1])
  if (n === null) throw configError(d, `invalid zone size "${d.args[1]}"`)
  if (n < 8 * 4096) throw configError(d, `zone "${d.args[0]}" is too small`)
}

function checkUpstreamServers(d: Directive): void {
  if (!d.block!.some((c) => c.name === 'server')) {
    throw configError(d, 'no servers are inside upstream', d.endLine ?? d.line)
  }
}

function checkJsImport(d: Directive): void {
  if (d.args.length === 2) throw configError(d, `invalid number of arguments in "js_import" directive`)
  if (d.args.length === 3 && d.args[1] !== 'from') throw configError(d, `invalid parameter "${d.args[1]}"`)
}

function checkCheckStatus(d: Directive): void {
  if (d.args.length === 1 && !['html', 'csv', 'json', 'prometheus'].includes(d.args[0])) {
    throw configError(d, `invalid check format "${d.args[0]}"`)
  }
}

// ---- the table ----------------------------------------------------------------------------------------------------

/** Every directive dyups accepts, in documentation order. */
export const DIRECTIVES: readonly DirectiveSpec[] = [
  // main and events
  flag('daemon', MAIN, { default: 'on', docs: 'Run in the background.' }),
  flag('master_process', MAIN, { default: 'on', docs: '`off` runs the primary and one worker in one process.' }),
  spec('worker_processes', MAIN, 1, {
    unique: true,
    default: '1',
    docs: 'Number of worker processes, or `auto` (one per CPU core).',
    validate: (d) => {
      if (d.args[0] !== 'auto' && parseNumber(d.args[0]) === null) throw invalidValue(d)
    },
  }),
  spec('error_log', [...MAIN, ...HSL], [1, MORE], {
    default: 'logs/error.log error',
    docs: 'Error log file (or `stderr`) and the lowest level logged.',
    validate: checkErrorLog,
  }),
  str('pid', MAIN, { default: 'logs/dyups.pid', docs: 'File holding the primary process id.' }),
  spec('events', MAIN, 0, { block: 'events', unique: true, docs: 'Connection processing settings.' }),
  spec('worker_connections', EVENTS, 1, {
    unique: true,
    default: '512',
    docs: 'Client connections one worker keeps open at most; beyond it a new connection is closed at once, with an alert.',
    validate: (d) => {
      if (parseNumber(d.args[0]) === null) throw configError(d, `invalid number "${d.args[0]}"`)
    },
  }),
  spec('include', ANY, 1, { docs: 'Include files (globs allowed) at this point of the configuration.' }),
  spec('http', MAIN, 0, { block: 'http', unique: true, docs: 'The HTTP server.', close: checkSslListens }),

  // http, server, location
  spec('server', HTTP, 0, { block: 'server', docs: 'A virtual server.' }),
  spec('listen', SRV, [1, MORE], {
    default: '*:80',
    docs: 'Address and port to accept on: `port`, `addr:port`, `[::]:port`, `unix:path`, with parameters.',
    validate: checkListen,
  }),
  spec('server_name', SRV, [1, MORE], { default: '""', docs: 'Names of the virtual server.', validate: checkServerName }),
  spec('location', ['server', 'location'], [1, 2], {
    block: 'location',
    docs: 'Request URI match: prefix, `=` exact, `^~`, `~` / `~*` regex, `@name`.',
    validate: checkLocation,
  }),
  spec('set', ['server', 'location', 'if'], 2, {
    docs: 'Set a variable.',
    validate: (d) => checkVariableName(d, d.args[0]),
  }),
  spec('return', ['server', 'location', 'if'], [1, 2], {
    docs: 'Answer with a status code and text or URL, or redirect to a URL.',
    validate: checkReturn,
  }),
  spec('rewrite', ['server', 'location', 'if'], [2, 3], {
    docs: 'Change `$uri` by a regex (`last`, `break`), or redirect (`redirect`, `permanent`, or an `http://` result).',
    validate: checkRewriteFlag,
  }),
  spec('if', ['server', 'location'], [1, MORE], {
    block: 'if',
    docs: 'Run the block\'s rewrite directives (and, in a location, use its settings) when the condition holds.',
  }),
  spec('break', ['server', 'location', 'if'], 0, { docs: 'Stop running the rewrite directives of this level.' }),
  flag('rewrite_log', HSLI, { default: 'off', docs: 'Accepted; rewrites are not logged.', noop: true }),
  flag('uninitialized_variable_warn', HSLI, { default: 'on', docs: 'Accepted; no warning is logged.', noop: true }),
  spec('echo', LI, [0, MORE], { docs: 'Answer with the arguments as the body (echo module).' }),
  spec('proxy_pass', [...LI, 'limit_except'], 1, {
    unique: true,
    docs: 'Forward to an upstream group or address; `http://$var` picks the group per request.',
    validate: checkProxyPass,
  }),
  spec('upstream', HTTP, 1, {
    block: 'upstream',
    docs: 'A group of backend servers; groups can be changed at run time through `dyups_interface`.',
    close: checkUpstreamServers,
  }),

  // upstream block
  spec('server', UPS, [1, MORE], {
    docs: 'A backend: address and `weight= max_fails= fail_timeout= max_conns= backup down`.',
  }),
  spec('keepalive', UPS, 1, {
    unique: true,
    docs: 'Idle connections to backends kept per worker.',
    validate: checkKeepalive,
  }),
  msec('keepalive_timeout', UPS, { default: '60s', docs: 'How long an idle backend connection is kept.' }),
  num('keepalive_requests', UPS, { default: '1000', docs: 'Requests per backend connection before it is closed.' }),
  msec('keepalive_time', UPS, { ...noop, default: '1h', docs: 'Longest lifetime of a backend connection.' }),
  spec('ip_hash', UPS, 0, { docs: 'Balance by client address.' }),
  spec('least_conn', UPS, 0, { docs: 'Balance to the server with the fewest active connections.' }),
  spec('consistent_hash', UPS, 1, { docs: 'Tengine\'s consistent hashing by a key (variables allowed): the same key picks the same server as Tengine for the same server list.' }),
  spec('hash', UPS, [1, 2], { docs: 'Balance by a key, optionally `consistent` (ketama).', validate: checkHash }),
  spec('random', UPS, [0, 2], { docs: 'Balance randomly, or `two [least_conn]`.', validate: checkRandom }),
  spec('zone', UPS, [1, 2], { ...noop, docs: 'Shared memory zone for the group\'s state.', validate: checkZone }),
  spec('check', UPS, [1, MORE], { docs: 'Active health check (Tengine syntax); checked, but no probes are sent yet.' }),
  spec('check_http_send', UPS, 1, { default: '"GET / HTTP/1.0\\r\\n\\r\\n"', docs: 'Request sent by an HTTP health check.' }),
  spec('check_http_expect_alive', UPS, [1, MORE], { default: 'http_2xx http_3xx', docs: 'Status classes that count as alive.' }),
  spec('check_keepalive_requests', UPS, 1, { default: '1', docs: 'Requests per health-check connection.' }),
  spec('check_fastcgi_param', UPS, 2, { docs: 'FastCGI parameter sent by a health check.' }),
  spec('check_status', LOC, [0, 1], { docs: 'Health-check status page: `html`, `csv`, `json` or `prometheus` (Tengine\'s formats).', validate: checkCheckStatus }),

  // dyups
  spec('dyups_interface', LOC, 0, { docs: 'Serve the REST interface that lists and changes upstream groups.' }),
  spec('dyups_dashboard', LOC, 0, { docs: 'Serve the live dashboard: every group and server with state, rates and latency, and buttons to mark a server down or restore it where the same server answers the JSON interface.' }),
  spec('stub_status', ['server', 'location'], [0, 1], { docs: 'Serve nginx\'s basic status page (connections and requests, summed over the workers); an argument, as the old `stub_status on`, is ignored.' }),
  spec('dyups_metrics', LOC, 0, { docs: 'Serve the upstream table, every server\'s counters and state and the client connections (summed over the workers) in Prometheus\' text format.' }),
  msec('dyups_read_msg_timeout', HTTP, {
    default: '1s',
    docs: 'Accepted and checked; changes reach every worker before the answer, no polling.',
  }),
  size('check_shm_size', HTTP, {
    ...noop,
    default: '1m',
    docs: 'Tengine\'s health-check shared memory. Accepted and checked; no effect: dyups keeps the check state itself.',
  }),
  size('dyups_shm_zone_size', HTTP, { default: '2m', docs: 'Accepted and checked; no effect.' }),
  str('dyups_upstream_conf', HTTP, { docs: 'File where changed groups are persisted (relative to the prefix).' }),
  str('dyups_audit_log', HTTP, { default: 'off', docs: 'File (relative to the prefix) where every applied change is written as one JSON line: who, when, versions, diff; `off`: none.' }),
  flag('dyups_trylock', HTTP, { default: 'off', docs: '`on`: a change arriving while another is applied gets 409.' }),
  flag('dyups_read_msg_log', HTTP, { default: 'off', docs: 'Log a summary line at info level on each applied change.' }),
  spec('dyups_cluster', ['main', 'http'], [1, MORE], {
    unique: true,
    docs: 'The upstream table lives in etcd and is shared by every node naming the same etcd and prefix (docs/cluster.md).',
    validate: (d) => void parseCluster(d),
  }),
  oneOf('dyups_cluster_ack', ['main', 'http'], ['commit', 'all'], {
    default: 'all',
    docs: '`all`: a write answers once every live node applied it; `commit`: once etcd committed it and this node applied it.',
  }),
  msec('dyups_cluster_ack_timeout', ['main', 'http'], {
    default: '10s',
    docs: 'How long a write waits for the other nodes before it answers 504 naming them (the change is committed).',
  }),

  // access, headers, logs
  spec('allow', [...HSL, 'limit_except'], 1, { docs: 'Allow an address, CIDR, `unix:` or `all`.', validate: checkAccess }),
  spec('deny', [...HSL, 'limit_except'], 1, { docs: 'Deny an address, CIDR, `unix:` or `all`.', validate: checkAccess }),
  spec('set_real_ip_from', HSL, 1, {
    docs: 'A trusted address, CIDR or `unix:`: requests from it take their client address from `real_ip_header`.',
    validate: checkRealIpFrom,
  }),
  spec('real_ip_header', HSL, 1, {
    unique: true,
    default: 'X-Real-IP',
    docs: 'Where a trusted request\'s client address is: `X-Real-IP`, `X-Forwarded-For`, another header\'s name, or `proxy_protocol` (never applies: `listen` has no `proxy_protocol`).',
  }),
  flag('real_ip_recursive', HSL, {
    default: 'off',
    docs: '`on`: the last address of `real_ip_header` that is not trusted; `off`: the last address.',
  }),
  spec('limit_req_zone', HTTP, [3, 4], {
    docs: 'A request-rate zone: `KEY zone=NAME:SIZE rate=Nr/s|Nr/m` (state shared by the workers).',
  }),
  spec('limit_req', HSL, [1, 3], {
    docs: 'Limit the request rate by a zone: `zone=NAME [burst=N] [nodelay|delay=N]`; excess requests are delayed, then refused.',
  }),
  spec('limit_req_status', HSL, 1, { unique: true, default: '503', docs: 'Status of a refused request.', validate: checkLimitStatus }),
  oneOf('limit_req_log_level', HSL, ['info', 'notice', 'warn', 'error'], {
    default: 'error',
    docs: 'Level of the "limiting requests" line (delays are logged one level lower).',
  }),
  flag('limit_req_dry_run', HSL, { default: 'off', docs: '`on`: count and log, but neither delay nor refuse.' }),
  spec('limit_conn_zone', HTTP, 2, { docs: 'A zone counting requests in progress: `KEY zone=NAME:SIZE` (shared by the workers).' }),
  spec('limit_conn', HSL, 2, { docs: 'At most N requests in progress per key of the zone: `ZONE N`.' }),
  spec('limit_conn_status', HSL, 1, { unique: true, default: '503', docs: 'Status of a refused request.', validate: checkLimitStatus }),
  oneOf('limit_conn_log_level', HSL, ['info', 'notice', 'warn', 'error'], {
    default: 'error',
    docs: 'Level of the "limiting connections" line.',
  }),
  flag('limit_conn_dry_run', HSL, { default: 'off', docs: '`on`: count and log, but do not refuse.' }),
  spec('limit_except', LOC, [1, MORE], {
    block: 'limit_except',
    unique: true,
    docs: 'Methods not listed (GET lists HEAD too) get the block\'s settings: `allow`/`deny`, `auth_basic`, ….',
    validate: checkLimitExcept,
  }),
  oneOf('satisfy', HSL, ['all', 'any'], {
    default: 'all',
    docs: '`any`: an `allow` rule or `auth_basic` suffices to let a request in; `all`: both must.',
  }),
  spec('auth_basic', [...HSL, 'limit_except'], 1, {
    unique: true,
    default: 'off',
    docs: 'HTTP Basic authentication with this realm (variables allowed), or `off`.',
  }),
  spec('auth_basic_user_file', [...HSL, 'limit_except'], 1, {
    unique: true,
    docs: 'The `user:hash[:comment]` file for `auth_basic` (relative to the configuration\'s directory; variables allowed).',
  }),
  spec('add_header', HSLI, [2, 3], { docs: 'Add a response header (`always`: on every status).', validate: checkAddHeader }),
  oneOf('server_tokens', HSL, ['on', 'off', 'build'], { default: 'on', docs: 'Show the version in `Server:` and error pages.' }),
  spec('types', HSL, 0, {
    block: 'types',
    raw: true,
    default: 'text/html html; image/gif gif; image/jpeg jpg;',
    docs: 'MIME types by file extension.',
  }),
  str('default_type', HSL, { default: 'text/plain', docs: 'MIME type of responses with no other.' }),
  spec('map', HTTP, 2, {
    block: 'map',
    raw: true,
    docs: 'A variable whose value depends on another.',
    validate: (d) => checkVariableName(d, d.args[1]),
    entry: checkMapEntry,
  }),
  spec('geo', HTTP, [1, 2], {
    block: 'geo',
    raw: true,
    docs: 'A variable by client address (or `$address`): `CIDR VALUE;` (longest prefix wins), `default`, `delete`, `proxy`, `proxy_recursive`, `include`, or `ranges;` with `A-B VALUE;`.',
    validate: (d) => {
      for (const a of d.args) checkVariableName(d, a)
    },
  }),
  spec('split_clients', HTTP, 2, {
    block: 'split_clients',
    raw: true,
    docs: 'A variable for A/B testing: `PERCENT% VALUE;` parts and `* VALUE;`, chosen by the MurmurHash2 of the string (variables allowed), the same buckets as nginx.',
    validate: (d) => checkVariableName(d, d.args[1]),
  }),
  spec('resolver', HSL, [1, MORE], { unique: true, docs: 'DNS servers for names not known as groups.', validate: checkResolver }),
  msec('resolver_timeout', HSL, { default: '30s', docs: 'DNS timeout.' }),
  spec('log_format', HTTP, [2, MORE], { docs: 'Define an access log format.', validate: checkLogFormat }),
  spec('access_log', [...HSLI, 'limit_except'], [1, MORE], {
    default: 'logs/access.log combined',
    docs: 'Access log: path, format and options, or `off`.',
    validate: checkAccessLog,
  }),

  // client side
  spec('keepalive_timeout', HSL, [1, 2], {
    unique: true,
    default: '75s',
    docs: 'How long an idle client connection is kept [and the Keep-Alive header value].',
    validate: (d) => {
      if (parseTime(d.args[0], 'ms') === null) throw invalidValue(d)
      if (d.args.length === 2 && parseTime(d.args[1], 's') === null) throw invalidValue(d)
    },
  }),
  num('keepalive_requests', HSL, { default: '1000', docs: 'Requests per client connection.' }),
  spec('limit_rate', HSLI, 1, {
    unique: true,
    default: '0',
    validate: (d) => {
      if (!d.args[0]!.includes('$') && parseSize(d.args[0]!) === null) throw invalidValue(d)
    },
    docs: 'Most bytes a second a response body is sent at (variables allowed; 0: no limit), paced per connection as nginx: from the request\'s start, one second\'s worth ahead.',
  }),
  size('limit_rate_after', HSLI, { default: '0', docs: 'Bytes of a response body sent before `limit_rate` applies.' }),
  size('connection_pool_size', HS, {
    ...noop,
    default: '256|512',
    validate: checkPoolSize,
    docs: 'Memory nginx allocates per connection. Checked as nginx does; no effect (it only tunes nginx\'s memory).',
  }),
  size('request_pool_size', HS, {
    ...noop,
    default: '4k',
    validate: checkPoolSize,
    docs: 'Memory nginx allocates per request. Checked as nginx does; no effect (it only tunes nginx\'s memory).',
  }),
  someOf('keepalive_disable', HSL, ['none', 'msie6', 'safari'], {
    ...noop,
    default: 'msie6',
    docs: 'Browsers denied keep-alive. Checked; no effect: dyups keeps alive with every client (the browsers it names are gone).',
  }),
  spec('open_log_file_cache', HSL, [1, 4], {
    ...noop,
    unique: true,
    default: 'off',
    validate: checkOpenLogFileCache,
    docs: 'Cache of log file descriptors for paths with variables. Checked as nginx does; no effect (dyups keeps each file open while it is in use).',
  }),
  msec('keepalive_time', HSL, { ...noop, default: '1h', docs: 'Longest lifetime of a client connection.' }),
  offset('client_max_body_size', HSL, { default: '1m', docs: 'Largest request body (413 above it); 0 = no limit.' }),
  msec('client_body_timeout', HSL, {
    default: '60s',
    docs: 'Timeout between two reads of the request body; then the connection is closed and 408 logged.',
  }),
  msec('client_header_timeout', HS, {
    default: '60s',
    docs: 'Timeout for reading the request head (of the address\'s default server); then the connection is closed.',
  }),
  msec('send_timeout', HSL, {
    default: '60s',
    docs: 'Timeout for a client that takes nothing of a proxied response waiting for it; then the connection is closed.',
  }),
  bufs('large_client_header_buffers', HS, { default: '4 8k', docs: 'Limits on request line and header size.' }),
  size('client_header_buffer_size', HS, { default: '1k', docs: 'Buffer for the request head.' }),
  spec('error_page', HSLI, [2, MORE], { docs: 'URI or redirect for error statuses.', validate: checkErrorPage }),
  flag('recursive_error_pages', HSL, { default: 'off', docs: 'Let an error page\'s own errors follow `error_page` again.' }),
  str('root', HSLI, { default: 'html', docs: 'Directory of static files: the file is root + `$uri`.' }),
  str('alias', LOC, { docs: 'Directory that replaces the location\'s prefix (a regex location: the whole path).' }),
  spec('index', HSL, [1, MORE], {
    default: 'index.html',
    docs: 'Index files of a `/`-ending URI: the first that exists, by internal redirect.',
    validate: checkIndex,
  }),
  spec('try_files', ['server', 'location'], [2, MORE], {
    unique: true,
    docs: 'The first existing file (`name/`: directory) becomes `$uri`, else redirect to the last URI or `=code`.',
  }),
  spec('internal', LOC, 0, { unique: true, docs: 'Only internal redirects (try_files, index) reach the location.' }),
  flag('autoindex', HSL, {
    default: 'off',
    docs: 'Directory listings; only `off` (`on` is refused as not supported yet).',
    validate: (d) => {
      if (parseFlag(d)) throw configError(d, '"autoindex on" is not supported by dyups yet')
    },
  }),
  num('max_ranges', HSL, { default: '-', docs: 'Most byte ranges in one request (more: the whole file); 0 = no ranges.' }),
  flag('log_not_found', HSL, { default: 'on', docs: 'Log a missing file to the error log.' }),
  spec('disable_symlinks', HSL, [1, 2], {
    unique: true,
    default: 'off',
    docs: 'Symbolic links are followed; only `off` (the checks are refused as not supported yet).',
    validate: checkDisableSymlinks,
  }),

  // proxy
  spec('proxy_set_header', HSL, 2, {
    default: 'Host $proxy_host; Connection close;',
    docs: 'Set a request header sent to the backend.',
  }),
  oneOf('proxy_http_version', HSL, ['1.0', '1.1'], { default: '1.0', docs: 'HTTP version spoken to backends.' }),
  msec('proxy_connect_timeout', HSL, { default: '60s', docs: 'Timeout for connecting to a backend.' }),
  msec('proxy_read_timeout', HSL, { default: '60s', docs: 'Timeout between two reads from a backend.' }),
  msec('proxy_send_timeout', HSL, {
    default: '60s',
    docs: 'Timeout for a backend that takes nothing of the request body; then 504 (or the next server).',
  }),
  someOf('proxy_next_upstream', HSL, [
    'error', 'timeout', 'invalid_header', 'http_500', 'http_502', 'http_503', 'http_504', 'http_403', 'http_404',
    'http_429', 'non_idempotent', 'off', 'updating',
  ], { default: 'error timeout', docs: 'When to try the next server.' }),
  num('proxy_next_upstream_tries', HSL, { default: '0', docs: 'Most servers tried per request; 0 = no limit.' }),
  msec('proxy_next_upstream_timeout', HSL, { default: '0', docs: 'Time limit for trying servers; 0 = none.' }),
  spec('proxy_pass_header', HSL, 1, { docs: 'Pass a backend header that is hidden by default.' }),
  spec('proxy_hide_header', HSL, 1, { docs: 'Do not pass a backend header.' }),
  spec('proxy_redirect', HSL, [1, 2], { default: 'default', docs: 'Rewrite `Location:` from backends.', validate: checkProxyRedirect }),
  spec('proxy_cookie_domain', HSL, [1, 2], {
    default: 'off',
    validate: checkCookieRule,
    docs: 'Rewrite the `domain=` of a backend\'s Set-Cookie: `FROM TO` (the whole domain, caselessly; variables allowed), `~REGEX TO`, or `off`.',
  }),
  spec('proxy_cookie_path', HSL, [1, 2], {
    default: 'off',
    validate: checkCookieRule,
    docs: 'Rewrite the `path=` of a backend\'s Set-Cookie: `FROM TO` (a prefix, case-sensitive; variables allowed), `~REGEX TO`, or `off`.',
  }),
  spec('proxy_cookie_flags', HSL, [1, MORE], {
    default: 'off',
    validate: checkCookieRule,
    docs: 'Flags of a backend\'s Set-Cookie by cookie name (caseless; `~REGEX`; variables allowed): `secure`, `httponly`, `samesite=strict\|lax\|none` add, `nosecure`, `nohttponly`, `nosamesite` take out; or `off`.',
  }),
  someOf('proxy_ignore_headers', HSL, [
    'x-accel-redirect', 'x-accel-expires', 'x-accel-limit-rate', 'x-accel-buffering', 'x-accel-charset', 'expires',
    'cache-control', 'set-cookie', 'vary',
  ], { docs: 'Backend headers not acted on. dyups acts on `X-Accel-Redirect` (followed as nginx: an internal redirect or a named location, carrying Content-Type, Set-Cookie, Content-Disposition, Cache-Control, Expires, Accept-Ranges) and `X-Accel-Limit-Rate` (the body\'s limit_rate); the other names are accepted (caching, buffering and charset headers dyups does not act on).' }),
  flag('proxy_intercept_errors', HSL, { default: 'off', docs: 'Answer backend errors >= 300 with `error_page`.' }),
  flag('proxy_buffering', HSL, {
    ...noop,
    default: 'on',
    docs: 'Buffer backend responses (dyups relays them with backpressure instead, never to disk, either way).',
  }),
  str('proxy_method', HSL, { docs: 'The method sent to the backend instead of the client\'s (variables allowed).' }),
  str('proxy_set_body', HSL, { docs: 'The body sent to the backend instead of the client\'s (variables allowed).' }),
  flag('proxy_pass_request_headers', HSL, { default: 'on', docs: '`off`: the client\'s header lines are not sent, only `proxy_set_header`\'s.' }),
  flag('proxy_pass_request_body', HSL, { default: 'on', docs: '`off`: the client\'s body is read but not sent.' }),
  flag('proxy_request_buffering', HSL, {
    default: 'on',
    docs: '`on`: read the whole body (memory, then a temp file) before contacting the backend, resent on retries. ' +
      '`off`: stream it as it comes (chunked to an HTTP/1.1 backend), not retried once sent.',
  }),
  size('proxy_buffer_size', HSL, { ...noop, default: '4k|8k', docs: 'Buffer for the backend response head.' }),
  bufs('proxy_buffers', HSL, { ...noop, default: '8 4k|8k', docs: 'Buffers for a backend response.' }),
  flag('proxy_ssl_server_name', HSL, { default: 'off', docs: 'Send SNI to TLS backends.' }),
  str('proxy_ssl_name', HSL, { default: '$proxy_host', docs: 'Name for SNI and certificate checks.' }),
  flag('proxy_ssl_verify', HSL, { default: 'off', docs: 'Verify TLS backend certificates.' }),
  str('proxy_ssl_trusted_certificate', HSL, { docs: 'CA certificates for `proxy_ssl_verify`.' }),
  flag('proxy_ssl_session_reuse', HSL, { default: 'on', docs: 'Reuse TLS sessions to backends.' }),
  num('proxy_ssl_verify_depth', HSL, { default: '1', docs: 'Most CA certificates between a backend and the trusted one.' }),
  someOf('proxy_ssl_protocols', HSL, ['sslv2', 'sslv3', 'tlsv1', 'tlsv1.1', 'tlsv1.2', 'tlsv1.3'], {
    unique: true,
    default: 'TLSv1.2 TLSv1.3',
    docs: 'TLS versions offered to backends.',
  }),
  str('proxy_ssl_ciphers', HSL, { default: 'DEFAULT', docs: 'OpenSSL cipher list for backends.' }),
  str('proxy_ssl_certificate', HSL, { docs: 'Client certificate (PEM) shown to TLS backends.' }),
  str('proxy_ssl_certificate_key', HSL, { docs: 'Key (PEM) of `proxy_ssl_certificate`.' }),

  // TLS
  spec('ssl_certificate', HS, 1, { docs: 'Server certificate chain (PEM), relative to the configuration directory; one per key type.' }),
  spec('ssl_certificate_key', HS, 1, { docs: 'Key (PEM) of the `ssl_certificate` in the same position.' }),
  someOf('ssl_protocols', HS, ['sslv2', 'sslv3', 'tlsv1', 'tlsv1.1', 'tlsv1.2', 'tlsv1.3'], {
    unique: true,
    default: 'TLSv1.2 TLSv1.3',
    docs: 'TLS versions accepted.',
  }),
  str('ssl_ciphers', HS, { default: 'HIGH:!aNULL:!MD5', docs: 'OpenSSL cipher list.' }),
  flag('ssl_prefer_server_ciphers', HS, { default: 'off', docs: 'Prefer the server cipher order.' }),
  sec('ssl_session_timeout', HS, { default: '5m', docs: 'TLS session lifetime.' }),
  flag('ssl_session_tickets', HS, { default: 'on', docs: 'TLS session resumption through tickets (per worker process).' }),
  oneOf('ssl_verify_client', HS, ['on', 'off', 'optional', 'optional_no_ca'], {
    default: 'off',
    docs: 'Ask for a client certificate: `on` requires a valid one (else 400), `optional` checks one if sent, `optional_no_ca` does not check it.',
  }),
  spec('ssl_client_certificate', HS, 1, { docs: 'CA certificates (PEM) that client certificates are verified against; their names are sent to clients.' }),

  // HTTP/2 (ngx_http_v2_module as nginx 1.22 has it, plus the server-level `http2` switch of Tengine and nginx 1.25.1)
  flag('http2', HS, { default: 'off', docs: 'HTTP/2 for the server: ALPN `h2` on its `ssl` addresses; on a plain address whose default server has it, the HTTP/2 preface is told from HTTP/1.x by its first bytes.' }),
  num('http2_max_concurrent_streams', HS, { default: '128', docs: 'Streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).' }),
  size('http2_chunk_size', HSL, {
    default: '8k',
    docs: 'Largest DATA frame sent: response bodies are written in pieces of at most this size.',
    validate: (d) => {
      const v = parseSize(d.args[0])
      if (v === null) throw invalidValue(d)
      if (v === 0) throw configError(d, 'the http2 chunk size cannot be zero')
    },
  }),
  size('http2_body_preread_size', HS, {
    default: '64k',
    docs: 'Request body bytes a client may send on a stream before they are read (SETTINGS_INITIAL_WINDOW_SIZE).',
    validate: (d) => {
      const v = parseSize(d.args[0])
      if (v === null) throw invalidValue(d)
      if (v > 2147483647) throw configError(d, 'the maximum body preread buffer size is 2147483647')
    },
  }),
  size('http2_recv_buffer_size', HTTP, {
    default: '256k',
    docs: 'Accepted; nghttp2 reads into its own buffers.',
    noop: true,
    validate: (d) => {
      const v = parseSize(d.args[0])
      if (v === null) throw invalidValue(d)
      if (v <= 2 * 16384) throw configError(d, `"${d.name}" directive value is too small`)
    },
  }),
  spec('http2_push', HSL, 1, { unique: false, default: 'off', docs: '`off`; server push is not supported (nginx 1.25.1 dropped it too): anything else is ignored with a warning.' }),
  flag('http2_push_preload', HSL, { default: 'off', docs: 'Ignored with a warning unless `off`: server push is not supported.' }),
  num('http2_max_concurrent_pushes', HS, { default: '10', docs: 'Ignored with a warning: server push is not supported.' }),
  num('http2_streams_index_size', HS, {
    default: '32',
    docs: 'Accepted; nothing to size.',
    noop: true,
    validate: (d) => {
      const v = parseNumber(d.args[0])
      if (v === null) throw configError(d, `"${d.name}" directive invalid number`)
      if ((v & (v - 1)) !== 0) throw configError(d, `"${d.name}" directive must be a power of two`)
    },
  }),
  ...OBSOLETE_HTTP2.map(([name, instead]) => spec(name, HS, 1, { docs: `Obsolete in nginx 1.19.7: accepted with nginx's warning; \`${instead}\` applies.` })),

  // gRPC (ngx_http_grpc_module): plain HTTP/2 to the backends
  spec('grpc_pass', LI, 1, {
    docs: '`grpc://GROUP|ADDR` or `grpcs://` (TLS): the request, from an HTTP/2 client, goes to the backend over HTTP/2 (connections kept and shared).',
    validate: (d) => {
      const u = d.args[0]!
      if (!/^(grpcs?:\/\/)?[^/]+$/i.test(u)) throw configError(d, `invalid host in upstream "${u}"`)
    },
  }),
  spec('grpc_set_header', HSL, 2, { docs: 'A header sent to the gRPC backend; an empty value leaves it out.' }),
  msec('grpc_connect_timeout', HSL, { default: '60s', docs: 'Connecting to a gRPC backend.' }),
  msec('grpc_read_timeout', HSL, { default: '60s', docs: 'Between two reads from a gRPC backend (the response head included).' }),
  msec('grpc_send_timeout', HSL, { default: '60s', docs: 'Accepted; request bodies stream with HTTP/2 flow control.' }),
  someOf('grpc_next_upstream', HSL, ['error', 'timeout', 'invalid_header', 'http_500', 'http_502', 'http_503', 'http_504', 'http_403', 'http_404', 'http_429', 'non_idempotent', 'off'], {
    unique: true,
    default: 'error timeout',
    docs: 'When a gRPC request goes to the next server: dyups retries a server it could not connect to (`error`, `timeout`), before anything is sent.',
  }),
  num('grpc_next_upstream_tries', HSL, { default: '0', docs: 'Servers tried at most (0: every one).' }),
  flag('grpc_intercept_errors', HSL, { default: 'off', docs: 'A gRPC backend\'s answer of 300 or more that the location has an `error_page` for is replaced by it.' }),
  spec('grpc_hide_header', HSL, 1, { docs: 'A backend header not passed to the client.' }),
  spec('grpc_pass_header', HSL, 1, { docs: 'Accepted; dyups hides no header by default but `grpc_hide_header`\'s.' }),
  size('grpc_buffer_size', HSL, { default: '4k|8k', docs: 'Accepted; HTTP/2 flow control bounds what is buffered.', noop: true }),
  flag('grpc_socket_keepalive', HSL, { default: 'off', docs: 'Accepted.', noop: true }),
  flag('grpc_ssl_verify', HSL, { default: 'off', docs: 'Check a `grpcs://` backend\'s certificate chain and name.' }),
  str('grpc_ssl_trusted_certificate', HSL, { docs: 'CA certificates (PEM) for `grpc_ssl_verify`.' }),
  str('grpc_ssl_name', HSL, { default: 'host from grpc_pass', docs: 'The name checked (and sent with `grpc_ssl_server_name on`).' }),
  flag('grpc_ssl_server_name', HSL, { default: 'off', docs: 'Send SNI to `grpcs://` backends.' }),
  str('grpc_ssl_certificate', HSL, { docs: 'Client certificate (PEM) shown to `grpcs://` backends.' }),
  str('grpc_ssl_certificate_key', HSL, { docs: 'Key (PEM) of `grpc_ssl_certificate`.' }),
  someOf('grpc_ssl_protocols', HSL, ['sslv2', 'sslv3', 'tlsv1', 'tlsv1.1', 'tlsv1.2', 'tlsv1.3'], { unique: true, default: 'TLSv1.2 TLSv1.3', docs: 'TLS versions offered to `grpcs://` backends.' }),
  str('grpc_ssl_ciphers', HSL, { default: 'DEFAULT', docs: 'OpenSSL cipher list for `grpcs://` backends.' }),
  num('grpc_ssl_verify_depth', HSL, { default: '1', docs: 'Depth of the backend\'s chain with `grpc_ssl_verify`.' }),

  // gzip
  flag('gzip', HSLI, { default: 'off', docs: 'Compress responses.' }),
  spec('gzip_types', HSL, [1, MORE], { default: 'text/html', docs: 'MIME types compressed.' }),
  size('gzip_min_length', HSL, { default: '20', docs: 'Smallest response compressed.' }),
  someOf('gzip_proxied', HSL, ['off', 'expired', 'no-cache', 'no-store', 'private', 'no_last_modified', 'no_etag', 'auth', 'any'], {
    default: 'off',
    docs: 'Compress responses to proxied requests.',
  }),
  flag('gzip_vary', HSL, { default: 'off', docs: 'Add `Vary: Accept-Encoding`.' }),
  num('gzip_comp_level', HSL, { default: '1', docs: 'Compression level 1-9.', validate: bounded(1, 9) }),
  oneOf('gzip_http_version', HSL, ['1.0', '1.1'], { default: '1.1', docs: 'Lowest request HTTP version compressed.' }),
  spec('gzip_disable', HSL, [1, MORE], { docs: 'User agents (regex, `msie6`) not served compressed.' }),
  bufs('gzip_buffers', HSL, { ...noop, default: '32 4k|16 8k', docs: 'Buffers for compressing a response.' }),

  // scripted content
  spec('content_by_lua', LI, 1, { unique: 'content_by_lua', docs: 'Lua content handler (Tengine `ngx.dyups` API).' }),
  spec('content_by_lua_block', LI, 0, { luaBlock: true, unique: 'content_by_lua', docs: 'Lua content handler, inline block.' }),
  spec('content_by_lua_file', LI, 1, { unique: 'content_by_lua', docs: 'Lua content handler from a file.' }),
  spec('js_import', HSL, [1, 3], { docs: 'Import a JavaScript module: `file` or `name from file`.', validate: checkJsImport }),
  spec('js_content', [...LI, 'limit_except'], 1, { unique: true, docs: 'JavaScript content handler `module.function`.' }),

  // accepted, checked, and ignored
  num('worker_rlimit_nofile', MAIN, { ...noop, docs: 'Limit on open files of worker processes.' }),
  spec('user', MAIN, [1, 2], {
    ...noop,
    unique: true,
    default: 'nobody nobody',
    docs: 'User and group of worker processes. dyups does not switch users: its workers keep the user that started it, and a warning says so (run it as the user you want, e.g. from systemd `User=`).',
  }),
  spec('worker_cpu_affinity', MAIN, [1, MORE], { ...noop, unique: true, docs: 'Bind worker processes to CPUs.' }),
  str('worker_priority', MAIN, { ...noop, default: '0', docs: 'Scheduling priority of worker processes.' }),
  flag('pcre_jit', MAIN, { ...noop, default: 'off', docs: 'JIT compilation of regular expressions.' }),
  spec('thread_pool', MAIN, [2, 3], {
    ...noop,
    default: 'default threads=32 max_queue=65536',
    docs: 'Thread pool for blocking file operations.',
  }),
  msec('timer_resolution', MAIN, { ...noop, docs: 'Coarser timer resolution in workers.' }),
  msec('worker_shutdown_timeout', MAIN, {
    default: '30s',
    docs: 'How long a worker that stops gracefully (quit, reload, an old generation) waits for its requests in flight before it closes their connections. nginx has no limit by default; dyups defaults to 30s so that generations do not pile up.',
  }),
  spec('env', MAIN, 1, { ...noop, default: 'TZ', docs: 'Environment variables kept for workers.' }),
  str('lock_file', MAIN, { ...noop, default: 'logs/nginx.lock', docs: 'Lock file of the accept mutex.' }),
  str('working_directory', MAIN, { ...noop, docs: 'Working directory of worker processes.' }),
  oneOf('debug_points', MAIN, ['stop', 'abort'], { ...noop, docs: 'Stop or abort at internal debug points.' }),
  str('use', EVENTS, { ...noop, docs: 'Connection processing method (`epoll`, ...).' }),
  flag('multi_accept', EVENTS, { ...noop, default: 'off', docs: 'Accept all pending connections at once.' }),
  flag('accept_mutex', EVENTS, { ...noop, default: 'off', docs: 'Workers take turns accepting connections.' }),
  msec('accept_mutex_delay', EVENTS, { ...noop, default: '500ms', docs: 'Wait before retrying the accept mutex.' }),
  num('worker_aio_requests', EVENTS, {
    ...noop,
    default: '32',
    docs: 'Outstanding asynchronous I/O operations per worker.',
  }),
  flag('sendfile', HSLI, { ...noop, default: 'off', docs: 'Send files with sendfile().' }),
  flag('tcp_nopush', HSL, { ...noop, default: 'off', docs: 'TCP_NOPUSH / TCP_CORK with sendfile.' }),
  flag('tcp_nodelay', HSL, { ...noop, default: 'on', docs: 'TCP_NODELAY on keep-alive connections.' }),
  num('types_hash_max_size', HSL, { ...noop, default: '1024', docs: 'Size of the MIME types hash table.' }),
  num('types_hash_bucket_size', HSL, { ...noop, default: '64', docs: 'Bucket size of the MIME types hash table.' }),
  num('server_names_hash_max_size', HTTP, { ...noop, default: '512', docs: 'Size of the server names hash table.' }),
  num('server_names_hash_bucket_size', HTTP, {
    ...noop,
    default: '32|64|128',
    docs: 'Bucket size of the server names hash table.',
  }),
  num('variables_hash_max_size', HTTP, { ...noop, default: '1024', docs: 'Size of the variables hash table.' }),
  num('variables_hash_bucket_size', HTTP, { ...noop, default: '64', docs: 'Bucket size of the variables hash table.' }),
  num('map_hash_max_size', HTTP, { ...noop, default: '2048', docs: 'Size of the map hash tables.' }),
  num('map_hash_bucket_size', HTTP, { ...noop, default: '32|64|128', docs: 'Bucket size of the map hash tables.' }),
  num('proxy_headers_hash_max_size', HSL, { ...noop, default: '512', docs: 'Size of the proxy headers hash table.' }),
  num('proxy_headers_hash_bucket_size', HSL, {
    ...noop,
    default: '64',
    docs: 'Bucket size of the proxy headers hash table.',
  }),
  oneOf('lingering_close', HSL, ['off', 'on', 'always'], {
    ...noop,
    default: 'on',
    docs: 'Whether to read on before closing a client connection.',
  }),
  msec('lingering_time', HSL, { ...noop, default: '30s', docs: 'Longest lingering close.' }),
  msec('lingering_timeout', HSL, {
    ...noop,
    default: '5s',
    docs: 'Wait for more client data during a lingering close.',
  }),
  flag('reset_timedout_connection', HSL, {
    ...noop,
    default: 'off',
    docs: 'Reset timed-out connections instead of closing them.',
  }),
  spec('open_file_cache', HSL, [1, 2], {
    ...noop,
    unique: true,
    default: 'off',
    docs: 'Cache of open file descriptors.',
  }),
  sec('open_file_cache_valid', HSL, {
    ...noop,
    default: '60s',
    docs: 'When cached file information is checked again.',
  }),
  num('open_file_cache_min_uses', HSL, { ...noop, default: '1', docs: 'Uses that keep a descriptor in the cache.' }),
  flag('open_file_cache_errors', HSL, { ...noop, default: 'off', docs: 'Cache file lookup errors too.' }),
  flag('open_file_cache_events', HSL, { ...noop, default: 'off', docs: 'Use kernel events to validate the cache.' }),
  spec('ssl_session_cache', HS, [1, 2], {
    ...noop,
    unique: true,
    default: 'none',
    docs: 'Session-ID cache for TLS resumption (dyups resumes through tickets only).',
    validate: checkSessionCache,
  }),
  str('ssl_dhparam', HS, { ...noop, docs: 'DH parameters for DHE ciphers.' }),
  flag('ssl_stapling', HS, { ...noop, default: 'off', docs: 'OCSP stapling.' }),
  flag('ssl_stapling_verify', HS, { ...noop, default: 'off', docs: 'Verify OCSP responses.' }),
  str('ssl_stapling_file', HS, { ...noop, docs: 'OCSP response from a file.' }),
  str('ssl_stapling_responder', HS, { ...noop, docs: 'OCSP responder URL.' }),
  str('ssl_ecdh_curve', HS, { ...noop, default: 'auto', docs: 'Curves for ECDHE ciphers.' }),
  size('ssl_buffer_size', HS, { ...noop, default: '16k', docs: 'Size of TLS records sent.' }),
  str('charset', HSLI, { default: 'off', docs: '`; charset=NAME` added to a `Content-Type` of the default charset_types (`text/html`, `text/xml`, `text/plain`, `text/vnd.wap.wml`, `application/javascript`, `application/rss+xml`) without parameters; no recoding.' }),
  str('source_charset', HSLI, { ...noop, docs: 'Charset of responses, for recoding.' }),
  flag('server_name_in_redirect', HSL, { default: 'off', docs: 'A relative Location made absolute names the server\'s first `server_name` instead of the request\'s host.' }),
  flag('port_in_redirect', HSL, { default: 'on', docs: 'A relative Location made absolute keeps the port the request came in on (unless 80, or 443 with TLS).' }),
  flag('absolute_redirect', HSL, { default: 'on', docs: '`off`: a relative Location (return, rewrite, error_page, a directory\'s slash, proxy_redirect) is sent as it is.' }),
  flag('underscores_in_headers', HS, { ...noop, default: 'off', docs: 'Allow underscores in header names.' }),
  flag('ignore_invalid_headers', HS, { ...noop, default: 'on', docs: 'Drop headers with invalid names.' }),
  flag('merge_slashes', HS, { ...noop, default: 'on', docs: 'Merge runs of slashes in the URI.' }),
  flag('msie_padding', HSL, { ...noop, default: 'on', docs: 'Pad error pages for old MSIE.' }),
  flag('etag', HSL, { default: 'on', docs: '`ETag` on static files.' }),
  spec('expires', HSLI, [1, 2], {
    unique: true,
    default: 'off',
    docs: '`Expires` and `Cache-Control` on 200, 201, 204, 206, 301, 302, 303, 304, 307 and 308 answers: `[modified] TIME` (a negative TIME: `Cache-Control: no-cache`), `@TIME` (time of day), `epoch`, `max`, `off`; variables are not supported.',
    validate: checkExpires,
  }),
  oneOf('if_modified_since', HSL, ['off', 'exact', 'before'], {
    default: 'exact',
    docs: 'How `If-Modified-Since` is compared.',
  }),
  size('client_body_buffer_size', HSL, {
    default: '8k|16k',
    docs: 'A proxied request body larger than this (16k by default) goes to a temp file.',
  }),
  spec('client_body_temp_path', HSL, [1, 4], {
    unique: true,
    default: 'client_body_temp',
    docs: 'Directory [and `levels`] of request body temp files, created at start; each file is unlinked once open.',
    validate: checkTempPath,
  }),
  spec('proxy_temp_path', HSL, [1, 4], {
    ...noop,
    unique: true,
    default: 'proxy_temp',
    docs: 'Directory for backend response temp files.',
  }),
  size('proxy_max_temp_file_size', HSL, {
    ...noop,
    default: '1024m',
    docs: 'Largest backend response temp file (dyups relays responses with backpressure instead).',
  }),
  size('proxy_busy_buffers_size', HSL, { ...noop, default: '8k|16k', docs: 'Buffers busy sending to the client.' }),
  bufs('output_buffers', HSL, { ...noop, default: '2 32k', docs: 'Buffers for reading files.' }),
  size('postpone_output', HSL, { ...noop, default: '1460', docs: 'Bytes gathered before sending.' }),
]

/** The registry of every directive dyups accepts, and of the nginx directives it refuses as not supported. */
export const defaultRegistry: Registry = new Registry().add(...DIRECTIVES).addUnsupported(UNSUPPORTED)

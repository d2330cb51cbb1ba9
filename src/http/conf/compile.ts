/**
 * Compiles the `http {}` block into the request path's configuration (conf.ts): listeners, virtual servers,
 * locations with their inherited settings and handlers, variables. Runs at start-up, `-t` and reload; everything a
 * request needs is decided here, so the hot path only looks things up.
 */
import type { Directive, ExpiresSetting } from '../../config/index.js'
import { parseAddress, parseFlag, parseOffset, parseSize, parseTime } from '../../config/index.js'
import { DyupsError, type Pos } from '../../errors.js'
import { HeaderPlan, NEXT_ERROR, NEXT_TIMEOUT, NEXT_INVALID_HEADER, NEXT_500, NEXT_502, NEXT_503, NEXT_504,
  NEXT_403, NEXT_404, NEXT_429, NEXT_NON_IDEMPOTENT, DEFAULT_HIDE, TempPath, type ProxySettings } from '../../proxy/index.js'
import { VERSION } from '../../version.js'
import { STATUS_FORMATS, type StatusFormat } from '../../health/index.js'
import { compileAccess } from '../modules/access.js'
import { addSplitClients } from '../modules/split-clients.js'
import { addGeo } from '../modules/geo.js'
import { compileLimitReq, compileReqZones, limitReqLevel, NO_LIMIT_REQ, type LimitReqLevel, type ReqZone } from '../modules/limit-req.js'
import { compileConnZones, compileLimitConn, limitConnLevel, NO_LIMIT_CONN, type ConnZone, type LimitConnLevel } from '../modules/limit-conn.js'
import { compileRealIp, NO_REALIP, realIpLevel, type RealIpLevel } from '../modules/realip.js'
import { AuthCompiler, NO_AUTH, type AuthLevel } from '../modules/auth-basic.js'
import { limitMethods } from '../modules/limit-except.js'
import { AccessLog, compileAccessLogs, defaultAccessLog, LogFiles, LogFormats, type AccessLogContext } from '../modules/access-log.js'
import { dirname, resolve } from 'node:path'
import { log } from '../../log.js'
import type { AddHeader, GrpcPass, Handler, HttpConfig, Listener, LocConf, ProxyPass, ServerConf } from './types.js'
import { compileRewrites } from '../modules/rewrite.js'
import { ErrorPages } from './error-pages.js'
import { GZIP_DEFAULT, gzipLevel, type GzipConf } from '../filters/gzip.js'
import { compileProxyCookies, levelCookieRules } from '../modules/proxy-cookie.js'
import { compileProxyRedirect, levelRedirects } from '../modules/proxy-redirect.js'
import { compileErrorPages, type ErrorPages as ErrorPageList } from '../modules/error-page.js'
import { buildLocations, type Location } from './locations.js'
import { compileTypes, DEFAULT_TYPES, type MimeTypes } from './mime.js'
import { Variables, type Template } from '../lib/variables.js'
import { buildVirtualHosts, type ListenInput, type ServerInput } from './vhosts.js'
import { ScriptCompiler, type JsImport } from '../modules/script/index.js'
import { ProxyTlsCompiler } from './proxy-tls.js'
import { clientVerify, compileTls, sslListenKeys } from './tls.js'
import { chunkSizeLevel, compileHttp2, http2Warnings, type H2Settings } from './http2.js'
import { charsetOf } from '../filters/charset.js'
import { expiresLevel } from '../filters/expires.js'
import { compileTryFiles, staticDefaults, staticLevel, staticOfLocation, type StaticSettings } from './static.js'
import { openInterfaces } from './exposure.js'

/** What compiling needs: the checked configuration tree and where it lives. */
export interface HttpSource {
  prefix: string
  confFile: string
  tree: readonly Directive[]
  /**
   * The name prefix of the primary's shared-memory objects (`/dyups-PID`), for limit_req and limit_conn zones the
   * workers share; absent: zones in this process's memory (`-t`, `master_process off`).
   */
  shm?: string
  /** Receives the start-up warnings (a `dyups_interface` open to every address); none when absent. */
  warn?: (message: string, at: Pos) => void
}

const at = (d: Directive): Pos => ({ file: d.file, line: d.line })
const find = (block: readonly Directive[], name: string): Directive | undefined => block.find((d) => d.name === name)

const NEXT_BITS: Record<string, number> = {
  error: NEXT_ERROR, timeout: NEXT_TIMEOUT, invalid_header: NEXT_INVALID_HEADER, http_500: NEXT_500,
  http_502: NEXT_502, http_503: NEXT_503, http_504: NEXT_504, http_403: NEXT_403, http_404: NEXT_404,
  http_429: NEXT_429, non_idempotent: NEXT_NON_IDEMPOTENT, off: 0,
}

/** Settings inherited down http → server → location, each level overriding what it sets. */
interface Inherited {
  access: LocConf['access']
  realip: RealIpLevel
  limitReq: LimitReqLevel
  limitConn: LimitConnLevel
  reqZones: Map<string, ReqZone>
  connZones: Map<string, ConnZone>
  /** auth_basic and auth_basic_user_file in force, and what compiles them. */
  auth: AuthLevel
  authCompiler: AuthCompiler
  satisfyAny: boolean
  addHeaders: AddHeader[]
  clientMaxBodySize: number
  bodyBufferSize: number
  bodyTemp: TempPath
  /** One TempPath per directory, shared by every level that names it. */
  temps: Map<string, TempPath>
  requestBuffering: boolean
  proxyMethod: Directive | null
  proxySetBody: Directive | null
  passHeaders: boolean
  passBody: boolean
  keepaliveTimeout: number
  /** keepalive_timeout's second parameter, in seconds: the `Keep-Alive: timeout=N` header; 0: none. */
  keepaliveHeader: number
  limitRate: Template | null
  limitRateAfter: number
  absoluteRedirect: boolean
  portInRedirect: boolean
  serverNameInRedirect: boolean
  keepaliveRequests: number
  clientBodyTimeout: number
  clientHeaderTimeout: number
  sendTimeout: number
  defaultType: string
  types: MimeTypes
  serverTokens: boolean
  prefix: string
  charset: string | null
  expires: ExpiresSetting | null
  proxyHeaders: Directive[]
  proxyVersion: '1.0' | '1.1'
  proxy: ProxySettings
  hide: Set<string>
  ignore: ReadonlySet<string>
  logs: AccessLog[] | 'off' | 'default'
  scripts: ScriptCompiler
  /** `js_import`s of the enclosing levels, outermost first. */
  jsImports: readonly JsImport[]
  /** The proxy_ssl_* directives in force, and what turns them into TLS settings. */
  proxySsl: readonly Directive[]
  proxyTls: ProxyTlsCompiler
  errorPages: ErrorPageList | null
  recursiveErrorPages: boolean
  interceptErrors: boolean
  /** proxy_redirect of the nearest level that sets it; null: none does (the default rule). */
  redirects: readonly Directive[] | 'off' | null
  /** proxy_cookie_domain and proxy_cookie_path of the nearest level that sets each; null: none does. */
  cookieDomains: readonly Directive[] | 'off' | null
  cookiePaths: readonly Directive[] | 'off' | null
  cookieFlags: readonly Directive[] | 'off' | null
  gzip: GzipConf
  files: StaticSettings
  /** http2_chunk_size */
  h2ChunkSize: number
  /** http2_max_concurrent_streams, http2_body_preread_size (server level) */
  h2MaxStreams: number
  h2Preread: number
  /** large_client_header_buffers: number × size */
  headerBuffers: number
  /** grpc_set_header, grpc_hide_header and the grpc_* timeouts and retries */
  grpcHeaders: Directive[]
  grpcHide: Set<string>
  /** grpc_ssl_* in force, by name */
  grpcSsl: readonly Directive[]
  grpc: { connectTimeout: number; readTimeout: number; nextUpstream: number; nextTries: number; intercept: boolean }
}

export function compileHttp(src: HttpSource): HttpConfig {
  const http = find(src.tree, 'http')
  const vars = new Variables({ version: VERSION })
  const block = http?.block ?? []
  for (const d of block) if (d.name === 'map') vars.addMap(d)
  addSplitClients(block, vars)
  addGeo(block, vars, src.warn)
  const files = new LogFiles({ onError: (m) => log('alert', m) })
  const logCtx: AccessLogContext = { formats: new LogFormats(vars), files, vars, resolvePath: (p) => resolve(src.prefix, p) }
  for (const d of block) if (d.name === 'log_format') logCtx.formats.add(d)
  let dflt: AccessLog[] | null = null
  const logsOf = (i: Inherited): AccessLog[] | null =>
    i.logs === 'off' ? null : i.logs === 'default' ? (dflt ??= [defaultAccessLog(logCtx)]) : i.logs

  const temps = new Map<string, TempPath>()
  const defaultTemp = new TempPath(resolve(src.prefix, 'client_body_temp'))
  temps.set(defaultTemp.dir, defaultTemp)
  const confDir = dirname(resolve(src.prefix, src.confFile))
  const base = level(
    {
      access: null, realip: NO_REALIP, limitReq: NO_LIMIT_REQ, limitConn: NO_LIMIT_CONN,
      reqZones: compileReqZones(block, vars, src.shm ?? null), connZones: compileConnZones(block, vars, src.shm ?? null),
      auth: NO_AUTH, authCompiler: new AuthCompiler(confDir, src.warn), satisfyAny: false, addHeaders: [], clientMaxBodySize: 1024 * 1024, bodyBufferSize: 16 * 1024, bodyTemp: defaultTemp,
      temps, requestBuffering: true, proxyMethod: null, proxySetBody: null, passHeaders: true, passBody: true, prefix: src.prefix, keepaliveTimeout: 75_000, keepaliveHeader: 0, keepaliveRequests: 1000,
      absoluteRedirect: true, portInRedirect: true, serverNameInRedirect: false, limitRate: null, limitRateAfter: 0,
      clientBodyTimeout: 60_000, clientHeaderTimeout: 60_000, sendTimeout: 60_000, defaultType: 'text/plain',
      types: DEFAULT_TYPES, serverTokens: true, charset: null, expires: null, proxyHeaders: [], proxyVersion: '1.0',
      proxy: { connectTimeout: 60_000, readTimeout: 60_000, sendTimeout: 60_000, nextUpstream: NEXT_ERROR | NEXT_TIMEOUT, nextTries: 0, nextTimeout: 0 },
      hide: new Set(DEFAULT_HIDE), ignore: new Set(), logs: 'default', scripts: new ScriptCompiler(src), jsImports: [],
      proxySsl: [], proxyTls: new ProxyTlsCompiler(src.prefix, src.confFile),
      errorPages: null, recursiveErrorPages: false, interceptErrors: false, redirects: null, cookieDomains: null, cookiePaths: null, cookieFlags: null, gzip: GZIP_DEFAULT,
      files: staticDefaults(src.prefix, vars),
      h2ChunkSize: 8 * 1024, h2MaxStreams: 128, h2Preread: 64 * 1024, headerBuffers: 4 * 8 * 1024,
      grpcHeaders: [], grpcHide: new Set(), grpcSsl: [], grpc: { connectTimeout: 60_000, readTimeout: 60_000, nextUpstream: NEXT_ERROR | NEXT_TIMEOUT, nextTries: 0, intercept: false },
    },
    block,
    vars,
    logCtx,
  )

  const serverDirs = block.filter((d) => d.name === 'server')
  const inputs: ServerInput[] = []
  const listeners = new Map<string, Listener>()
  for (const s of serverDirs) {
    const listens: ListenInput[] = []
    const own = (s.block ?? []).filter((d) => d.name === 'listen')
    for (const d of own) listens.push(listenOf(d, listeners))
    if (own.length === 0) listens.push(listenOf({ name: 'listen', args: ['80'], block: null, file: s.file, line: s.line }, listeners))
    inputs.push({ directives: s.block ?? [], listens })
  }
  const vhosts = buildVirtualHosts(inputs)
  const serverListens = serverDirs.map((s, i) => ({ directive: s, listenKeys: inputs[i]!.listens.map((l) => l.key) }))
  vars.declareCaptures(vhosts.captureNames)

  const servers: ServerConf[] = serverDirs.map((s, index) => {
    const sblock = s.block ?? []
    const inh = level(base, sblock, vars, logCtx)
    const serverRewrites = compileRewrites<LocConf>(sblock, vars, null)
    const locations = buildLocations(sblock)
    vars.declareCaptures(locations.captureNames)
    const confs = new Map<Directive, LocConf>()
    const locConfs = locations.locations.map((loc) => {
      // A nested location inherits from its enclosing one.
      const chain: Directive[] = []
      for (let l: typeof loc | null = loc; l !== null; l = l.parent) chain.unshift(l.directive)
      let i = inh
      for (const d of chain) i = level(i, d.block ?? [], vars, logCtx)
      const c = locConf(i, loc.directive.block ?? [], vars, logCtx, logsOf, loc)
      confs.set(loc.directive, c)
      return c
    })
    return {
      index,
      name: vhosts.serverNames[index] ?? '',
      locations,
      locConfs,
      serverConf: {
        ...locConf(inh, [], vars, logCtx, logsOf),
        tryFiles: compileTryFiles(sblock, vars),
        // nginx takes stub_status at the server level too: it answers the requests no location matches.
        ...(find(sblock, 'stub_status') ? { handler: { kind: 'stub_status' } as const } : {}),
      },
      rewrites: serverRewrites,
      clientHeaderTimeout: inh.clientHeaderTimeout,
      verifyClient: clientVerify(block, sblock),
      h2: {
        maxConcurrentStreams: inh.h2MaxStreams,
        bodyPreread: inh.h2Preread,
        idleTimeout: inh.keepaliveTimeout,
        maxRequests: inh.keepaliveRequests,
        headerTimeout: inh.clientHeaderTimeout,
        maxHeaderList: inh.headerBuffers,
      } satisfies H2Settings,
    }
  })
  const h2 = compileHttp2(block, serverListens, vhosts, sslListenKeys(serverListens), (i) => servers[i]!.h2)
  const tls = compileTls(block, serverListens, vhosts, confDir, h2)
  if (src.warn) http2Warnings([block], src.warn)
  vars.finish()
  if (src.warn) for (const w of openInterfaces(servers, inputs.map((i) => i.listens))) src.warn(w.message, w.at)
  const events = find(src.tree, 'events')?.block ?? []
  return {
    workerConnections: Number(find(events, 'worker_connections')?.args[0] ?? 512),
    listeners: bindPlan([...listeners.values()]),
    tls,
    h2,
    servers,
    vhosts,
    errorPages: new ErrorPages(VERSION),
    slots: vars.slots,
    resolver: resolverOf(block),
    accessLogs: logsOf(base),
    logFiles: files,
    vars,
    tempPaths: [...temps.values()],
    jsModules: base.scripts.jsModules,
    keepsRequestBody: vars.uses('request_body'),
    keepsUpstreamHeaders: vars.usesPrefix('upstream_http_') || vars.usesPrefix('upstream_cookie_'),
  }
}

/** Applies one level's directives over the inherited settings. */
function level(parent: Inherited, block: readonly Directive[], vars: Variables, logCtx: AccessLogContext): Inherited {
  const i: Inherited = { ...parent, proxy: { ...parent.proxy }, grpc: { ...parent.grpc }, files: staticLevel(parent.files, block, vars) }
  const logs = compileAccessLogs(block, logCtx)
  if (logs !== undefined) i.logs = logs
  const own = compileAccess(block)
  if (own !== null) i.access = own
  i.realip = realIpLevel(i.realip, block)
  i.limitReq = limitReqLevel(i.limitReq, block, i.reqZones)
  i.limitConn = limitConnLevel(i.limitConn, block, i.connZones)
  i.auth = i.authCompiler.level(i.auth, block, vars)
  i.errorPages = compileErrorPages(block, vars) ?? i.errorPages
  i.redirects = levelRedirects(block) ?? i.redirects
  i.cookieDomains = levelCookieRules(block, 'proxy_cookie_domain') ?? i.cookieDomains
  i.cookiePaths = levelCookieRules(block, 'proxy_cookie_path') ?? i.cookiePaths
  i.cookieFlags = levelCookieRules(block, 'proxy_cookie_flags') ?? i.cookieFlags
  i.gzip = gzipLevel(i.gzip, block)
  i.expires = expiresLevel(i.expires, block)
  i.h2ChunkSize = chunkSizeLevel(i.h2ChunkSize, block)
  const imports = block.filter((d) => d.name === 'js_import')
  if (imports.length > 0) i.jsImports = [...i.jsImports, ...imports.map((d) => i.scripts.import(d))]
  i.proxySsl = ProxyTlsCompiler.merge(i.proxySsl, block)
  const adds = block.filter((d) => d.name === 'add_header')
  if (adds.length > 0) {
    i.addHeaders = adds.map((d) => ({ name: d.args[0]!, value: vars.compile(d.args[1]!, at(d)), always: d.args[2] === 'always' }))
  }
  const gssl = block.filter((d) => d.name.startsWith('grpc_ssl_'))
  if (gssl.length > 0) i.grpcSsl = [...i.grpcSsl.filter((p) => !gssl.some((d) => d.name === p.name)), ...gssl]
  const gh = block.filter((d) => d.name === 'grpc_set_header')
  if (gh.length > 0) i.grpcHeaders = gh
  const ghide = block.filter((d) => d.name === 'grpc_hide_header')
  if (ghide.length > 0) i.grpcHide = new Set(ghide.map((d) => d.args[0]!.toLowerCase()))
  const headers = block.filter((d) => d.name === 'proxy_set_header')
  if (headers.length > 0) i.proxyHeaders = headers
  // A bitmask slot: every proxy_ignore_headers of a level adds to one set, which replaces the inherited one.
  const ignores = block.filter((d) => d.name === 'proxy_ignore_headers')
  if (ignores.length > 0) i.ignore = new Set(ignores.flatMap((d) => d.args.map((a) => a.toLowerCase())))
  const hides = block.filter((d) => d.name === 'proxy_hide_header' || d.name === 'proxy_pass_header')
  if (hides.length > 0) {
    i.hide = new Set(DEFAULT_HIDE)
    for (const d of hides) {
      const n = d.args[0]!.toLowerCase()
      if (d.name === 'proxy_hide_header') i.hide.add(n)
      else i.hide.delete(n)
    }
  }
  for (const d of block) {
    const a0 = d.args[0] ?? ''
    switch (d.name) {
      // 0 turns the check off.
      case 'client_max_body_size': {
        const v = parseOffset(a0)
        if (v !== null) i.clientMaxBodySize = v === 0 ? Infinity : v
        break
      }
      case 'client_body_buffer_size': i.bodyBufferSize = parseSize(a0) ?? i.bodyBufferSize; break
      case 'client_body_temp_path': {
        const dir = resolve(i.prefix, a0)
        let t = i.temps.get(dir)
        if (t === undefined) {
          t = new TempPath(dir, d.args.slice(1).map(Number))
          i.temps.set(dir, t)
        }
        i.bodyTemp = t
        break
      }
      case 'proxy_request_buffering': i.requestBuffering = a0 === 'on'; break
      case 'proxy_method': i.proxyMethod = d; break
      case 'proxy_set_body': i.proxySetBody = d; break
      case 'proxy_pass_request_headers': i.passHeaders = a0 === 'on'; break
      case 'proxy_pass_request_body': i.passBody = a0 === 'on'; break
      case 'keepalive_timeout':
        i.keepaliveTimeout = parseTime(a0, 'ms') ?? i.keepaliveTimeout
        // As ngx_http_core_keepalive: without the second parameter the header timeout is inherited, not reset.
        if (d.args[1] !== undefined) i.keepaliveHeader = Math.floor((parseTime(d.args[1], 's') ?? 0) / 1000)
        break
      case 'keepalive_requests': i.keepaliveRequests = Number(a0); break
      case 'http2_max_concurrent_streams': i.h2MaxStreams = Number(a0); break
      case 'http2_body_preread_size': i.h2Preread = parseSize(a0) ?? i.h2Preread; break
      case 'large_client_header_buffers': i.headerBuffers = Number(a0) * (parseSize(d.args[1] ?? '') ?? 8192); break
      case 'absolute_redirect': i.absoluteRedirect = a0 === 'on'; break
      // `limit_rate 0` turns an inherited rate off.
      case 'limit_rate': i.limitRate = a0 === '0' ? null : vars.compile(a0, at(d)); break
      case 'limit_rate_after': i.limitRateAfter = parseSize(a0) ?? 0; break
      case 'port_in_redirect': i.portInRedirect = a0 === 'on'; break
      case 'server_name_in_redirect': i.serverNameInRedirect = a0 === 'on'; break
      case 'client_body_timeout': i.clientBodyTimeout = parseTime(a0, 'ms') ?? i.clientBodyTimeout; break
      case 'client_header_timeout': i.clientHeaderTimeout = parseTime(a0, 'ms') ?? i.clientHeaderTimeout; break
      case 'send_timeout': i.sendTimeout = parseTime(a0, 'ms') ?? i.sendTimeout; break
      case 'default_type': i.defaultType = a0; break
      case 'types': i.types = compileTypes(d); break
      case 'server_tokens': i.serverTokens = a0 !== 'off'; break
      case 'charset': i.charset = charsetOf(a0); break
      case 'satisfy': i.satisfyAny = a0.toLowerCase() === 'any'; break
      case 'recursive_error_pages': i.recursiveErrorPages = a0 === 'on'; break
      case 'proxy_intercept_errors': i.interceptErrors = a0 === 'on'; break
      case 'proxy_http_version': i.proxyVersion = a0 === '1.1' ? '1.1' : '1.0'; break
      case 'proxy_connect_timeout': i.proxy.connectTimeout = parseTime(a0, 'ms') ?? i.proxy.connectTimeout; break
      case 'proxy_read_timeout': i.proxy.readTimeout = parseTime(a0, 'ms') ?? i.proxy.readTimeout; break
      case 'proxy_send_timeout': i.proxy.sendTimeout = parseTime(a0, 'ms') ?? i.proxy.sendTimeout; break
      case 'proxy_next_upstream_tries': i.proxy.nextTries = Number(a0); break
      case 'grpc_connect_timeout': i.grpc.connectTimeout = parseTime(a0, 'ms') ?? i.grpc.connectTimeout; break
      case 'grpc_read_timeout': i.grpc.readTimeout = parseTime(a0, 'ms') ?? i.grpc.readTimeout; break
      case 'grpc_next_upstream_tries': i.grpc.nextTries = Number(a0); break
      case 'grpc_intercept_errors': i.grpc.intercept = a0 === 'on'; break
      case 'grpc_next_upstream': {
        let bits = 0
        for (const a of d.args) bits |= NEXT_BITS[a] ?? 0
        i.grpc.nextUpstream = bits
        break
      }
      case 'proxy_next_upstream_timeout': i.proxy.nextTimeout = parseTime(a0, 'ms') ?? 0; break
      case 'proxy_next_upstream': {
        let bits = 0
        for (const a of d.args) {
          const b = NEXT_BITS[a]
          if (b === undefined) throw new DyupsError('E_CONFIG', `invalid value "${a}"`, at(d))
          bits |= b
        }
        i.proxy.nextUpstream = bits
        break
      }
    }
  }
  return i
}

/**
 * The configuration of a location (or of the server itself, `loc` undefined). `inherit`: the handler of the enclosing
 * location, for an `if` block without one of its own (nginx's proxy module passes proxy_pass down into `if`).
 */
function locConf(i: Inherited, block: readonly Directive[], vars: Variables, logCtx: AccessLogContext, logsOf: (i: Inherited) => AccessLog[] | null, loc?: Location, inherit?: Handler): LocConf {
  const own = handlerOf(i, block, vars, loc, inherit !== undefined)
  const handler = own.kind === 'static' && inherit !== undefined ? inherit : own
  const ifConf = (b: readonly Directive[]): LocConf => locConf(level(i, b, vars, logCtx), b, vars, logCtx, logsOf, loc, handler)
  // limit_except: an unnamed location inside this one, which keeps its handler and runs none of its rewrites.
  const le = inherit === undefined ? find(block, 'limit_except') : undefined
  return {
    handler,
    realip: compileRealIp(i.realip),
    limitReq: compileLimitReq(i.limitReq),
    limitConn: compileLimitConn(i.limitConn),
    access: i.access,
    auth: i.auth.auth,
    satisfyAny: i.satisfyAny,
    limitExcept: le === undefined ? null : { allowed: limitMethods(le), conf: ifConf(le.block ?? []) },
    rewrites: inherit !== undefined ? [] : compileRewrites(block, vars, ifConf),
    errorPages: i.errorPages,
    recursiveErrorPages: i.recursiveErrorPages,
    interceptErrors: i.interceptErrors,
    gzip: i.gzip.enable ? i.gzip : null,
    addHeaders: i.addHeaders,
    clientMaxBodySize: i.clientMaxBodySize,
    bodyBufferSize: i.bodyBufferSize,
    bodyTemp: i.bodyTemp,
    keepaliveTimeout: i.keepaliveTimeout,
    keepaliveHeader: i.keepaliveHeader,
    keepaliveRequests: i.keepaliveRequests,
    limitRate: i.limitRate,
    limitRateAfter: i.limitRateAfter,
    absoluteRedirect: i.absoluteRedirect,
    portInRedirect: i.portInRedirect,
    serverNameInRedirect: i.serverNameInRedirect,
    clientBodyTimeout: i.clientBodyTimeout,
    sendTimeout: i.sendTimeout,
    defaultType: i.defaultType,
    types: i.types,
    serverTokens: i.serverTokens,
    charset: i.charset,
    expires: i.expires,
    accessLogs: logsOf(i),
    files: staticOfLocation(i.files, loc),
    tryFiles: compileTryFiles(block, vars),
    internal: find(block, 'internal') !== undefined,
    h2ChunkSize: i.h2ChunkSize,
  }
}

function handlerOf(i: Inherited, block: readonly Directive[], vars: Variables, loc: Location | undefined, inIf: boolean): Handler {
  if (find(block, 'dyups_interface')) return { kind: 'dyups' }
  if (find(block, 'dyups_metrics')) return { kind: 'metrics' }
  if (find(block, 'stub_status')) return { kind: 'stub_status' }
  if (find(block, 'dyups_dashboard')) return { kind: 'dashboard' }
  const status = find(block, 'check_status')
  if (status) return { kind: 'check_status', format: (STATUS_FORMATS as readonly string[]).includes(status.args[0] ?? '') ? (status.args[0] as StatusFormat) : 'html' }
  const script = i.scripts.handler(block, i.jsImports)
  if (script !== null) return script
  const echoes = block.filter((d) => d.name === 'echo')
  if (echoes.length > 0) return { kind: 'echo', parts: echoes.map((d) => vars.compile(d.args.join(' '), at(d))) }
  const pass = find(block, 'proxy_pass')
  if (pass) return { kind: 'proxy', pass: proxyPass(i, pass, vars, loc, inIf) }
  const grpc = find(block, 'grpc_pass')
  if (grpc) return { kind: 'grpc', pass: grpcPass(i, grpc, vars) }
  return { kind: 'static' }
}

function grpcPass(i: Inherited, d: Directive, vars: Variables): GrpcPass {
  const tlsOn = /^grpcs:\/\//i.test(d.args[0]!)
  const host = d.args[0]!.replace(/^grpcs?:\/\//i, '')
  let tls = null
  if (tlsOn) {
    // The same settings as proxy_ssl_*, under their grpc_ names (ngx_http_grpc_module's own copy of them).
    const as = i.grpcSsl.map((x) => ({ ...x, name: x.name.replace(/^grpc_ssl_/, 'proxy_ssl_') }))
    try {
      tls = i.proxyTls.build(as, vars)
    } catch (e) {
      if (e instanceof DyupsError) throw new DyupsError(e.code, e.message.replaceAll('proxy_ssl_', 'grpc_ssl_'), e.at ?? at(d))
      throw e
    }
  }
  return {
    tls,
    host,
    headers: i.grpcHeaders.map((h) => ({ name: h.args[0]!.toLowerCase(), value: vars.compile(h.args[1] ?? '', at(h)) })),
    connectTimeout: i.grpc.connectTimeout,
    readTimeout: i.grpc.readTimeout,
    nextUpstream: i.grpc.nextUpstream,
    nextTries: i.grpc.nextTries,
    hide: i.grpcHide,
    interceptErrors: i.grpc.intercept,
  }
}

function proxyPass(i: Inherited, d: Directive, vars: Variables, loc: Location | undefined, inIf: boolean): ProxyPass {
  const url = d.args[0]!
  const tpl = vars.compile(url, at(d))
  const m = /^(https?):\/\/(.*)$/i.exec(url)
  // With variables (`$target`, `$scheme://…`) the URL is checked per request, as nginx does.
  if (!m && tpl.constant !== null) throw new DyupsError('E_CONFIG', `invalid URL prefix in "${url}"`, at(d))
  const https = m !== null && m[1]!.toLowerCase() === 'https'
  const rest = m?.[2] ?? ''
  // As nginx: TLS is prepared for an https URL, and for one with variables, whose scheme is known per request.
  const tls = https || tpl.constant === null ? i.proxyTls.build(i.proxySsl, vars) : null
  let host = '', uri: string | null = null
  if (tpl.constant !== null) {
    // `unix:/path:/uri`: the socket path ends at the `:` before the URI part, which is not part of the host.
    const unix = rest.startsWith('unix:')
    const slash = unix ? rest.indexOf(':/', 5) + 1 || -1 : rest.indexOf('/')
    host = slash > 0 ? rest.slice(0, unix ? slash - 1 : slash) : rest
    uri = slash > 0 ? rest.slice(slash) : null
    if (host === '') throw new DyupsError('E_CONFIG', `no host in "${url}" of the "proxy_pass" directive`, at(d))
    if (uri !== null && (inIf || (loc !== undefined && (loc.kind === 'regex' || loc.kind === 'iregex' || loc.kind === 'named')))) {
      // nginx's own rule: there is no prefix for the URI part to replace.
      throw new DyupsError('E_CONFIG', '"proxy_pass" cannot have URI part in location given by regular expression, or inside named location, or inside "if" statement, or inside "limit_except" block', at(d))
    }
  }
  // The location's own headers first, then nginx's defaults not overridden.
  const names: string[] = [], values: Template[] = []
  for (const h of i.proxyHeaders) {
    names.push(h.args[0]!)
    values.push(vars.compile(h.args[1] ?? '', at(h)))
  }
  const have = new Set(names.map((n) => n.toLowerCase()))
  const defaults: [string, string][] = [['Host', '$proxy_host'], ['Connection', 'close']]
  for (const [n, v] of defaults) {
    if (have.has(n.toLowerCase())) continue
    names.push(n)
    values.push(vars.compile(v))
  }
  return {
    url: tpl.constant === null ? tpl : null,
    host,
    uri,
    // The URI part replaces the part of $uri the location matched (nginx's proxy_pass rule).
    locationPrefix: loc?.name ?? '',
    version: i.proxyVersion,
    plan: new HeaderPlan(names),
    values,
    settings: i.proxy,
    hide: i.hide,
    ignore: i.ignore,
    https,
    tls,
    cookies: compileProxyCookies(i.cookieDomains, i.cookiePaths, i.cookieFlags, vars),
    redirect: compileProxyRedirect({ directives: i.redirects, url: tpl.constant !== null ? url : null, hasUri: uri !== null, location: loc?.name ?? '' }, vars),
    // A body not sent as the client sent it (another, or none) is read whole first: there is nothing to stream.
    requestBuffering: i.requestBuffering || !i.passBody || i.proxySetBody !== null,
    method: i.proxyMethod === null ? null : vars.compile(i.proxyMethod.args[0]!, at(i.proxyMethod)),
    setBody: i.proxySetBody === null ? null : vars.compile(i.proxySetBody.args[0]!, at(i.proxySetBody)),
    passHeaders: i.passHeaders,
    passBody: i.passBody,
    bodyTemp: i.bodyTemp,
  }
}

/** One `listen`: its key for virtual-server lookup, and the socket it needs. */
function listenOf(d: Directive, listeners: Map<string, Listener>): ListenInput {
  const a = parseAddress(d.args[0]!, { listen: true })
  if (typeof a === 'string') throw new DyupsError('E_CONFIG', `${a} in "${d.args[0]}" of the "listen" directive`, at(d))
  let key: string, host: string | null = null, port = a.port ?? 80, path: string | null = null
  if (a.family === 'unix') {
    key = `unix:${a.host}`
    path = a.host
    port = 0
  } else if (a.family === 'inet6') {
    host = a.host.replace(/^\[|\]$/g, '')
    key = `[${host}]:${port}`
  } else {
    host = a.host === '*' ? '0.0.0.0' : a.host
    key = `${host}:${port}`
  }
  const params = d.args.slice(1)
  const backlog = Number(params.find((p) => p.startsWith('backlog='))?.slice(8) ?? 511)
  const v6only = params.find((p) => p.startsWith('ipv6only='))
  if (!listeners.has(key)) {
    listeners.set(key, { key, host, port, path, ipv6only: v6only ? v6only === 'ipv6only=on' : true, wildcard: false, backlog })
  }
  return { key, defaultServer: params.includes('default_server') || params.includes('default'), file: d.file, line: d.line }
}

/**
 * nginx binds a wildcard address once per port and tells its servers apart by the connection's local address;
 * specific addresses on a port that also has a wildcard are not bound separately.
 */
function bindPlan(all: Listener[]): Listener[] {
  const wild = new Set(all.filter((l) => l.host === '0.0.0.0' || l.host === '::').map((l) => `${l.host === '::' ? 6 : 4}:${l.port}`))
  const out: Listener[] = []
  for (const l of all) {
    if (l.path !== null) {
      out.push(l)
      continue
    }
    const v6 = l.host!.includes(':')
    const isWild = l.host === '0.0.0.0' || l.host === '::'
    if (!isWild && wild.has(`${v6 ? 6 : 4}:${l.port}`)) continue
    out.push({ ...l, wildcard: isWild })
  }
  return out
}

export { parseFlag }

/** `resolver ADDR… [valid=TIME] [ipv6=on|off]` and `resolver_timeout` of the http level. */
function resolverOf(block: readonly Directive[]): HttpConfig['resolver'] {
  const d = find(block, 'resolver')
  if (d === undefined) return null
  const valid = d.args.find((a) => a.startsWith('valid='))
  return {
    servers: d.args.filter((a) => !a.includes('=')),
    timeoutMs: parseTime(find(block, 'resolver_timeout')?.args[0] ?? '30s', 'ms') ?? 30_000,
    validMs: valid === undefined ? 0 : (parseTime(valid.slice(6), 'ms') ?? 0),
  }
}

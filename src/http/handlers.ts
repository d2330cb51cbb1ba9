/**
 * Content handlers: what a location does with a request once its head (and body) are read —
 * `return`, `echo`, `dyups_interface`, `proxy_pass`.
 */
import { handleInterface } from '../dyups/index.js'
import { createBalancer, type Balancer } from '../balancer/index.js'
import { buildRequestHead, Exchange } from '../proxy/index.js'
import { log } from '../log.js'
import { formatError } from '../errors.js'
import { parseCommands } from '../upstream/index.js'
import type { Connection } from './connection.js'
import type { ProxyPass } from './conf.js'
import type { Request } from './request.js'
import { decodeForDyups, escapeUri } from './uri.js'
import type { HttpWorker } from './worker.js'
import { doCheckStatus } from './check-status.js'
import type { Template } from './variables.js'
import { runJs, runLua } from './script/index.js'

export function runHandler(w: HttpWorker, c: Connection, req: Request): void {
  const h = req.loc!.handler
  switch (h.kind) {
    case 'return':
      return doReturn(c, req, h.code, h.text)
    case 'echo': {
      let body = ''
      for (const p of h.parts) body += p.eval(req) + '\n'
      return c.sendLocal(200, body, null)
    }
    case 'dyups':
      return void doInterface(w, c, req)
    case 'check_status':
      return void doCheckStatus(w, c, req, h.format)
    case 'proxy':
      return doProxy(w, c, req, h.pass)
    case 'lua':
      return void runLua(w, c, req, h.script)
    case 'js':
      return runJs(w, c, req, h.content)
    case 'none':
      return c.finishLocal(404)
  }
}

function doReturn(c: Connection, req: Request, code: number, text: Template | null): void {
  if (code === 444) {
    req.status = 444
    req.keepAlive = false
    c.socket.destroy()
    return
  }
  const value = text === null ? null : text.eval(req)
  if (code === 301 || code === 302 || code === 303 || code === 307 || code === 308) {
    return c.sendLocal(code, null, value === null ? null : [['Location', value.startsWith('/') ? c.absolute(value) : value]])
  }
  if (value === null) return code >= 300 ? c.finishLocal(code) : c.sendLocal(code, '', null)
  c.sendLocal(code, value, null)
}

async function doInterface(w: HttpWorker, c: Connection, req: Request): Promise<void> {
  const segments = decodeForDyups(req.head.target)
  if (segments === null) return c.finishLocal(400)
  const hasBody = req.head.contentLength >= 0 || req.head.chunked
  try {
    const reply = await handleInterface(
      {
        method: req.method,
        segments,
        body: hasBody ? (req.body?.toString('latin1') ?? '') : null,
        ifMatch: req.head.get('if-match'),
      },
      { table: w.deps.table, sink: w.deps.sink, trylock: w.deps.trylock },
    )
    const headers: [string, string][] | null = reply.etag !== null ? [['ETag', `"${reply.etag}"`]] : null
    if (reply.status === 204) return c.sendLocal(204, '', headers)
    c.sendLocal(reply.status, reply.body, headers, reply.body === null ? undefined : 'text/plain')
  } catch (e) {
    log('alert', `dyups interface failed: ${formatError(e)}`)
    c.sendLocal(500, formatError(e).replace(/[\r\n]+/g, ' '), null, 'text/plain')
  }
}

function doProxy(w: HttpWorker, c: Connection, req: Request, pass: ProxyPass): void {
  let host = pass.host
  let uri: string | null = pass.uri
  if (pass.url !== null) {
    const url = pass.url.eval(req)
    const m = /^https?:\/\/([^/]*)(.*)$/i.exec(url)
    if (m === null || m[1] === '') {
      log('error', `invalid URL prefix in "${url}", client: ${req.remoteAddr}, host: "${req.host}"`)
      return c.finishLocal(500)
    }
    host = m[1]!
    uri = m[2] === '' ? null : m[2]!
  }
  req.proxyHost = host
  const path = uri === null ? req.requestUri : pass.url !== null ? uri : uri + escapeUri(req.uri.slice(pass.locationPrefix.length)) + (req.args === '' ? '' : `?${req.args}`)
  const balancer = w.deps.table.route(host) ?? w.literals.get(host)
  if (balancer !== undefined) return forward(w, c, req, pass, balancer, path)
  // Not a group: a literal address makes an implicit upstream (cached); anything else is 502 at once.
  void literalBalancer(w, host).then(async (b) => {
    if (b === undefined && w.names !== null) b = await w.names.balancer(host)
    if (b !== undefined) return forward(w, c, req, pass, b, path)
    const why = w.names === null ? `no resolver defined to resolve ${host}` : `${host} could not be resolved (3: Host not found)`
    log('error', `${why}, client: ${req.remoteAddr}, server: ${req.serverName}, request: "${req.requestLine}", host: "${req.host}"`)
    c.finishLocal(502)
  })
}

function forward(w: HttpWorker, c: Connection, req: Request, pass: ProxyPass, balancer: Balancer, path: string): void {
  const values: string[] = new Array(pass.values.length)
  for (let i = 0; i < values.length; i++) values[i] = pass.values[i]!.eval(req)
  const head = buildRequestHead(req.method, path, pass.version, pass.plan, values, req.headers, c.bodyOutLength)
  const group = balancer.group
  const sel = balancer.begin({ clientAddr: req.remoteAddr, hashKey: hashKey(w, group.policy.key, req), now: Date.now() })
  c.startProxy(new Exchange(sel, w.pools, group.keepalive, pass.settings, head, c.bodySpool, c, c.bodyOutMode))
}

function hashKey(w: HttpWorker, key: string | undefined, req: Request): string | undefined {
  if (key === undefined) return undefined
  try {
    return w.template(key).eval(req)
  } catch {
    return ''
  }
}

/**
 * A balancer for a literal address in proxy_pass (`127.0.0.1:8088`, `[::1]:80`, `unix:/path`): nginx's implicit
 * upstream. Names are not resolved (no `resolver` support yet), so they fail.
 */
async function literalBalancer(w: HttpWorker, host: string): Promise<Balancer | undefined> {
  if (w.literals.has(host)) return w.literals.get(host)
  let b: Balancer | undefined
  try {
    const g = await parseCommands(host, `server ${host};`, async () => [])
    b = createBalancer(g, w.deps.table.states)
  } catch {
    b = undefined
  }
  // Only addresses are cached: the key space of unknown names is the clients' to choose.
  if (b !== undefined && w.literals.size < 1024) w.literals.set(host, b)
  return b
}

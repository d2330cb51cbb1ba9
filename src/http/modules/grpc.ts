/**
 * `grpc_pass grpc://GROUP|ADDR`: a request from an HTTP/2 client goes to a backend over HTTP/2 — one shared,
 * multiplexed connection per server (H2Pool) — and the answer, trailers included (grpc-status, grpc-message), comes
 * back as it streams. The group is looked up in the routing table at each request, so groups added or replaced
 * through the interface serve gRPC exactly as they serve proxy_pass; a server that cannot be connected to is
 * marked failed and the next one tried (grpc_next_upstream error/timeout), before anything was sent.
 */
import { constants, type ClientHttp2Session } from 'node:http2'
import { createBalancer, type Balancer, type Peer, type PeerSelection } from '../../balancer/index.js'
import { log } from '../../log.js'
import { NEXT_ERROR, NEXT_TIMEOUT, sslName } from '../../proxy/index.js'
import type { TLSSocket } from 'node:tls'
import { parseCommands } from '../../upstream/index.js'
import type { GrpcPass } from '../conf/types.js'
import type { GrpcResponder, Services } from '../lib/context.js'
import { requestContext } from '../lib/log-context.js'
import type { Request } from '../lib/request.js'
import { escapeUri } from '../lib/uri.js'

/** Client fields never passed on: HTTP/2 has no connection-specific ones, and these the relay sets itself. */
const SKIP = new Set(['host', 'te', 'connection', 'keep-alive', 'upgrade', 'transfer-encoding', 'proxy-connection'])

export function doGrpc(w: Services, c: GrpcResponder & { readonly failed: (e: unknown) => void }, req: Request, pass: GrpcPass): void {
  const side = c.grpc
  if (side === null) {
    log('error', `gRPC requires HTTP/2 from the client${requestContext(req)}`)
    return c.finishLocal(502)
  }
  void balancerFor(w, pass.host).then((b) => {
    if (b === undefined) {
      log('error', `no upstream "${pass.host}" for grpc_pass${requestContext(req)}`)
      return c.finishLocal(502)
    }
    const sel = b.begin({ clientAddr: req.remoteAddr, now: Date.now() })
    next(w, c, req, pass, sel, 0)
  }).catch(c.failed)
}

async function balancerFor(w: Services, host: string): Promise<Balancer | undefined> {
  const b = w.deps.table.route(host) ?? w.literals.get(host)
  if (b !== undefined) return b
  try {
    const g = await parseCommands(host, `server ${host};`, async () => [])
    const lit = createBalancer(g, w.deps.table.states)
    if (w.literals.size < 1024) w.literals.set(host, lit)
    return lit
  } catch {
    return undefined
  }
}

function next(w: Services, c: GrpcResponder, req: Request, pass: GrpcPass, sel: PeerSelection, tries: number): void {
  if (c.gone) return
  if (pass.nextTries !== 0 && tries >= pass.nextTries) return c.finishLocal(502)
  const peer = sel.next()
  if (peer === null) {
    log('error', `no live upstreams while connecting to upstream${requestContext(req, sel.name)}`)
    c.attempt(sel.name, 502, -1, 0, -1, 0, 0, 0)
    return c.finishLocal(502)
  }
  const addr = peer.server.addr
  const start = Date.now()
  const tls = pass.tls
  // grpc_ssl_name, else the host of grpc_pass (nginx's default), without its port.
  const name = tls === null ? '' : sslName(tls.name === null ? pass.host : tls.name.eval(req))
  const s = w.h2pool.get(addr, tls?.tls ?? null, name)
  if (!s.connecting) return send(c, req, pass, sel, peer, s, start, 0)
  // One connect per attempt: its failure or timeout moves on to the next server.
  let settled = false
  const timer = setTimeout(() => fail('upstream timed out (110: Connection timed out) while connecting to upstream', NEXT_TIMEOUT, 504), pass.connectTimeout)
  const fail = (what: string, bit: number, status: number): void => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    s.removeListener('connect', ok)
    s.removeListener('error', failed)
    s.destroy()
    log('error', `${what}${requestContext(req, `${tls === null ? 'grpc' : 'grpcs'}://${addr}`)}`)
    sel.done(peer, false)
    c.attempt(addr, status, -1, Date.now() - start, -1, 0, 0, 0)
    if ((pass.nextUpstream & bit) !== 0 && sel.tries > 0) return next(w, c, req, pass, sel, tries + 1)
    c.finishLocal(status)
  }
  const ok = (): void => {
    if (settled) return
    // grpc_ssl_verify: the chain and the name, once per connection, before any call goes on it.
    const why = tls === null ? null : tls.tls.checkPeer(s.socket as TLSSocket, name)
    if (why !== null) return fail(`${why} while SSL handshaking to upstream`, NEXT_ERROR, 502)
    settled = true
    clearTimeout(timer)
    s.removeListener('error', failed)
    send(c, req, pass, sel, peer, s, start, Date.now() - start)
  }
  const failed = (e: NodeJS.ErrnoException): void =>
    fail(`connect() failed (${e.code === 'ECONNREFUSED' ? '111: Connection refused' : (e.code ?? e.message)}) while connecting to upstream`, NEXT_ERROR, 502)
  s.once('connect', ok)
  s.once('error', failed)
}

function send(c: GrpcResponder, req: Request, pass: GrpcPass, sel: PeerSelection, peer: Peer, s: ClientHttp2Session, start: number, connectMs: number): void {
  const side = c.grpc!
  const path = req.rewritten ? escapeUri(req.uri) + (req.args === '' ? '' : `?${req.args}`) : req.requestUri
  const set = new Map<string, string>()
  for (const h of pass.headers) set.set(h.name, h.value.eval(req))
  const fields: string[] = [':method', req.method, ':scheme', pass.tls === null ? 'http' : 'https', ':path', path, ':authority', req.head.get('host') ?? pass.host]
  const f = side.fields
  for (let i = 0; i < f.length; i += 2) {
    const n = f[i]!
    if (SKIP.has(n) || set.has(n)) continue
    fields.push(n, f[i + 1]!)
  }
  for (const [n, v] of set) if (v !== '') fields.push(n, v)
  // gRPC's own requirement, as nginx sends it.
  fields.push('te', 'trailers')
  let up
  try {
    up = s.request(fields as unknown as Record<string, string>, { endStream: false })
  } catch (e) {
    log('error', `upstream request failed (${(e as Error).message})${requestContext(req, `grpc://${peer.server.addr}`)}`)
    sel.done(peer, false)
    c.attempt(peer.server.addr, 502, connectMs, Date.now() - start, -1, 0, 0, 0)
    return c.finishLocal(502)
  }
  const relayed = side.relay(up, pass.hide, pass.readTimeout, pass.interceptErrors, (o) => {
    sel.done(peer, o.ok)
    c.attempt(peer.server.addr, o.status, connectMs, Date.now() - start, -1, 0, 0, 0)
    if (!o.ok) log('error', `upstream prematurely closed stream while reading upstream${requestContext(req, `grpc://${peer.server.addr}`)}`)
  })
  if (!relayed) {
    up.close(constants.NGHTTP2_CANCEL)
    sel.done(peer, true)
  }
}

/**
 * `listen … ssl`: the certificates and TLS settings of each virtual server (ngx_http_ssl_module's server
 * directives, inherited from the http block), and per listen address the options a client socket is wrapped with.
 * The certificate is chosen by SNI with the same server-name lookup that picks a server by Host (vhosts.ts); without
 * SNI, or for an unknown name, the address's default server answers, as in nginx.
 *
 * A connection to an ssl address is classified by its first byte, as ngx_http_ssl_handshake does: a TLS record
 * (0x16) or an SSLv2 hello (high bit) starts a handshake on a `tls.TLSSocket` wrapped around the accepted socket;
 * anything else is read as plain HTTP, and answered with nginx's 400 "The plain HTTP request was sent to HTTPS
 * port" page once its head is in (connection.ts).
 */
import { constants } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import { resolve } from 'node:path'
import { TLSSocket, type SecureContext, type SecureContextOptions, type TLSSocketOptions } from 'node:tls'
import type { Directive } from '../../config/index.js'
import { parseTime } from '../../config/index.js'
import { DyupsError, type Pos } from '../../errors.js'
import { log } from '../../log.js'
import {
  DEFAULT_CIPHERS, DEFAULT_PROTOCOLS, readCertificate, readKey, secureContext, sslErrorText, tlsVersions, type CertPair,
} from '../../proxy/index.js'
import { normalizeHost, type VirtualHosts } from './vhosts.js'
import { H2_ALPN, type H2Plan } from './http2.js'

/** The server-level directives this module reads; each is inherited from the http block unless the server sets it. */
const SSL_DIRECTIVES = [
  'ssl_certificate', 'ssl_certificate_key', 'ssl_protocols', 'ssl_ciphers', 'ssl_prefer_server_ciphers',
  'ssl_session_timeout', 'ssl_session_tickets', 'ssl_client_certificate',
]

/** `ssl_verify_client`, as ServerConf.verifyClient holds it. */
export const VERIFY_OFF = 0
export const VERIFY_ON = 1
export const VERIFY_OPTIONAL = 2
export const VERIFY_OPTIONAL_NO_CA = 3

/**
 * A server's `ssl_verify_client` (inherited from the http block).
 * @throws DyupsError E_CONFIG `no ssl_client_certificate for ssl_verify_client` (nginx's words, without a position) for `on` or
 *   `optional` without the CA certificates to verify against
 */
export function clientVerify(http: readonly Directive[], server: readonly Directive[]): number {
  const d = effective(http, server, 'ssl_verify_client')[0]
  const mode = d === undefined ? 'off' : d.args[0]!.toLowerCase()
  const v = mode === 'on' ? VERIFY_ON : mode === 'optional' ? VERIFY_OPTIONAL : mode === 'optional_no_ca' ? VERIFY_OPTIONAL_NO_CA : VERIFY_OFF
  if ((v === VERIFY_ON || v === VERIFY_OPTIONAL) && effective(http, server, 'ssl_client_certificate').length === 0) {
    // nginx names no position: it finds this while merging the server's settings.
    throw new DyupsError('E_CONFIG', 'no ssl_client_certificate for ssl_verify_client')
  }
  return v
}

/** What a client socket on one ssl listen address is wrapped with. */
export interface TlsAddress {
  /** Shared by every connection of the address: isServer, the default server's context, the SNI lookup. */
  readonly options: TLSSocketOptions
}

/** The ssl listen addresses of a configuration, by listen key (`0.0.0.0:443`, `unix:/path`). */
export type TlsPlan = ReadonlyMap<string, TlsAddress>

/** One server's listens as compile.ts resolved them, in the order of its `listen` directives. */
export interface TlsServerInput {
  readonly directive: Directive
  readonly listenKeys: readonly string[]
}

const at = (d: Directive): Pos => ({ file: d.file, line: d.line })

/**
 * The TLS side of the http block: a SecureContext for every server with a certificate (read now, so `-t` reports
 * unreadable or mismatched files) and the wrapping options of every address some server listens on with `ssl`.
 * @param confDir where relative certificate paths start (nginx's conf prefix: the main file's directory)
 * @throws DyupsError E_CONFIG `no "ssl_certificate_key" is defined for certificate "X"`, `cannot load certificate
 *   "PATH": …`, `cannot load certificate key "PATH": …`, `SSL_CTX_use_PrivateKey("PATH") failed (key values
 *   mismatch)`, `SSL_CTX_set_cipher_list("X") failed (no cipher match)`
 */
export function compileTls(http: readonly Directive[], servers: readonly TlsServerInput[], vhosts: VirtualHosts, confDir: string, h2: H2Plan = new Map()): TlsPlan {
  const plan = new Map<string, TlsAddress>()
  const sslKeys = sslListenKeys(servers)
  const cache = new Map<string, SecureContext>()
  const contexts = servers.map((s) => serverContext(http, s.directive.block ?? [], confDir, cache))
  const verify = servers.map((s) => clientVerify(http, s.directive.block ?? []))
  for (const key of sslKeys) {
    const a = vhosts.address(key)
    if (a === undefined) continue
    // A client certificate is asked for on the handshake, before the Host is known: on an address where any server
    // wants one (each server then decides what to do with it, ServerConf.verifyClient).
    const ask = a.servers.some((i) => verify[i] !== VERIFY_OFF)
    // A server on the address without a certificate of its own (nginx would fail its handshakes) gets another's.
    const dflt = contexts[a.defaultServer] ?? a.servers.map((i) => contexts[i]).find((c) => c !== undefined)
    if (dflt === undefined) continue // checkSslListens refused this already
    const byServer = contexts
    const options: TLSSocketOptions = {
      isServer: true,
      secureContext: dflt,
      // Verified, not enforced, by the handshake: nginx answers a missing or bad certificate with a 400 page.
      ...(ask ? { requestCert: true, rejectUnauthorized: false } : {}),
      SNICallback: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => {
        const host = normalizeHost(servername)
        const si = host === null ? a.defaultServer : a.select(host)
        cb(null, byServer[si] ?? dflt)
      },
    }
    const h = h2.get(key)
    if (h !== undefined && h.mode === H2_ALPN) {
      // nginx's ngx_http_ssl_alpn_select: the server's list in its order of preference, the first the client also
      // offers; none in common is a fatal alert. `h2` only for the server SNI chose (the default one without SNI).
      options.ALPNCallback = ({ servername, protocols }) => {
        const host = servername === undefined ? null : normalizeHost(servername)
        const si = host === null ? a.defaultServer : a.select(host)
        if (h.offers(si) && protocols.includes('h2')) return 'h2'
        for (const p of HTTP1_ALPN) if (protocols.includes(p)) return p
        return undefined
      }
    }
    plan.set(key, { options })
  }
  return plan
}

/** What ALPN may choose besides `h2`, in nginx's order. */
const HTTP1_ALPN = ['http/1.1', 'http/1.0', 'http/0.9']

/** The listen keys some server listens on with `ssl`. */
export function sslListenKeys(servers: readonly TlsServerInput[]): Set<string> {
  const sslKeys = new Set<string>()
  servers.forEach((s) => {
    const listens = (s.directive.block ?? []).filter((d) => d.name === 'listen')
    listens.forEach((d, j) => {
      if (d.args.slice(1).includes('ssl')) sslKeys.add(s.listenKeys[j]!)
    })
  })
  return sslKeys
}

/** The directives of `name` in force in a server: its own, else the http block's (nginx's merge of arrays). */
function effective(http: readonly Directive[], server: readonly Directive[], name: string): Directive[] {
  const own = server.filter((d) => d.name === name)
  return own.length > 0 ? own : http.filter((d) => d.name === name)
}

function serverContext(http: readonly Directive[], server: readonly Directive[], confDir: string, cache: Map<string, SecureContext>): SecureContext | undefined {
  const ds = new Map(SSL_DIRECTIVES.map((n) => [n, effective(http, server, n)]))
  const certs = ds.get('ssl_certificate')!
  if (certs.length === 0) return undefined
  // Servers inheriting everything from the http block share one context.
  const sig = SSL_DIRECTIVES.map((n) => ds.get(n)!.map((d) => `${d.file}:${d.line}`).join(',')).join('|')
  const hit = cache.get(sig)
  if (hit !== undefined) return hit
  const keys = ds.get('ssl_certificate_key')!
  const pairs: CertPair[] = certs.map((c, i) => {
    const k = keys[i]
    if (k === undefined) throw new DyupsError('E_CONFIG', `no "ssl_certificate_key" is defined for certificate "${c.args[0]}"`)
    for (const d of [c, k]) {
      if (d.args[0]!.includes('$')) throw new DyupsError('E_CONFIG', `variables in "${d.name}" are not supported by dyups`, at(d))
    }
    const certPath = resolve(confDir, c.args[0]!)
    const keyPath = resolve(confDir, k.args[0]!)
    return { cert: readCertificate(certPath), key: readKey(keyPath), certPath, keyPath }
  })
  const first = (n: string): Directive | undefined => ds.get(n)![0]
  const protocols = first('ssl_protocols')
  const v = tlsVersions(protocols?.args ?? DEFAULT_PROTOCOLS, 'ssl_protocols', protocols === undefined ? undefined : at(protocols))
  const opts: SecureContextOptions = {
    ...v,
    cert: pairs.map((p) => p.cert),
    key: pairs.map((p) => p.key),
    ciphers: first('ssl_ciphers')?.args[0] ?? DEFAULT_CIPHERS,
    honorCipherOrder: first('ssl_prefer_server_ciphers')?.args[0] === 'on',
    // OpenSSL refuses to resume a session without one once peers are verified; cheap to have from the start.
    sessionIdContext: 'dyups',
  }
  const clientCa = first('ssl_client_certificate')
  if (clientCa !== undefined) {
    if (clientCa.args[0]!.includes('$')) throw new DyupsError('E_CONFIG', 'variables in "ssl_client_certificate" are not supported by dyups', at(clientCa))
    const path = resolve(confDir, clientCa.args[0]!)
    try {
      opts.ca = readFileSync(path, 'latin1')
    } catch (e) {
      throw new DyupsError('E_CONFIG', `SSL_CTX_load_verify_locations("${path}") failed (${(e as NodeJS.ErrnoException).errno === undefined ? '' : `${-(e as NodeJS.ErrnoException).errno!}: `}${(e as Error).message.replace(/^[A-Z]+: /, '').replace(/, open .*$/, '')})`)
    }
  }
  const timeout = first('ssl_session_timeout')
  opts.sessionTimeout = timeout === undefined ? 300 : (parseTime(timeout.args[0]!, 's') ?? 300)
  if (first('ssl_session_tickets')?.args[0] === 'off') opts.secureOptions = (opts.secureOptions ?? 0) | constants.SSL_OP_NO_TICKET
  const ctx = secureContext(opts, pairs)
  cache.set(sig, ctx)
  return ctx
}

/** How a connection on an ssl address turned out: TLS, or plain HTTP sent to it. */
export const PLAIN = 0
export const TLS = 1
export const PLAIN_ON_TLS = 2
/** Plain HTTP whose first bytes were read to tell it from HTTP/2 and put back: read as a stream, not in place. */
export const PLAIN_SNIFFED = 3

/**
 * Reads the first bytes of a connection on an ssl address and hands over either a TLSSocket (handshake under way)
 * or the plain socket with those bytes put back. A socket that closes or errs first is dropped; `client_header_timeout`
 * still bounds a silent one, through the Connection that follows.
 * @param ready receives the socket to read HTTP from and {@link TLS} or {@link PLAIN_ON_TLS}
 */
export function sniff(s: Socket, a: TlsAddress, ready: (socket: Socket, mode: number) => void): void {
  const drop = (): void => void s.destroy()
  s.on('error', drop)
  s.once('close', drop)
  s.once('data', (first: Buffer) => {
    s.removeListener('error', drop)
    s.removeListener('close', drop)
    s.pause()
    s.unshift(first)
    const b = first[0]!
    if (b !== 0x16 && (b & 0x80) === 0) {
      ready(s, PLAIN_ON_TLS)
      // Paused above, a stream stays paused when a 'data' listener comes: the Connection reads from here on.
      s.resume()
      return
    }
    // TLSSocket reads what is buffered on `s` before its handle's data: the unshifted record is not lost.
    const t = new TLSSocket(s, a.options)
    t.once('error', handshakeFailed)
    t.once('secure', handshakeDone)
    ready(t, TLS)
  })
}

function handshakeDone(this: TLSSocket): void {
  this.removeListener('error', handshakeFailed)
  // Node computes `authorized` only for sockets of a tls.Server; ours wrap sockets the worker accepted, so the
  // verification result is read here, from the handle tls.Server reads it from (OpenSSL's SSL_get_verify_result).
  if (this.getPeerX509Certificate() !== undefined) {
    const handle = (this as unknown as { _handle: { verifyError(): Error | null } | null })._handle
    const err = handle?.verifyError() ?? null
    this.authorized = err === null
    this.authorizationError = err as unknown as Error
  }
}

/** nginx logs failed handshakes at `info`: a client problem, not the server's. */
function handshakeFailed(this: TLSSocket, e: Error): void {
  const text = sslErrorText(e)
  const what = text === e.message ? `peer closed connection in SSL handshake (${(e as NodeJS.ErrnoException).code ?? e.message})` : `SSL_do_handshake() failed (${text})`
  log('info', `${what} while SSL handshaking, client: ${this.remoteAddress?.replace(/^::ffff:/, '') ?? ''}, server: ${this.localAddress?.replace(/^::ffff:/, '') ?? ''}:${this.localPort ?? 0}`)
}

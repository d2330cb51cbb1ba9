/**
 * TLS as nginx configures it, on Node's `tls`: protocol lists, PEM files read with nginx's error wording, and the
 * settings of `https://` upstreams (ngx_http_proxy_set_ssl, ngx_http_upstream_ssl_init_connection). The listening
 * side (http/conf/tls.ts) shares the file and protocol helpers.
 *
 * Everything that reads a file or builds a SecureContext runs at configuration time (start-up, `-t`, reload), so a
 * bad certificate fails the test instead of a handshake.
 */
import { constants, createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { checkServerIdentity, createSecureContext, type PeerCertificate, type SecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls'
import { DyupsError, type Pos } from '../errors.js'
import { errnoText } from '../errno.js'

/** nginx's protocol names (compared caselessly), oldest first, with the OpenSSL option that turns each off. */
const VERSIONS: readonly { name: string; node: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'; off: number }[] = [
  { name: 'tlsv1', node: 'TLSv1', off: constants.SSL_OP_NO_TLSv1 },
  { name: 'tlsv1.1', node: 'TLSv1.1', off: constants.SSL_OP_NO_TLSv1_1 },
  { name: 'tlsv1.2', node: 'TLSv1.2', off: constants.SSL_OP_NO_TLSv1_2 },
  { name: 'tlsv1.3', node: 'TLSv1.3', off: constants.SSL_OP_NO_TLSv1_3 },
]

/** nginx's default for `ssl_protocols` and `proxy_ssl_protocols` (1.23.4 on). */
export const DEFAULT_PROTOCOLS: readonly string[] = ['TLSv1.2', 'TLSv1.3']

/** nginx's default for `ssl_ciphers` and `proxy_ssl_ciphers`. */
export const DEFAULT_CIPHERS = 'HIGH:!aNULL:!MD5'

export type TlsVersions = Pick<SecureContextOptions, 'minVersion' | 'maxVersion' | 'secureOptions'>

/**
 * The Node options for a protocol list: the lowest and highest version listed, and OpenSSL's "no" flags for any gap
 * (`TLSv1 TLSv1.2`). SSLv2 and SSLv3 are accepted and left out: OpenSSL 3 has neither.
 * @throws DyupsError E_CONFIG when no TLS version is listed
 */
export function tlsVersions(protocols: readonly string[], directive: string, at?: Pos): TlsVersions {
  const on = VERSIONS.map((v) => protocols.some((p) => p.toLowerCase() === v.name))
  const first = on.indexOf(true)
  const last = on.lastIndexOf(true)
  if (first < 0) throw new DyupsError('E_CONFIG', `no TLS version in "${directive}": dyups speaks TLSv1 to TLSv1.3`, at)
  let secureOptions = 0
  for (let i = first; i <= last; i++) if (!on[i]) secureOptions |= VERSIONS[i]!.off
  return { minVersion: VERSIONS[first]!.node, maxVersion: VERSIONS[last]!.node, secureOptions }
}


function readFile(path: string, failed: string): string {
  try {
    return readFileSync(path, 'latin1')
  } catch (e) {
    throw new DyupsError('E_CONFIG', `${failed} (${errnoText(e)})`)
  }
}

const BEGIN_CERT = '-----BEGIN CERTIFICATE-----'

/**
 * A PEM certificate chain, checked as ngx_ssl_certificate reads it.
 * @throws DyupsError E_CONFIG `cannot load certificate "PATH": …` (missing, unreadable, no certificate in it)
 */
export function readCertificate(path: string): string {
  const pem = readFile(path, `cannot load certificate "${path}": BIO_new_file() failed`)
  try {
    new X509Certificate(pem)
  } catch (e) {
    throw new DyupsError('E_CONFIG', `cannot load certificate "${path}": PEM_read_bio_X509_AUX() failed (${sslErrorText(e as Error)})`)
  }
  return pem
}

/**
 * A PEM private key, checked as ngx_ssl_certificate reads it (encrypted keys need `ssl_password_file`, which dyups
 * does not support).
 * @throws DyupsError E_CONFIG `cannot load certificate key "PATH": …`
 */
export function readKey(path: string): string {
  const pem = readFile(path, `cannot load certificate key "${path}": BIO_new_file() failed`)
  try {
    createPrivateKey(pem)
  } catch (e) {
    throw new DyupsError('E_CONFIG', `cannot load certificate key "${path}": PEM_read_bio_PrivateKey() failed (${sslErrorText(e as Error)})`)
  }
  return pem
}

/**
 * CA certificates for verifying peers.
 * @throws DyupsError E_CONFIG `SSL_CTX_load_verify_locations("PATH") failed (…)`
 */
export function readTrusted(path: string): string {
  const pem = readFile(path, `SSL_CTX_load_verify_locations("${path}") failed`)
  if (!pem.includes(BEGIN_CERT)) throw new DyupsError('E_CONFIG', `SSL_CTX_load_verify_locations("${path}") failed (no certificate in the file)`)
  return pem
}

/** A certificate and its key, as read from `ssl_certificate`/`ssl_certificate_key` (or the proxy_ pair). */
export interface CertPair {
  cert: string
  key: string
  certPath: string
  keyPath: string
}

/**
 * createSecureContext with OpenSSL's complaints turned into nginx's: a cipher list that matches nothing, a key that
 * does not belong to its certificate.
 * @throws DyupsError E_CONFIG
 */
export function secureContext(opts: SecureContextOptions, pairs: readonly CertPair[]): SecureContext {
  try {
    return createSecureContext(opts)
  } catch (e) {
    const msg = (e as Error).message
    const text = sslErrorText(e as Error)
    if (/no cipher match/i.test(msg)) throw new DyupsError('E_CONFIG', `SSL_CTX_set_cipher_list("${opts.ciphers ?? ''}") failed (${text})`)
    if (/key values mismatch/i.test(msg)) {
      const bad = pairs.find((p) => !keyMatches(p)) ?? pairs[0]
      throw new DyupsError('E_CONFIG', `SSL_CTX_use_PrivateKey("${bad?.keyPath ?? ''}") failed (${text})`)
    }
    throw new DyupsError('E_CONFIG', `SSL_CTX_new() failed (${text})`)
  }
}

function keyMatches(p: CertPair): boolean {
  try {
    return new X509Certificate(p.cert).checkPrivateKey(createPrivateKey(p.key))
  } catch {
    return false
  }
}

/**
 * The text nginx puts in parentheses after an OpenSSL call `failed`: `SSL: error:0A00010B:SSL routines::wrong version
 * number` from OpenSSL's error line, or the plain message of an error that is not OpenSSL's (a socket error).
 */
export function sslErrorText(e: Error): string {
  const m = /error:([0-9A-F]{8}):([^:]*):[^:]*:([^:\n]*)/.exec(e.message)
  if (m !== null) return `SSL: error:${m[1]}:${m[2]}::${m[3]}`
  return e.message
}

/** OpenSSL's verify results by the names Node reports them under: number and text as nginx logs them. */
const VERIFY_ERRORS: Readonly<Record<string, string>> = {
  UNABLE_TO_GET_ISSUER_CERT: '2:unable to get issuer certificate',
  CERT_SIGNATURE_FAILURE: '7:certificate signature failure',
  CERT_NOT_YET_VALID: '9:certificate is not yet valid',
  CERT_HAS_EXPIRED: '10:certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: '18:self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: '19:self-signed certificate in certificate chain',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: '20:unable to get local issuer certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: '21:unable to verify the first certificate',
  CERT_CHAIN_TOO_LONG: '22:certificate chain too long',
  CERT_REVOKED: '23:certificate revoked',
  INVALID_CA: '24:invalid CA certificate',
  PATH_LENGTH_EXCEEDED: '25:path length constraint exceeded',
  INVALID_PURPOSE: '26:unsupported certificate purpose',
  CERT_UNTRUSTED: '27:certificate not trusted',
  CERT_REJECTED: '28:certificate rejected',
}

/** `(20:unable to get local issuer certificate)`'s inside for a Node authorizationError. */
export function verifyErrorText(code: string): string {
  return VERIFY_ERRORS[code] ?? code
}

/** Node's own host check is skipped: the name to check is proxy_ssl_name, checked after the handshake. */
const noIdentityCheck = (): undefined => undefined

/** What `proxy_ssl_*` says for one location. */
export interface UpstreamTlsOptions {
  /** proxy_ssl_server_name */
  serverName: boolean
  /** proxy_ssl_verify */
  verify: boolean
  /** proxy_ssl_verify_depth */
  verifyDepth: number
  /** proxy_ssl_session_reuse */
  sessionReuse: boolean
  /** proxy_ssl_protocols */
  protocols: readonly string[]
  /** proxy_ssl_ciphers */
  ciphers: string
  /** proxy_ssl_trusted_certificate, read (PEM) */
  trusted: string | null
  /** proxy_ssl_certificate and _key, read */
  client: CertPair | null
}

let nextId = 0

/**
 * The TLS side of `https://` upstreams for one set of `proxy_ssl_*` settings. Connections are pooled by
 * {@link poolKey}, so a plain and a TLS connection to one server, or two with different settings or names, never
 * stand in for each other.
 */
export class UpstreamTls {
  readonly id = ++nextId
  readonly context: SecureContext
  readonly serverName: boolean
  readonly verify: boolean
  readonly verifyDepth: number
  readonly sessionReuse: boolean
  /** The name matters to the connection only when it is sent (SNI) or checked. */
  private readonly named: boolean

  /** @throws DyupsError E_CONFIG from the protocol list, the cipher list or the client certificate */
  constructor(o: UpstreamTlsOptions, at?: Pos) {
    this.serverName = o.serverName
    this.verify = o.verify
    this.verifyDepth = o.verifyDepth
    this.sessionReuse = o.sessionReuse
    this.named = o.serverName || o.verify
    const opts: SecureContextOptions = { ...tlsVersions(o.protocols, 'proxy_ssl_protocols', at), ciphers: o.ciphers }
    if (o.trusted !== null) opts.ca = o.trusted
    if (o.client !== null) {
      opts.cert = o.client.cert
      opts.key = o.client.key
    }
    this.context = secureContext(opts, o.client === null ? [] : [o.client])
  }

  /** The keepalive pool of a connection to `addr` for the name `name`. */
  poolKey(addr: string, name: string): string {
    return this.named ? `${addr} tls${this.id} ${name}` : `${addr} tls${this.id}`
  }

  /** Options for tls.connect to `name`: SNI only when asked for and not an IP address, as nginx does. */
  connectOptions(name: string, session: Buffer | undefined): { secureContext: SecureContext; servername?: string; session?: Buffer; rejectUnauthorized: false; checkServerIdentity: typeof noIdentityCheck } {
    const o: ReturnType<UpstreamTls['connectOptions']> = { secureContext: this.context, rejectUnauthorized: false, checkServerIdentity: noIdentityCheck }
    if (this.serverName && name !== '' && isIP(name) === 0) o.servername = name
    if (session !== undefined) o.session = session
    return o
  }

  /**
   * After the handshake: with proxy_ssl_verify on, the chain (and its depth) and the name must hold.
   * @returns null when the peer is accepted, else nginx's error message
   */
  checkPeer(s: TLSSocket, name: string): string | null {
    if (!this.verify) return null
    if (!s.authorized) return `upstream SSL certificate verify error: (${verifyErrorText(String(s.authorizationError))})`
    const cert = s.getPeerCertificate(true)
    // OpenSSL's depth counts the CAs between the peer and the trust anchor.
    if (chainLength(cert) > this.verifyDepth + 2) return `upstream SSL certificate verify error: (${VERIFY_ERRORS.CERT_CHAIN_TOO_LONG})`
    if (checkServerIdentity(name, cert) !== undefined) return `upstream SSL certificate does not match "${name}"`
    return null
  }
}

/** Certificates from the peer's up to its root, as Node links them (a root is its own issuer). */
function chainLength(c: PeerCertificate): number {
  let n = 1
  let cur = c
  while (n < 100) {
    const up = (cur as { issuerCertificate?: PeerCertificate }).issuerCertificate
    if (up === undefined || up === cur || up.fingerprint256 === cur.fingerprint256) break
    cur = up
    n++
  }
  return n
}

/**
 * The name proxy_ssl_name gives: without the `:port` that `$proxy_host` or `$http_host` may carry (nginx strips it;
 * a bracketed IPv6 literal keeps its colons).
 */
export function sslName(value: string): string {
  if (value.charCodeAt(0) === 0x5b) {
    const end = value.indexOf(']')
    return end < 0 ? value : value.slice(1, end)
  }
  const colon = value.indexOf(':')
  return colon < 0 ? value : value.slice(0, colon)
}

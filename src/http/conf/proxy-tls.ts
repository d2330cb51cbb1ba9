/**
 * `proxy_ssl_*`: the TLS settings of a location whose proxy_pass is `https://` (or has variables, so may turn out to
 * be), inherited http → server → location directive by directive, as nginx merges them. Built at configuration time;
 * locations with the same settings in force share one UpstreamTls, and so their keepalive connections.
 */
import { dirname, resolve } from 'node:path'
import type { Directive } from '../../config/index.js'
import { parseNumber } from '../../config/index.js'
import { DyupsError, type Pos } from '../../errors.js'
import { DEFAULT_PROTOCOLS, readCertificate, readKey, readTrusted, UpstreamTls, type CertPair } from '../../proxy/index.js'
import type { Template, Variables } from '../lib/variables.js'

const at = (d: Directive): Pos => ({ file: d.file, line: d.line })

/** The TLS of one proxy_pass: the settings, and proxy_ssl_name (null: `$proxy_host`, its default). */
export interface ProxyTls {
  readonly tls: UpstreamTls
  readonly name: Template | null
}

export class ProxyTlsCompiler {
  private readonly confDir: string
  private readonly built = new Map<string, ProxyTls>()

  /** @param confFile the main configuration file: relative paths start in its directory, as nginx's do */
  constructor(prefix: string, confFile: string) {
    this.confDir = dirname(resolve(prefix, confFile))
  }

  /** The proxy_ssl_* directives in force after one more level: the level's own replace the inherited ones by name. */
  static merge(inherited: readonly Directive[], block: readonly Directive[]): readonly Directive[] {
    const own = block.filter((d) => d.name.startsWith('proxy_ssl_'))
    if (own.length === 0) return inherited
    return [...inherited.filter((p) => !own.some((d) => d.name === p.name)), ...own]
  }

  /**
   * The TLS of a proxy_pass under `dirs` (the merged proxy_ssl_* directives).
   * @throws DyupsError E_CONFIG `no proxy_ssl_trusted_certificate for proxy_ssl_verify`, `no
   *   "proxy_ssl_certificate_key" is defined for certificate "X"`, file and protocol errors (proxy/tls.ts)
   */
  build(dirs: readonly Directive[], vars: Variables): ProxyTls {
    const sig = dirs.map((d) => `${d.file}:${d.line}`).join('|')
    const hit = this.built.get(sig)
    if (hit !== undefined) return hit
    const get = (n: string): Directive | undefined => dirs.find((d) => d.name === n)
    const arg = (n: string): string | undefined => get(n)?.args[0]
    const verify = arg('proxy_ssl_verify') === 'on'
    const trustedPath = arg('proxy_ssl_trusted_certificate')
    if (verify && trustedPath === undefined) throw new DyupsError('E_CONFIG', 'no proxy_ssl_trusted_certificate for proxy_ssl_verify')
    const cert = get('proxy_ssl_certificate')
    const key = get('proxy_ssl_certificate_key')
    let client: CertPair | null = null
    if (cert !== undefined) {
      if (key === undefined) throw new DyupsError('E_CONFIG', `no "proxy_ssl_certificate_key" is defined for certificate "${cert.args[0]}"`)
      for (const d of [cert, key]) {
        if (d.args[0]!.includes('$')) throw new DyupsError('E_CONFIG', `variables in "${d.name}" are not supported by dyups`, at(d))
      }
      const certPath = resolve(this.confDir, cert.args[0]!)
      const keyPath = resolve(this.confDir, key.args[0]!)
      client = { cert: readCertificate(certPath), key: readKey(keyPath), certPath, keyPath }
    }
    const protocols = get('proxy_ssl_protocols')
    const depth = arg('proxy_ssl_verify_depth')
    const nameDir = get('proxy_ssl_name')
    const tls = new UpstreamTls(
      {
        serverName: arg('proxy_ssl_server_name') === 'on',
        verify,
        verifyDepth: depth === undefined ? 1 : (parseNumber(depth) ?? 1),
        sessionReuse: arg('proxy_ssl_session_reuse') !== 'off',
        protocols: protocols?.args ?? DEFAULT_PROTOCOLS,
        ciphers: arg('proxy_ssl_ciphers') ?? 'DEFAULT',
        trusted: trustedPath === undefined ? null : readTrusted(resolve(this.confDir, trustedPath)),
        client,
      },
      protocols === undefined ? undefined : at(protocols),
    )
    const out: ProxyTls = { tls, name: nameDir === undefined ? null : vars.compile(nameDir.args[0]!, at(nameDir)) }
    this.built.set(sig, out)
    return out
  }
}

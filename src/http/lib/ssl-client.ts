/**
 * The client certificate of a TLS connection as nginx's ngx_http_ssl_module shows it: `$ssl_client_verify`,
 * `$ssl_client_s_dn`, `$ssl_client_i_dn` (RFC 2253, as nginx 1.11.6+), `$ssl_client_serial`,
 * `$ssl_client_fingerprint`, and what a server with `ssl_verify_client` answers to it (495, 496).
 */
import type { X509Certificate } from 'node:crypto'
import type { TLSSocket } from 'node:tls'

/** The peer's certificate, or undefined when it sent none. */
export const peerCertificate = (t: TLSSocket): X509Certificate | undefined => t.getPeerX509Certificate()

/**
 * `$ssl_client_verify`: `SUCCESS`, `FAILED:reason`, or `NONE` without a certificate. The reason is OpenSSL's
 * verify error as Node names it (e.g. `UNABLE_TO_GET_ISSUER_CERT_LOCALLY`).
 */
export function clientVerifyResult(t: TLSSocket): string {
  if (peerCertificate(t) === undefined) return 'NONE'
  if (t.authorized) return 'SUCCESS'
  return `FAILED:${verifyError(t)[1]}`
}

/**
 * OpenSSL's X509 verify errors as nginx shows them (X509_verify_cert_error_string, OpenSSL 3), by the name Node
 * gives them: [number, text]. Node reports only the name.
 */
const VERIFY_ERRORS: Readonly<Record<string, readonly [number, string]>> = {
  UNABLE_TO_GET_ISSUER_CERT: [2, 'unable to get issuer certificate'],
  CERT_SIGNATURE_FAILURE: [7, 'certificate signature failure'],
  CERT_NOT_YET_VALID: [9, 'certificate is not yet valid'],
  CERT_HAS_EXPIRED: [10, 'certificate has expired'],
  DEPTH_ZERO_SELF_SIGNED_CERT: [18, 'self-signed certificate'],
  SELF_SIGNED_CERT_IN_CHAIN: [19, 'self-signed certificate in certificate chain'],
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: [20, 'unable to get local issuer certificate'],
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: [21, 'unable to verify the first certificate'],
  CERT_CHAIN_TOO_LONG: [22, 'certificate chain too long'],
  CERT_REVOKED: [23, 'certificate revoked'],
  INVALID_CA: [24, 'invalid CA certificate'],
  INVALID_PURPOSE: [26, 'unsupported certificate purpose'],
  CERT_UNTRUSTED: [27, 'certificate not trusted'],
  CERT_REJECTED: [28, 'certificate rejected'],
}

/** Why the peer's certificate failed verification: OpenSSL's number and text (the name where it is not known). */
export function verifyError(t: TLSSocket): readonly [number, string] {
  const e = t.authorizationError as unknown
  const name = e instanceof Error ? ((e as NodeJS.ErrnoException).code ?? e.message) : String(e)
  const known = VERIFY_ERRORS[name]
  // The text is OpenSSL's own where the error carries it.
  return [known?.[0] ?? 0, e instanceof Error && e.message !== '' ? e.message : known?.[1] ?? name]
}

/** A distinguished name from X509Certificate's form (`C=US\nO=Org\nCN=a`) in RFC 2253's: last first, escaped. */
export function rfc2253(dn: string): string {
  if (dn === '') return ''
  return dn
    .split('\n')
    .reverse()
    .map((rdn) => {
      const eq = rdn.indexOf('=')
      const value = rdn.slice(eq + 1).replace(/[,+"\\<>;]/g, '\\$&').replace(/^[ #]/, '\\$&').replace(/ $/, '\\ ')
      return `${rdn.slice(0, eq)}=${value}`
    })
    .join(',')
}

export const clientSubject = (t: TLSSocket): string => rfc2253(peerCertificate(t)?.subject ?? '')
export const clientIssuer = (t: TLSSocket): string => rfc2253(peerCertificate(t)?.issuer ?? '')
export const clientSerial = (t: TLSSocket): string => peerCertificate(t)?.serialNumber.toUpperCase() ?? ''
export const clientFingerprint = (t: TLSSocket): string => peerCertificate(t)?.fingerprint.replace(/:/g, '').toLowerCase() ?? ''

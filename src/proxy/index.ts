/**
 * proxy/: forwarding to backends on raw sockets: connection pools kept per server, the request head nginx sends,
 * attempts and retries (proxy_next_upstream), the response head and body relayed with backpressure.
 */
export { Exchange, type Downstream, type ProxySettings } from './exchange.js'
export * from './exchange.js'
export { Pools } from './pool.js'
export { BodySpool, TempPath } from './spool.js'
export { HeaderPlan, buildRequestHead, CHUNKED_BODY } from './request-head.js'
export { buildClientHead, carriedLines, defaultHide, DEFAULT_HIDE, type ClientHeadOptions, type RedirectRewriter } from './response-head.js'
export {
  UpstreamTls, DEFAULT_CIPHERS, DEFAULT_PROTOCOLS, readCertificate, readKey, readTrusted, secureContext, sslErrorText,
  sslName, tlsVersions, type CertPair, type TlsVersions, type UpstreamTlsOptions,
} from './tls.js'
export { H2Pool } from './h2-pool.js'

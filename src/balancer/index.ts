/**
 * balancer/: peer selection with nginx's semantics: smooth weighted round robin, ip_hash, least_conn, hash and
 * consistent hash, random; backup and down servers; passive health (max_fails / fail_timeout); max_conns.
 * State that must outlive a group replacement (fails, connections) is kept per address in PeerStates.
 */
export {
  createBalancer,
  type Balancer,
  type BalancerOptions,
  type PeerSelection,
  type RequestContext,
} from './balancer.js'
export type { Peer } from './peer.js'
export {
  PeerState, PeerStates, LATENCY_BOUNDS_MS, FAIL_KINDS, FAIL_REFUSED, FAIL_CONNECT, FAIL_TIMEOUT, FAIL_CLOSED, FAIL_INVALID_HEADER, FAIL_TLS,
  FAIL_INTERRUPTED, FAIL_OTHER,
} from './peers.js'

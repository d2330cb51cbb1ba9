/** The upstream model: immutable groups of servers. Built once, frozen, never edited. */

export type PolicyName = 'round_robin' | 'ip_hash' | 'least_conn' | 'hash' | 'random'

export interface Policy {
  readonly name: PolicyName
  /** `hash KEY [consistent]`: the key as written (may hold variables). */
  readonly key?: string
  readonly consistent?: boolean
  /** `random [two [least_conn]]` */
  readonly two?: boolean
}

export interface Server {
  /** Canonical address: `127.0.0.1:8088`, `[::1]:8088`, `unix:/path`. Peer state is keyed by it. */
  readonly addr: string
  /** The address as written in the server line (`localhost:8088`), for `hash ... consistent` points. */
  readonly name: string
  /** IP host (without brackets) or unix socket path. */
  readonly host: string
  /** 0 for unix sockets. */
  readonly port: number
  readonly unix: boolean
  readonly weight: number
  readonly maxFails: number
  /** Seconds. */
  readonly failTimeout: number
  readonly maxConns: number
  readonly backup: boolean
  readonly down: boolean
  /** Seconds; 0 = off. */
  readonly slowStart: number
}

export interface Keepalive {
  /** Idle connections cached per worker; 0 = no keepalive. */
  readonly connections: number
  /** ms */
  readonly timeout: number
  readonly requests: number
}

export interface UpstreamGroup {
  readonly name: string
  readonly policy: Policy
  readonly keepalive: Keepalive
  /** Tengine's `check ...` line, kept as parsed parameters (the health module interprets it). */
  readonly check: Readonly<Record<string, string>> | null
  readonly servers: readonly Server[]
}

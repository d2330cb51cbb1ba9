/**
 * The main-context and dyups settings the process layer needs, read from a checked configuration tree.
 * Directive values were validated by config/'s registry; here they only become numbers and paths.
 */
import { availableParallelism } from 'node:os'
import { isAbsolute, resolve } from 'node:path'
import type { Directive } from '../config/index.js'
import { parseCluster, parseFlag, parseTime, type ClusterOptions } from '../config/index.js'
import { log, type Level } from '../log.js'
import type { TableCounts } from '../store/index.js'

export interface Settings {
  daemon: boolean
  master: boolean
  workers: number
  pidPath: string
  errorLogs: { path: string; level: Level }[]
  workerConnections: number
  /** dyups_upstream_conf, absolute; null when changes are kept in memory only. */
  upstreamConf: string | null
  trylock: boolean
  readMsgLog: boolean
  /** dyups_audit_log, absolute; null: off. */
  auditLog: string | null
  /** worker_shutdown_timeout in ms: how long a graceful stop waits for requests in flight. */
  shutdownTimeout: number
  /** dyups_cluster, its TLS files resolved against the prefix; null: this instance's table is its own. */
  cluster: ClusterOptions | null
  /** dyups_cluster_ack: whether a write waits for every live node (`all`) or only for etcd and this node. */
  clusterAck: 'all' | 'commit'
  /** dyups_cluster_ack_timeout in ms. */
  clusterAckTimeout: number
}

/** dyups_cluster_ack_timeout when it is not set: longer than the default lease, so a dead node is not waited for. */
export const CLUSTER_ACK_TIMEOUT_MS = 10_000

/** worker_shutdown_timeout when it is not set: nginx waits without limit; dyups bounds it (docs/operations.md). */
export const SHUTDOWN_TIMEOUT_MS = 30_000

export const first = (tree: readonly Directive[], name: string): Directive | undefined => tree.find((d) => d.name === name)

/** Paths in directives other than `include` resolve against the prefix, as nginx's do. */
export const prefixed = (prefix: string, p: string): string =>
  p === 'stderr' || isAbsolute(p) ? p : resolve(prefix, p)

function auditLogPath(d: Directive | undefined, prefix: string): string | null {
  const p = d?.args[0]
  return p === undefined || p === 'off' ? null : prefixed(prefix, p)
}

export function readSettings(tree: readonly Directive[], prefix: string): Settings {
  const flag = (name: string, dflt: boolean, where = tree): boolean => {
    const d = first(where, name)
    return d ? parseFlag(d) : dflt
  }
  const wp = first(tree, 'worker_processes')?.args[0]
  const workers = wp === undefined ? 1 : wp === 'auto' ? availableParallelism() : Number(wp)
  const errorLogs = tree
    .filter((d) => d.name === 'error_log')
    .map((d) => ({ path: prefixed(prefix, d.args[0]!), level: (d.args[1] ?? 'error') as Level }))
  const events = first(tree, 'events')?.block ?? []
  const http = first(tree, 'http')?.block ?? []
  const conf = first(http, 'dyups_upstream_conf')
  const shutdown = first(tree, 'worker_shutdown_timeout')
  // main or http, as the operators put it either way.
  const inMainOrHttp = (name: string): Directive | undefined => first(tree, name) ?? first(http, name)
  const clusterDirective = inMainOrHttp('dyups_cluster')
  let cluster: ClusterOptions | null = null
  if (clusterDirective !== undefined) {
    const c = parseCluster(clusterDirective)
    const file = (p: string | null): string | null => (p === null ? null : prefixed(prefix, p))
    cluster = { ...c, cacert: file(c.cacert), cert: file(c.cert), key: file(c.key) }
  }
  const ackTimeout = inMainOrHttp('dyups_cluster_ack_timeout')
  return {
    daemon: flag('daemon', true),
    master: flag('master_process', true),
    workers: Math.max(1, workers),
    pidPath: prefixed(prefix, first(tree, 'pid')?.args[0] ?? 'logs/dyups.pid'),
    errorLogs: errorLogs.length > 0 ? errorLogs : [{ path: prefixed(prefix, 'logs/error.log'), level: 'error' }],
    workerConnections: Number(first(events, 'worker_connections')?.args[0] ?? 512),
    upstreamConf: conf ? prefixed(prefix, conf.args[0]!) : null,
    trylock: flag('dyups_trylock', false, http),
    readMsgLog: flag('dyups_read_msg_log', false, http),
    auditLog: auditLogPath(first(http, 'dyups_audit_log'), prefix),
    shutdownTimeout: shutdown === undefined ? SHUTDOWN_TIMEOUT_MS : parseTime(shutdown.args[0]!, 'ms')!,
    cluster,
    clusterAck: inMainOrHttp('dyups_cluster_ack')?.args[0]!.toLowerCase() === 'commit' ? 'commit' : 'all',
    clusterAckTimeout: ackTimeout === undefined ? CLUSTER_ACK_TIMEOUT_MS : parseTime(ackTimeout.args[0]!, 'ms')!,
  }
}

/**
 * What to warn about a `user` directive: dyups does not switch users, its workers keep the user that started it. Run
 * as root it says so; otherwise it gives nginx's warning (nginx itself ignores `user` unless started as root).
 * @returns `message in FILE:LINE`, or null without `user`
 */
export function userWarning(tree: readonly Directive[], uid: number = process.getuid?.() ?? -1): string | null {
  const d = first(tree, 'user')
  if (d === undefined) return null
  const message = uid === 0
    ? 'the "user" directive is not applied by dyups, worker processes run as root'
    : 'the "user" directive makes sense only if the master process runs with super-user privileges, ignored'
  return `${message} in ${d.file}:${d.line}`
}

/** dyups_read_msg_log: Tengine's line, logged whenever a worker applies a change. */
export function logCounts(c: TableCounts): void {
  log('info', `[dyups] has ${c.groups} upstreams, ${c.static} static, ${c.deleted} deleted, all ${c.groups + c.deleted}`)
}

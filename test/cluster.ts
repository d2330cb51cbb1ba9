/**
 * Cluster helpers: dyups nodes on loopback that share one table through a real etcd (test/etcd.ts), each with a
 * proxy port (`proxy_pass http://$host;`, `/pid`), an interface port, 2 workers and a dyups_upstream_conf (the
 * local copy), and a kept-alive connection to each worker of a node, to show what every worker routes by.
 */
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { Conn, freePorts, interfaceConf, sleep, startDyups, tempPrefix, writeConf, type Dyups } from './helpers.js'

export interface Node {
  name: string
  prefix: string
  proxy: number
  iface: number
  d: Dyups
  /** Starts it again on the same prefix and ports (after a kill), resolving once it listens. */
  restart(): Promise<void>
}

export interface NodeOptions {
  /** Lines at the http block's level besides dyups_cluster (upstream blocks, dyups_cluster_ack, …). */
  http?: string
  workers?: number
  /** master_process; on unless told. */
  master?: boolean
  /** `etcds` for TLS; `etcd` unless told. */
  scheme?: 'etcd' | 'etcds'
  /** dyups_cluster's parameters after the URL; `prefix=/t node=NAME lease=1s` unless given. */
  params?: string
}

/** Starts one node named `name` on `etcd` (`127.0.0.1:PORT`). */
export async function startNode(t: TestContext, etcd: string, name: string, o: NodeOptions = {}): Promise<Node> {
  const [proxy, iface] = (await freePorts(2)) as [number, number]
  const prefix = tempPrefix(t)
  const http = `    dyups_cluster ${o.scheme ?? 'etcd'}://${etcd} ${o.params ?? `prefix=/t node=${name} lease=1s`};
    dyups_upstream_conf conf/upstream.conf;
${o.http ?? ''}`
  writeConf(prefix, 'conf/nginx.conf', interfaceConf({ proxy, iface, workers: o.workers ?? 2, master: o.master, http }))
  const node: Node = {
    name, prefix, proxy, iface,
    d: await startDyups(t, prefix, [proxy, iface]),
    restart: async () => {
      node.d = await startDyups(t, prefix, [proxy, iface])
    },
  }
  return node
}

/** One kept-alive connection to each of a node's `n` workers, found through `GET /pid`. */
export async function pinWorkers(port: number, n: number): Promise<Conn[]> {
  const conns = new Map<number, Conn>()
  const deadline = Date.now() + 30_000
  for (let round = 0; conns.size < n && Date.now() < deadline; round++) {
    if (round > 0) await sleep(10)
    const batch = await Promise.all(Array.from({ length: 8 }, () => Conn.open(port)))
    const rs = await Promise.all(batch.map((c) => c.req({ path: '/pid' })))
    for (let i = 0; i < batch.length; i++) {
      const pid = Number(rs[i]!.body)
      if (rs[i]!.status === 200 && !conns.has(pid)) conns.set(pid, batch[i]!)
      else batch[i]!.close()
    }
  }
  assert.equal(conns.size, n, `reached ${conns.size} of ${n} workers on ${port}`)
  return [...conns.values()]
}

/** What each pinned worker answers for `Host: host` right now (the backend's name, or `status N`). */
export async function routes(conns: readonly Conn[], host: string): Promise<string[]> {
  const out: string[] = []
  for (const c of conns) {
    const r = await c.req({ host, path: '/' })
    out.push(r.status === 200 ? r.body : `status ${r.status}`)
  }
  return out
}

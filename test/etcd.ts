/**
 * A real etcd for the cluster tests: Debian's etcd-server (`/usr/bin/etcd`), started on a temp data directory with
 * its client and peer URLs on 127.0.0.1 ports from freePorts(), stopped after the test. It can be killed and
 * started again on the same data and ports (the tests of etcd going away).
 *
 * etcd is required: when the binary is missing the tests fail with a message saying so, never skip.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { canConnect, freePorts, sleep } from './helpers.js'

export const ETCD = '/usr/bin/etcd'
export const ETCDCTL = '/usr/bin/etcdctl'

/** @throws when etcd is not installed: the cluster tests need a real one. */
export function requireEtcd(): string {
  if (!existsSync(ETCD)) throw new Error(`${ETCD} is missing: the cluster tests need a real etcd (apt-get install etcd-server)`)
  return ETCD
}

export interface Etcd {
  /** `127.0.0.1:PORT`, for `dyups_cluster etcd://…`. */
  readonly endpoint: string
  readonly port: number
  /** Whether it runs now. */
  running(): boolean
  /** SIGKILL, and waits for the exit. */
  kill(): Promise<void>
  /** Starts it again on the same data directory and ports; resolves once it accepts clients. */
  start(): Promise<void>
  output(): string
  /** Runs etcdctl (v3 API) on it and returns its stdout. */
  ctl(...args: string[]): string
  /** Compacts its history up to the current revision: a watch resuming from before it is cancelled. */
  compact(): number
}

/**
 * Starts etcd for this test (single member, data in a temp directory); resolves once it answers on its client port.
 * `tls`: a directory of src/proxy/testing.ts's certificates: clients then speak TLS (`etcd.pem`, for 127.0.0.1) and
 * must show a certificate signed by `ca`.
 */
export async function startEtcd(t: TestContext, opts: { tls?: string } = {}): Promise<Etcd> {
  const bin = requireEtcd()
  const [client, peer] = (await freePorts(2)) as [number, number]
  const dir = mkdtempSync(join(tmpdir(), 'dyups-etcd-'))
  let child: ChildProcess | null = null
  let exited: Promise<void> = Promise.resolve()
  let out = ''
  const tls = opts.tls
  const clientUrl = `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${client}`
  const tlsArgs = tls === undefined ? [] : [
    '--cert-file', join(tls, 'etcd.pem'), '--key-file', join(tls, 'etcd.key'),
    '--trusted-ca-file', join(tls, 'ca.pem'), '--client-cert-auth',
  ]
  const ctlTls = tls === undefined ? [] : ['--cacert', join(tls, 'ca.pem'), '--cert', join(tls, 'client.pem'), '--key', join(tls, 'client.key')]
  const peerUrl = `http://127.0.0.1:${peer}`
  const start = async (): Promise<void> => {
    const c = spawn(bin, [
      '--name', 'test', '--data-dir', join(dir, 'data'),
      '--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', `test=${peerUrl}`, '--initial-cluster-state', 'new',
      // Lease expiry and elections on a single member need no long heartbeats on loopback.
      '--heartbeat-interval', '50', '--election-timeout', '500',
      '--log-level', 'warn', '--logger', 'zap', ...tlsArgs,
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
    child = c
    let code: number | null | undefined
    exited = new Promise((r) => c.on('exit', (x) => {
      code = x
      r()
    }))
    c.stderr!.on('data', (b: Buffer) => {
      // Bounded: only the tail matters for a failure message.
      out = (out + b.toString('latin1')).slice(-20_000)
    })
    const deadline = Date.now() + 20_000
    while (!(await canConnect(client))) {
      if (code !== undefined) throw new Error(`etcd exited with ${code}: ${out}`)
      if (Date.now() > deadline) throw new Error(`etcd did not listen on ${client}: ${out}`)
      await sleep(20)
    }
  }
  const kill = async (): Promise<void> => {
    const c = child
    if (c === null || c.exitCode !== null || c.signalCode !== null) return
    c.kill('SIGKILL')
    await exited
  }
  const ctl = (...args: string[]): string => {
    if (!existsSync(ETCDCTL)) throw new Error(`${ETCDCTL} is missing (apt-get install etcd-client)`)
    return execFileSync(ETCDCTL, ['--endpoints', clientUrl, ...ctlTls, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8', timeout: 10_000 })
  }
  t.after(async () => {
    await kill()
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 })
  })
  await start()
  return {
    endpoint: `127.0.0.1:${client}`,
    port: client,
    running: () => child !== null && child.exitCode === null && child.signalCode === null,
    kill,
    start,
    output: () => out,
    ctl,
    compact: () => {
      const status = JSON.parse(ctl('endpoint', 'status', '-w', 'json')) as { Status: { header: { revision: number } } }[]
      const rev = status[0]!.Status.header.revision
      ctl('compact', String(rev), '--physical')
      return rev
    },
  }
}

/**
 * `dyups_cluster etcd://HOST:PORT[,HOST:PORT…] [prefix=/dyups] [node=NAME] [lease=TIME] [user=NAME password=SECRET]
 * [cacert=FILE] [cert=FILE key=FILE];` — where the fleet's upstream table lives (src/cluster/). Parsed here, with
 * nginx's wording for a bad parameter, so `-t` reports it; the running cluster only reads the result.
 */
import { configError } from './registry.js'
import { parseTime } from './values.js'
import type { Directive } from './types.js'

export interface ClusterOptions {
  /** `http://HOST:PORT` (`etcd://`) or `https://HOST:PORT` (`etcds://`), as the etcd client wants them. */
  readonly endpoints: readonly string[]
  /** Key prefix of this fleet's table, without a trailing slash. */
  readonly prefix: string
  /** This instance's name among the nodes; null: generated once and kept in the prefix (src/cluster/). */
  readonly node: string | null
  /** TTL of the node's registration lease, in seconds. */
  readonly leaseSeconds: number
  readonly user: string | null
  readonly password: string | null
  /** PEM files for TLS to etcd (absolute or relative to the prefix; resolved by the caller). */
  readonly cacert: string | null
  readonly cert: string | null
  readonly key: string | null
}

/** Default lease TTL: a node that died is no longer waited for after this long. */
export const LEASE_SECONDS = 5

/** @throws DyupsError E_CONFIG in nginx's wording, with FILE:LINE. */
export function parseCluster(d: Directive): ClusterOptions {
  const url = d.args[0]!
  const m = /^(etcds?):\/\/(.+)$/i.exec(url)
  if (m === null) throw configError(d, `invalid URL "${url}" in "${d.name}", it must start with "etcd://" or "etcds://"`)
  const scheme = m[1]!.toLowerCase() === 'etcds' ? 'https' : 'http'
  const endpoints: string[] = []
  for (const hp of m[2]!.split(',')) {
    const a = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(hp)
    if (a === null || Number(a[2]) < 1 || Number(a[2]) > 65535) throw configError(d, `invalid host "${hp}" in "${d.name}", it must be HOST:PORT`)
    endpoints.push(`${scheme}://${a[1]}:${a[2]}`)
  }
  let prefix = '/dyups'
  let node: string | null = null
  let leaseSeconds = LEASE_SECONDS
  let user: string | null = null
  let password: string | null = null
  let cacert: string | null = null
  let cert: string | null = null
  let key: string | null = null
  for (const arg of d.args.slice(1)) {
    const eq = arg.indexOf('=')
    const name = eq === -1 ? arg : arg.slice(0, eq)
    const value = eq === -1 ? '' : arg.slice(eq + 1)
    if (eq === -1 || value === '') throw configError(d, `invalid parameter "${arg}"`)
    switch (name) {
      case 'prefix':
        if (!value.startsWith('/') || value.length < 2) throw configError(d, `invalid parameter "${arg}", the prefix must start with "/"`)
        prefix = value.replace(/\/+$/, '')
        break
      case 'node':
        if (!/^[A-Za-z0-9._:-]{1,128}$/.test(value)) throw configError(d, `invalid parameter "${arg}", a node name is letters, digits and ".-_:"`)
        node = value
        break
      case 'lease': {
        // parseTime gives milliseconds; etcd's leases count whole seconds.
        const ms = parseTime(value, 's')
        if (ms === null || ms < 1000 || ms % 1000 !== 0) throw configError(d, `invalid parameter "${arg}", a lease is whole seconds, at least 1s`)
        leaseSeconds = ms / 1000
        break
      }
      case 'user':
        user = value
        break
      case 'password':
        password = value
        break
      case 'cacert':
        cacert = value
        break
      case 'cert':
        cert = value
        break
      case 'key':
        key = value
        break
      default:
        throw configError(d, `invalid parameter "${arg}"`)
    }
  }
  if ((user === null) !== (password === null)) throw configError(d, `"user=" and "password=" go together in "${d.name}"`)
  if ((cert === null) !== (key === null)) throw configError(d, `"cert=" and "key=" go together in "${d.name}"`)
  if (scheme === 'http' && (cacert !== null || cert !== null)) throw configError(d, `TLS parameters need an "etcds://" URL in "${d.name}"`)
  return { endpoints, prefix, node, leaseSeconds, user, password, cacert, cert, key }
}

import type { Directive } from './types.js'
import { configError, type CheckContext } from './registry.js'
import { parseNumber, parseSize, parseTime } from './values.js'
import { parseAddress, type ParsedAddress } from './addresses.js'

/** Parameters that set socket options: nginx allows them once per address (`lsopt.set`). */
const SOCKET_OPTIONS = /^(bind|deferred|reuseport|ipv6only=.*|backlog=.*|rcvbuf=.*|sndbuf=.*|fastopen=.*|so_keepalive=.*)$/

interface Bound {
  server: Directive
  options: boolean
  defaultServer: boolean
}

const LISTENS = 'listen addresses'

/** nginx's text for a listening address (`ngx_sock_ntop`): `0.0.0.0:80`, `[::]:80`, `unix:/path`; null for names. */
export function listenKey(a: ParsedAddress): string | null {
  if (a.family === 'unix') return `unix:${a.host}`
  const port = a.port ?? 80
  if (a.family === 'inet6') return `${new URL(`http://${a.host}/`).hostname}:${port}`
  if (a.host === '*') return `0.0.0.0:${port}`
  if (a.name) return null
  return `${a.host.split('.').map(Number).join('.')}:${port}`
}

/**
 * ngx_http_core_listen and ngx_http_add_addresses: the address, each parameter, and then, across the servers seen so
 * far, `a duplicate listen X`, `duplicate listen options for X`, `a duplicate default server for X`.
 */
export function checkListen(d: Directive, cx: CheckContext): void {
  const url = d.args[0]
  const addr = parseAddress(url, { listen: true })
  if (typeof addr === 'string') throw configError(d, `${addr} in "${url}" of the "listen" directive`)
  let options = false
  let defaultServer = false
  for (const p of d.args.slice(1)) {
    if (SOCKET_OPTIONS.test(p)) options = true
    if (p === 'default_server' || p === 'default') {
      defaultServer = true
      continue
    }
    if (['bind', 'reuseport', 'ssl', 'http2', 'deferred', 'ipv6only=on', 'ipv6only=off'].includes(p)) continue
    if (p.startsWith('backlog=')) {
      if (!(parseNumber(p.slice(8))! > 0)) throw configError(d, `invalid backlog "${p}"`)
      continue
    }
    if (p.startsWith('rcvbuf=') || p.startsWith('sndbuf=')) {
      if (parseSize(p.slice(7)) === null) throw configError(d, `invalid ${p.slice(0, 6)} "${p.slice(7)}"`)
      continue
    }
    if (p.startsWith('fastopen=')) {
      if (parseNumber(p.slice(9)) === null) throw configError(d, `invalid fastopen "${p}"`)
      continue
    }
    if (p.startsWith('so_keepalive=')) {
      const v = p.slice(13)
      if (v === 'on' || v === 'off') continue
      // so_keepalive=[idle]:[interval]:[count], at least one of them non-zero.
      const [idle = '', intvl = '', cnt = '', ...rest] = v.split(':')
      const okTime = (s: string) => s === '' || parseTime(s, 's') !== null
      const okCnt = cnt === '' || parseNumber(cnt) !== null
      if (rest.length > 0 || !okTime(idle) || !okTime(intvl) || !okCnt || /^[0:]*$/.test(v)) {
        throw configError(d, `invalid so_keepalive value: "${v}"`)
      }
      continue
    }
    throw configError(d, `invalid parameter "${p}"`)
  }

  const key = listenKey(addr)
  const server = cx.parents[cx.parents.length - 1]
  if (key === null || server === undefined) return
  let bound = cx.state.get(LISTENS) as Map<string, Bound[]> | undefined
  if (bound === undefined) {
    bound = new Map()
    cx.state.set(LISTENS, bound)
  }
  const list = bound.get(key)
  if (list === undefined) {
    bound.set(key, [{ server, options, defaultServer }])
    return
  }
  if (list.some((b) => b.server === server)) throw configError(d, `a duplicate listen ${key}`)
  if (options && list.some((b) => b.options)) throw configError(d, `duplicate listen options for ${key}`)
  if (defaultServer && list.some((b) => b.defaultServer)) throw configError(d, `a duplicate default server for ${key}`)
  list.push({ server, options, defaultServer })
}

/**
 * ngx_http_ssl_init, once the http block is read: a server with `listen ... ssl` needs a certificate, its own or the
 * http block's. nginx names the server's position.
 */
export function checkSslListens(http: Directive): void {
  const has = (ds: readonly Directive[]) => ds.some((d) => d.name === 'ssl_certificate')
  const inHttp = has(http.block!)
  for (const server of http.block!) {
    if (server.name !== 'server' || server.block === null) continue
    const ssl = server.block.some((d) => d.name === 'listen' && d.args.slice(1).includes('ssl'))
    if (ssl && !inHttp && !has(server.block)) {
      throw configError(server, 'no "ssl_certificate" is defined for the "listen ... ssl" directive')
    }
  }
}

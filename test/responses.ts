/**
 * Side-by-side helpers for the response features (error_page, proxy_intercept_errors, proxy_redirect, gzip): the
 * real nginx and dyups on one configuration in front of one scripted backend, and a client that reports a whole
 * response — status line, header lines in order, body — with what legitimately differs between the two (product
 * name and version, dates, listening ports) replaced by placeholders, and a gzip body decompressed.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net'
import type { TestContext } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { closeServer, Conn, dechunk, exchange, readRequests } from './helpers.js'
import { startPair, type Pair } from './nginx.js'

/** What the scripted backend saw: one line per request, `METHOD target`. */
export interface Scripted {
  port: number
  seen: string[]
  /** Connections accepted so far. */
  conns: number
}

/**
 * A backend answering by path:
 * - `/s/CODE/...` → status CODE, `Content-Type: text/plain`, body `b CODE METHOD TARGET\n`;
 * - `/h/...?Name=value&...` → 200 with those headers (values URI-decoded), body `headers\n` (`_len=N`: N bytes; `_status=CODE`: another status);
 * - `/big/N` → 200 `text/html`, N bytes of text, Content-Length;
 * - `/chunked/N` → 200 `text/html`, N bytes of text in chunks of at most 1000;
 * - `/close/N` → 200 `text/html`, N bytes, no length: delimited by the close;
 *   (these three answer `?status=CODE` instead of 200 when asked)
 * - anything else → 200 `text/plain` `b 200 METHOD TARGET\n`.
 * HEAD gets the head alone.
 */
export async function scriptedBackend(t: TestContext): Promise<Scripted> {
  const sockets = new Set<Socket>()
  const b: Scripted = { port: 0, seen: [], conns: 0 }
  const server = createServer((s) => {
    b.conns++
    readRequests(s, sockets, (head) => {
      const line = head.slice(0, head.indexOf('\r\n'))
      const [method, target] = line.split(' ') as [string, string]
      b.seen.push(`${method} ${target}`)
      const close = /\r\nconnection: *close/i.test(head) || / HTTP\/1\.0$/.test(line)
      const conn = close ? 'Connection: close\r\n' : ''
      const send = (status: number, headers: string, body: string, opts: { chunked?: boolean; untilClose?: boolean } = {}): void => {
        const head = method === 'HEAD'
        if (opts.untilClose) {
          s.end(`HTTP/1.1 ${status} X\r\n${headers}Connection: close\r\n\r\n${head ? '' : body}`, 'latin1')
          return
        }
        if (opts.chunked) {
          let out = `HTTP/1.1 ${status} X\r\n${headers}Transfer-Encoding: chunked\r\n${conn}\r\n`
          if (!head) {
            for (let i = 0; i < body.length; i += 1000) {
              const part = body.slice(i, i + 1000)
              out += `${part.length.toString(16)}\r\n${part}\r\n`
            }
            out += '0\r\n\r\n'
          }
          s.write(out, 'latin1')
        } else {
          s.write(`HTTP/1.1 ${status} X\r\n${headers}Content-Length: ${body.length}\r\n${conn}\r\n${head ? '' : body}`, 'latin1')
        }
        if (close) s.end()
      }
      const path = target.split('?')[0]!
      const m = /^\/s\/(\d{3})/.exec(path)
      if (m) return send(Number(m[1]), 'Content-Type: text/plain\r\n', `b ${m[1]} ${method} ${target}\n`)
      if (path.startsWith('/h/')) {
        let hs = ''
        let body = 'headers\n'
        let status = 200
        for (const kv of (target.split('?')[1] ?? '').split('&')) {
          if (kv === '') continue
          const i = kv.indexOf('=')
          const k = decodeURIComponent(kv.slice(0, i)), v = decodeURIComponent(kv.slice(i + 1))
          if (k === '_len') body = 'x'.repeat(Number(v))
          else if (k === '_status') status = Number(v)
          else hs += `${k}: ${v}\r\n`
        }
        return send(status, hs, body)
      }
      const big = /^\/(big|chunked|close)\/(\d+)/.exec(path)
      if (big) {
        const n = Number(big[2])
        let body = ''
        for (let i = 0; body.length < n; i++) body += `line ${i} of a text body that compresses well\n`
        body = body.slice(0, n)
        const st = /[?&]status=(\d{3})/.exec(target)
        return send(st ? Number(st[1]) : 200, 'Content-Type: text/html\r\n', body, { chunked: big[1] === 'chunked', untilClose: big[1] === 'close' })
      }
      send(200, 'Content-Type: text/plain\r\n', `b 200 ${method} ${target}\n`)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => closeServer(server, sockets))
  b.port = (server.address() as AddressInfo).port
  return b
}

/**
 * nginx and dyups on the same configuration: `upstream u` is the scripted backend (plus `upstream`, more blocks),
 * `location / { proxy_pass http://u; }` plus `server` lines, `http` lines at the http level.
 */
export async function startResponses(t: TestContext, o: { http?: string; server?: string; location?: string; upstream?: string }): Promise<{ pair: Pair; back: Scripted }> {
  const back = await scriptedBackend(t)
  const pair = await startPair(t, {
    upstream: `    upstream u { server 127.0.0.1:${back.port}; ${o.upstream ?? ''} }\n`,
    http: o.http ?? '',
    location: o.location ?? '',
  }, o.server ?? '')
  return { pair, back }
}

/** A response reduced to what both sides must agree on. */
export interface Seen {
  status: string
  /** `Name: value`, in order; Server and Date values and ports replaced. */
  headers: string[]
  body: string
}

/** Replaces what differs between the two sides by nature: product, version, date, ports. */
export function normalize(s: string, port: number): string {
  return s
    .replace(/\bnginx\/[\d.]+|\bdyups\/[\d.]+/g, 'SERVER')
    .replace(/<center>(nginx|dyups)<\/center>/g, '<center>SERVER</center>')
    .split(`:${port}`).join(':PORT')
}

/** Parses one response as received (`head`: the request was HEAD). Decompresses a gzip body. */
export function seen(text: string, port: number, opts: { head?: boolean } = {}): Seen {
  const end = text.indexOf('\r\n\r\n')
  if (end < 0) return { status: `incomplete: ${JSON.stringify(text.slice(0, 100))}`, headers: [], body: '' }
  const lines = text.slice(0, end).split('\r\n')
  const headers: string[] = []
  let chunked = false, gzip = false
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':')
    const name = l.slice(0, i)
    let value = l.slice(i + 1).trim()
    const lower = name.toLowerCase()
    if (lower === 'date') value = 'DATE'
    if (lower === 'server') value = 'SERVER'
    if (lower === 'transfer-encoding' && value === 'chunked') chunked = true
    if (lower === 'content-encoding' && value === 'gzip') gzip = true
    headers.push(normalize(`${name}: ${value}`, port))
  }
  let raw = text.slice(end + 4)
  if (opts.head) raw = ''
  if (chunked) raw = dechunk(raw)
  let body = raw
  if (gzip && raw !== '') {
    try {
      body = 'GZIP:' + gunzipSync(Buffer.from(raw, 'latin1')).toString('latin1')
    } catch (e) {
      body = `BAD GZIP (${(e as Error).message}): ${JSON.stringify(raw.slice(0, 40))}`
    }
  }
  // A page signed with the product and version differs in length by nature: show the normalized body's length.
  const shown = normalize(body, port)
  if (!gzip && !chunked && shown !== body) {
    const i = headers.findIndex((h) => h.toLowerCase().startsWith('content-length:'))
    if (i >= 0 && headers[i] === `Content-Length: ${raw.length}`) headers[i] = `Content-Length: ${shown.length}`
  }
  return { status: normalize(lines[0]!, port), headers, body: shown }
}

/** One request on a fresh connection, read until the server closes. */
export async function ask(port: number, raw: string): Promise<Seen> {
  return seen(await exchange(port, raw), port, { head: raw.startsWith('HEAD ') })
}

/** A GET (or `method`) with `Connection: close` and extra header lines. */
export function req(path: string, o: { method?: string; headers?: string; version?: string; body?: string } = {}): string {
  const body = o.body ?? ''
  const len = o.body !== undefined ? `Content-Length: ${body.length}\r\n` : ''
  return `${o.method ?? 'GET'} ${path} HTTP/${o.version ?? '1.1'}\r\nHost: side\r\nConnection: close\r\n${o.headers ?? ''}${len}\r\n${body}`
}

/** The same request to both; returns [nginx, dyups]. */
export async function askBoth(p: Pair, raw: string): Promise<[Seen, Seen]> {
  return [await ask(p.nginx.port, raw), await ask(p.dyups.port, raw)]
}

/** Two requests on one keep-alive connection, to each side: whether it stayed open, and both answers' status lines. */
export async function keepAliveBoth(p: Pair, first: string, second: string): Promise<[string[], string[]]> {
  const out: string[][] = []
  for (const port of [p.nginx.port, p.dyups.port]) {
    const c = await Conn.open(port)
    const a = await c.send(first, { head: first.startsWith('HEAD ') })
    const b = await c.send(second).then((r) => String(r.status), () => 'closed')
    c.close()
    out.push([String(a.status), b])
  }
  return [out[0]!, out[1]!]
}

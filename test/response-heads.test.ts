/**
 * Recorded response heads: every kind of answer dyups produces, sent on raw sockets to one running dyups (the real
 * binary) in front of real backends, is reduced to its exact status line and header lines in order, plus a line
 * summing up its body (length and first bytes, a gzip body's magic and unzipped text), and compared with the
 * sections of test/fixtures/response-heads.txt. The request path can be rebuilt with this test showing any byte of a
 * head that moved.
 *
 * What varies from run to run is written as a placeholder: the Date value (DATE), an Expires value relative to now
 * (DATE+Ns, to the nearest minute), listening ports (:MAIN, :BACK…), the version in `dyups/VERSION`, temp paths
 * (PREFIX), the multipart boundary (BOUNDARY) and the health-check counters of check_status bodies (N). Files get a
 * fixed mtime, so Last-Modified and ETag are stable.
 *
 * To record the current output instead of comparing (after a deliberate change of a head):
 *   npm run build && UPDATE_HEADS=1 node --test dist/test/response-heads.test.js
 * then review `git diff test/fixtures/response-heads.txt` before committing it.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { closeServer, exchange, freePorts, ROOT, startDyups, tempPrefix, writeConf } from './helpers.js'
import { scriptedBackend } from './responses.js'
import { copyTestCertificates } from '../src/proxy/testing.js'
import { VERSION } from '../src/version.js'
import { tlsExchange } from './tls-client.js'

const FIXTURE = join(ROOT, 'test/fixtures/response-heads.txt')
const UPDATE = process.env['UPDATE_HEADS'] === '1'

/** Every file gets this modification time: Last-Modified and ETag do not depend on when the test ran. */
const MTIME = 1_700_000_000
const LM = new Date(MTIME * 1000).toUTCString()
const EARLIER = new Date((MTIME - 60) * 1000).toUTCString()

const FILES: Record<string, string> = {
  'html/index.html': '<h1>home</h1>\n',
  'html/a.txt': 'plain text file\n',
  'html/digits.txt': '0123456789',
  'html/page.html': '<html><body>a static page long enough to be compressed by gzip</body></html>\n',
  'html/long.txt': Array.from({ length: 200 }, (_, i) => `line ${i} of a long text file\n`).join(''),
  'html/sub/b.txt': 'in sub',
  'html/pages/404.html': '<h1>custom not found</h1>\n',
}
const DIRS = ['html/emptydir']

// ---- the configuration ----------------------------------------------------------------------------------------

interface Ports {
  main: number
  tokens: number
  ssl: number
  iface: number
  back: number
  slow: number
  upg: number
}

function conf(p: Ports): string {
  return `daemon off;
master_process on;
worker_processes 1;
error_log logs/error.log info;
pid logs/dyups.pid;
events {}
http {
    types {
        text/html html htm;
        text/plain txt;
    }
    default_type application/octet-stream;
    access_log off;
    upstream u { server 127.0.0.1:${p.back}; }
    upstream dead { server 127.0.0.1:1; }
    upstream slow { server 127.0.0.1:${p.slow}; }
    upstream chk {
        server 127.0.0.1:${p.back};
        check interval=3600000 rise=1 fall=1 timeout=1000 type=tcp default_down=false;
    }

    server {
        listen 127.0.0.1:${p.main};
        server_name localhost;
        root html;
        index index.html;

        location = /ret/text { return 200 "hello\\n"; }
        location = /ret/empty200 { return 200; }
        location = /ret/204 { return 204; }
        location = /ret/301 { return 301 /target; }
        location = /ret/302abs { return 302 http://example.com/x?y=1; }
        location = /ret/url { return http://example.com/bare; }
        location = /ret/444 { return 444; }
        location = /ret/404 { return 404; }
        location = /ret/418 { return 418; }
        location = /echo { echo "echo $uri $arg_a"; }
        location = /small { client_max_body_size 1k; echo "small"; }

        location /deny/ { deny all; }
        location /err500/ { return 500; }
        location /e/ { return 200 "page $uri\\n"; }
        location /ep/uri/ { error_page 404 /pages/404.html; return 404; }
        location /ep/code/ { error_page 404 =200 /e/code; return 404; }
        location /ep/eq/ { error_page 404 = /p/s/201/own; return 404; }
        location /ep/named/ { error_page 404 @named; return 404; }
        location @named { return 200 "named $uri\\n"; }
        location /ep/url/ { error_page 404 http://example.com/nf; return 404; }
        location /ep/dead/ { error_page 502 /e/50x; proxy_pass http://dead; }
        location /icpt/ { proxy_intercept_errors on; error_page 404 /e/icpt; proxy_pass http://u/s/404/; }
        location /noicpt/ { error_page 404 /e/x; proxy_pass http://u/s/404/; }

        location /exp/ { expires 1h; alias html/; }
        location /expmod/ { expires modified 1h; alias html/; }
        location = /exp/epoch { expires epoch; return 200 "epoch\\n"; }
        location = /exp/max { expires max; return 200 "max\\n"; }
        location /hdr/ { add_header X-Added yes; add_header X-Always yes always; alias html/; }
        location /cs/ { charset utf-8; alias html/; }
        location = /csret { charset utf-8; return 200 "charset\\n"; }

        location /gzfile/ { gzip on; gzip_vary on; gzip_types text/plain; alias html/; }
        location /gzfile10/ { gzip on; gzip_http_version 1.0; gzip_types text/plain; alias html/; }
        location /gzp/ { gzip on; gzip_vary on; proxy_pass http://u/; }
        location /gz404/ { gzip on; return 404; }
        location /gzp10/ { gzip on; gzip_vary on; gzip_http_version 1.0; proxy_pass http://u/; }

        location /p/ { proxy_pass http://u/; }
        location /hide/ { proxy_hide_header X-Hide; proxy_pass http://u/; }
        location /pr/ { proxy_pass http://u/h/; }
        location /prx/ { proxy_redirect http://other.example/ /moved/; proxy_pass http://u/h/; }
        location /dead/ { proxy_pass http://dead; }
        location /slow/ { proxy_read_timeout 300ms; proxy_pass http://slow; }
        location /ws/ {
            proxy_pass http://127.0.0.1:${p.upg};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }
        location = /status { check_status csv; }
        location = /status.json { check_status json; }
    }

    server {
        listen 127.0.0.1:${p.tokens};
        server_tokens off;
        keepalive_timeout 65 60;
        location = /ret { return 200 "tokens off\\n"; }
        location = /ret/404 { return 404; }
        location /p/ { proxy_pass http://u/; }
    }

    server {
        listen 127.0.0.1:${p.ssl} ssl;
        server_name a.test;
        ssl_certificate a.pem;
        ssl_certificate_key a.key;
        location / { return 200 "tls\\n"; }
        location = /r { return 301 /elsewhere; }
    }

    server {
        listen 127.0.0.1:${p.iface};
        location / { dyups_interface; }
    }
}
`
}

// ---- backends -------------------------------------------------------------------------------------------------

/** Accepts and reads, never answers (a proxy_read_timeout). */
async function silentBackend(t: TestContext): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => closeServer(server, sockets))
  return (server.address() as AddressInfo).port
}

/** Answers an Upgrade request with 101 and `ready;`, then closes the tunnel. */
async function upgradeBackend(t: TestContext): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
    let head = ''
    s.on('data', (b: Buffer) => {
      head += b.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      head = ''
      s.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: shout\r\nConnection: Upgrade\r\nX-Back: 1\r\n\r\nready;')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => closeServer(server, sockets))
  return (server.address() as AddressInfo).port
}

// ---- clients --------------------------------------------------------------------------------------------------


/** A request with `Connection: close` (unless `keep`), extra header lines and a Content-Length body. */
function req(path: string, o: { method?: string; headers?: string; version?: string; body?: string; host?: string; keep?: boolean } = {}): string {
  const len = o.body !== undefined ? `Content-Length: ${o.body.length}\r\n` : ''
  return `${o.method ?? 'GET'} ${path} HTTP/${o.version ?? '1.1'}\r\nHost: ${o.host ?? 'localhost'}\r\n` +
    `${o.keep ? '' : 'Connection: close\r\n'}${o.headers ?? ''}${len}\r\n${o.body ?? ''}`
}

// ---- rendering ------------------------------------------------------------------------------------------------

/** Replaces what varies between runs (see the top of the file). */
function masker(ports: Record<string, number>, prefix: string): (s: string) => string {
  const byPort = Object.entries(ports).sort((a, b) => String(b[1]).length - String(a[1]).length)
  return (s) => {
    let out = s.split(prefix).join('PREFIX').replace(/\/tmp\/dyups-[\w-]+/g, 'PREFIX')
    out = out.split(`dyups/${VERSION}`).join('dyups/VERSION')
    for (const [name, port] of byPort) out = out.replace(new RegExp(`:${port}(?!\\d)`, 'g'), `:${name.toUpperCase()}`)
    return out.replace(/\b\d{20}\b/g, 'BOUNDARY')
  }
}

/** A string shown as a JSON literal, cut after `max` characters. */
function quote(s: string, max: number): string {
  return s.length <= max ? JSON.stringify(s) : `${JSON.stringify(s.slice(0, max))}…`
}

/** The requests in `raw`, in order: each one's head (through its last header line) and body length. */
function split(raw: string | Buffer): { head: string; body: number }[] {
  const out: { head: string; body: number }[] = []
  let rest = typeof raw === 'string' ? raw : raw.toString('latin1')
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) {
      out.push({ head: rest, body: 0 })
      break
    }
    const head = rest.slice(0, end)
    rest = rest.slice(end + 4)
    const cl = /\r\ncontent-length: *(\d+)/i.exec(head)
    let body = cl !== null ? Number(cl[1]) : 0
    if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      const fin = rest.indexOf('0\r\n\r\n')
      body = fin < 0 ? rest.length : fin + 5
    }
    out.push({ head, body })
    rest = rest.slice(body)
  }
  return out
}

/** The request lines shown above the answer: its head lines (long ones cut) and its body's length. */
function showRequest(raw: string | Buffer, mask: (s: string) => string): string[] {
  const out: string[] = []
  for (const [i, r] of split(raw).entries()) {
    if (i > 0) out.push('>')
    for (const l of r.head.split('\r\n')) out.push(`> ${mask(l.length > 100 ? `${l.slice(0, 100)}… (${l.length} bytes)` : l)}`)
    if (r.body > 0) out.push(`> (body: ${r.body} bytes)`)
  }
  return out
}

/** The methods of the requests in `raw`, in order (to know which answers carry no body). */
const methods = (raw: string | Buffer): string[] => split(raw).map((r) => r.head.slice(0, r.head.indexOf(' ')))

/** How a case's bodies are shown: how many characters at most, and what is rewritten first. */
interface Show {
  limit?: number
  filter?: (body: string) => string
}

/** Every answer in the bytes received: each head masked, each body summed up in one line. */
function render(received: string, reqMethods: string[], mask: (s: string) => string, show: Show = {}): string[] {
  if (received.length === 0) return ['(connection closed, nothing sent)']
  const out: string[] = []
  let rest = received
  for (let i = 0; rest.length > 0; i++) {
    if (i > 0) out.push('')
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) {
      out.push(`(incomplete head: ${quote(mask(rest), 200)})`)
      break
    }
    const lines = rest.slice(0, end).split('\r\n')
    rest = rest.slice(end + 4)
    const status = Number(lines[0]!.split(' ')[1])
    let date: number | null = null
    let chunked = false, gzip = false, length: number | null = null
    const head: string[] = [mask(lines[0]!)]
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':')
      const name = l.slice(0, c).toLowerCase()
      const value = l.slice(c + 1).trim()
      if (name === 'date') {
        date = Date.parse(value)
        head.push(`${l.slice(0, c)}: DATE`)
        continue
      }
      if (name === 'expires' && date !== null && Math.abs(Date.parse(value) - date) < 10 * 86_400_000) {
        const delta = Math.round((Date.parse(value) - date) / 60_000) * 60
        head.push(`${l.slice(0, c)}: DATE${delta < 0 ? '' : '+'}${delta}s`)
        continue
      }
      if (name === 'transfer-encoding' && value.toLowerCase() === 'chunked') chunked = true
      if (name === 'content-encoding' && value === 'gzip') gzip = true
      if (name === 'content-length') length = Number(value)
      head.push(mask(l))
    }
    out.push(...head)
    const method = reqMethods[i] ?? 'GET'
    if (status === 101) {
      out.push(`(tunnel: ${quote(rest, 200)})`)
      break
    }
    if (method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200)) {
      if (rest.length > 0 && i + 1 >= reqMethods.length) out.push(`(after the head: ${quote(mask(rest), 100)})`)
      continue
    }
    let body: string
    let framing: string
    if (chunked) {
      const r = readChunked(rest)
      body = r.body
      rest = rest.slice(r.used)
      framing = r.complete ? 'chunked' : 'chunked, cut short'
    } else if (length !== null) {
      body = rest.slice(0, length)
      rest = rest.slice(length)
      framing = body.length === length ? 'length' : 'length, cut short'
    } else {
      body = rest
      rest = ''
      framing = 'until close'
    }
    if (gzip && body.length > 0) {
      const magic = Buffer.from(body.slice(0, 4), 'latin1').toString('hex')
      let text: string
      try {
        text = gunzipSync(Buffer.from(body, 'latin1')).toString('latin1')
      } catch (e) {
        out.push(`body (${framing}): bad gzip, ${(e as Error).message}`)
        continue
      }
      out.push(`body (${framing}): gzip ${magic}…, ${text.length} bytes unzipped ${quote(text, 60)}`)
    } else {
      const limit = show.limit ?? (status >= 300 || /multipart/.test(head.join('\n')) ? 400 : 60)
      out.push(`body (${framing}): ${body.length} bytes ${quote(mask(show.filter?.(body) ?? body), limit)}`)
    }
  }
  return out
}

/** The data of a chunked body, how many bytes it took, and whether the last chunk and the trailers came. */
function readChunked(s: string): { body: string; used: number; complete: boolean } {
  let body = '', i = 0
  for (;;) {
    const eol = s.indexOf('\r\n', i)
    if (eol < 0) return { body, used: s.length, complete: false }
    const n = parseInt(s.slice(i, eol), 16)
    if (n === 0) {
      const fin = s.indexOf('\r\n\r\n', eol)
      if (fin < 0) return { body, used: s.length, complete: false }
      return { body, used: fin + 4, complete: true }
    }
    if (!(n > 0)) return { body, used: s.length, complete: false }
    body += s.slice(eol + 2, eol + 2 + n)
    i = eol + 2 + n + 2
  }
}

// ---- the cases ------------------------------------------------------------------------------------------------

type Port = 'main' | 'tokens' | 'ssl' | 'iface'

interface Case {
  name: string
  port: Port
  raw: string | Buffer | (() => string)
  /** Over TLS (the ssl port). */
  tls?: boolean
  show?: Show
}

const AE = 'Accept-Encoding: gzip\r\n'
const hq = (pairs: Record<string, string>): string => Object.entries(pairs).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')

/** The interface's last ETag, for If-Match cases. */
let etag = ''

function cases(p: Ports): Case[] {
  const m = (name: string, raw: Case['raw']): Case => ({ name, port: 'main', raw })
  return [
    // return and echo
    m('return 200 with text', req('/ret/text')),
    m('return 200 without text', req('/ret/empty200')),
    m('return 204', req('/ret/204')),
    m('return 301 with a relative URI', req('/ret/301')),
    m('return 302 with an absolute URL', req('/ret/302abs')),
    m('return with a URL only (302)', req('/ret/url')),
    m('return 444 closes without an answer', req('/ret/444')),
    m('return 404: the standard page', req('/ret/404')),
    m('return 418: a status without a page of its own', req('/ret/418')),
    m('HEAD of a return', req('/ret/text', { method: 'HEAD' })),
    m('echo', req('/echo?a=1')),

    // error pages
    m('404 from a missing file: the standard page', req('/nothing.html')),
    m('403 from deny: the standard page', req('/deny/x')),
    m('500 from return: the standard page', req('/err500/x')),
    m('error_page to a URI (a static page)', req('/ep/uri/x')),
    m('error_page =200 to a URI', req('/ep/code/x')),
    m('error_page = to a proxied URI: the backend\'s status', req('/ep/eq/x')),
    m('error_page to a named location', req('/ep/named/x')),
    m('error_page to a URL: 302', req('/ep/url/x')),
    m('error_page for a 502', req('/ep/dead/x')),
    m('proxy_intercept_errors: the backend\'s 404 replaced', req('/icpt/x')),
    m('no proxy_intercept_errors: the backend\'s 404 passed', req('/noicpt/x')),
    m('POST to a standard error page', req('/ret/404', { method: 'POST', body: 'abc' })),

    // static files
    m('static: 200', req('/a.txt')),
    m('static: HEAD', req('/a.txt', { method: 'HEAD' })),
    m('static: index', req('/')),
    m('static: directory redirect 301', req('/sub')),
    m('static: directory without index: 403', req('/emptydir/')),
    m('static: 404', req('/sub/none.txt')),
    m('static: 206 single range', req('/digits.txt', { headers: 'Range: bytes=2-4\r\n' })),
    m('static: 206 suffix range', req('/digits.txt', { headers: 'Range: bytes=-3\r\n' })),
    m('static: 206 multipart ranges', req('/digits.txt', { headers: 'Range: bytes=0-1,5-6\r\n' })),
    m('static: HEAD of a range', req('/digits.txt', { method: 'HEAD', headers: 'Range: bytes=0-1\r\n' })),
    m('static: 416', req('/digits.txt', { headers: 'Range: bytes=10-\r\n' })),
    m('static: 304 If-Modified-Since', req('/a.txt', { headers: `If-Modified-Since: ${LM}\r\n` })),
    m('static: 304 If-None-Match', req('/a.txt', { headers: `If-None-Match: "${MTIME.toString(16)}-10"\r\n` })),
    m('static: 412 If-Unmodified-Since', req('/a.txt', { headers: `If-Unmodified-Since: ${EARLIER}\r\n` })),
    m('static: 412 If-Match', req('/a.txt', { headers: 'If-Match: "other"\r\n' })),
    m('static: 200 to HTTP/1.0', req('/a.txt', { version: '1.0' })),
    m('static: POST', req('/a.txt', { method: 'POST', body: 'x' })),
    m('expires 1h on a file', req('/exp/a.txt')),
    m('expires modified 1h on a file', req('/expmod/a.txt')),
    m('expires epoch on a return', req('/exp/epoch')),
    m('expires max on a return', req('/exp/max')),
    m('add_header and add_header always: 200', req('/hdr/a.txt')),
    m('add_header and add_header always: 404', req('/hdr/none.txt')),
    m('add_header and add_header always: 304', req('/hdr/a.txt', { headers: `If-Modified-Since: ${LM}\r\n` })),
    m('charset on a file', req('/cs/a.txt')),
    m('charset on a return', req('/csret')),

    // gzip
    m('gzip: a file, HTTP/1.1', req('/gzfile/long.txt', { headers: AE })),
    m('gzip: a file without Accept-Encoding (gzip_vary)', req('/gzfile/long.txt')),
    m('gzip: a file to HTTP/1.0 (gzip_http_version 1.1)', req('/gzfile/long.txt', { version: '1.0', headers: AE })),
    m('gzip: a file to HTTP/1.0 (gzip_http_version 1.0)', req('/gzfile10/long.txt', { version: '1.0', headers: AE })),
    m('gzip: a file, HEAD', req('/gzfile/long.txt', { method: 'HEAD', headers: AE })),
    m('gzip: a file, range', req('/gzfile/long.txt', { headers: `${AE}Range: bytes=0-9\r\n` })),
    m('gzip: proxied with a length, HTTP/1.1', req('/gzp/big/3000', { headers: AE })),
    m('gzip: proxied chunked, HTTP/1.1', req('/gzp/chunked/3000', { headers: AE })),
    m('gzip: proxied until close, HTTP/1.1', req('/gzp/close/3000', { headers: AE })),
    m('gzip: proxied to HTTP/1.0', req('/gzp10/big/3000', { version: '1.0', headers: AE })),
    m('gzip: proxied text/plain is not compressed', req('/gzp/s/200/x', { headers: AE })),
    m('gzip: proxied chunked to HTTP/1.0', req('/gzp10/chunked/3000', { version: '1.0', headers: AE })),
    m('gzip: the standard error page', req('/gz404/x', { headers: AE })),

    // proxied
    m('proxied: a length', req('/p/big/300')),
    m('proxied: chunked, HTTP/1.1', req('/p/chunked/3000')),
    // As nginx 1.22: the backend's chunk framing comes off, and the HTTP/1.0 client reads the data until the close.
    m('proxied: chunked, HTTP/1.0', req('/p/chunked/3000', { version: '1.0' })),
    m('proxied: until close, HTTP/1.1', req('/p/close/300')),
    m('proxied: until close, HTTP/1.0', req('/p/close/300', { version: '1.0' })),
    m('proxied: HEAD', req('/p/big/300', { method: 'HEAD' })),
    m('proxied: HEAD, chunked', req('/p/chunked/3000', { method: 'HEAD' })),
    m('proxied: POST', req('/p/s/200/post', { method: 'POST', body: 'abc' })),
    m('proxied: a 204', req('/p/h/?_status=204&_len=0')),
    m('proxied: a 304', req(`/p/h/?${hq({ _status: '304', _len: '0', ETag: '"v1"', 'Last-Modified': LM })}`)),
    m('proxied: a 404 without a page', req('/p/s/404/x')),
    m('proxied: a 500 without a page', req('/p/s/500/x')),
    m('proxied: hidden and passed headers', req(`/hide/h/?${hq({ Server: 'back/1', Date: 'Thu, 01 Jan 2015 00:00:00 GMT', 'X-Pad': 'pad', 'X-Accel-Expires': '10', 'X-Hide': '1', 'X-Keep': 'kept', 'Set-Cookie': 'a=b', 'Cache-Control': 'private', 'Last-Modified': LM, ETag: '"e"' })}`)),
    m('proxied: the backend\'s Connection and Keep-Alive dropped', req(`/p/h/?${hq({ 'Keep-Alive': 'timeout=5', 'X-After': '1' })}`)),
    m('proxy_redirect default', req(`/pr/?${hq({ _status: '302', Location: 'http://u/h/page?a=1' })}`)),
    m('proxy_redirect default with Refresh', req(`/pr/?${hq({ _status: '302', Location: 'http://u/h/', Refresh: '5; url=http://u/h/r' })}`)),
    m('proxy_redirect with a rule', req(`/prx/?${hq({ _status: '301', Location: 'http://other.example/x' })}`)),
    m('proxied: 502 when the backend is down', req('/dead/x')),
    m('proxied: 504 on a read timeout', req('/slow/x')),
    m('101 Switching Protocols', 'GET /ws/chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: shout\r\nConnection: Upgrade\r\n\r\n'),

    // bad input and limits
    m('413: body too large', req('/small', { method: 'POST', body: 'z'.repeat(2000) })),
    m('413: chunked body too large', 'POST /small HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n' + `258\r\n${'y'.repeat(600)}\r\n`.repeat(2) + '0\r\n\r\n'),
    m('400: a bad request line', 'GARBAGE\r\n\r\n'),
    m('400: a bad header', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n'),
    m('400: HTTP/1.1 without Host', 'GET / HTTP/1.1\r\n\r\n'),
    m('400: Content-Length and Transfer-Encoding', 'POST /p/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
    m('505: an unknown HTTP version', 'GET / HTTP/3.7\r\nHost: x\r\n\r\n'),
    m('414: a request line too long', `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`),
    m('494: a header too large', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(9000)}\r\n\r\n`),
    // nginx answers an HTTP/0.9 request with the bare body; dyups refuses it (src/http1/request-parser.ts).
    m('HTTP/0.9-style request', 'GET /ret/text\r\n'),
    { name: '497: plain HTTP to an ssl port', port: 'ssl', raw: req('/', { host: 'a.test', keep: true }) },
    { name: 'TLS: 200', port: 'ssl', tls: true, raw: req('/', { host: 'a.test' }) },
    { name: 'TLS: 301 with the https scheme', port: 'ssl', tls: true, raw: req('/r', { host: 'a.test' }) },

    // connections
    m('keep-alive: two requests on one HTTP/1.1 connection', req('/ret/text', { keep: true }) + req('/a.txt')),
    m('keep-alive after a proxied answer', req('/p/big/10', { keep: true }) + req('/p/chunked/10', { keep: true }) + req('/ret/text')),
    m('keep-alive after an error page', req('/ret/404', { keep: true }) + req('/ret/text')),
    m('keep-alive: HEAD then GET', req('/a.txt', { method: 'HEAD', keep: true }) + req('/a.txt')),
    m('HTTP/1.0 without keep-alive', req('/ret/text', { version: '1.0', keep: true }) + req('/ret/text')),
    m('HTTP/1.0 with keep-alive', req('/ret/text', { version: '1.0', keep: true, headers: 'Connection: keep-alive\r\n' }) + req('/ret/text', { version: '1.0' })),
    m('HTTP/1.0 with keep-alive, proxied until close', req('/p/close/20', { version: '1.0', keep: true, headers: 'Connection: keep-alive\r\n' }) + req('/ret/text')),
    m('keep-alive after a 413', req('/small', { method: 'POST', body: 'z'.repeat(2000), keep: true }) + req('/ret/text')),
    { name: 'server_tokens off: return', port: 'tokens', raw: req('/ret') },
    { name: 'server_tokens off: the standard page', port: 'tokens', raw: req('/ret/404') },
    { name: 'server_tokens off: the default 404', port: 'tokens', raw: req('/none') },
    { name: 'server_tokens off: proxied', port: 'tokens', raw: req('/p/big/10') },
    // As nginx 1.22: `Keep-Alive: timeout=60` after `Connection: keep-alive` for the second parameter.
    { name: 'keepalive_timeout with a header timeout', port: 'tokens', raw: req('/ret', { keep: true }) + req('/ret') },

    // the dyups interface and check_status
    ...ifaceCases(p),
    { name: 'check_status csv', port: 'main', raw: req('/status'), show: { filter: counters, limit: 400 } },
    { name: 'check_status json', port: 'main', raw: req('/status.json'), show: { filter: counters, limit: 400 } },
    { name: 'check_status: POST', port: 'main', raw: req('/status', { method: 'POST', body: 'x' }) },
  ]
}

/** check_status counters move with the probe timer: shown as N (their width does not change in a test's time). */
const counters = (s: string): string => s.replace(/,(up|down),\d+,\d+,/g, ',$1,N,N,').replace(/"(rise|fall)": \d+/g, '"$1": N')

function ifaceCases(p: Ports): Case[] {
  const i = (name: string, raw: Case['raw']): Case => ({ name, port: 'iface', raw, show: { limit: 600 } })
  const ifMatch = (): string => `If-Match: ${etag}\r\n`
  return [
    i('interface: GET /list', req('/list')),
    i('interface: GET /detail', req('/detail')),
    i('interface: POST /upstream/dyn', req('/upstream/dyn', { method: 'POST', body: `server 127.0.0.1:${p.back};` })),
    i('interface: GET /upstream/dyn', req('/upstream/dyn')),
    i('interface: GET /list after the POST', req('/list')),
    i('interface: GET /detail after the POST', req('/detail')),
    i('interface: POST with a current If-Match', () => req('/upstream/dyn', { method: 'POST', body: `server 127.0.0.1:${p.back} weight=2;`, headers: ifMatch() })),
    i('interface: POST with a stale If-Match: 412', req('/upstream/dyn', { method: 'POST', body: `server 127.0.0.1:${p.back};`, headers: 'If-Match: "1"\r\n' })),
    i('interface: POST a bad body: 500', req('/upstream/bad', { method: 'POST', body: 'garbage 1;' })),
    i('interface: GET /upstream/none: 404', req('/upstream/none')),
    i('interface: GET /other: 404', req('/other')),
    i('interface: PUT: 405', req('/upstream/dyn', { method: 'PUT', body: 'x' })),
    i('interface: HEAD /list', req('/list', { method: 'HEAD' })),
    i('interface: DELETE with a stale If-Match: 412', req('/upstream/dyn', { method: 'DELETE', headers: 'If-Match: "1"\r\n' })),
    i('interface: DELETE /upstream/dyn', req('/upstream/dyn', { method: 'DELETE' })),
    i('interface: DELETE /upstream/dyn again: 404', req('/upstream/dyn', { method: 'DELETE' })),
    i('interface: keep-alive', req('/list', { keep: true }) + req('/detail')),
  ]
}

// ---- the fixture ----------------------------------------------------------------------------------------------

const HEADER = `# Response heads dyups sends, recorded by test/response-heads.test.ts; UPDATE_HEADS=1 rewrites this file.
# Each section: the request ("> " lines), then every answer on the connection: status line and header lines as
# sent, then one line summing up the body. Placeholders: DATE (and DATE+Ns for an Expires relative to it), :MAIN,
# :TOKENS, :SSL, :IFACE, :BACK, :SLOW, :UPG (ports), dyups/VERSION, PREFIX (temp paths), BOUNDARY, N (counters).
`

function parseFixture(text: string): Map<string, string> {
  const out = new Map<string, string>()
  const parts = text.split(/^### /m).slice(1)
  for (const part of parts) {
    const nl = part.indexOf('\n')
    out.set(part.slice(0, nl), part.slice(nl + 1).replace(/\n+$/, ''))
  }
  return out
}

/** A readable line diff of one section. */
function diff(want: string, got: string): string {
  const a = want.split('\n'), b = got.split('\n')
  const out: string[] = []
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] === b[i]) out.push(`  ${a[i]}`)
    else {
      if (a[i] !== undefined) out.push(`- ${a[i]}`)
      if (b[i] !== undefined) out.push(`+ ${b[i]}`)
    }
  }
  return out.join('\n')
}

test('response heads are the recorded ones', async (t) => {
  const back = await scriptedBackend(t)
  const slow = await silentBackend(t)
  const upg = await upgradeBackend(t)
  const [main, tokens, ssl, iface] = (await freePorts(4)) as [number, number, number, number]
  const ports: Ports = { main, tokens, ssl, iface, back: back.port, slow, upg }
  const prefix = tempPrefix(t)
  copyTestCertificates(join(prefix, 'conf'))
  for (const d of DIRS) mkdirSync(join(prefix, d), { recursive: true })
  for (const [f, text] of Object.entries(FILES)) {
    mkdirSync(join(prefix, f, '..'), { recursive: true })
    writeFileSync(join(prefix, f), text)
    utimesSync(join(prefix, f), MTIME, MTIME)
  }
  writeConf(prefix, 'conf/nginx.conf', conf(ports))
  await startDyups(t, prefix, [main, tokens, ssl, iface])
  const ca = readFileSync(join(prefix, 'conf/ca.pem'), 'latin1')
  const mask = masker({ ...ports }, prefix)

  const sections: [string, string][] = []
  const names = new Set<string>()
  for (const c of cases(ports)) {
    assert.ok(!names.has(c.name), `two cases named ${c.name}`)
    names.add(c.name)
    const raw = typeof c.raw === 'function' ? c.raw() : c.raw
    const port = ports[c.port]
    const received = c.tls ? await tlsExchange(port, ca, raw as string) : await exchange(port, raw)
    if (c.port === 'iface') etag = /\r\nETag: *([^\r]*)/i.exec(received)?.[1] ?? etag
    const lines = render(received, methods(raw), mask, c.show)
    sections.push([c.name, [...showRequest(raw, mask), ...lines].join('\n')])
  }

  const text = HEADER + sections.map(([name, body]) => `\n### ${name}\n${body}\n`).join('')
  if (UPDATE) {
    mkdirSync(join(ROOT, 'test/fixtures'), { recursive: true })
    writeFileSync(FIXTURE, text)
    t.diagnostic(`wrote ${sections.length} cases to ${FIXTURE}`)
    return
  }
  let recorded: Map<string, string>
  try {
    recorded = parseFixture(readFileSync(FIXTURE, 'utf8'))
  } catch {
    assert.fail(`${FIXTURE} is missing: run with UPDATE_HEADS=1 to record it`)
  }
  const failures: string[] = []
  for (const [name, got] of sections) {
    const want = recorded.get(name)
    if (want === undefined) failures.push(`### ${name}: not in the fixture (UPDATE_HEADS=1 records it)\n${got}`)
    else if (want !== got) failures.push(`### ${name}\n${diff(want, got)}`)
  }
  for (const name of recorded.keys()) if (!names.has(name)) failures.push(`### ${name}: in the fixture, no longer a case`)
  assert.equal(failures.length, 0, `${failures.length} case(s) differ from ${FIXTURE} (- recorded, + now):\n\n${failures.join('\n\n')}\n`)
})

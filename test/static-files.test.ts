/**
 * Static files side by side with the real nginx: the same configuration (Debian's default site and more) and the
 * same files with the same modification times in two prefixes; every request of a table goes to both, and the
 * status, the headers that matter, the body and the error-log line must be equal. Then what nginx does not show:
 * a hostile alias that would leave its directory, and a 50 MB download whose worker memory stays bounded while the
 * client does not read.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { backend, Conn, freePorts, request, rssKb, sleep, startDyups, tempPrefix, writeConf, type Response } from './helpers.js'
import { startNginx } from './nginx.js'

/** Every file gets this modification time, so ETag and Last-Modified agree across the two prefixes. */
const MTIME = 1_700_000_000

const FILES: Record<string, string> = {
  'html/index.html': '<h1>home</h1>\n',
  'html/a.txt': 'plain text file\n',
  'html/style.css': 'body { color: red }\n',
  'html/photo.JPG': 'not really a jpeg',
  'html/noext': 'no extension',
  'html/.hidden.html': 'dot file',
  'html/empty.txt': '',
  'html/digits.txt': '0123456789',
  'html/sp ace.txt': 'space in name',
  'html/caf\u00c3\u00a9.txt': 'UTF-8 name',
  'html/dir \u00c3\u00a9/x.txt': 'UTF-8 directory',
  'html/page.html': 'page via $uri.html',
  // Several read chunks long, in a pattern that shows a misplaced byte.
  'html/long.txt': Array.from({ length: 30_000 }, (_, i) => `${i}`.padStart(9, '.') + '\n').join(''),
  'html/sub/b.txt': 'in sub',
  'html/withidx/index.htm': 'htm index',
  'html/idx/second.html': 'second index',
  'html/fallback.html': 'fallback page',
  'html/plain/x.txt': 'plain x',
  'html/plain/d/y.txt': 'plain y',
  'html/noetag/f.txt': 'no etag',
  'html/before/f.txt': 'before',
  'html/imsoff/f.txt': 'ims off',
  'html/abs-target.html': 'absolute index target',
  'data/f.txt': 'aliased file',
  'data/d/g.txt': 'aliased dir file',
  'data/index.html': 'aliased index',
  'html/app/index.html': 'app index',
}
const DIRS = ['html/sub/deeper', 'html/emptydir', 'html/plain/d', 'html/idx', 'html/abs', 'data/d']

/** The server both run; paths are relative to the prefix, so the text is the same for both. */
function conf(port: number, kind: 'nginx' | 'dyups', app: number): string {
  const nginxOnly = kind === 'nginx'
    ? '    client_body_temp_path tmp/body;\n    proxy_temp_path tmp/proxy;\n    fastcgi_temp_path tmp/fastcgi;\n    uwsgi_temp_path tmp/uwsgi;\n    scgi_temp_path tmp/scgi;\n'
    : ''
  const user = kind === 'nginx' && process.getuid?.() === 0 ? 'user root;\n' : ''
  return `worker_processes 1;
error_log logs/error.log error;
pid logs/nginx.pid;
events {}
http {
    types {
        text/html html htm;
        text/css css;
        text/plain txt;
        image/jpeg jpg jpeg;
    }
    default_type application/octet-stream;
    log_format t '$status $body_bytes_sent "$request" $uri';
    access_log logs/t.log t;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    open_file_cache off;
    autoindex off;
    disable_symlinks off;
    server {
        listen 127.0.0.1:${port};
        root html;
        index index.html index.htm index.nginx-debian.html;
        location / {
            try_files $uri $uri/ =404;
        }
        location /plain/ { }
        location /al/ { alias data/; }
        location ~ ^/re/(.+)$ { alias data/$1; }
        location /idx/ { index missing.html second.html; }
        location /abs/ { index nothere.html /abs-target.html; }
        location /fb/ { try_files $uri /fallback.html; }
        location /fbargs/ { try_files $uri /show?from=fb; }
        location = /show { return 200 "uri=$uri args=$args"; }
        location /named/ { try_files $uri $uri/ @back; }
        location @back { return 200 "named $uri"; }
        location /code/ { try_files $uri =403; }
        location /loop/ { try_files /nothing /loop/again; }
        location /noetag/ { etag off; }
        location /before/ { if_modified_since before; }
        location /imsoff/ { if_modified_since off; }
        location /quiet/ { log_not_found off; }
        location /private/ { internal; alias data/; }
        location /toprivate/ { try_files /nothing /private/f.txt; }
        location /privdir/ { internal; }
        location /fifodir/ { alias html/; index fifo; }
        location /retfirst/ { try_files $uri =404; return 200 "returned"; }
        location /app/ { try_files $uri $uri/ @app; }
        location @app { proxy_pass http://127.0.0.1:${app}; }
        location /apptry/ { try_files /nothing /app-static/x; }
        location /app-static/ { proxy_pass http://127.0.0.1:${app}/; }
        location /noranges/ { max_ranges 0; alias html/; }
        location /oneRange/ { max_ranges 1; alias html/; }
        location /varroot/ { root $arg_r; }
        location /ext/ { try_files $uri.html =404; root html/..; }
        location /at/ { alias data/; try_files $uri $uri/ =404; }
        location ~ ^/rt/(.*)$ { alias data/$1; try_files $uri =404; }
        location /todeny/ { try_files $uri /denied/x; }
        location /denied/ { deny all; }
        location = /exact.txt { alias data/f.txt; }
        location /vidx/ { alias html/idx/; index $arg_i; }
    }
${nginxOnly}}
${user}`
}

interface Case {
  name: string
  path: string
  method?: string
  headers?: Record<string, string>
  http10?: boolean
}

const LM = new Date(MTIME * 1000).toUTCString()
const EARLIER = new Date((MTIME - 60) * 1000).toUTCString()
const LATER = new Date((MTIME + 60) * 1000).toUTCString()
const ETAG = (size: number): string => `"${MTIME.toString(16)}-${size.toString(16)}"`

const CASES: Case[] = [
  { name: 'index of /', path: '/' },
  { name: 'index with args', path: '/?a=1' },
  { name: 'a file', path: '/index.html' },
  { name: 'text file', path: '/a.txt' },
  { name: 'css type', path: '/style.css' },
  { name: 'upper-case extension', path: '/photo.JPG' },
  { name: 'no extension: default_type', path: '/noext' },
  { name: 'dot file', path: '/.hidden.html' },
  { name: 'empty file', path: '/empty.txt' },
  { name: 'encoded space', path: '/sp%20ace.txt' },
  { name: 'symbolic link to a file', path: '/link.txt' },
  { name: 'symbolic link to a directory', path: '/linkdir' },
  { name: 'file through a linked directory', path: '/linkdir/g.txt' },
  { name: 'dangling symbolic link', path: '/dangling.txt' },
  { name: 'a FIFO', path: '/fifo' },
  { name: 'return before try_files', path: '/retfirst/x' },
  { name: 'a FIFO as an index', path: '/fifodir/' },
  { name: 'internal: direct', path: '/private/f.txt' },
  { name: 'internal: missing, direct', path: '/private/none' },
  { name: 'internal: by try_files', path: '/toprivate/x' },
  { name: 'internal: directory redirect, direct', path: '/privdir' },
  { name: 'try_files to a proxied named location', path: '/app/x?q=1' },
  { name: 'try_files to a proxied location', path: '/apptry/y' },
  { name: 'try_files: a file before the proxy', path: '/app/' },
  { name: 'UTF-8 name', path: '/caf%C3%A9.txt' },
  { name: 'UTF-8 directory redirect', path: '/dir%20%C3%A9' },
  { name: 'UTF-8 missing name', path: '/caf%C3%A8.txt' },
  { name: 'try_files $uri.html', path: '/ext/page' },
  { name: 'alias and try_files: file', path: '/at/f.txt' },
  { name: 'alias and try_files: directory', path: '/at/d' },
  { name: 'alias and try_files: index', path: '/at/' },
  { name: 'alias and try_files: missing', path: '/at/none' },
  { name: 'regex alias and try_files', path: '/rt/f.txt' },
  { name: 'redirect into a denied location', path: '/todeny/x' },
  { name: 'exact location file', path: '/exact.txt' },
  { name: 'index from a variable', path: '/vidx/?i=second.html' },
  { name: 'missing file', path: '/nope.html' },
  { name: 'missing with args', path: '/nope?x=1' },
  { name: 'file as a directory', path: '/a.txt/more' },
  { name: 'directory without slash', path: '/sub' },
  { name: 'directory without slash, args', path: '/sub?x=1' },
  { name: 'directory without index', path: '/sub/' },
  { name: 'file in directory', path: '/sub/b.txt' },
  { name: 'empty directory', path: '/emptydir/' },
  { name: 'second index name', path: '/withidx/' },
  { name: 'missing directory', path: '/nodir/' },
  { name: 'plain: missing file', path: '/plain/none' },
  { name: 'log_not_found off: file', path: '/quiet/none' },
  { name: 'log_not_found off: directory', path: '/quiet/nodir/' },
  { name: 'plain: file', path: '/plain/x.txt' },
  { name: 'plain: directory redirect', path: '/plain/d' },
  { name: 'plain: directory without index', path: '/plain/d/' },
  { name: 'plain: missing directory', path: '/plain/nodir/' },
  { name: 'plain: file as directory', path: '/plain/x.txt/' },
  { name: 'alias file', path: '/al/f.txt' },
  { name: 'alias index', path: '/al/' },
  { name: 'alias dir redirect', path: '/al/d' },
  { name: 'alias dir without index', path: '/al/d/' },
  { name: 'alias missing', path: '/al/none' },
  { name: 'regex alias file', path: '/re/f.txt' },
  { name: 'regex alias nested', path: '/re/d/g.txt' },
  { name: 'regex alias missing', path: '/re/none' },
  { name: 'index: second of the list', path: '/idx/' },
  { name: 'index: absolute last', path: '/abs/' },
  { name: 'try_files fallback', path: '/fb/none' },
  { name: 'try_files hit', path: '/fb/../a.txt' },
  { name: 'try_files fallback with own args', path: '/fbargs/none?orig=1' },
  { name: 'try_files named location', path: '/named/none' },
  { name: 'try_files =code', path: '/code/none' },
  { name: 'try_files redirect cycle', path: '/loop/x' },
  { name: 'root from a variable', path: '/varroot/f.txt?r=data' },
  { name: 'HEAD file', path: '/a.txt', method: 'HEAD' },
  { name: 'HEAD missing', path: '/nope', method: 'HEAD' },
  { name: 'HEAD directory redirect', path: '/sub', method: 'HEAD' },
  { name: 'HEAD index', path: '/', method: 'HEAD' },
  { name: 'HEAD 304', path: '/a.txt', method: 'HEAD', headers: { 'If-Modified-Since': LM } },
  { name: 'POST file', path: '/a.txt', method: 'POST' },
  { name: 'POST index', path: '/', method: 'POST' },
  { name: 'POST missing', path: '/nope', method: 'POST' },
  { name: 'PUT file', path: '/a.txt', method: 'PUT' },
  { name: 'DELETE dir', path: '/sub/', method: 'DELETE' },
  { name: 'OPTIONS', path: '/a.txt', method: 'OPTIONS' },
  { name: 'IMS equal: 304', path: '/a.txt', headers: { 'If-Modified-Since': LM } },
  { name: 'IMS later: 200 (exact)', path: '/a.txt', headers: { 'If-Modified-Since': LATER } },
  { name: 'IMS earlier: 200', path: '/a.txt', headers: { 'If-Modified-Since': EARLIER } },
  { name: 'IMS garbage: 200', path: '/a.txt', headers: { 'If-Modified-Since': 'yesterday' } },
  { name: 'IMS RFC 850', path: '/a.txt', headers: { 'If-Modified-Since': 'Tuesday, 14-Nov-23 22:13:20 GMT' } },
  { name: 'IMS asctime', path: '/a.txt', headers: { 'If-Modified-Since': 'Tue Nov 14 22:13:20 2023' } },
  { name: 'IMS with old IE length', path: '/a.txt', headers: { 'If-Modified-Since': `${LM}; length=16` } },
  { name: 'IMS without GMT', path: '/a.txt', headers: { 'If-Modified-Since': 'Tue, 14 Nov 2023 22:13:20' } },
  { name: 'IMS without space after comma', path: '/a.txt', headers: { 'If-Modified-Since': 'Tue,14 Nov 2023 22:13:20 GMT' } },
  { name: 'IMS lower-case month', path: '/a.txt', headers: { 'If-Modified-Since': 'Tue, 14 nov 2023 22:13:20 GMT' } },
  { name: 'IMS second 60', path: '/a.txt', headers: { 'If-Modified-Since': 'Tue, 14 Nov 2023 22:12:60 GMT' } },
  { name: 'IMS later, before: 304', path: '/before/f.txt', headers: { 'If-Modified-Since': LATER } },
  { name: 'IMS earlier, before: 200', path: '/before/f.txt', headers: { 'If-Modified-Since': EARLIER } },
  { name: 'IMS equal, off: 200', path: '/imsoff/f.txt', headers: { 'If-Modified-Since': LM } },
  { name: 'INM match: 304', path: '/a.txt', headers: { 'If-None-Match': ETAG(16) } },
  { name: 'INM weak match: 304', path: '/a.txt', headers: { 'If-None-Match': `"x", W/${ETAG(16)}` } },
  { name: 'INM star: 304', path: '/a.txt', headers: { 'If-None-Match': '*' } },
  { name: 'INM other: 200', path: '/a.txt', headers: { 'If-None-Match': '"abc"' } },
  { name: 'INM match, IMS earlier: 200', path: '/a.txt', headers: { 'If-None-Match': ETAG(16), 'If-Modified-Since': EARLIER } },
  { name: 'INM with etag off: 200', path: '/noetag/f.txt', headers: { 'If-None-Match': ETAG(7) } },
  { name: 'If-Match other: 412', path: '/a.txt', headers: { 'If-Match': '"abc"' } },
  { name: 'If-Match same: 200', path: '/a.txt', headers: { 'If-Match': ETAG(16) } },
  { name: 'IUS earlier: 412', path: '/a.txt', headers: { 'If-Unmodified-Since': EARLIER } },
  { name: 'IUS equal: 200', path: '/a.txt', headers: { 'If-Unmodified-Since': LM } },
  { name: 'range', path: '/digits.txt', headers: { Range: 'bytes=2-4' } },
  { name: 'range open end', path: '/digits.txt', headers: { Range: 'bytes=7-' } },
  { name: 'range suffix', path: '/digits.txt', headers: { Range: 'bytes=-3' } },
  { name: 'range past the end', path: '/digits.txt', headers: { Range: 'bytes=5-100' } },
  { name: 'range suffix larger than file', path: '/digits.txt', headers: { Range: 'bytes=-100' } },
  { name: 'range start past end: 416', path: '/digits.txt', headers: { Range: 'bytes=10-' } },
  { name: 'range garbage: 416', path: '/digits.txt', headers: { Range: 'bytes=x-y' } },
  { name: 'range reversed: 416', path: '/digits.txt', headers: { Range: 'bytes=5-2' } },
  { name: 'range not bytes: 200', path: '/digits.txt', headers: { Range: 'items=1-2' } },
  { name: 'range on empty file', path: '/empty.txt', headers: { Range: 'bytes=0-0' } },
  { name: 'range with If-Range etag', path: '/digits.txt', headers: { Range: 'bytes=1-1', 'If-Range': ETAG(10) } },
  { name: 'range with stale If-Range', path: '/digits.txt', headers: { Range: 'bytes=1-1', 'If-Range': '"old"' } },
  { name: 'range with If-Range date', path: '/digits.txt', headers: { Range: 'bytes=1-1', 'If-Range': LM } },
  { name: 'HEAD range', path: '/digits.txt', method: 'HEAD', headers: { Range: 'bytes=0-1' } },
  { name: 'range and IMS: 304', path: '/digits.txt', headers: { Range: 'bytes=0-1', 'If-Modified-Since': LM } },
  { name: 'a file of several chunks', path: '/long.txt' },
  { name: 'range across chunks', path: '/long.txt', headers: { Range: 'bytes=65530-131080' } },
  { name: 'multipart across chunks', path: '/long.txt', headers: { Range: 'bytes=0-10,70000-140000,-5' } },
  { name: 'HTTP/1.0 range', path: '/digits.txt', headers: { Range: 'bytes=1-3' }, http10: true },
  { name: 'max_ranges 0', path: '/noranges/digits.txt', headers: { Range: 'bytes=1-2' } },
  { name: 'max_ranges 1, one range', path: '/oneRange/digits.txt', headers: { Range: 'bytes=1-2' } },
  { name: 'max_ranges 1, two ranges', path: '/oneRange/digits.txt', headers: { Range: 'bytes=1-2,4-5' } },
  { name: 'multipart ranges', path: '/digits.txt', headers: { Range: 'bytes=0-1,5-6' } },
  { name: 'multipart with suffix', path: '/digits.txt', headers: { Range: 'bytes=0-1, -2' } },
  { name: 'HEAD multipart', path: '/digits.txt', method: 'HEAD', headers: { Range: 'bytes=1-2,4-5' } },
  { name: 'multipart of a default_type file', path: '/noext', headers: { Range: 'bytes=0-0,3-4,8-' } },
  { name: 'overlapping ranges: 200', path: '/digits.txt', headers: { Range: 'bytes=0-9,0-9' } },
  { name: 'one of two satisfiable', path: '/digits.txt', headers: { Range: 'bytes=0-1,20-30' } },
  // Hostile paths: the URI parser answers, or the path stays inside the root.
  { name: 'dot-dot above root', path: '/../etc/passwd' },
  { name: 'encoded dot-dot', path: '/%2e%2e/etc/passwd' },
  { name: 'encoded dot-dot and slash', path: '/sub/..%2f..%2f..%2fetc/passwd' },
  { name: 'dot-dot inside root', path: '/sub/../a.txt' },
  { name: 'NUL byte', path: '/a.txt%00.html' },
  { name: 'backslash', path: '/..\\..\\etc\\passwd' },
  { name: 'alias dot-dot', path: '/al/../../conf/nginx.conf' },
  { name: 'regex alias encoded dot-dot', path: '/re/%2e%2e/conf/nginx.conf' },
  { name: 'double slash', path: '//a.txt' },
  { name: 'dot segment', path: '/./a.txt' },
]

const KEYS = ['content-type', 'content-length', 'etag', 'last-modified', 'content-range', 'location', 'accept-ranges']

/** Names are byte strings (latin1): `caf\u00c3\u00a9` is the UTF-8 `café` on disk. */
function makeFiles(prefix: string): void {
  for (const d of DIRS) mkdirSync(join(prefix, d), { recursive: true })
  for (const [f, text] of Object.entries(FILES)) {
    const p = Buffer.from(join(prefix, f), 'latin1')
    mkdirSync(Buffer.from(join(prefix, f, '..'), 'latin1'), { recursive: true })
    writeFileSync(p, text)
    utimesSync(p, MTIME, MTIME)
  }
  // disable_symlinks off: links are followed, also out of the root, as in nginx.
  symlinkSync('../data/f.txt', join(prefix, 'html/link.txt'))
  symlinkSync('../data/d', join(prefix, 'html/linkdir'))
  symlinkSync('nowhere', join(prefix, 'html/dangling.txt'))
  // Not a regular file: opened without blocking (O_NONBLOCK), then refused.
  execFileSync('mkfifo', [join(prefix, 'html/fifo')])
}

/** What a side answered, with its port, prefix and name written neutrally. */
function shape(r: Response, port: number, errors: string[]): Record<string, unknown> {
  const h: Record<string, string> = {}
  for (const k of KEYS) if (r.headers[k] !== undefined) h[k] = r.headers[k]!.replace(`:${port}`, ':PORT')
  return { status: r.status, headers: h, body: r.body.replace(/<center>(nginx|dyups)<\/center>/, '<center>SERVER</center>'), errors }
}

/** Error-log lines added since `from`, without time, pid and connection number, the prefix written as PREFIX. */
function newErrors(log: string, from: number, prefix: string): string[] {
  return log.slice(from).split('\n').filter((l) => l !== '').map((l) =>
    l.replace(/^\S+ \S+ \[(\w+)\] \d+#\d+: (\*\d+ )?/, '[$1] ').split(prefix).join('PREFIX'))
}

function readLog(prefix: string, file = 'logs/error.log'): string {
  try {
    return readFileSync(join(prefix, file), 'latin1')
  } catch {
    return ''
  }
}

/** The access-log line a request added (waited for, bounded: the log is written after the answer). */
async function accessLine(prefix: string, from: number): Promise<string> {
  const deadline = Date.now() + 10_000
  let text = readLog(prefix, 'logs/t.log').slice(from)
  while (!text.endsWith('\n') && Date.now() < deadline) {
    await sleep(5)
    text = readLog(prefix, 'logs/t.log').slice(from)
  }
  return text.trim()
}

/** A single-process dyups configuration with one server on `port` holding `locations`, written into `prefix`. */
function oneServer(prefix: string, port: number, accessLog: string, locations: string): void {
  writeConf(prefix, 'conf/nginx.conf', `daemon off;
master_process off;
error_log logs/error.log error;
events {}
http {
    access_log ${accessLog};
    server {
        listen 127.0.0.1:${port};
        ${locations}
    }
}
`)
}

test('static files: dyups answers as nginx 1.22 does', async (t) => {
  const [pn, pd] = (await freePorts(2)) as [number, number]
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  mkdirSync(join(xn, 'tmp'))
  for (const x of [xn, xd]) makeFiles(x)
  const app = await backend(t, 'app')
  writeConf(xn, 'conf/nginx.conf', conf(pn, 'nginx', app.port))
  writeConf(xd, 'conf/nginx.conf', conf(pd, 'dyups', app.port))
  await startNginx(t, xn, [pn])
  await startDyups(t, xd, [pd], ['-g', 'daemon off;'])

  for (const c of CASES) {
    await t.test(c.name, async () => {
      const run = async (port: number, prefix: string): Promise<Record<string, unknown>> => {
        const from = readLog(prefix).length
        const fromAccess = readLog(prefix, 'logs/t.log').length
        const proxied = app.requests.length
        const r = c.http10
          ? await request(port, { raw: `GET ${c.path} HTTP/1.0\r\n${Object.entries(c.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n` })
          : await request(port, { path: c.path, method: c.method ?? 'GET', headers: c.headers ?? {}, ...(c.method === 'POST' ? { body: '' } : {}) })
        return {
          ...shape(r, port, newErrors(readLog(prefix), from, prefix)),
          access: await accessLine(prefix, fromAccess),
          // What reached the backend, when the request ended up proxied: the request line.
          backend: app.requests.slice(proxied).map((q) => q.slice(0, q.indexOf('\r\n'))),
        }
      }
      const ngx = await run(pn, xn)
      const dy = await run(pd, xd)
      assert.deepEqual(dy, ngx)
    })
  }

  await t.test('one keep-alive connection, pipelined requests included', async () => {
    const run = async (port: number): Promise<unknown[]> => {
      const c = await Conn.open(port)
      const out: unknown[] = []
      const see = (r: Response): void => void out.push([r.status, r.headers['connection'], r.headers['content-length'], r.body.replace(/<center>(nginx|dyups)<\/center>/, '')])
      see(await c.req({ path: '/a.txt' }))
      see(await c.req({ path: '/a.txt', method: 'HEAD' }))
      see(await c.req({ path: '/a.txt', headers: { 'If-None-Match': ETAG(16) } }))
      see(await c.req({ path: '/nope' }))
      see(await c.req({ path: '/digits.txt', headers: { Range: 'bytes=3-5' } }))
      see(await c.req({ path: '/sub' }))
      see(await c.req({ path: '/' }))
      see(await c.send('GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /sub/b.txt HTTP/1.1\r\nHost: x\r\n\r\n'))
      see(await c.read())
      see(await c.send('GET /a.txt HTTP/1.0\r\n\r\n'))
      out.push(await c.waitClosed())
      c.close()
      return out
    }
    assert.deepEqual(await run(pd), await run(pn))
  })
})

test('static files: an alias never serves what lies outside its directory', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  makeFiles(prefix)
  writeConf(prefix, 'secret.txt', 'secret')
  // The classic misconfiguration: a location without its trailing slash over an alias with one. nginx serves
  // /files../secret.txt from the parent directory; dyups refuses any path with a `..` segment.
  oneServer(prefix, port, 'off', 'location /files { alias data/; }\n        location /v/ { root html/$arg_d; }')
  await startDyups(t, prefix, [port])
  const cases: [string, number][] = [
    ['/files../secret.txt', 403],
    ['/files/f.txt', 200],
    ['/v/x?d=../..', 403],
    ['/v/x?d=%2e%2e', 404],
  ]
  for (const [path, status] of cases) {
    const r = await request(port, { path })
    assert.equal(r.status, status, path)
    assert.doesNotMatch(r.body, /secret/, path)
  }
  assert.match(readLog(prefix), /"[^"]*\/data\/\.\.\/secret\.txt" is outside the document root/)
})

/** The open files of a process that are `path`. */
function openFiles(pid: number, path: string): number {
  let n = 0
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === path) n++
    } catch {
      // Closed meanwhile.
    }
  }
  return n
}

test('static files: a client that leaves mid-body releases the file', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  mkdirSync(join(prefix, 'html'))
  const big = join(prefix, 'html/big.bin')
  writeFileSync(big, Buffer.alloc(8 * 1024 * 1024, 0x61))
  oneServer(prefix, port, 'logs/access.log', 'location / { }')
  const d = await startDyups(t, prefix, [port])
  for (const range of ['', 'Range: bytes=0-10,4000000-8000000\r\n']) {
    const s = connect(port, '127.0.0.1')
    await new Promise<void>((res) => {
      s.once('data', () => {
        s.destroy()
        res()
      })
      s.write(`GET /big.bin HTTP/1.1\r\nHost: localhost\r\n${range}\r\n`)
    })
    const deadline = Date.now() + 15_000
    while (openFiles(d.pid, big) > 0 && Date.now() < deadline) await sleep(20)
    assert.equal(openFiles(d.pid, big), 0, `the file stays open after the client left (${range || 'whole'})`)
  }
  const r = await request(port, { path: '/big.bin', headers: { Range: 'bytes=0-3' } })
  assert.deepEqual([r.status, r.body], [206, 'aaaa'])
  // Both aborted requests are logged, with the bytes that went out before the client left.
  const deadline = Date.now() + 15_000
  let lines: string[] = []
  while (lines.length < 3 && Date.now() < deadline) {
    await sleep(20)
    lines = readFileSync(join(prefix, 'logs/access.log'), 'latin1').split('\n').filter((l) => l !== '')
  }
  assert.deepEqual(lines.map((l) => / (\d{3}) \d+ /.exec(l)?.[1]), ['200', '206', '206'])
})

test('static files: a file that shrinks while it is sent ends the connection', { timeout: 10_000 }, async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  mkdirSync(join(prefix, 'html'))
  const big = join(prefix, 'html/shrinks.bin')
  const size = 32 * 1024 * 1024
  writeFileSync(big, Buffer.alloc(size, 0x62))
  oneServer(prefix, port, 'off', 'location / { }')
  await startDyups(t, prefix, [port])
  const s = connect(port, '127.0.0.1')
  let got = 0
  let resumed = false
  const closed = new Promise<void>((r) => s.on('close', () => r()))
  s.on('data', (b: Buffer) => {
    got += b.length
    if (resumed) return
    // Far less than the file has gone out: the worker waits on the socket, the rest still unread on disk.
    s.pause()
    truncateSync(big, 0)
    resumed = true
    setTimeout(() => s.resume(), 100)
  })
  s.write('GET /shrinks.bin HTTP/1.1\r\nHost: localhost\r\n\r\n')
  await closed
  assert.ok(got < size, `received ${got} bytes of a ${size}-byte body`)
  const log = readFileSync(join(prefix, 'logs/error.log'), 'latin1')
  assert.match(log, /\[alert\] \d+#\d+: pread\(\) read only \d+ of 33554432 from "[^"]*shrinks\.bin"/)
})

/** The anonymous resident memory of a process, in bytes. */
const rss = (pid: number): number => rssKb(pid) * 1024

test('static files: a 50 MB file streams with bounded memory while the client does not read', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  const size = 50 * 1024 * 1024
  // A pattern whose length is prime to every chunk size, so a chunk sent twice or out of order changes the hash.
  const data = Buffer.alloc(size, 'dyups streams static files: 0123456789abcdefghijklmnopqrstuvwxyz!')
  mkdirSync(join(prefix, 'html'))
  writeFileSync(join(prefix, 'html/big.bin'), data)
  const want = createHash('sha256').update(data).digest('hex')
  oneServer(prefix, port, 'off', 'location / { }')
  const d = await startDyups(t, prefix, [port])
  // Warm up: the first request compiles the code paths.
  assert.equal((await request(port, { path: '/nothing' })).status, 404)
  const base = rss(d.pid)

  const s = connect(port, '127.0.0.1')
  const hash = createHash('sha256')
  let got = 0
  let head = ''
  let headDone = false
  let firstData: () => void = () => {}
  const first = new Promise<void>((r) => (firstData = r))
  const closed = new Promise<void>((r) => s.on('close', () => r()))
  s.on('data', (b: Buffer) => {
    let body = b
    if (!headDone) {
      head += b.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      headDone = true
      body = b.subarray(b.length - (head.length - end - 4))
      s.pause()
      firstData()
    }
    got += body.length
    hash.update(body)
  })
  s.write('GET /big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
  await first
  // The client reads nothing more for a while: a worker that read ahead would now hold the file in memory.
  await sleep(500)
  const held = rss(d.pid) - base
  s.resume()
  await closed
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/)
  assert.match(head, new RegExp(`\r\nContent-Length: ${size}\r\n`))
  assert.equal(got, size)
  assert.equal(hash.digest('hex'), want)
  assert.ok(held < 20 * 1024 * 1024, `worker RSS grew by ${held} bytes while the client was not reading`)
})

test('the 301 to a directory sends Location where nginx does: before Connection', async (t) => {
  const prefix = tempPrefix(t)
  mkdirSync(join(prefix, 'html/d'), { recursive: true })
  const [port] = (await freePorts(1)) as [number]
  writeConf(prefix, 'conf/nginx.conf', `daemon off;\nworker_processes 1;\nevents {}\nhttp {\n    access_log off;\n    server {\n        listen 127.0.0.1:${port};\n        location / { }\n    }\n}\n`)
  await startDyups(t, prefix, [port])
  for (const path of ['/d', '/d?x=1']) {
    const r = await request(port, { path })
    assert.equal(r.status, 301)
    assert.deepEqual(r.rawHeaders.map(([k]) => k), ['Server', 'Date', 'Content-Type', 'Content-Length', 'Location', 'Connection'], path)
    assert.equal(r.headers.location, `http://localhost:${port}${path.replace('/d', '/d/')}`)
  }
})

test('a file served as an error page keeps the error code, without Last-Modified, 304 or ranges, as nginx', async (t) => {
  const prefix = tempPrefix(t)
  mkdirSync(join(prefix, 'html'), { recursive: true })
  writeFileSync(join(prefix, 'html/err.html'), 'error page text\n')
  utimesSync(join(prefix, 'html/err.html'), MTIME, MTIME)
  const [port] = (await freePorts(1)) as [number]
  writeConf(prefix, 'conf/nginx.conf', `daemon off;\nworker_processes 1;\nevents {}\nhttp {\n    access_log off;\n    server {\n        listen 127.0.0.1:${port};\n        error_page 404 /err.html;\n        location /ok/ { error_page 404 =200 /err.html; }\n    }\n}\n`)
  await startDyups(t, prefix, [port])
  const cases: [string, Record<string, string>, number, string[]][] = [
    ['/missing', {}, 404, ['Server', 'Date', 'Content-Type', 'Content-Length', 'Connection', 'ETag']],
    ['/missing', { 'If-Modified-Since': LM }, 404, ['Server', 'Date', 'Content-Type', 'Content-Length', 'Connection', 'ETag']],
    ['/missing', { Range: 'bytes=0-1' }, 404, ['Server', 'Date', 'Content-Type', 'Content-Length', 'Connection', 'ETag']],
    ['/ok/missing', {}, 200, ['Server', 'Date', 'Content-Type', 'Content-Length', 'Last-Modified', 'Connection', 'ETag', 'Accept-Ranges']],
  ]
  for (const [path, headers, status, names] of cases) {
    const r = await request(port, { path, headers })
    assert.equal(r.status, status, `${path} ${JSON.stringify(headers)}`)
    assert.equal(r.body, 'error page text\n')
    assert.deepEqual(r.rawHeaders.map(([k]) => k), names, `${path} ${JSON.stringify(headers)}`)
  }
})

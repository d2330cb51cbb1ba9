/**
 * X-Accel-Redirect side by side with the real nginx: a backend's answer naming a URI (with arguments), a named
 * location, a file, another proxied location, an unsafe URI; HEAD and POST; `proxy_ignore_headers X-Accel-Redirect`;
 * carried Set-Cookie through proxy_cookie_path and proxy_cookie_flags.
 * Compared: the client's whole answer (status line, headers in order, body), what the backend saw, the access-log line.
 */
import assert from 'node:assert/strict'
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { closeServer, exchange, freePorts, readText, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'
import { nginxOnlyLines, startNginx } from './nginx.js'

function conf(kind: 'nginx' | 'dyups', port: number, back: number, files: string): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  const px = `proxy_pass http://127.0.0.1:${back};`
  return `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    log_format b '$status|$request_method|$request_uri|$uri|$args|$upstream_status|$body_bytes_sent';
    access_log logs/b.log b;
    server_tokens off;
    server {
        listen 127.0.0.1:${port};
        location /xa/ { ${px} }
        location /xc/ { proxy_cookie_path / /app/; proxy_cookie_flags b secure; ${px} }
        location /ig/ { proxy_ignore_headers X-Accel-Redirect; ${px} }
        location /ig2/ { proxy_ignore_headers Expires X-Accel-Expires; ${px} }
        location /t/ { return 200 "t $uri $args $request_method\\n"; }
        location @named { return 200 "named $uri $args $request_method\\n"; }
        location /files/ { root ${files}; }
        location /p/ { ${px} }
        location /r/ { return 302 /elsewhere; }
    }
${nginxOnly}}
${user}`
}

/** What the backend answers for a path: X-Accel-Redirect targets, with the headers nginx carries and some it does not. */
const TARGETS: Record<string, string> = {
  '/xa/ret': '/t/ret?a=1&b=2',
  '/xa/named': '@named',
  '/xa/file': '/files/f.txt',
  '/xa/esc': '/t/a%20b',
  '/xa/unsafe': '/t/../x',
  '/xa/proxy': '/p/next',
  '/xa/redir': '/r/x',
  '/xa/missing': '/files/none.txt',
  '/ig/ret': '/t/ret',
  '/xc/ret': '/t/ret',
  '/ig2/ret': '/t/ret',
}

async function backend(t: TestContext): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    let buf = ''
    s.on('data', (b: Buffer) => {
      buf += b.toString('latin1')
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) return
      const len = Number(/\r\ncontent-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0)
      if (buf.length < end + 4 + len) return
      seen.push(buf)
      const path = buf.slice(buf.indexOf(' ') + 1, buf.indexOf(' ', buf.indexOf(' ') + 1)).split('?')[0]!
      const target = TARGETS[path]
      const body = target === undefined ? `backend ${path}\n` : 'not for the client\n'
      s.end(
        'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: a=1; Path=/\r\nX-Other: o\r\n' +
        'Cache-Control: no-cache\r\nSet-Cookie: b=2\r\nContent-Disposition: attachment; filename="x"\r\n' +
        'Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\nX-Accel-Buffering: no\r\n' +
        (target === undefined ? '' : `X-Accel-Redirect: ${target}\r\n`) +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      )
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => closeServer(server, sockets))
  return { port: (server.address() as AddressInfo).port, seen }
}

const REQUESTS: string[] = []
for (const path of Object.keys(TARGETS)) REQUESTS.push(`GET ${path}?q=1 HTTP/1.1\r\nHost: side\r\nConnection: close\r\n\r\n`)
REQUESTS.push('HEAD /xa/ret HTTP/1.1\r\nHost: side\r\nConnection: close\r\n\r\n')
REQUESTS.push('POST /xa/named HTTP/1.1\r\nHost: side\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello')
REQUESTS.push('GET /xa/file HTTP/1.0\r\nHost: side\r\n\r\n')

async function run(port: number, prefix: string, seen: string[], back: number): Promise<{ backend: string[]; answers: string[]; log: string[] }> {
  const backend: string[] = [], answers: string[] = []
  const norm = (x: string): string => x.split(`:${back}`).join(':B').split(`:${port}`).join(':P').replace(/^(Date|Server): .*$/gm, '$1: X').replace('<center>nginx</center>', '<center>dyups</center>')
  for (const raw of REQUESTS) {
    const mark = seen.length
    answers.push(norm(await exchange(port, raw)))
    backend.push(norm(seen.slice(mark).join('')))
  }
  const file = join(prefix, 'logs/b.log')
  const lines = (): string[] => readText(file).split('\n').filter((l) => l !== '')
  assert.ok(await waitFor(() => lines().length >= REQUESTS.length, 10_000), `${lines().length} log lines`)
  return { backend, answers, log: lines() }
}

test('X-Accel-Redirect and proxy_ignore_headers as nginx', async (t) => {
  const back = await backend(t)
  const [pn, pd] = (await freePorts(2)) as [number, number]
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  // One file both serve: the same Last-Modified and ETag.
  const files = tempPrefix(t)
  mkdirSync(join(files, 'files'))
  writeFileSync(join(files, 'files/f.txt'), 'file body\n')
  utimesSync(join(files, 'files/f.txt'), 1_600_000_000, 1_600_000_000)
  mkdirSync(join(xn, 'tmp'))
  writeConf(xn, 'conf/nginx.conf', conf('nginx', pn, back.port, files))
  writeConf(xd, 'conf/nginx.conf', conf('dyups', pd, back.port, files))
  await startNginx(t, xn, [pn])
  await startDyups(t, xd, [pd], ['-g', 'daemon off;'])
  const ngx = await run(pn, xn, back.seen, back.port)
  const dy = await run(pd, xd, back.seen, back.port)
  if (process.env.SIDE_DEBUG) console.log(JSON.stringify({ ngx, dy }, null, 1))
  for (let i = 0; i < REQUESTS.length; i++) {
    assert.equal(dy.answers[i], ngx.answers[i], `answer to ${REQUESTS[i]!.split('\r\n')[0]}`)
    assert.equal(dy.backend[i], ngx.backend[i], `backend side of ${REQUESTS[i]!.split('\r\n')[0]}`)
  }
  assert.deepEqual(dy.log, ngx.log)
  // The comparison is about something: nginx followed the redirects and carried the cookies.
  assert.match(ngx.answers[0]!, /\r\nSet-Cookie: a=1; Path=\/\r\n[^]*\r\n\r\nt \/t\/ret a=1&b=2 GET\n$/)
  assert.match(ngx.answers[4]!, /^HTTP\/1.1 404 /)
  // Carried cookies go through proxy_cookie_path and proxy_cookie_flags.
  assert.ok(ngx.answers.some((x) => x.includes('Set-Cookie: a=1; Path=/app/\r\n') && x.includes('Set-Cookie: b=2; Secure\r\n')))
  const errors = readText(join(xd, 'logs/error.log'))
  assert.ok(errors.includes('unsafe URI "/t/../x" was detected'), errors)
})

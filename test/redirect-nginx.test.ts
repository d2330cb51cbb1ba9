/**
 * How a relative Location is written, side by side with the real nginx: absolute_redirect, port_in_redirect and
 * server_name_in_redirect at each level, for `return`, a redirecting `rewrite`, a directory's slash (escaped as
 * nginx escapes it) and a proxied Location proxy_redirect made a path; with a Host, a Host with a port, and none.
 * Compared: the client's whole answer and the access-log line.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { closeServer, exchange, freePorts, readText, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'
import { nginxOnlyLines, startNginx } from './nginx.js'

function conf(kind: 'nginx' | 'dyups', port: number, back: number, files: string): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  const px = `proxy_pass http://127.0.0.1:${back}/back/;`
  return `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    log_format b '$status|$request_uri|$body_bytes_sent|$upstream_status|$sent_http_location|$sent_http_content_type|$sent_http_connection';
    access_log logs/b.log b;
    server_tokens off;
    server {
        listen 127.0.0.1:${port};
        server_name primary.example other.example;
        root ${files};
        location /ret/ { return 302 /to?a=1; }
        location /rw/ { rewrite ^/rw/(.*)$ /to/$1 redirect; }
        location /off/ {
            absolute_redirect off;
            location /off/ret/ { return 301 /to; }
            location /off/px/ { ${px} }
        }
        location /noport/ { port_in_redirect off; return 302 /to; }
        location /sn/ { server_name_in_redirect on; return 302 /to; }
        location /snp/ { server_name_in_redirect on; port_in_redirect off; return 307 /to; }
        location /dirs/ { }
        location /dirsoff/ { absolute_redirect off; alias ${files}/dirs/; }
        location /px/ { ${px} }
        location /pxsn/ { server_name_in_redirect on; ${px} }
    }
${nginxOnly}}
${user}`
}

async function backend(t: TestContext): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    let buf = ''
    s.on('data', (b: Buffer) => {
      buf += b.toString('latin1')
      if (!buf.includes('\r\n\r\n')) return
      const port = (server.address() as AddressInfo).port
      s.end(`HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:${port}/back/x?y=1\r\nX-B: b\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => closeServer(server, sockets))
  return (server.address() as AddressInfo).port
}

const PATHS = ['/ret/', '/rw/a', '/off/ret/', '/off/px/', '/noport/', '/sn/', '/snp/', '/dirs/sub', '/dirs/a%20b', '/dirsoff/sub', '/dirs/sub?k=v', '/px/', '/pxsn/']
const HOSTS = ['Host: side\r\n', 'Host: Side.Example:81\r\n', '']
const REQUESTS: string[] = []
for (const h of HOSTS) for (const p of PATHS) REQUESTS.push(`GET ${p} HTTP/1.${h === '' ? 0 : 1}\r\n${h}Connection: close\r\n\r\n`)

async function run(port: number, prefix: string, back: number): Promise<{ answers: string[]; log: string[] }> {
  const answers: string[] = []
  const norm = (x: string): string => x.split(`:${back}`).join(':B').split(`:${port}`).join(':P').replace(/^(Date|Server): .*$/gm, '$1: X').replace('<center>nginx</center>', '<center>dyups</center>')
  for (const raw of REQUESTS) answers.push(raw.split('\r\n')[0] + ' ' + raw.split('\r\n')[1] + '\n' + norm(await exchange(port, raw)))
  const file = join(prefix, 'logs/b.log')
  const lines = (): string[] => readText(file).split('\n').filter((l) => l !== '')
  assert.ok(await waitFor(() => lines().length >= REQUESTS.length, 10_000), `${lines().length} log lines`)
  return { answers, log: lines().map(norm) }
}

test('absolute_redirect, port_in_redirect and server_name_in_redirect as nginx', async (t) => {
  const back = await backend(t)
  const [pn, pd] = (await freePorts(2)) as [number, number]
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  const files = tempPrefix(t)
  mkdirSync(join(files, 'dirs/sub'), { recursive: true })
  mkdirSync(join(files, 'dirs/a b'), { recursive: true })
  mkdirSync(join(xn, 'tmp'))
  writeConf(xn, 'conf/nginx.conf', conf('nginx', pn, back, files))
  writeConf(xd, 'conf/nginx.conf', conf('dyups', pd, back, files))
  await startNginx(t, xn, [pn])
  await startDyups(t, xd, [pd], ['-g', 'daemon off;'])
  const ngx = await run(pn, xn, back)
  const dy = await run(pd, xd, back)
  if (process.env.SIDE_DEBUG) console.log(JSON.stringify({ ngx, dy }, null, 1))
  for (let i = 0; i < REQUESTS.length; i++) assert.equal(dy.answers[i], ngx.answers[i])
  assert.deepEqual(dy.log, ngx.log)
  const all = ngx.answers.join('\n')
  for (const want of ['Location: /to\r\n', 'Location: http://primary.example:P/to', 'Location: http://side/to', 'Location: /off/px/x?y=1', 'Location: http://side:P/dirs/a%20b/']) {
    assert.ok(all.includes(want), `nginx never sent ${JSON.stringify(want)}`)
  }
})

/**
 * What the backend gets, side by side with the real nginx: `proxy_method` (constant and from a variable),
 * `proxy_pass_request_headers off`, `proxy_pass_request_body off`, `proxy_set_body` (with variables, in place of a
 * client body or of none), and `$request_body` in the access log (a body in memory; one in a temp file is not
 * found). Compared: the request head and body the backend received, the client's answer, the access-log line.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { closeServer, exchange, freePorts, readText, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'
import { nginxOnlyLines, startNginx } from './nginx.js'

function conf(kind: 'nginx' | 'dyups', port: number, back: number): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  const px = `proxy_pass http://127.0.0.1:${back};`
  return `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    log_format b '$status|$request_method|$request_uri|$request_body';
    access_log logs/b.log b;
    server {
        listen 127.0.0.1:${port};
        location /plain/ { ${px} }
        location /m/ { proxy_method POST; ${px} }
        location /mv/ { proxy_method $arg_m; ${px} }
        location /nb/ { proxy_pass_request_body off; ${px} }
        location /nh/ { proxy_pass_request_headers off; proxy_set_header X-Set set; ${px} }
        location /sb/ { proxy_set_body "k=$arg_k&x=1"; ${px} }
        location /sb-nb/ { proxy_pass_request_body off; proxy_set_body "only this"; ${px} }
        location /sb-m/ { proxy_method PUT; proxy_set_body ""; ${px} }
    }
${nginxOnly}}
${user}`
}

async function recorder(t: TestContext): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    let buf = ''
    let done = false
    s.on('data', (b: Buffer) => {
      buf += b.toString('latin1')
      const end = buf.indexOf('\r\n\r\n')
      if (done || end < 0) return
      // With proxy_pass_request_body off nginx announces the client's length and sends no body: answer on the head.
      const len = buf.startsWith('POST /nb/') ? 0 : Number(/\r\ncontent-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0)
      if (buf.length < end + 4 + len) return
      done = true
      seen.push(buf)
      s.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbk\n')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => closeServer(server, sockets))
  return { port: (server.address() as AddressInfo).port, seen }
}

const BIG = 'z'.repeat(40_000)
const REQUESTS: string[] = []
for (const path of ['/plain/', '/m/', '/mv/?m=PATCH', '/nb/', '/nh/', '/sb/?k=v', '/sb-nb/', '/sb-m/']) {
  REQUESTS.push(`GET ${path} HTTP/1.1\r\nHost: side\r\nX-Client: c\r\nConnection: close\r\n\r\n`)
  REQUESTS.push(`POST ${path} HTTP/1.1\r\nHost: side\r\nX-Client: c\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world`)
}
REQUESTS.push(`POST /plain/ HTTP/1.1\r\nHost: side\r\nContent-Length: ${BIG.length}\r\nConnection: close\r\n\r\n${BIG}`)
REQUESTS.push('POST /plain/ HTTP/1.1\r\nHost: side\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nchunk\r\n3\r\ned!\r\n0\r\n\r\n')

async function run(port: number, prefix: string, seen: string[], back: number): Promise<{ backend: string[]; answers: string[]; log: string[] }> {
  const backend: string[] = [], answers: string[] = []
  for (const raw of REQUESTS) {
    const mark = seen.length
    const text = await exchange(port, raw)
    answers.push(text.split('\r\n')[0]! + ' ' + text.slice(text.indexOf('\r\n\r\n') + 4))
    backend.push(seen.slice(mark).join('').split(`:${back}`).join(':B').replace(BIG, 'BIG'))
  }
  const file = join(prefix, 'logs/b.log')
  const lines = (): string[] => readText(file).split('\n').filter((l) => l !== '')
  assert.ok(await waitFor(() => lines().length >= REQUESTS.length, 10_000), `${lines().length} log lines`)
  return { backend, answers, log: lines().map((l) => l.replace(BIG, 'BIG')) }
}

test('proxy_method, proxy_pass_request_*, proxy_set_body and $request_body as nginx', async (t) => {
  const back = await recorder(t)
  const [pn, pd] = (await freePorts(2)) as [number, number]
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  mkdirSync(join(xn, 'tmp'))
  writeConf(xn, 'conf/nginx.conf', conf('nginx', pn, back.port))
  writeConf(xd, 'conf/nginx.conf', conf('dyups', pd, back.port))
  await startNginx(t, xn, [pn])
  await startDyups(t, xd, [pd], ['-g', 'daemon off;'])
  const ngx = await run(pn, xn, back.seen, back.port)
  const dy = await run(pd, xd, back.seen, back.port)
  if (process.env.SIDE_DEBUG) console.log(JSON.stringify({ ngx, dy }, null, 1))
  assert.deepEqual(dy.backend, ngx.backend)
  assert.deepEqual(dy.answers, ngx.answers)
  assert.deepEqual(dy.log, ngx.log)
  const all = ngx.backend.join('\n')
  for (const want of ['PATCH /mv/', 'POST /m/', 'k=v&x=1', 'PUT /sb-m/', 'X-Set: set']) assert.ok(all.includes(want), `nginx's backend saw no "${want}"`)
  assert.ok(ngx.log.some((l) => l.endsWith('|hello world')))
})

/**
 * realip (`set_real_ip_from`, `real_ip_header`, `real_ip_recursive`, `$realip_remote_addr`, `$realip_remote_port`,
 * `$binary_remote_addr`) side by side with the real nginx: the same requests, with X-Forwarded-For, X-Real-IP and
 * another header in every shape that matters (trusted and untrusted hops, several fields, ports, IPv6, garbage), to
 * servers that set realip at the server level (nginx's post-read phase) or only in locations (its pre-access phase,
 * after `return`), must give the same status line, headers, body, backend-side request, access-log line and
 * `access forbidden` error-log line.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { closeServer, freePorts, readRequests, readText, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'
import { nginxOnlyLines, startNginx } from './nginx.js'
import { seen as reduce } from './responses.js'

const VARS = '$remote_addr|$remote_port|$realip_remote_addr|$realip_remote_port|$binary_remote_addr|$proxy_add_x_forwarded_for'

function conf(kind: 'nginx' | 'dyups', p: number[], back: number): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  const px = `proxy_pass http://127.0.0.1:${back}; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_set_header X-Remote "$remote_addr|$remote_port|$realip_remote_addr";`
  return `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    log_format r '${VARS}|$status|$request_uri';
    access_log logs/r.log r;
    server {
        listen 127.0.0.1:${p[0]};
        set_real_ip_from 127.0.0.1;
        set_real_ip_from 10.0.0.0/8;
        set_real_ip_from 2001:db8::/32;
        real_ip_header X-Forwarded-For;
        location / { return 200 "${VARS}\\n"; }
        location /deny/ { deny 203.0.113.7; deny 2001:db8::1; return 200 "open\\n"; }
        location /px/ { ${px} }
        location /again/ { rewrite ^ /px/ last; }
        location /rec/ { real_ip_recursive on; return 200 "$remote_addr\\n"; }
    }
    server {
        listen 127.0.0.1:${p[1]};
        set_real_ip_from 127.0.0.1;
        set_real_ip_from 10.0.0.0/8;
        real_ip_recursive on;
        real_ip_header X-Forwarded-For;
        location / { return 200 "${VARS}\\n"; }
        location /px/ { ${px} }
    }
    server {
        listen 127.0.0.1:${p[2]};
        location /early/ { set_real_ip_from 127.0.0.1; return 200 "$remote_addr\\n"; }
        location /xri/ { set_real_ip_from 127.0.0.1; ${px} }
        location /hdr/ { set_real_ip_from 127.0.0.1; real_ip_header X-Client; ${px} }
        location /lower/ { set_real_ip_from 127.0.0.1; real_ip_header x-forwarded-for; ${px} }
        location /untrusted/ { set_real_ip_from 10.0.0.0/8; real_ip_header X-Forwarded-For; ${px} }
        location /deny/ { set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For; deny 203.0.113.7; ${px} }
    }
${nginxOnly}}
${user}`
}

/** The header lines of each request variant. */
const VARIANTS: string[] = [
  '',
  'X-Forwarded-For: 203.0.113.7\r\n',
  'X-Forwarded-For: 203.0.113.7, 10.0.0.2\r\n',
  'X-Forwarded-For: 1.2.3.4, 203.0.113.7, 10.1.1.1 ,\r\n',
  'X-Forwarded-For: unknown, 10.0.0.2\r\n',
  'X-Forwarded-For: 10.0.0.3, garbage\r\n',
  'X-Forwarded-For: 5.6.7.8, 10.0.0.9\r\nX-Forwarded-For: 10.0.0.2\r\n',
  'X-Forwarded-For: 5.6.7.8\r\nX-Forwarded-For: 7.7.7.7\r\n',
  'X-Forwarded-For: 203.0.113.7:5678\r\n',
  'X-Forwarded-For: [2001:db8::5]:8080\r\n',
  'X-Forwarded-For: 2001:DB8:0:0:1:0:0:1\r\n',
  'X-Forwarded-For: 1.2.3.4, 2001:db8:0:0:0:0:0:1\r\n',
  'X-Forwarded-For: ::ffff:1.2.3.4\r\n',
  'X-Real-IP: 9.9.9.9\r\nX-Real-IP: 8.8.8.8\r\nX-Client: 6.6.6.6:77\r\n',
  'X-Real-IP: 300.1.1.1\r\nX-Client: nonsense\r\n',
  'X-Real-IP: 203.0.113.7\r\nX-Forwarded-For: 1.1.1.1, 203.0.113.7\r\n',
]

const PATHS: Array<[number, string]> = [
  [0, '/'], [0, '/deny/'], [0, '/px/'], [0, '/again/'], [0, '/rec/'],
  [1, '/'], [1, '/px/'],
  [2, '/early/'], [2, '/xri/'], [2, '/hdr/'], [2, '/lower/'], [2, '/untrusted/'], [2, '/deny/'],
]

/** One request; the response as received and the client's own port (to replace in what the server shows of it). */
function send(port: number, raw: string): Promise<{ text: string; local: number }> {
  return new Promise((res, rej) => {
    const s: Socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let local = 0
    const timer = setTimeout(() => {
      s.destroy()
      rej(new Error(`no answer from ${port}`))
    }, 10_000)
    s.on('connect', () => {
      local = s.localPort ?? 0
      s.write(raw, 'latin1')
    })
    s.on('data', (b) => chunks.push(b))
    s.on('error', () => {})
    s.on('close', () => {
      clearTimeout(timer)
      res({ text: Buffer.concat(chunks).toString('latin1'), local })
    })
  })
}

interface Side {
  ports: number[]
  prefix: string
}

async function run(side: Side, seen: string[]): Promise<{ answers: string[]; backend: string[]; log: string[]; errors: string[] }> {
  const answers: string[] = [], backend: string[] = [], locals: number[] = []
  for (const [s, path] of PATHS) {
    for (const [i, v] of VARIANTS.entries()) {
      const mark = seen.length
      const { text, local } = await send(side.ports[s]!, `GET ${path}?v=${i} HTTP/1.1\r\nHost: side\r\nConnection: close\r\n${v}\r\n`)
      locals.push(local)
      const norm = (x: string): string => x.split(String(local)).join('CPORT').replace(/^(Date|Server): .*$/gm, '$1: X')
      const r = reduce(norm(text), side.ports[s]!)
      answers.push(`${s}${path}?v=${i} ${r.status}\n${r.headers.join('\n')}\n\n${r.body}`)
      backend.push(norm(seen.slice(mark).join('')).replace(/^Host: .*$/m, 'Host: B'))
    }
  }
  const total = PATHS.length * VARIANTS.length
  const logFile = join(side.prefix, 'logs/r.log')
  const lines = (): string[] => readText(logFile).split('\n').filter((l) => l !== '')
  assert.ok(await waitFor(() => lines().length >= total, 10_000), `${lines().length} of ${total} access-log lines`)
  // The client's port is the one field that differs by nature; requests went one after another, so line i is request i's.
  const log = lines().map((l, i) => l.split(`|${locals[i]}|`).join('|CPORT|'))
  const errors = readText(join(side.prefix, 'logs/error.log')).split('\n')
    .filter((l) => l.includes('access forbidden'))
    .map((l) => l.slice(l.indexOf('access forbidden')))
  return { answers, backend, log, errors }
}

async function recorder(t: TestContext): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((s) => readRequests(s, sockets, (head) => {
    seen.push(head)
    s.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbk\n')
  }))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => closeServer(server, sockets))
  return { port: (server.address() as AddressInfo).port, seen }
}

test('realip answers, forwards and logs as nginx', async (t) => {
  const back = await recorder(t)
  const pn = await freePorts(3)
  const pd = await freePorts(3)
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  mkdirSync(join(xn, 'tmp'))
  writeConf(xn, 'conf/nginx.conf', conf('nginx', pn, back.port))
  writeConf(xd, 'conf/nginx.conf', conf('dyups', pd, back.port))
  await startNginx(t, xn, pn)
  await startDyups(t, xd, pd, ['-g', 'daemon off;'])
  const ngx = await run({ ports: pn, prefix: xn }, back.seen)
  const dy = await run({ ports: pd, prefix: xd }, back.seen)
  const fix = (a: string[], ports: number[]): string[] => a.map((x) => ports.reduce((s, p, i) => s.split(String(p)).join(`P${i}`), x))
  assert.deepEqual(fix(dy.answers, pd), fix(ngx.answers, pn))
  assert.deepEqual(dy.backend, ngx.backend)
  assert.deepEqual(dy.log, ngx.log)
  assert.deepEqual(dy.errors, ngx.errors)
  // The comparison covers what realip does: addresses taken from each header kind, and the connection's kept.
  assert.ok(ngx.log.some((l) => l.startsWith('203.0.113.7|CPORT|') === false && l.startsWith('203.0.113.7||127.0.0.1|CPORT|')))
  assert.ok(ngx.log.some((l) => l.startsWith('2001:db8::1|')))
  assert.ok(ngx.log.some((l) => l.startsWith('6.6.6.6|77|127.0.0.1|')))
  assert.ok(ngx.errors.length >= 2)
})

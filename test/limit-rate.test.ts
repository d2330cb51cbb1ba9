/**
 * limit_rate and limit_rate_after, side by side with the real nginx: a proxied body and a file of 240 000 bytes at
 * 80k a second after 40k take at least a second on both (nginx's pacing: (240 000 - 40 960) / 81 920 = 2.4 s, less
 * the second's worth it lets ahead, counted in whole seconds); the rate from a variable or from the backend's
 * X-Accel-Limit-Rate (and that header under proxy_ignore_headers); `limit_rate 0` below a level that sets one. Only lower bounds are asserted (a loaded machine is slower, never faster); the bodies and the
 * access-log lines are compared.
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { closeServer, exchange, freePorts, readText, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'
import { dyupsTest, nginxOnlyLines, startNginx } from './nginx.js'

const SIZE = 240_000
const BODY = Buffer.alloc(SIZE, 'x')

function conf(kind: 'nginx' | 'dyups', port: number, back: number, files: string): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  return `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    log_format b '$status|$request_uri|$body_bytes_sent';
    access_log logs/b.log b;
    limit_rate_after 40k;
    server {
        listen 127.0.0.1:${port};
        location /p/ { limit_rate 80k; proxy_pass http://127.0.0.1:${back}; }
        location /v/ { limit_rate $arg_r; proxy_pass http://127.0.0.1:${back}; }
        location /f/ { limit_rate 80k; root ${files}; }
        location /xl/ { proxy_pass http://127.0.0.1:${back}; }
        location /xli/ { proxy_ignore_headers X-Accel-Limit-Rate; proxy_pass http://127.0.0.1:${back}; }
        location /none/ {
            limit_rate 80k;
            location /none/in/ { limit_rate 0; proxy_pass http://127.0.0.1:${back}; }
        }
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
      const accel = /^GET \/xli?\//.test(buf) ? 'X-Accel-Limit-Rate: 81920\r\n' : ''
      s.write(`HTTP/1.1 200 OK\r\n${accel}Content-Length: ${SIZE}\r\nConnection: close\r\n\r\n`)
      s.end(BODY)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => closeServer(server, sockets))
  return (server.address() as AddressInfo).port
}

const PATHS = ['/p/a', '/v/a?r=80k', '/f/big', '/xl/a', '/none/in/a', '/xli/a']

async function run(port: number, prefix: string): Promise<{ ms: number[]; bodies: number[]; log: string[] }> {
  const ms: number[] = [], bodies: number[] = []
  for (const p of PATHS) {
    const t0 = performance.now()
    const text = await exchange(port, `GET ${p} HTTP/1.1\r\nHost: side\r\nConnection: close\r\n\r\n`)
    ms.push(performance.now() - t0)
    assert.match(text, /^HTTP\/1.1 200 OK\r\n/)
    bodies.push(text.length - text.indexOf('\r\n\r\n') - 4)
  }
  const file = join(prefix, 'logs/b.log')
  const lines = (): string[] => readText(file).split('\n').filter((l) => l !== '')
  assert.ok(await waitFor(() => lines().length >= PATHS.length, 10_000), `${lines().length} log lines`)
  return { ms, bodies, log: lines() }
}

test('limit_rate and limit_rate_after pace a body as nginx does', async (t) => {
  const back = await backend(t)
  const [pn, pd] = (await freePorts(2)) as [number, number]
  const xn = tempPrefix(t), xd = tempPrefix(t), files = tempPrefix(t)
  mkdirSync(join(files, 'f'))
  writeFileSync(join(files, 'f/big'), BODY)
  mkdirSync(join(xn, 'tmp'))
  writeConf(xn, 'conf/nginx.conf', conf('nginx', pn, back, files))
  writeConf(xd, 'conf/nginx.conf', conf('dyups', pd, back, files))
  await startNginx(t, xn, [pn])
  await startDyups(t, xd, [pd], ['-g', 'daemon off;'])
  const ngx = await run(pn, xn)
  const dy = await run(pd, xd)
  if (process.env.SIDE_DEBUG) console.log(JSON.stringify({ ngx, dy }, null, 1))
  assert.deepEqual(dy.bodies, PATHS.map(() => SIZE))
  assert.deepEqual(dy.bodies, ngx.bodies)
  assert.deepEqual(dy.log, ngx.log)
  // The paced ones: at least a second on both.
  for (const i of [0, 1, 2, 3]) {
    assert.ok(ngx.ms[i]! >= 1000, `nginx ${PATHS[i]}: ${ngx.ms[i]} ms`)
    assert.ok(dy.ms[i]! >= 1000, `dyups ${PATHS[i]}: ${dy.ms[i]} ms`)
  }
})

test('limit_rate values are checked as nginx checks them', async (t) => {
  const prefix = tempPrefix(t)
  const file = writeConf(prefix, 'conf/nginx.conf', 'pid logs/nginx.pid;\nevents {}\nhttp {\n    limit_rate fast;\n}\n')
  const r = await dyupsTest(prefix)
  assert.equal(r.code, 1)
  assert.ok((r.stderr + r.stdout).includes(`"limit_rate" directive invalid value in ${file}:4`), r.stderr)
})

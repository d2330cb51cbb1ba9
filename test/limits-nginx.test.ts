/**
 * limit_req and limit_conn side by side with the real nginx, both with two workers: each side's requests go over
 * keep-alive connections known to be served by different workers, alternately, so a zone kept per worker would
 * let through what nginx's shared zone refuses. The schedules cannot depend on timing: `rate=1r/m` leaks less
 * than one request in a minute, so which requests pass, are refused or would be delayed is fixed; limit_conn
 * holds requests at a backend that answers only when told. Compared: each answer's status and body (with
 * `$limit_req_status` / `$limit_conn_status`), the access-log lines, and the limiting lines of the error log.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { closeServer, Conn, freePorts, readRequests, readText, sleep, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'
import { nginxOnlyLines, startNginx } from './nginx.js'

function conf(kind: 'nginx' | 'dyups', port: number, back: number): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  return `worker_processes 2;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    log_format l '$status|$limit_req_status|$limit_conn_status|$request_uri';
    access_log logs/l.log l;
    limit_req_zone $arg_k zone=one:1m rate=1r/m;
    limit_req_zone $arg_k zone=two:1m rate=1r/m;
    limit_req_zone $arg_k zone=three:1m rate=1r/m;
    limit_req_zone $arg_k zone=four:1m rate=1r/m;
    limit_req_zone $arg_k zone=five:1m rate=1r/s;
    limit_conn_zone $arg_k zone=conns:1m;
    server {
        listen 127.0.0.1:${port};
        location = /pid { return 200 "$pid"; }
        location /r/ { limit_req zone=one burst=5 nodelay; proxy_pass http://127.0.0.1:${back}; add_header X-L "$limit_req_status" always; }
        location /r429/ { limit_req zone=two burst=2 nodelay; limit_req_status 429; limit_req_log_level warn; proxy_pass http://127.0.0.1:${back}; add_header X-L "$limit_req_status" always; }
        location /multi/ { limit_req zone=three burst=4 nodelay; limit_req zone=one burst=2 nodelay; proxy_pass http://127.0.0.1:${back}; add_header X-L "$limit_req_status" always; }
        location /dry/ { limit_req zone=four burst=3 delay=1; limit_req_dry_run on; proxy_pass http://127.0.0.1:${back}; add_header X-L "$limit_req_status" always; }
        location /delay/ { limit_req zone=five burst=1; proxy_pass http://127.0.0.1:${back}; add_header X-L "$limit_req_status" always; }
        location /c/ { limit_conn conns 2; proxy_pass http://127.0.0.1:${back}; }
        location /cdry/ { limit_conn conns 1; limit_conn_dry_run on; limit_conn_status 429; proxy_pass http://127.0.0.1:${back}; }
        location /c-redirect/ { limit_conn conns 1; error_page 404 = /c/; return 404; }
    }
${nginxOnly}}
${user}`
}

/** A backend that holds `/c/hold…` and `/cdry/hold…` requests until {@link release}, and answers the rest at once. */
async function holder(t: TestContext): Promise<{ port: number; held: () => number; release: () => void }> {
  const sockets = new Set<Socket>()
  let waiting: Socket[] = []
  const server = createServer((s) => readRequests(s, sockets, (head) => {
    const target = head.split(' ')[1]!
    if (target.includes('hold')) waiting.push(s)
    else s.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n')
  }))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => closeServer(server, sockets))
  return {
    port: (server.address() as AddressInfo).port,
    held: () => waiting.length,
    release: () => {
      for (const s of waiting) s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nheld\n')
      waiting = []
    },
  }
}

/** Two keep-alive connections served by different workers (found by asking `$pid`). */
async function twoWorkers(port: number): Promise<{ conns: [Conn, Conn]; pids: Set<string> }> {
  const byPid = new Map<string, Conn>()
  const spare: Conn[] = []
  // Opened together, connections spread over the workers (one at a time, one worker may take them all); a worker
  // still starting takes none for a while (as in helpers.reachWorkers).
  const deadline = Date.now() + 30_000
  for (let round = 0; byPid.size < 2 && Date.now() < deadline; round++) {
    if (round > 0) await sleep(10)
    const batch = await Promise.all(Array.from({ length: 16 }, () => Conn.open(port)))
    const pids = await Promise.all(batch.map((c) => c.send('GET /pid HTTP/1.1\r\nHost: side\r\n\r\n').then((r) => r.body)))
    batch.forEach((c, i) => {
      if (byPid.has(pids[i]!)) spare.push(c)
      else byPid.set(pids[i]!, c)
    })
  }
  for (const c of spare) c.close()
  const list = [...byPid.values()]
  if (list.length < 2) list.push(await Conn.open(port))
  return { conns: [list[0]!, list[1]!], pids: new Set(byPid.keys()) }
}

interface Report {
  answers: string[]
  log: string[]
  errors: string[]
}

async function run(port: number, prefix: string, back: Awaited<ReturnType<typeof holder>>): Promise<Report & { pids: number }> {
  const { conns, pids } = await twoWorkers(port)
  const answers: string[] = []
  const get = async (i: number, path: string): Promise<void> => {
    const r = await conns[i % 2]!.send(`GET ${path} HTTP/1.1\r\nHost: side\r\n\r\n`)
    answers.push(`${path} ${r.status} ${r.headers['x-l'] ?? '-'} ${r.status === 200 ? r.body : ''}`)
  }
  let i = 0
  for (let k = 0; k < 9; k++) await get(i++, '/r/?k=a')
  for (let k = 0; k < 3; k++) await get(i++, '/r/?k=b')
  for (let k = 0; k < 5; k++) await get(i++, '/r429/?k=a')
  for (let k = 0; k < 8; k++) await get(i++, '/multi/?k=m')
  for (let k = 0; k < 6; k++) await get(i++, '/dry/?k=d')
  await get(i++, '/r/')
  // burst without nodelay: the second request waits for its turn (about a second at 1r/s), then passes.
  const t0 = Date.now()
  for (let k = 0; k < 2; k++) await get(i++, '/delay/?k=w')
  assert.ok(Date.now() - t0 >= 500, `the delayed request came back after ${Date.now() - t0} ms`)
  // A client that leaves while its request waits out the delay: the request ends with 499.
  await get(i++, '/delay/?k=q')
  const delays = (): number => readText(join(prefix, 'logs/error.log')).split('delaying request').length
  const before = delays()
  const quitter = await Conn.open(port)
  void quitter.send('GET /delay/?k=q HTTP/1.1\r\nHost: side\r\n\r\n').catch(() => {})
  assert.ok(await waitFor(() => delays() > before, 10_000), 'the request was not delayed')
  quitter.close()
  answers.push('/delay/?k=q left during its delay')
  // limit_conn: two requests held at the backend, one on each worker; a third is refused whichever worker has it.
  const heldAnswers: Array<Promise<unknown>> = []
  // Answered in the order the backend's writes arrive: compared as a set.
  const held: string[] = []
  const extra = [await Conn.open(port), await Conn.open(port), await Conn.open(port)]
  const hold = async (c: Conn, path: string): Promise<void> => {
    const before = back.held()
    heldAnswers.push(c.send(`GET ${path} HTTP/1.1\r\nHost: side\r\n\r\n`).then((r) => held.push(`${path} ${r.status} ${r.body}`)))
    assert.ok(await waitFor(() => back.held() > before, 10_000), `${path} did not reach the backend`)
  }
  await hold(conns[0], '/c/hold1?k=c')
  await hold(conns[1], '/c/hold2?k=c')
  for (const c of extra) {
    const r = await c.send('GET /c/x?k=c HTTP/1.1\r\nHost: side\r\n\r\n')
    answers.push(`/c/x ${r.status}`)
  }
  const r1 = await extra[0]!.send('GET /c/y?k=other HTTP/1.1\r\nHost: side\r\n\r\n')
  answers.push(`/c/y other key ${r1.status}`)
  // dry run: over the limit, but let through (and its own count is kept).
  await hold(extra[1]!, '/cdry/hold3?k=c')
  back.release()
  await Promise.all(heldAnswers)
  answers.push(...held.sort())
  // Released: the key counts nothing any more.
  for (let k = 0; k < 2; k++) await get(i++, '/c/z?k=c')
  await get(i++, '/c-redirect/?k=c')
  for (const c of [...conns, ...extra]) c.close()
  const logFile = join(prefix, 'logs/l.log')
  const lines = (): string[] => readText(logFile).split('\n').filter((l) => l !== '' && !l.includes('|/pid'))
  assert.ok(await waitFor(() => lines().length >= answers.length, 10_000), `${lines().length} log lines for ${answers.length} answers`)
  const errors = readText(join(prefix, 'logs/error.log')).split('\n')
    .filter((l) => /limiting|delaying|prematurely/.test(l))
    .map((l) => l.replace(/^\S+ \S+ /, '').replace(/\d+#\d+: (\*\d+ )?/, '').replace(/excess: \d+\.\d+/, 'excess: E').replace(/, client: .*$/, '').replace(/ while .*$/, ''))
  return { answers, log: lines().sort(), errors: errors.sort(), pids: pids.size }
}

test('limit_req and limit_conn count across two workers as nginx does', async (t) => {
  const back = await holder(t)
  const [pn, pd] = (await freePorts(2)) as [number, number]
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  mkdirSync(join(xn, 'tmp'))
  writeConf(xn, 'conf/nginx.conf', conf('nginx', pn, back.port))
  writeConf(xd, 'conf/nginx.conf', conf('dyups', pd, back.port))
  await startNginx(t, xn, [pn])
  await startDyups(t, xd, [pd], ['-g', 'daemon off;'])
  const ngx = await run(pn, xn, back)
  const dy = await run(pd, xd, back)
  assert.equal(dy.pids, 2, 'the dyups requests must reach both workers')
  if (process.env.SIDE_DEBUG) console.log(JSON.stringify({ ngx, dy }, null, 1))
  assert.deepEqual(dy.answers, ngx.answers)
  assert.deepEqual(dy.log, ngx.log)
  assert.deepEqual(dy.errors, ngx.errors)
  // What the schedule must show: refusals at the burst, 429, dry-run outcomes, and limit_conn's refusal.
  const all = ngx.answers.join('\n')
  for (const want of ['/delay/?k=w 200 DELAYED', '/r/?k=a 503 REJECTED', '/r429/?k=a 429', 'DELAYED_DRY_RUN', 'REJECTED_DRY_RUN', '/c/x 503', '/multi/?k=m 200 PASSED']) {
    assert.ok(all.includes(want), `nginx's answers show no "${want}"`)
  }
})

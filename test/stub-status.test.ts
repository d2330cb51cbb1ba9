/**
 * `stub_status` side by side with the real nginx (Debian's nginx has ngx_http_stub_status_module), both with two
 * workers: the same page, byte for byte in its format, and counts that match the connections the test holds open
 * in each state — idle (waiting), a head begun (reading), a request waiting for its backend (writing) — summed over
 * the workers. The `$connections_*` variables, and dyups_metrics' connection figures, say the same.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { Conn, freePorts, startDyups, tempPrefix, waitFor, writeConf, type Response } from './helpers.js'
import { Farm, nginxOnlyLines, startNginx } from './nginx.js'

const PAGE = /^Active connections: (\d+) \nserver accepts handled requests\n (\d+) (\d+) (\d+) \nReading: (\d+) Writing: (\d+) Waiting: (\d+) \n$/

interface Stub {
  active: number
  accepts: number
  handled: number
  requests: number
  reading: number
  writing: number
  waiting: number
}

function parseStub(body: string): Stub {
  const m = PAGE.exec(body)
  assert.ok(m, `stub_status page: ${JSON.stringify(body)}`)
  const [active, accepts, handled, requests, reading, writing, waiting] = m.slice(1).map(Number) as number[]
  return { active: active!, accepts: accepts!, handled: handled!, requests: requests!, reading: reading!, writing: writing!, waiting: waiting! }
}

function conf(kind: 'nginx' | 'dyups', port: number, workers: number, back: number): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  return `worker_processes ${workers};
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    access_log off;
    upstream held { server 127.0.0.1:${back}; }
    server {
        listen 127.0.0.1:${port};
        location = /basic_status { stub_status; }
        location = /old { stub_status on; }
        location = /vars { return 200 "$connections_active $connections_reading $connections_writing $connections_waiting\\n"; }
        location / { proxy_pass http://held; proxy_read_timeout 60s; }
    }
${nginxOnly}}
${user}`
}

async function start(t: TestContext, kind: 'nginx' | 'dyups', workers: number, back: number): Promise<number> {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  mkdirSync(join(prefix, 'tmp'))
  writeConf(prefix, 'conf/nginx.conf', conf(kind, port, workers, back))
  if (kind === 'nginx') await startNginx(t, prefix, [port])
  else await startDyups(t, prefix, [port], ['-g', 'daemon off;'])
  return port
}

function open(port: number, sockets: Socket[], first: string | null): Promise<void> {
  return new Promise((res, rej) => {
    const s = connect(port, '127.0.0.1')
    sockets.push(s)
    s.on('error', () => {})
    s.once('connect', () => {
      if (first !== null) s.write(first)
      res()
    })
    s.once('error', rej)
  })
}

interface Seen {
  status: Response
  head: Response
  old: Response
  base: Stub
  held: Stub
  polls: number
  after: Stub
  vars: string
}

/**
 * One run against a server on `port`: a baseline on one keep-alive status connection, then W idle connections, R
 * with a head begun, K requests held by the backend and one keep-alive connection idle after a request; polls the
 * page until it shows them (bounded), then lets everything go and polls until only the status connection is left.
 */
async function scenario(port: number, farmHeld: { requests: number }, W: number, R: number, K: number): Promise<Seen> {
  const status = await Conn.open(port)
  let polls = 0
  const poll = async (): Promise<Stub> => {
    polls++
    const r = await status.req({ path: '/basic_status' })
    assert.equal(r.status, 200)
    return parseStub(r.body)
  }
  // Until the start-up's probing connections are gone: only this one, writing its own answer.
  let base = await poll()
  assert.ok(await waitFor(async () => (base = await poll()).active === 1, 10_000), `a quiet server: ${JSON.stringify(base)}`)
  const first = await status.req({ path: '/basic_status' })
  polls++
  base = parseStub(first.body)
  const head = await status.req({ method: 'HEAD', path: '/basic_status' })
  polls++
  const old = await status.req({ path: '/old' })
  polls++
  base = parseStub(old.body)
  polls = 0

  const sockets: Socket[] = []
  const heldBefore = farmHeld.requests
  for (let i = 0; i < W; i++) await open(port, sockets, null)
  for (let i = 0; i < R; i++) await open(port, sockets, 'GET /partial HTTP/1.1\r\nHost: x\r\n')
  for (let i = 0; i < K; i++) await open(port, sockets, 'GET /held HTTP/1.1\r\nHost: x\r\n\r\n')
  const idle = await Conn.open(port)
  assert.equal((await idle.req({ path: '/basic_status' })).status, 200)
  assert.ok(await waitFor(() => farmHeld.requests - heldBefore === K, 10_000), 'the held requests reached the backend')
  let held = await poll()
  const want = (s: Stub): boolean => s.active === 1 + W + R + K + 1 && s.reading === R && s.writing === 1 + K && s.waiting === W + 1
  assert.ok(await waitFor(async () => want((held = await poll())), 10_000), `the held connections: ${JSON.stringify(held)}`)
  const heldPolls = polls
  // The variables, asked on the idle connection: it is writing now.
  const vars = (await idle.req({ path: '/vars' })).body

  for (const s of sockets) s.destroy()
  idle.close()
  let after = await poll()
  assert.ok(await waitFor(async () => (after = await poll()).active === 1, 10_000), `all closed: ${JSON.stringify(after)}`)
  status.close()
  return { status: first, head, old, base, held: { ...held, requests: held.requests - heldPolls }, polls, after: { ...after, requests: after.requests - polls }, vars }
}

for (const workers of [2, 1]) {
  test(`stub_status: nginx's page and counts, side by side, ${workers} worker(s)`, async (t) => {
    const farm = new Farm(t)
    const back = await farm.add('held', 'hang')
    const W = 3, R = 2, K = 2
    const np = await start(t, 'nginx', workers, back.port)
    const seenN = await scenario(np, back, W, R, K)
    const dp = await start(t, 'dyups', workers, back.port)
    const seenD = await scenario(dp, back, W, R, K)
    for (const [name, s] of [['nginx', seenN], ['dyups', seenD]] as const) {
      const opened = W + R + K + 1
      // Before the counts: the held page (its own request excluded) against the baseline.
      assert.deepEqual(
        { accepts: s.held.accepts - s.base.accepts, handled: s.held.handled - s.base.handled, requests: s.held.requests - s.base.requests },
        // The requests: R heads begun, K held, the idle connection's one, and the polls after the baseline but for the
        // held page's own (subtracted above): counted as nginx counts them.
        { accepts: opened, handled: opened, requests: R + K + 1 },
        `${name}: accepts handled requests`,
      )
      assert.deepEqual(
        { active: s.held.active, reading: s.held.reading, writing: s.held.writing, waiting: s.held.waiting },
        { active: 1 + opened, reading: R, writing: 1 + K, waiting: W + 1 },
        name,
      )
      // nginx's variables are its shared counters, every worker's; dyups's are the worker's own (one worker: the same).
      if (name === 'nginx' || workers === 1) assert.equal(s.vars, `${1 + opened} ${R} ${K + 1} ${W + 1}\n`, `${name}: $connections_*`)
      assert.deepEqual(
        { active: s.after.active, reading: s.after.reading, writing: s.after.writing, waiting: s.after.waiting, accepts: s.after.accepts - s.base.accepts },
        { active: 1, reading: 0, writing: 1, waiting: 0, accepts: opened },
        `${name}: after`,
      )
    }
    // The page's head: same type, a length, nothing more.
    for (const h of ['content-type', 'content-length']) assert.equal(seenD.status.headers[h] !== undefined, seenN.status.headers[h] !== undefined, h)
    assert.equal(seenD.status.headers['content-type'], seenN.status.headers['content-type'])
    assert.equal(seenD.status.headers['last-modified'], undefined)
    assert.equal(seenD.head.status, seenN.head.status)
    assert.equal(seenD.head.headers['content-length'], seenN.head.headers['content-length'])
    assert.equal(seenD.old.status, 200)
  })
}

test('stub_status in a server block answers what no location matches, in nginx and in dyups', async (t) => {
  for (const kind of ['nginx', 'dyups'] as const) {
    const [port] = (await freePorts(1)) as [number]
    const prefix = tempPrefix(t)
    mkdirSync(join(prefix, 'tmp'))
    const { nginxOnly, user } = nginxOnlyLines(kind)
    writeConf(prefix, 'conf/nginx.conf', `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:${port};
        stub_status;
        location /x { return 200 "x\\n"; }
    }
${nginxOnly}}
${user}`)
    if (kind === 'nginx') await startNginx(t, prefix, [port])
    else await startDyups(t, prefix, [port], ['-g', 'daemon off;'])
    const c = await Conn.open(port)
    const page = await c.req({ path: '/anything' })
    assert.equal(page.status, 200, kind)
    assert.deepEqual(parseStub(page.body).writing, 1, kind)
    assert.equal((await c.req({ path: '/x' })).body, 'x\n', kind)
    c.close()
  }
})

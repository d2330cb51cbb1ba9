/**
 * Uploads in flight while their group changes: many slow uploads at once, each to its own group, each group deleted
 * or replaced (at random) while the body is coming in, with more random changes to the other pinned ones meanwhile. A request
 * pins its group when its location is found, so every upload must still be answered by the server its group had
 * then. `Expect: 100-continue` makes that moment certain: dyups sends the 100 once the location is found (the group
 * is pinned), and the change is made only after the 100 arrived.
 */
import assert from 'node:assert/strict'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { ans, answer, closeServer, idelete, iget, ipost, readRequests, startInterface, via } from '../helpers.js'
import { int, pick, type Rnd } from './prng.js'
import { asTest, type Scope } from './scope.js'

/** A backend that answers each request with its name and the length of the body it received. */
async function counting(s: Scope, name: string): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer((c) =>
    readRequests(c, sockets, (_head, body) => {
      const text = `${name} ${body.length}`
      c.write(`HTTP/1.1 200 OK\r\nContent-Length: ${text.length}\r\n\r\n${text}`)
    }),
  )
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  s.after(() => closeServer(server, sockets))
  return (server.address() as AddressInfo).port
}

/**
 * A client upload: the head with `Expect: 100-continue`; `pinned` resolves on the 100. Then `body(chunks, gapMs)`
 * writes the body in `chunks` pieces `gapMs` apart, awaiting `before(i)` ahead of piece i, and resolves with the
 * final answer (status and body), read to its Content-Length; bounded by `boundMs` in all.
 */
class Upload {
  private readonly sock: Socket
  private data = ''
  private waiters: (() => void)[] = []
  private closed = false

  constructor(port: number, path: string, host: string, readonly size: number) {
    this.sock = connect(port, '127.0.0.1')
    this.sock.on('data', (b: Buffer) => {
      this.data += b.toString('latin1')
      this.wake()
    })
    this.sock.on('error', () => {})
    this.sock.on('close', () => {
      this.closed = true
      this.wake()
    })
    this.sock.write(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${size}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`)
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** Resolves when `cond` holds on the bytes received, or the connection closed, or `ms` passed. */
  private until(cond: () => boolean, ms: number): Promise<void> {
    const deadline = Date.now() + ms
    return new Promise((resolve) => {
      const check = (): void => {
        if (cond() || this.closed || Date.now() > deadline) {
          clearTimeout(timer)
          resolve()
        } else this.waiters.push(check)
      }
      const timer = setTimeout(() => this.wake(), ms)
      check()
    })
  }

  /** The 100 arrived (the group is pinned); throws if something else did. */
  async pinned(ms = 15_000): Promise<void> {
    await this.until(() => this.data.includes('\r\n\r\n'), ms)
    if (!this.data.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) throw new Error(`no 100 Continue: ${JSON.stringify(this.data.slice(0, 200))}`)
    this.data = this.data.slice('HTTP/1.1 100 Continue\r\n\r\n'.length)
  }

  async body(chunks: number, gapMs: number, before: (i: number) => Promise<void>, boundMs = 30_000): Promise<{ status: number; body: string }> {
    const piece = Math.ceil(this.size / chunks)
    for (let i = 0, sent = 0; sent < this.size; i++) {
      await before(i)
      if (gapMs > 0 && i > 0) await new Promise((r) => setTimeout(r, gapMs))
      const n = Math.min(piece, this.size - sent)
      this.sock.write(Buffer.alloc(n, 0x61 + (i % 26)))
      sent += n
    }
    const whole = (): boolean => {
      const m = /^HTTP\/1\.1 (\d+)[^]*?\r\ncontent-length: *(\d+)\r\n[^]*?\r\n\r\n/i.exec(this.data)
      return m !== null && this.data.length >= m[0].length + Number(m[2])
    }
    await this.until(whole, boundMs)
    this.sock.destroy()
    const end = this.data.indexOf('\r\n\r\n')
    return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(this.data)?.[1] ?? 0), body: end < 0 ? this.data.slice(0, 200) : this.data.slice(end + 4) }
  }
}

export interface UploadsReport {
  uploads: number
  bytes: number
  /** Changes made while uploads were in flight: the one per upload, and the random others. */
  changes: { deleted: number; replaced: number; other: number }
  answeredByOriginal: number
  maxMs: number
}

/**
 * `rounds` × `concurrent` uploads of `bytes` each, written in `chunks` pieces `gapMs` apart, half to a location that
 * spools the body (proxy_request_buffering on), half to one that streams it (off). Asserts: every upload answered
 * 200 by its original server with every byte; afterwards each group routes by its last change.
 */
export async function uploadsInFlight(s: Scope, o: { rounds: number; concurrent: number; bytes: number; chunks: number; gapMs: number; rnd: Rnd }): Promise<UploadsReport> {
  const a = await counting(s, 'a')
  const b = await counting(s, 'b')
  const mb = Math.ceil((o.bytes * 2) / (1024 * 1024))
  const st = await startInterface(asTest(s), {
    workers: 2,
    server: `        location /spool { proxy_pass http://$host; proxy_request_buffering on; client_max_body_size ${mb}m; }\n` +
      `        location /stream { proxy_pass http://$host; proxy_request_buffering off; client_max_body_size ${mb}m; }\n`,
  })
  const changes = { deleted: 0, replaced: 0, other: 0 }
  let uploads = 0, maxMs = 0
  for (let round = 0; round < o.rounds; round++) {
    const names = Array.from({ length: o.concurrent }, (_, i) => `u${round}x${i}`)
    for (const n of names) assert.deepEqual(answer(await ipost(st.iface, `/upstream/${n}`, `server 127.0.0.1:${a};`)), ans(200, 'success'))
    const last = new Map<string, 'deleted' | 'b'>()
    // Changes go through the interface one at a time, as an operator's would; each waits for its 200.
    let queue: Promise<unknown> = Promise.resolve()
    const change = (name: string, kind: 'delete' | 'replace', mine: boolean): Promise<void> => {
      const p = queue.then(async () => {
        const r = kind === 'delete' ? await idelete(st.iface, `/upstream/${name}`) : await ipost(st.iface, `/upstream/${name}`, `server 127.0.0.1:${b};`)
        // A random change may find its group deleted already: 404; anything else is a failure.
        if (r.status === 404 && kind === 'delete' && last.get(name) === 'deleted') return
        assert.deepEqual(answer(r), ans(200, 'success'), `${kind} ${name}`)
        last.set(name, kind === 'delete' ? 'deleted' : 'b')
        if (!mine) changes.other++
        else if (kind === 'delete') changes.deleted++
        else changes.replaced++
      })
      queue = p.catch(() => {})
      return p
    }
    // Random changes go only to groups whose upload is pinned: one changed before its 100 would rightly route the
    // upload by the change (a 502 for a deleted group).
    const pinned: string[] = []
    const t0 = Date.now()
    const results = await Promise.all(names.map(async (name, i) => {
      const up = new Upload(st.proxy, i % 2 === 0 ? '/spool' : '/stream', name, o.bytes)
      await up.pinned()
      pinned.push(name)
      // This upload's own change lands before its last piece is written: after the pin, while the body comes in.
      const at = int(o.rnd, o.chunks - 1)
      let own: Promise<void> | null = null
      const r = await up.body(o.chunks, o.gapMs, async (k) => {
        if (k === at) own = change(name, o.rnd() < 0.5 ? 'delete' : 'replace', true)
        if (k === o.chunks - 1) await own
        // And now and then a change to another group of the round.
        if (o.rnd() < 0.1) void change(pick(o.rnd, pinned), o.rnd() < 0.5 ? 'delete' : 'replace', false).catch(() => {})
      })
      return { name, ...r }
    }))
    await queue
    maxMs = Math.max(maxMs, Date.now() - t0)
    const wrong = results.filter((r) => r.status !== 200 || r.body !== `a ${o.bytes}`)
    assert.deepEqual(wrong.map((r) => `${r.name}: ${r.status} ${r.body.slice(0, 80)}`), [], 'every upload was answered by its original server, whole')
    uploads += results.length
    // Each group now routes by its last change.
    for (const n of names.slice(0, 6)) {
      const r = await via(st.proxy, n)
      if (last.get(n) === 'deleted') assert.equal(r.status, 502, n)
      else assert.deepEqual([r.status, r.body], [200, 'b 0'], n)
    }
    for (const n of names) if (last.get(n) !== 'deleted') await idelete(st.iface, `/upstream/${n}`)
  }
  assert.deepEqual(answer(await iget(st.iface, '/list')), ans(204), 'every group of the experiment is gone (an empty table is a 204)')
  const report: UploadsReport = { uploads, bytes: o.bytes, changes, answeredByOriginal: uploads, maxMs }
  s.diagnostic(`${uploads} uploads of ${o.bytes} bytes (${o.chunks} pieces ${o.gapMs} ms apart), ${changes.deleted} groups deleted and ` +
    `${changes.replaced} replaced under them, ${changes.other} other changes: all answered 200 by their original server; ` +
    `slowest round ${maxMs} ms`)
  return report
}

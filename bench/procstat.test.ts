import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createServer, connect } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { childrenOf, cpuSeconds, descendants, rssBytes, sampleTree, socketInode, socketOwner } from './procstat.js'

test('this process: CPU time grows with work, RSS is plausible', () => {
  const before = cpuSeconds(process.pid)
  let x = 0
  const end = Date.now() + 300
  while (Date.now() < end) x += Math.sqrt(x + 1)
  assert.ok(x > 0)
  assert.ok(cpuSeconds(process.pid) > before, 'CPU seconds did not grow after busy work')
  const rss = rssBytes(process.pid)
  assert.ok(rss > 10 * 1024 * 1024 && rss < 4 * 1024 ** 3, `rss ${rss}`)
  // Same order as Node's own figure (both are the resident set, read at different instants).
  assert.ok(Math.abs(rss - process.memoryUsage().rss) < 64 * 1024 * 1024)
})

test('a process that is gone reads as zero, with no children', () => {
  const gone = 2 ** 22 + 12345
  assert.equal(cpuSeconds(gone), 0)
  assert.equal(rssBytes(gone), 0)
  assert.deepEqual(childrenOf(gone), [])
})

test('children and descendants of this process', async (t) => {
  // sh starts sleep as its own child: a tree of depth two.
  const child = spawn('sh', ['-c', 'sleep 30 & wait'], { stdio: 'ignore' })
  t.after(() => {
    for (const p of descendants(child.pid!)) process.kill(p, 'SIGKILL')
    child.kill('SIGKILL')
  })
  let kids: number[] = []
  for (let i = 0; i < 200 && kids.length < 2; i++) {
    kids = descendants(process.pid)
    if (kids.length < 2) await new Promise((r) => setTimeout(r, 10))
  }
  assert.ok(childrenOf(process.pid).includes(child.pid!))
  assert.equal(descendants(child.pid!).length, 1)
  const s = sampleTree(child.pid!)
  assert.equal(s.pids[0], child.pid)
  assert.deepEqual(s.workers, descendants(child.pid!))
  assert.ok(s.rssTotal >= s.rssWorkerMax && s.rssWorkerMax > 0)
})

test('the accepted socket of a loopback connection is found in this process', async (t) => {
  const accepted: Socket[] = []
  const srv = createServer((s) => accepted.push(s))
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as AddressInfo).port
  const c = connect(port, '127.0.0.1')
  t.after(() => {
    c.destroy()
    for (const s of accepted) s.destroy()
    srv.close()
  })
  await new Promise<void>((r) => c.once('connect', r))
  while (accepted.length === 0) await new Promise((r) => setTimeout(r, 5))
  assert.ok((socketInode(port, c.localPort!) ?? 0) > 0)
  assert.equal(socketOwner([999999999, process.pid], port, c.localPort!), process.pid)
  assert.equal(socketOwner([process.pid], port, c.localPort! === 1 ? 2 : 1), null)
})

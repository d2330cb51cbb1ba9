import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createServer, connect, Socket, type Server } from 'node:net'
import test, { type TestContext } from 'node:test'
import { readIntoShared, SHARED_READ } from './shared-read.js'

/** A server whose first accepted socket is handed over, and a client connected to it. */
async function pair(t: TestContext): Promise<{ server: Socket; client: Socket }> {
  let accepted!: (s: Socket) => void
  const got = new Promise<Socket>((r) => (accepted = r))
  const srv: Server = createServer((s) => accepted(s))
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const client = connect((srv.address() as { port: number }).port, '127.0.0.1')
  const server = await got
  t.after(() => {
    client.destroy()
    server.destroy()
    srv.close()
  })
  return { server, client }
}

const tick = (ms = 30): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Waits (polling, bounded generously for a loaded machine) until `ok()` holds. */
async function until(ok: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await tick(5)
  }
}

test('an accepted socket reads into the one shared buffer, without emitting data', { skip: !SHARED_READ && 'DYUPS_NO_SHARED_READ=1' }, async (t) => {
  const { server, client } = await pair(t)
  const reads: { text: string; buffer: ArrayBufferLike }[] = []
  assert.equal(readIntoShared(server, (b) => reads.push({ text: b.toString('latin1'), buffer: b.buffer })), true)
  let emitted = 0
  server.on('data', () => emitted++)
  client.write('first')
  await until(() => reads.length === 1, 'the first read')
  client.write('second')
  await until(() => reads.length === 2, 'the second read')
  assert.deepEqual(reads.map((r) => r.text), ['first', 'second'])
  assert.equal(reads[0]!.buffer, reads[1]!.buffer, 'both reads landed in the same buffer')
  assert.equal(emitted, 0)
})

test('pause() stops the reads, resume() brings what waited, the end is still reported', { skip: !SHARED_READ && 'DYUPS_NO_SHARED_READ=1' }, async (t) => {
  const { server, client } = await pair(t)
  const texts: string[] = []
  assert.equal(readIntoShared(server, (b) => texts.push(b.toString('latin1'))), true)
  server.pause()
  client.write('while paused')
  await tick(60)
  assert.deepEqual(texts, [])
  const ended = new Promise<void>((r) => server.once('end', r))
  server.resume()
  await until(() => texts.length > 0, 'the read after resume()')
  assert.deepEqual(texts, ['while paused'])
  client.end()
  await ended
})

test('a socket it cannot take keeps the usual data path', async () => {
  // Not connected: no handle.
  assert.equal(readIntoShared(new Socket(), () => {}), false)
})

test('a socket made with its own onread buffer is left alone', async (t) => {
  const accepted: Socket[] = []
  const srv = createServer((a) => void accepted.push(a.on('error', () => {})))
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const own = Buffer.alloc(16)
  const s = connect({ port: (srv.address() as { port: number }).port, host: '127.0.0.1', onread: { buffer: own, callback: () => true } })
  s.on('error', () => {})
  t.after(() => {
    s.destroy()
    for (const a of accepted) a.destroy()
    srv.close()
  })
  await new Promise((r) => s.once('connect', r))
  assert.equal(readIntoShared(s, () => {}), false)
})

test('DYUPS_NO_SHARED_READ=1 switches it off', () => {
  const url = new URL('./shared-read.js', import.meta.url).href
  const code = `import(${JSON.stringify(url)}).then((m) => process.stdout.write(String(m.SHARED_READ)))`
  const run = (value: string | undefined): string => {
    const env = { ...process.env }
    if (value === undefined) delete env['DYUPS_NO_SHARED_READ']
    else env['DYUPS_NO_SHARED_READ'] = value
    return execFileSync(process.execPath, ['-e', code], { env, encoding: 'utf8' })
  }
  assert.equal(run('1'), 'false')
  assert.equal(run(undefined), 'true')
})

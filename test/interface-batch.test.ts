/**
 * POST /api/batch (docs/api.md#batch): several changes to several groups applied as one — all or nothing, one table
 * version, one journal record, one propagation — with 2 workers, kill -9 and a restart.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { backend, freePorts, iget, interfaceConf, killAll, request, startDyups, tempPrefix, writeConf } from './helpers.js'

/** The records of a journal file (length-prefixed frames), as JSON. */
function journal(path: string): { v: number; c: { op: string }[] }[] {
  let buf: Buffer
  try {
    buf = readFileSync(path)
  } catch {
    return []
  }
  const out = []
  for (let off = 0; off + 8 <= buf.length; ) {
    const len = buf.readUInt32LE(off)
    out.push(JSON.parse(buf.subarray(off + 8, off + 8 + len).toString('utf8')) as { v: number; c: { op: string }[] })
    off += 8 + len
  }
  return out
}

test('POST /api/batch: all or nothing, one version, one journal record; every worker routes by it at the 200; restored after kill -9', async (t) => {
  const bs = await Promise.all(['b0', 'b1', 'b2', 'b3'].map((n) => backend(t, n)))
  const P = bs.map((x) => x.port)
  const [proxy, iface] = (await freePorts(2)) as [number, number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/upstream.conf', '')
  writeConf(prefix, 'conf/nginx.conf', interfaceConf({
    proxy,
    iface,
    workers: 2,
    http: `    dyups_upstream_conf conf/upstream.conf;\n    include conf/upstream.conf;\n` +
      `    upstream g {\n        least_conn;\n        server 127.0.0.1:${P[0]};\n        server 127.0.0.1:${P[1]};\n        keepalive 4;\n    }\n` +
      `    upstream old { server 127.0.0.1:${P[3]}; }\n`,
  }))
  let d = await startDyups(t, prefix, [proxy, iface])
  const batch = (changes: unknown[], query = '', headers: Record<string, string> = {}): ReturnType<typeof request> =>
    request(iface, { method: 'POST', path: `/api/batch${query}`, body: JSON.stringify({ changes }), headers: { 'Content-Type': 'application/json', ...headers } })
  const files = (): string[] => ['conf/upstream.conf', 'conf/upstream.conf.journal'].map((f) => { try { return readFileSync(join(prefix, f), 'latin1') } catch { return '' } })
  const code = (r: { status: number; body: string }): [number, string, string] => {
    const e = (JSON.parse(r.body) as { error: { code: string; message: string } }).error
    return [r.status, e.code, e.message]
  }
  const state = async (): Promise<string> => (await iget(iface, '/detail')).body

  // A failing batch applies nothing: not the changes before the one that fails, not after.
  const before = [files(), await state()]
  const fail1 = await batch([
    { op: 'put', upstream: 'x', group: { servers: [{ server: `127.0.0.1:${P[2]}` }] } },
    { op: 'delete', upstream: 'nosuch' },
  ])
  assert.deepEqual(code(fail1), [404, 'upstream_not_found', 'changes[1]: no upstream "nosuch"'])
  const fail2 = await batch([
    { op: 'delete', upstream: 'old' },
    { op: 'patch_server', upstream: 'g', id: 0, server: { weight: 2 } },
    { op: 'put', upstream: 'y', text: 'server 127.0.0.1:99999;' },
  ])
  assert.deepEqual(code(fail2), [400, 'invalid_body', 'changes[2]: invalid port in upstream "127.0.0.1:99999" in command body:1'])
  assert.deepEqual(code(await batch([{ op: 'patch_server', upstream: 'g', id: 7, server: { weight: 2 } }])), [404, 'server_not_found', 'changes[0]: no server 7 in upstream "g"'])
  assert.deepEqual(code(await batch([{ op: 'rename', upstream: 'g' }])).slice(0, 2), [400, 'invalid_value'])
  assert.deepEqual(code(await batch([{ op: 'delete', upstream: 'g', extra: 1 }])).slice(0, 2), [400, 'unknown_field'])
  assert.deepEqual(code(await batch([])).slice(0, 2), [400, 'invalid_value'])
  assert.deepEqual(code(await batch([{ op: 'delete', upstream: 'old' }], '', { 'If-Match': '"5"' })).slice(0, 2), [412, 'precondition_failed'])
  const get = await iget(iface, '/api/batch')
  assert.deepEqual([get.status, get.headers['allow']], [405, 'POST'])

  // Dry run: the diff of every group it touches, nothing applied or written.
  const dry = await batch([{ op: 'delete', upstream: 'old' }, { op: 'add_server', upstream: 'g', server: { server: `127.0.0.1:${P[2]}` } }], '?dry_run=1')
  assert.equal(dry.status, 200, dry.body)
  const diffs = (JSON.parse(dry.body) as { diffs: { upstream: string; deleted: boolean; servers: { added: { address: string }[] } }[] }).diffs
  assert.deepEqual(diffs.map((x) => [x.upstream, x.deleted, x.servers.added.map((a) => a.address)]), [['old', true, []], ['g', false, [`127.0.0.1:${P[2]}`]]])
  assert.deepEqual([files(), await state()], before, 'nothing applied or written by the refused batches and the dry run')
  assert.equal(JSON.parse((await iget(iface, '/api/upstreams')).body).version, 0)

  // Five changes to four groups; two edits of one group both apply, on the group as the first left it.
  const ok = await batch([
    { op: 'put', upstream: 'a', group: { policy: { name: 'least_conn' }, servers: [{ server: `127.0.0.1:${P[2]}` }] } },
    { op: 'put', upstream: 'b', text: `server 127.0.0.1:${P[3]};` },
    { op: 'delete_server', upstream: 'g', id: 0 },
    { op: 'patch_server', upstream: 'g', id: 1, server: { weight: 3 } },
    { op: 'add_server', upstream: 'g', server: { server: `127.0.0.1:${P[2]}`, drain: true } },
    { op: 'delete', upstream: 'old' },
  ])
  assert.equal(ok.status, 200, ok.body)
  const answer = JSON.parse(ok.body) as { version: number; upstreams: { name: string; servers: { id: number; weight: number; drain: boolean }[] }[]; deleted: string[] }
  assert.equal(ok.headers['etag'], '"1"')
  assert.deepEqual([answer.version, answer.deleted, answer.upstreams.map((u) => u.name)], [1, ['old'], ['a', 'b', 'g']])
  assert.deepEqual(answer.upstreams[2]!.servers.map((s) => [s.id, s.weight, s.drain]), [[1, 3, false], [2, 1, true]])
  const records = journal(join(prefix, 'conf/upstream.conf.journal'))
  assert.deepEqual(records.map((r) => [r.v, r.c.map((c) => c.op)]), [[1, ['batch']]], 'one journal record holding one change')
  // Every worker routes by all of it at once: fresh connections land on both workers.
  for (let i = 0; i < 12; i++) {
    const rs = await Promise.all([request(proxy, { host: 'a' }), request(proxy, { host: 'b' }), request(proxy, { host: 'g' }), request(proxy, { host: 'old' })])
    assert.deepEqual(rs.map((r) => (r.status === 200 ? r.body : r.status)), ['b2', 'b3', 'b1', 502])
  }

  // The batch record replays after kill -9.
  const after = await state()
  await killAll(d, [proxy, iface])
  d = await startDyups(t, prefix, [proxy, iface])
  assert.equal(await state(), after)
  const g = JSON.parse((await iget(iface, '/api/upstreams/g')).body) as { servers: { id: number; drain: boolean }[] }
  assert.deepEqual(g.servers.map((s) => [s.id, s.drain]), [[1, false], [2, true]])
  assert.equal(JSON.parse((await iget(iface, '/api/upstreams')).body).version, 1)
})

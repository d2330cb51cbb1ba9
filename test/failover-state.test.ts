/**
 * Server state across group changes through the dyups interface (nothing to compare with in nginx, whose groups
 * only change on reload): passive-health failures, active connection counts and idle keepalive connections belong
 * to the server address, so a server that survives a replacement keeps them; a server new to the group starts
 * fresh.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ipost, startInterface, waitFor } from './helpers.js'
import { Farm, hit } from './nginx.js'

test('state survives a group replacement', async (t) => {
  const farm = new Farm(t)
  const [x, y, a, b] = await Promise.all([farm.add('X', { status: 503 }), farm.add('Y', { status: 503 }), farm.add('A'), farm.add('B')])
  const [s, c] = await Promise.all([farm.add('S', { delay: 800 }), farm.add('C')])
  const [k] = await Promise.all([farm.add('K')])
  const st = await startInterface(t, {
    workers: 1,
    http: `    upstream fails { server ${x!.addr}; server ${a!.addr}; }
    upstream lc { least_conn; server ${s!.addr}; server ${c!.addr}; }
    upstream ka { server ${k!.addr}; keepalive 4; }`,
    server: '        proxy_next_upstream error timeout http_503;\n        proxy_http_version 1.1;\n        proxy_set_header Connection "";\n',
  })
  /** Which backends each of `n` requests to `group` reached. */
  const seq = async (group: string, n: number): Promise<string[]> => {
    const out: string[] = []
    for (let i = 0; i < n; i++) {
      const mark = farm.arrivals.length
      const r = await hit(st.proxy, { host: group, path: `/?i=${i}` })
      assert.equal(r.status, 200, `${group}: ${r.status} ${r.body}`)
      out.push(farm.arrivals.slice(mark).join(','))
    }
    return out
  }
  const replace = async (group: string, body: string): Promise<void> => {
    const r = await ipost(st.iface, `/upstream/${group}`, body)
    assert.deepEqual([r.status, r.body], [200, 'success'])
  }

  await t.test('a failed server stays failed within fail_timeout; a new one is tried', async () => {
    assert.deepEqual(await seq('fails', 3), ['X,A', 'A', 'A'], 'X fails once and is out for fail_timeout')
    await replace('fails', `server ${x!.addr}; server ${y!.addr}; server ${a!.addr}; server ${b!.addr};`)
    const after = await seq('fails', 6)
    assert.ok(!after.join(',').includes('X'), `X is still out after the replacement: ${after.join(' ')}`)
    assert.ok(after.join(',').includes('Y'), `Y, new to the group, is tried: ${after.join(' ')}`)
    assert.deepEqual(await seq('fails', 4), ['A', 'B', 'A', 'B'])
  })

  await t.test('a request in flight still counts for least_conn after the replacement', async () => {
    assert.deepEqual(await seq('lc', 2), ['S', 'C'])
    farm.arrivals.length = 0
    const held = hit(st.proxy, { host: 'lc', path: '/?held' })
    assert.ok(await waitFor(() => farm.arrivals.length === 1, 15_000))
    assert.equal(farm.arrivals[0], 'S', 'the held request is on S')
    await replace('lc', `least_conn; server ${s!.addr}; server ${c!.addr};`)
    assert.deepEqual(await seq('lc', 4), ['C', 'C', 'C', 'C'], 'S holds a request: least_conn avoids it')
    assert.equal((await held).status, 200)
    // The held request ended on the old group: S's count is back to zero, not below.
    assert.deepEqual(await seq('lc', 4), ['S', 'C', 'S', 'C'])
  })

  await t.test('idle keepalive connections are reused by the replaced group', async () => {
    await seq('ka', 3)
    assert.equal(k!.conns, 1)
    await replace('ka', `server ${k!.addr}; keepalive 4;`)
    await seq('ka', 3)
    assert.equal(k!.conns, 1, 'the replaced group used the warm connection')
  })
})

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseCommands } from './build.js'
import { packGroup, unpackGroup } from './pack.js'

const BODIES = [
  'server 127.0.0.1:8088;',
  'server 127.0.0.1:8088 weight=5 max_fails=3 fail_timeout=30s max_conns=7; server 127.0.0.2 backup; server 127.0.0.3:9 down;',
  'ip_hash; server [::1]:8080; server [2001:db8::1]:81 down;',
  'hash $request_uri consistent; server unix:/tmp/a.sock; server 10.0.0.1:1 weight=2;',
  'random two least_conn; server 127.0.0.1:1;',
  'least_conn; keepalive 16; keepalive_timeout 30s; keepalive_requests 10; server localhost:8088;',
  'server 127.0.0.1:1; check interval=3000 rise=2 fall=5 timeout=1000 type=http; check_http_send "HEAD / HTTP/1.0\\r\\n\\r\\n";',
]

test('unpackGroup(packGroup(g)) equals g, for every kind of group', async () => {
  for (const body of BODIES) {
    const g = await parseCommands('Name With "quotes" \xff', body)
    const text = packGroup(g)
    assert.ok(!text.includes('\n'), 'one line: packed groups are joined by newlines')
    const back = unpackGroup(text)
    assert.deepEqual(back, g, body)
    assert.ok(Object.isFrozen(back) && Object.isFrozen(back.servers[0]), 'frozen like built groups')
  }
})

test('a plain one-server group packs small', async () => {
  const g = await parseCommands('g1', 'server 127.0.0.1:8088;')
  assert.equal(packGroup(g), '["g1",0,0,null,[["127.0.0.1:8088",1,1,10,0,0,0,0,-1]],-1]')
})

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseText } from '../../config/index.js'
import { compileHttp } from './compile.js'
import { loopbackOnly } from './exposure.js'

/** The warnings compiling `http { TEXT }` gives, as `LINE: message`. */
function warnings(text: string): string[] {
  const out: string[] = []
  const c = compileHttp({
    prefix: '/srv/prefix',
    confFile: '/srv/prefix/conf/nginx.conf',
    tree: parseText(`http {\naccess_log off;\n${text}\n}\n`, 'nginx.conf'),
    warn: (message, at) => out.push(`${at.file}:${at.line}: ${message}`),
  })
  c.logFiles.close()
  return out
}

test('loopbackOnly: loopback addresses, localhost and unix sockets; nothing else', () => {
  for (const k of ['127.0.0.1:8081', '127.1.2.3:80', '[::1]:8081', '[::ffff:127.0.0.1]:80', 'localhost:8081', 'LOCALHOST:1', 'unix:/run/d.sock']) {
    assert.equal(loopbackOnly(k), true, k)
  }
  for (const k of ['0.0.0.0:8081', '[::]:8081', '10.0.0.1:8081', '192.168.1.10:80', '[fe80::1]:80', '[::ffff:10.0.0.1]:80', 'example.com:80']) {
    assert.equal(loopbackOnly(k), false, k)
  }
})

test('an interface on a wildcard listener without allow/deny: one warning naming the listener and the location', () => {
  assert.deepEqual(warnings('server {\n listen 8081;\n location / {\n  dyups_interface;\n }\n}'), [
    'nginx.conf:5: the dyups interface is reachable from any address on 0.0.0.0:8081 and no "allow" or "deny" rule ' +
      'guards it: listen on 127.0.0.1, or add "allow 127.0.0.1; deny all;" to its location',
  ])
  // Every exposing listener is named, loopback ones are not; a server without listen is on *:80.
  const both = warnings('server {\n listen 127.0.0.1:8081;\n listen [::]:8081;\n listen 10.0.0.5:9000;\n location /dyups/ { dyups_interface; }\n}')
  assert.equal(both.length, 1)
  assert.match(both[0]!, /^nginx\.conf:7: .* on \[::\]:8081, 10\.0\.0\.5:9000 and no/)
  assert.match(warnings('server {\n location / { dyups_interface; }\n}')[0]!, / on 0\.0\.0\.0:80 and no/)
  // One per location.
  assert.equal(warnings('server {\n listen 8081;\n location /a { dyups_interface; }\n location /b { dyups_interface; }\n}').length, 2)
})

test('no warning when the interface is local-only or guarded at any level', () => {
  for (const conf of [
    'server {\n listen 127.0.0.1:8081;\n location / { dyups_interface; }\n}',
    'server {\n listen [::1]:8081;\n listen localhost:8082;\n location / { dyups_interface; }\n}',
    'server {\n listen unix:/run/dyups.sock;\n location / { dyups_interface; }\n}',
    'server {\n listen 8081;\n location / { allow 10.0.0.0/8; deny all; dyups_interface; }\n}',
    'server {\n listen 8081;\n deny all;\n location / { dyups_interface; }\n}',
    'allow 127.0.0.1;\nserver {\n listen 8081;\n location / { dyups_interface; }\n}',
    // A location without the interface, reachable from everywhere, is not the interface's business.
    'server {\n listen 8080;\n location / { echo hi; }\n}',
  ]) {
    assert.deepEqual(warnings(conf), [], conf)
  }
})

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parseText, type Directive } from '../config/index.js'
import { quoteName, unquoteName, renderUpstreamConf } from './upstream-conf.js'
import { Store } from './store.js'
import { del, group, put, statics, tempDir } from './fixtures.js'
import { Table } from './table.js'

const NGINX = '/usr/sbin/nginx'

test('marker names: every byte round-trips and the line stays one printable line', () => {
  let all = ''
  for (let c = 0; c < 256; c++) all += String.fromCharCode(c)
  const names = [all, 'plain', 'a"b', 'a\\b', '\\x41', '"', '\n', '\u00ff\u00fe', ' lead and trail ']
  for (const name of names) {
    const q = quoteName(name)
    assert.match(q, /^"[\x20-\x7e]*"$/)
    assert.equal(unquoteName(q), name, JSON.stringify(name))
  }
  assert.equal(quoteName('a"\\\n\u00ff'), '"a\\"\\\\\\x0a\\xff"')
  for (const bad of ['', '"', 'a', '"a', '"a"b"', '"\\q"', '"\\x4"', '"\\"', '"a""']) {
    assert.equal(unquoteName(bad), null, bad)
  }
})

test('render: header with version and deleted markers, then changed groups in table order', async () => {
  const t = new Table(await statics('keep', 'Repl', 'gone'))
  t.put(await group('REPL', 'server 127.0.0.1:82;'))
  t.put(await group('new'))
  t.remove('gone')
  t.version = 3
  const text = [...renderUpstreamConf(t.image())].join('')
  const lines = text.split('\n').filter((l) => l.startsWith('# dyups:'))
  assert.deepEqual(lines, ['# dyups: version 3', '# dyups: deleted "gone"'])
  assert.deepEqual(parseText(text, 'p').map((d: Directive) => d.args[0]), ['REPL', 'new'])
  assert.ok(text.endsWith('}\n'))
})

test('PATH after close() passes nginx -t when included inside http {}', { skip: !existsSync(NGINX) && 'no nginx' }, async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'upstream.conf')
  const s = await Store.open({ staticGroups: await statics('static1', 'static2', 'static3'), path })
  await s.applyBatch([
    await put('created'),
    await put('STATIC2', 5),
    del('static3'),
    await put('with space', 6),
    await put('q"uo\\te', 7),
    await put('\u00ffbyte', 8),
    { op: 'put', group: await group('multi', 'least_conn;\nserver 127.0.0.1:1 max_fails=3 fail_timeout=30s;\nserver [::1]:2 down;\nserver unix:/tmp/x.sock backup;\nkeepalive 16;') },
  ])
  await s.applyBatch([del('created'), await put('Created', 10), del('static1'), await put('static1', 11)])
  await s.close()
  const conf = join(dir, 'nginx.conf')
  await writeFile(conf, [
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')};`,
    'events {}',
    'http {',
    `    include ${path};`,
    '}',
    '',
  ].join('\n'))
  const run = promisify(execFile)
  const { stderr } = await run(NGINX, ['-t', '-p', dir, '-c', conf, '-e', join(dir, 'error.log')]).catch((e) => {
    assert.fail(`nginx -t failed:\n${e.stderr}\n--- upstream.conf ---\n${existsSync(path) ? '' : 'missing'}`)
  })
  assert.match(stderr, /test is successful/)
  const text = await readFile(path, 'latin1')
  assert.deepEqual(parseText(text, path).map((d: Directive) => d.args[0]), ['STATIC2', 'with space', 'q"uo\\te', '\u00ffbyte', 'multi', 'Created', 'static1'])
  assert.match(text, /^# dyups: deleted "static3"$/m)
  assert.match(text, /^# dyups: deleted "static1"$/m)
})

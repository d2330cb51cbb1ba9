import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { commands, proxyConf, upstreamBlock } from './config.js'

test('upstream blocks and interface bodies', () => {
  assert.equal(upstreamBlock('bench', ['127.0.0.1:1', '127.0.0.1:2'], 64),
    'upstream bench {\n    server 127.0.0.1:1;\n    server 127.0.0.1:2;\n    keepalive 64;\n}\n')
  assert.equal(upstreamBlock('g1', ['127.0.0.1:1']), 'upstream g1 {\n    server 127.0.0.1:1;\n}\n')
  assert.equal(commands(['127.0.0.1:1', '127.0.0.1:2'], 16), 'server 127.0.0.1:1;server 127.0.0.1:2;keepalive 16;')
  assert.equal(commands(['127.0.0.1:1']), 'server 127.0.0.1:1;')
})

test('the dyups directives appear only for dyups, persistence only when asked', () => {
  const base = { workers: 2, routing: 'host' as const, upstreams: '' }
  const ngx = proxyConf(base, 1001, null)
  assert.match(ngx, /^worker_processes 2;$/m)
  assert.match(ngx, /listen 127\.0\.0\.1:1001;/)
  assert.match(ngx, /proxy_pass http:\/\/\$host;/)
  assert.doesNotMatch(ngx, /dyups/)
  const dy = proxyConf(base, 1001, 1002)
  assert.match(dy, /listen 127\.0\.0\.1:1002;\s+location \/ \{\s+dyups_interface;/)
  assert.doesNotMatch(dy, /dyups_upstream_conf/)
  assert.match(proxyConf({ ...base, persist: true }, 1001, 1002), /dyups_upstream_conf conf\/upstream\.conf;\n    include upstream\.conf;/)
  assert.match(proxyConf({ ...base, routing: 'static', workers: 'auto' }, 1, null), /worker_processes auto;[^]*proxy_pass http:\/\/bench;/)
})

test('nginx accepts the generated configuration (nginx -t)', { skip: !existsSync('/usr/sbin/nginx') && 'nginx not installed' }, (t) => {
  const prefix = mkdtempSync(join(tmpdir(), 'bench-conf-'))
  t.after(() => rmSync(prefix, { recursive: true, force: true }))
  for (const d of ['conf', 'logs']) mkdirSync(join(prefix, d))
  for (const routing of ['static', 'host'] as const) {
    writeFileSync(join(prefix, 'conf', 'upstream.conf'), upstreamBlock('bench', ['127.0.0.1:1', '127.0.0.1:2'], 64))
    writeFileSync(join(prefix, 'conf', 'nginx.conf'), proxyConf({ workers: 'auto', routing, upstreams: '' }, 1001, null))
    const r = spawnSync('/usr/sbin/nginx', ['-t', '-p', `${prefix}/`, '-c', 'conf/nginx.conf', '-e', 'logs/error.log'], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, /syntax is ok/)
  }
})

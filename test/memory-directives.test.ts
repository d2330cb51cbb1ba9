/**
 * The directives that only tune nginx's memory (connection_pool_size, request_pool_size, keepalive_disable,
 * open_log_file_cache) are accepted and checked as nginx checks them: `dyups -t` and `nginx -t` agree on every line
 * of the table. Tengine's check_shm_size (no Tengine here) is accepted and checked as a size.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { tempPrefix, writeConf } from './helpers.js'
import { dyupsTest, nginxOnlyLines, nginxTest } from './nginx.js'

const LINES = [
  'connection_pool_size 1k;', 'connection_pool_size 100;', 'connection_pool_size 120;', 'connection_pool_size x;',
  'request_pool_size 4k;', 'request_pool_size 64;', 'keepalive_disable none;', 'keepalive_disable msie6 safari;',
  'keepalive_disable foo;', 'open_log_file_cache max=10 inactive=20s min_uses=2 valid=1m;', 'open_log_file_cache off;',
  'open_log_file_cache inactive=20s;', 'open_log_file_cache max=10 foo=1;', 'open_log_file_cache max=x;',
  'open_log_file_cache max=0;', 'open_log_file_cache max=10 inactive=x;',
  'open_log_file_cache max=1;\n    open_log_file_cache off;',
  'server { listen 127.0.0.1:1; connection_pool_size 512; location / { keepalive_disable none; open_log_file_cache max=5; } }',
]

function conf(kind: 'nginx' | 'dyups', line: string): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  return `pid logs/nginx.pid;\nerror_log logs/error.log;\nevents {}\nhttp {\n    ${line}\n${nginxOnly}}\n${user}`
}

/** The configuration's error as `MESSAGE in FILE:LINE`, or `ok`. */
function verdict(r: { code: number | null; stderr: string; stdout: string }): string {
  if (r.code === 0) return 'ok'
  const m = /\[emerg\] (?:\d+#\d+: )?(.*)$/m.exec(r.stderr + r.stdout)
  return m === null ? `exit ${r.code}: ${r.stderr}` : m[1]!
}

test('memory-tuning directives: dyups -t says what nginx -t says', async (t) => {
  const check = async (line: string): Promise<[string, string]> => {
    const pn = tempPrefix(t), pd = tempPrefix(t)
    writeConf(pn, 'conf/nginx.conf', conf('nginx', line))
    mkdirSync(join(pn, 'tmp'))
    writeConf(pd, 'conf/nginx.conf', conf('dyups', line))
    const [n, d] = await Promise.all([nginxTest(pn), dyupsTest(pd)])
    return [verdict(n).replace(pn, 'P'), verdict(d).replace(pd, 'P')]
  }
  // dyups -t is a Node start-up: three at a time.
  const results: Promise<[string, string]>[] = []
  for (let i = 0; i < LINES.length; i++) results.push(i < 3 ? check(LINES[i]!) : results[i - 3]!.then(() => check(LINES[i]!)))
  let refused = 0
  for (const [i, line] of LINES.entries()) {
    const [ngx, dy] = await results[i]!
    assert.equal(dy, ngx, line)
    if (ngx !== 'ok') refused++
  }
  // Both kinds are in the table: the comparison is about something.
  assert.ok(refused >= 8 && refused < LINES.length, `${refused} refused`)
})

test("Tengine's check_shm_size passes -t and is checked as a size", async (t) => {
  const ok = tempPrefix(t)
  writeConf(ok, 'conf/nginx.conf', conf('dyups', 'check_shm_size 10m;'))
  assert.equal(verdict(await dyupsTest(ok)), 'ok')
  const bad = tempPrefix(t)
  const file = writeConf(bad, 'conf/nginx.conf', conf('dyups', 'check_shm_size ten;'))
  assert.equal(verdict(await dyupsTest(bad)), `"check_shm_size" directive invalid value in ${file}:5`)
})

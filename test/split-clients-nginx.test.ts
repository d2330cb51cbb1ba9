/**
 * split_clients side by side with the real nginx: thousands of keys of every length (MurmurHash2's tail cases), through
 * parts with fractions, a total under 100% (keys beyond it get an empty value), `*`, and keys with variables, must land
 * in the same buckets; then the configuration errors nginx reports, with its words and line.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { Conn, freePorts, startDyups, tempPrefix, writeConf } from './helpers.js'
import { dyupsTest, nginxOnlyLines, nginxTest, startNginx } from './nginx.js'

const KEYS_PER_REQUEST = 8

function conf(kind: 'nginx' | 'dyups', port: number, blocks: string): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  return `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    access_log off;
${blocks}
    server {
        listen 127.0.0.1:${port};
        location / { return 200 "${Array.from({ length: KEYS_PER_REQUEST }, (_, i) => `$s${i}`).join(',')}|$rest|$addr\\n"; }
    }
${nginxOnly}}
${user}`
}

function blocks(): string {
  let out = ''
  for (let i = 0; i < KEYS_PER_REQUEST; i++) {
    out += `    split_clients "\${arg_k}${'x'.repeat(i)}" $s${i} {\n        0.5% a;\n        2.25% b;\n        33.33% c;\n        12% d;\n        * e;\n    }\n`
  }
  out += '    split_clients "$arg_k$arg_k" $rest {\n        10% one;\n        50% two;\n    }\n'
  out += '    split_clients "${remote_addr}AAA" $addr {\n        50% left;\n        50.00% right;\n    }\n'
  return out
}

async function answers(port: number, n: number): Promise<string[]> {
  const c = await Conn.open(port)
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const k = `key-${i}-${(i * 2654435761) % 1000003}`.slice(0, 1 + (i % 23))
    const r = await c.send(`GET /?k=${k}${i} HTTP/1.1\r\nHost: side\r\n\r\n`)
    out.push(`${k}${i} ${r.body}`)
  }
  c.close()
  return out
}

test('split_clients puts every key in the bucket nginx puts it in', async (t) => {
  const [pn, pd] = (await freePorts(2)) as [number, number]
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  mkdirSync(join(xn, 'tmp'))
  writeConf(xn, 'conf/nginx.conf', conf('nginx', pn, blocks()))
  writeConf(xd, 'conf/nginx.conf', conf('dyups', pd, blocks()))
  await startNginx(t, xn, [pn])
  await startDyups(t, xd, [pd], ['-g', 'daemon off;'])
  const n = 400
  const ngx = await answers(pn, n)
  const dy = await answers(pd, n)
  assert.deepEqual(dy, ngx)
  // The comparison must have met every bucket, and the keys beyond a total under 100%.
  const seen = new Set(ngx.flatMap((l) => l.split(' ')[1]!.trim().split(/[,|]/)))
  for (const b of ['a', 'b', 'c', 'd', 'e', 'one', 'two', '']) assert.ok(seen.has(b), `no key fell in "${b}"`)
})

test('split_clients configuration errors are nginx\'s', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['    split_clients $arg_k $v {\n        50% a;\n        60% b;\n    }\n', /percent total is greater than 100% in .*nginx\.conf:10/],
    ['    split_clients $arg_k $v {\n        0% a;\n    }\n', /invalid percent value "0%" in .*nginx\.conf:8/],
    ['    split_clients $arg_k $v {\n        10 a;\n    }\n', /invalid percent value "10" in .*nginx\.conf:8/],
    ['    split_clients $arg_k $v {\n        1.2.3% a;\n    }\n', /invalid percent value "1.2.3%" in .*nginx\.conf:8/],
    ['    split_clients $arg_k $v {\n        * a;\n        10% b;\n    }\n', /percent total is greater than 100% in .*nginx\.conf:10/],
    ['    split_clients $arg_k v {\n        * a;\n    }\n', /invalid variable name "v" in .*nginx\.conf:7/],
    ['    split_clients $arg_k $v {\n        0.001% a;\n    }\n', /invalid percent value "0.001%" in .*nginx\.conf:8/],
  ]
  for (const [text, want] of cases) {
    const xn = tempPrefix(t)
    const xd = tempPrefix(t)
    mkdirSync(join(xn, 'tmp'))
    writeConf(xn, 'conf/nginx.conf', conf('nginx', 1, text))
    writeConf(xd, 'conf/nginx.conf', conf('dyups', 1, text))
    const rn = await nginxTest(xn)
    const rd = await dyupsTest(xd)
    assert.match(rn.stderr, want, `nginx on ${JSON.stringify(text)}`)
    assert.match(rd.stderr + rd.stdout, want, `dyups on ${JSON.stringify(text)}`)
    assert.notEqual(rd.code, 0)
  }
})

/**
 * geo side by side with the real nginx: CIDR mode (longest prefix, `default`, `delete`, a repeated network, IPv6,
 * IPv4-mapped, 255.255.255.255), a source variable (unreadable values), `ranges` (nested ranges splitting their
 * parent, `delete`), `proxy` with and without `proxy_recursive`, and the client address after realip — over every
 * combination of client address, source value and X-Forwarded-For, both must answer the same values. Then the `-t`
 * warnings and errors nginx gives, with its words and line.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { Conn, freePorts, startDyups, tempPrefix, writeConf } from './helpers.js'
import { dyupsTest, nginxOnlyLines, nginxTest, startNginx } from './nginx.js'

const GEO = `    geo $g1 {
        default dflt;
        10.0.0.0/8 ten;
        10.1.0.0/16 ten-one;
        10.1.2.3 host;
        10.1.2.0/24 ten-one-two;
        delete 10.1.0.0/16;
        192.168.0.0/16 private;
        192.168.1.0/24 private-one;
        192.168.0.0/16 private2;
        2001:db8::/32 doc6;
        2001:db8:1::/48 doc6-1;
        255.255.255.255 bcast;
    }
    geo $arg_ip $g2 {
        10.0.0.0/8 ten;
        127.0.0.0/8 lo;
    }
    geo $arg_ip $g2b {
        default d;
        255.255.255.255 unreadable;
        1.2.3.0/24 x;
    }
    geo $g3 {
        ranges;
        default rdef;
        10.0.0.0-10.255.255.255 ten;
        10.1.0.0-10.1.255.255 ten-one;
        10.1.2.0-10.1.2.255 nested;
        10.1.2.3-10.1.2.3 host;
        1.2.3.4-1.2.3.4 one;
        delete 1.2.3.4-1.2.3.4;
        172.16.0.0-172.31.255.255 p;
        192.168.0.0-192.168.1.255 two-blocks;
    }
    geo $g4 {
        ranges;
        1.0.0.0-1.0.0.255 a;
    }
    geo $g5 {
        proxy 127.0.0.1;
        proxy 10.0.0.0/8;
        proxy_recursive;
        default d;
        203.0.113.0/24 doc;
        10.0.0.0/8 ten;
        127.0.0.1 lo;
    }
    geo $g6 {
        proxy 127.0.0.1;
        proxy 10.0.0.0/8;
        default d;
        203.0.113.0/24 doc;
        10.0.0.0/8 ten;
    }
    geo $arg_ip $g7 {
        proxy 10.0.0.0/8;
        default d;
        203.0.113.0/24 doc;
    }
`

function conf(kind: 'nginx' | 'dyups', port: number, geo: string): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  return `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    access_log off;
${geo}    server {
        listen 127.0.0.1:${port};
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Real-IP;
        location / { return 200 "$g1|$g2|$g2b|$g3|$g4|$g5|$g6|$g7"; }
    }
${nginxOnly}}
${user}`
}

const CLIENTS = ['', '10.2.3.4', '10.1.2.3', '10.1.2.4', '10.1.5.5', '192.168.1.1', '192.168.5.5', '192.168.2.1', '2001:db8::1',
  '2001:db8:1::1', '::ffff:10.1.2.3', '1.2.3.4', '172.20.0.1', '8.8.8.8', '10.0.0.1', '1.0.0.7']
const ARGS = ['', '10.9.9.9', '127.0.0.1', 'garbage', '1.2.3.9', '::1', '10.0.0.2']
const XFFS = ['', '203.0.113.9', '1.1.1.1, 10.0.0.5', '203.0.113.5, 10.0.0.5', '203.0.113.5, 8.8.8.8, 10.0.0.5']

async function answers(port: number): Promise<string[]> {
  const c = await Conn.open(port)
  const out: string[] = []
  for (const ip of CLIENTS) {
    for (const arg of ARGS) {
      for (const xff of XFFS) {
        const h = (ip ? `X-Real-IP: ${ip}\r\n` : '') + (xff ? `X-Forwarded-For: ${xff}\r\n` : '')
        const r = await c.send(`GET /${arg ? `?ip=${arg}` : ''} HTTP/1.1\r\nHost: side\r\n${h}\r\n`)
        out.push(`${ip}|${arg}|${xff} => ${r.body}`)
      }
    }
  }
  c.close()
  return out
}

test('geo gives every address the value nginx gives it', async (t) => {
  const [pn, pd] = (await freePorts(2)) as [number, number]
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  mkdirSync(join(xn, 'tmp'))
  writeConf(xn, 'conf/nginx.conf', conf('nginx', pn, GEO))
  writeConf(xd, 'conf/nginx.conf', conf('dyups', pd, GEO))
  const wn = await nginxTest(xn)
  const wd = await dyupsTest(xd)
  const warnings = (s: string): string[] => s.split('\n').filter((l) => l.includes('[warn]')).map((l) => l.replace(/^.*\[warn\] (\d+#\d+: )?/, '').replace(/ in \S+nginx\.conf:/, ' at '))
  assert.deepEqual(warnings(wd.stderr + wd.stdout), warnings(wn.stderr))
  assert.equal(warnings(wn.stderr).length, 2, wn.stderr)
  await startNginx(t, xn, [pn])
  await startDyups(t, xd, [pd], ['-g', 'daemon off;'])
  const ngx = await answers(pn)
  const dy = await answers(pd)
  assert.deepEqual(dy, ngx)
  // The comparison must have reached every kind of value.
  const values = new Set(ngx.flatMap((l) => l.split(' => ')[1]!.split('|')))
  for (const v of ['dflt', 'ten', 'host', 'ten-one-two', 'private2', 'private-one', 'doc6', 'doc6-1', 'lo', 'unreadable', 'x',
    'rdef', 'nested', 'ten-one', 'p', 'two-blocks', 'a', 'doc', 'd', '']) {
    assert.ok(values.has(v), `no address got "${v}"`)
  }
})

test('geo configuration errors are nginx\'s', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['    geo $g {\n        default a;\n        ranges;\n    }\n', /the "ranges" directive must be the first directive inside "geo" block in .*nginx\.conf:9/],
    ['    geo $g {\n        10.0.0.0/33 a;\n    }\n', /invalid network "10.0.0.0\/33" in .*nginx\.conf:8/],
    ['    geo $g {\n        ranges;\n        10.0.0.0-9.0.0.0 a;\n    }\n', /invalid range "10.0.0.0-9.0.0.0" in .*nginx\.conf:9/],
    ['    geo $g {\n        ranges;\n        10.0.0.0-10.0.0.9 a;\n        10.0.0.5-10.0.0.20 b;\n    }\n', /range "10.0.0.5-10.0.0.20" overlaps "10.0.0.0-10.0.0.9" in .*nginx\.conf:10/],
    ['    geo $g {\n        a b c;\n    }\n', /invalid number of the geo parameters in .*nginx\.conf:8/],
    ['    geo g {\n    }\n', /invalid variable name "g" in .*nginx\.conf:7/],
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

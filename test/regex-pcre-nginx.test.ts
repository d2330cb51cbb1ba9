/**
 * Regexes read as PCRE reads them, side by side with the real nginx: `\h`, inline flags at the start, inside a group
 * and across its alternatives, `(?-i)` under `~*`, `(?P<name>…)` with `(?P=name)`, `\Q…\E`, POSIX classes, `\Z`,
 * `(?#…)`. Compared: which location answers each request, its captures, the access-log line. PCRE syntax JavaScript
 * cannot express (atomic groups, possessive quantifiers, recursion, `\K`) fails `dyups -t` naming it, where nginx
 * would accept it: never a silent difference.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { exchange, freePorts, readText, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'
import { dyupsTest, nginxOnlyLines, startNginx } from './nginx.js'

const LOCATIONS = [
  String.raw`location ~ ^/h/a\h+b$ { return 200 "h\n"; }`,
  String.raw`location ~ (?i)^/ci/(abc)$ { return 200 "ci $1\n"; }`,
  String.raw`location ~ ^/mix/(a(?i)b|c)$ { return 200 "mix $1\n"; }`,
  String.raw`location ~ ^/named/(?P<num>\d+)-(?P=num)$ { return 200 "named $1\n"; }`,
  String.raw`location ~ ^/q/\Qa.b\E$ { return 200 "q\n"; }`,
  String.raw`location ~ ^/px/[[:digit:]]+(?#digits)$ { return 200 "px\n"; }`,
  String.raw`location ~* ^/off/(?-i)X$ { return 200 "off\n"; }`,
  String.raw`location ~ ^/z/end\Z { return 200 "z\n"; }`,
  String.raw`location ~ ^/hv/[\h]x { return 200 "hv\n"; }`,
  String.raw`location / { return 200 "none\n"; }`,
]

const PATHS = [
  '/h/a%20b', '/h/a%09%20b', '/h/ab', '/h/a_b', '/ci/ABC', '/CI/abc', '/mix/ab', '/mix/aB', '/mix/AB', '/mix/c', '/mix/C',
  '/named/12-12', '/named/12-13', '/q/a.b', '/q/axb', '/px/123', '/px/12a', '/OFF/X', '/off/x', '/z/end', '/z/endx',
  '/hv/%20x', '/hv/ax',
]

function conf(kind: 'nginx' | 'dyups', port: number): string {
  const { nginxOnly, user } = nginxOnlyLines(kind)
  return `worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    log_format b '$status|$request_uri|$uri|$body_bytes_sent';
    access_log logs/b.log b;
    server {
        listen 127.0.0.1:${port};
        ${LOCATIONS.join('\n        ')}
    }
${nginxOnly}}
${user}`
}

async function run(port: number, prefix: string): Promise<{ answers: string[]; log: string[] }> {
  const answers: string[] = []
  for (const p of PATHS) {
    const text = await exchange(port, `GET ${p} HTTP/1.1\r\nHost: side\r\nConnection: close\r\n\r\n`)
    answers.push(`${p} ${text.split('\r\n')[0]} ${text.slice(text.indexOf('\r\n\r\n') + 4)}`)
  }
  const file = join(prefix, 'logs/b.log')
  const lines = (): string[] => readText(file).split('\n').filter((l) => l !== '')
  assert.ok(await waitFor(() => lines().length >= PATHS.length, 10_000), `${lines().length} log lines`)
  return { answers, log: lines() }
}

test('location regexes as PCRE reads them, compared with nginx', async (t) => {
  const [pn, pd] = (await freePorts(2)) as [number, number]
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  mkdirSync(join(xn, 'tmp'))
  writeConf(xn, 'conf/nginx.conf', conf('nginx', pn))
  writeConf(xd, 'conf/nginx.conf', conf('dyups', pd))
  await startNginx(t, xn, [pn])
  await startDyups(t, xd, [pd], ['-g', 'daemon off;'])
  const ngx = await run(pn, xn)
  const dy = await run(pd, xd)
  if (process.env.SIDE_DEBUG) console.log(JSON.stringify({ ngx, dy }, null, 1))
  assert.deepEqual(dy.answers, ngx.answers)
  assert.deepEqual(dy.log, ngx.log)
  // nginx's answers show the PCRE readings the comparison is about.
  for (const want of ['/h/a%09%20b HTTP/1.1 200 OK h', '/CI/abc HTTP/1.1 200 OK ci abc', '/mix/aB HTTP/1.1 200 OK mix aB', '/mix/C HTTP/1.1 200 OK mix C', '/named/12-13 HTTP/1.1 200 OK none', '/off/x HTTP/1.1 200 OK none']) {
    assert.ok(ngx.answers.some((a) => a.startsWith(want)), `nginx: no ${want}`)
  }
})

test('PCRE syntax JavaScript cannot express fails dyups -t, naming it', async (t) => {
  const cases: Array<[string, string]> = [
    [String.raw`^/(?>a+)b`, 'atomic groups "(?>...)"'],
    [String.raw`^/a++b`, 'possessive quantifiers'],
    [String.raw`^/a{2}+`, 'possessive quantifiers'],
    [String.raw`^/(a|(?R))`, 'recursion "(?R)"'],
    [String.raw`^/a\Kb`, '"\\K"'],
    [String.raw`^/(?x) a`, 'the inline flag "x"'],
    [String.raw`^/(*UTF)a`, 'backtracking verbs "(*...)"'],
  ]
  for (const [re, what] of cases) {
    const prefix = tempPrefix(t)
    const file = writeConf(prefix, 'conf/nginx.conf', `pid logs/nginx.pid;\nevents {}\nhttp {\n    server {\n        location ~ "${re}" { return 200; }\n    }\n}\n`)
    const r = await dyupsTest(prefix)
    assert.equal(r.code, 1, re)
    assert.ok((r.stderr + r.stdout).includes(`regex "${re}" uses ${what}, which dyups does not support in ${file}:5`), r.stderr + r.stdout)
  }
})

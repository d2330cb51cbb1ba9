/**
 * Configuration errors as nginx reports them (README, "Command line"): `dyups: [emerg] MESSAGE in FILE:LINE`, then
 * `dyups: configuration file CONF test failed`, exit status 1. Messages were taken from nginx 1.22 -t on the same
 * files; the dyups-only ones (unsupported directives, the persistence path) follow the same shape.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { freePorts, runBin, tempPrefix, writeConf } from './helpers.js'

interface Case {
  name: string
  /** conf/nginx.conf; `{P}` is a free port, `{PREFIX}` the prefix. */
  conf: string | Buffer
  /** Other files, relative to the prefix. */
  files?: Record<string, string>
  /** The exact message, or a pattern for it; `{PREFIX}` is replaced. */
  message: string | RegExp
  /** How a pattern `message` reads in a failure report. */
  shows?: string
  /** The file the position names, relative to the prefix. */
  at: string
  line: number
}

const wrap = (server: string): string => `events {}\nhttp {\n    server {\n${server}    }\n}\n`

const CASES: Case[] = [
  { name: 'unknown directive', conf: wrap('        listen 127.0.0.1:{P};\n        frobnicate on;\n'), message: 'unknown directive "frobnicate"', at: 'conf/nginx.conf', line: 5 },
  { name: 'main directive in server', conf: wrap('        worker_processes 2;\n'), message: '"worker_processes" directive is not allowed here', at: 'conf/nginx.conf', line: 4 },
  { name: 'listen at http level', conf: 'events {}\nhttp {\n    listen 80;\n}\n', message: '"listen" directive is not allowed here', at: 'conf/nginx.conf', line: 3 },
  { name: 'proxy_pass in server', conf: wrap('        proxy_pass http://127.0.0.1:1;\n'), message: '"proxy_pass" directive is not allowed here', at: 'conf/nginx.conf', line: 4 },
  { name: 'no arguments', conf: 'events {}\nhttp {\n    keepalive_timeout;\n}\n', message: 'invalid number of arguments in "keepalive_timeout" directive', at: 'conf/nginx.conf', line: 3 },
  { name: 'too many arguments', conf: 'daemon on off;\nevents {}\n', message: 'invalid number of arguments in "daemon" directive', at: 'conf/nginx.conf', line: 1 },
  { name: 'worker_processes x', conf: 'daemon off;\nworker_processes x;\nevents {}\n', message: '"worker_processes" directive invalid value', at: 'conf/nginx.conf', line: 2 },
  { name: 'daemon maybe', conf: 'daemon maybe;\nevents {}\n', message: 'invalid value "maybe" in "daemon" directive, it must be "on" or "off"', at: 'conf/nginx.conf', line: 1 },
  { name: 'listen 99999', conf: wrap('        listen 99999;\n'), message: 'invalid port in "99999" of the "listen" directive', at: 'conf/nginx.conf', line: 4 },
  { name: 'keepalive_timeout abc', conf: 'events {}\nhttp {\n    keepalive_timeout abc;\n}\n', message: '"keepalive_timeout" directive invalid value', at: 'conf/nginx.conf', line: 3 },
  { name: 'client_max_body_size 1x', conf: 'events {}\nhttp {\n\n    client_max_body_size 1x;\n}\n', message: '"client_max_body_size" directive invalid value', at: 'conf/nginx.conf', line: 4 },
  {
    name: 'duplicate upstream',
    conf: 'events {}\nhttp {\n    upstream x {\n        server 127.0.0.1:1;\n    }\n    upstream x {\n        server 127.0.0.1:2;\n    }\n}\n',
    message: 'duplicate upstream "x"', at: 'conf/nginx.conf', line: 6,
  },
  {
    name: 'duplicate listen in one server',
    conf: wrap('        listen 127.0.0.1:{P};\n        listen 127.0.0.1:{P};\n'),
    message: 'a duplicate listen 127.0.0.1:{P}', at: 'conf/nginx.conf', line: 5,
  },
  {
    name: 'duplicate default server',
    conf: 'events {}\nhttp {\n    server {\n        listen 127.0.0.1:{P} default_server;\n    }\n    server {\n        listen 127.0.0.1:{P} default_server;\n    }\n}\n',
    message: 'a duplicate default server for 127.0.0.1:{P}', at: 'conf/nginx.conf', line: 7,
  },
  { name: 'unclosed brace', conf: 'events {}\nhttp {\n    server {\n        listen 127.0.0.1:{P};\n    }\n', message: 'unexpected end of file, expecting "}"', at: 'conf/nginx.conf', line: 6 },
  { name: 'stray }', conf: 'events {}\nhttp {\n}\n}\n', message: 'unexpected "}"', at: 'conf/nginx.conf', line: 4 },
  { name: 'missing ; at end of file', conf: 'events {}\ndaemon off', message: 'unexpected end of file, expecting ";" or "}"', at: 'conf/nginx.conf', line: 2 },
  {
    name: 'missing include file',
    conf: 'events {}\nhttp {\n    include nothere.conf;\n}\n',
    message: 'open() "{PREFIX}/conf/nothere.conf" failed (2: No such file or directory)', at: 'conf/nginx.conf', line: 3,
  },
  {
    name: 'binary file',
    // The first bytes of an ELF executable: nginx trips over them with a message that depends on the bytes.
    conf: Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0x3e, 0, 1, 0, 0, 0]), Buffer.alloc(64, 0)]),
    message: /.+/, shows: 'ANY MESSAGE', at: 'conf/nginx.conf', line: 1,
  },
  {
    name: 'real nginx directive dyups does not support',
    conf: 'events {}\nhttp {\n    server {\n        listen 127.0.0.1:{P};\n        location / {\n            proxy_cache zone;\n        }\n    }\n}\n',
    message: '"proxy_cache" directive is not supported by dyups', at: 'conf/nginx.conf', line: 6,
  },
  {
    name: 'dyups_upstream_conf under a regular file',
    conf: 'events {}\nhttp {\n    dyups_upstream_conf conf/file/x.conf;\n}\n',
    files: { 'conf/file': 'a regular file\n' },
    message: /"\{PREFIX\}\/conf\/file\/x\.conf"/, shows: 'MESSAGE NAMING "{PREFIX}/conf/file/x.conf"', at: 'conf/nginx.conf', line: 3,
  },
  {
    name: 'error in an included file names that file',
    conf: 'events {}\nhttp {\n    include inc/upstreams.conf;\n}\n',
    files: { 'conf/inc/upstreams.conf': '# groups\n\nupstream u {\n    server 127.0.0.1:1 bogus;\n}\n' },
    message: 'invalid parameter "bogus"', at: 'conf/inc/upstreams.conf', line: 4,
  },
  {
    name: 'missing include inside an included file',
    conf: 'events {}\nhttp {\n    include a.conf;\n}\n',
    files: { 'conf/a.conf': '\n\ninclude b.conf;\n' },
    message: 'open() "{PREFIX}/conf/b.conf" failed (2: No such file or directory)', at: 'conf/a.conf', line: 3,
  },
  {
    name: 'unknown directive in an included file',
    conf: 'events {}\nhttp {\n    include a.conf;\n}\n',
    files: { 'conf/a.conf': 'access_log off;\nserver {\n    listen 127.0.0.1:1;\n    location / { bogus_thing 1; }\n}\n' },
    message: 'unknown directive "bogus_thing"', at: 'conf/a.conf', line: 4,
  },
]

/** `f` over `items`, at most `limit` at once, results in the items' order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await f(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  return out
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

test('-t reports each configuration error as nginx does, with file and line, exit 1', async (t) => {
  const [port] = await freePorts(1)
  // Four at a time: a few dozen Node processes started at once on a busy 2-core machine take longer than runBin's bound.
  const runs = await mapLimit(CASES, 4, async (c) => {
    const prefix = tempPrefix(t)
    const fill = (s: string): string => s.replaceAll('{P}', String(port)).replaceAll('{PREFIX}', prefix)
    writeConf(prefix, 'conf/nginx.conf', '')
    const confPath = join(prefix, 'conf/nginx.conf')
    if (typeof c.conf === 'string') writeConf(prefix, 'conf/nginx.conf', fill(c.conf))
    else writeConf(prefix, 'conf/nginx.conf', c.conf.toString('latin1')) // latin1 keeps every byte
    if (typeof c.conf !== 'string') assert.deepEqual(readFileSync(confPath), c.conf)
    for (const [f, text] of Object.entries(c.files ?? {})) writeConf(prefix, f, fill(text))
    return { c, prefix, confPath, fill, r: await runBin(['-p', prefix, '-c', 'conf/nginx.conf', '-t']) }
  })
  const failures: string[] = []
  for (const { c, prefix, confPath, fill, r } of runs) {
    const at = ` in ${join(prefix, c.at)}:${c.line}`
    const pattern = typeof c.message === 'string'
      ? new RegExp(`^dyups: \\[emerg\\] ${escapeRe(fill(c.message))}${escapeRe(at)}\n`)
      : new RegExp(`^dyups: \\[emerg\\] .*${c.message.source.replaceAll('\\{PREFIX\\}', escapeRe(prefix))}.*${escapeRe(at)}\n`)
    const expected = `${typeof c.message === 'string' ? `dyups: [emerg] ${fill(c.message)}${at}` : `dyups: [emerg] ${fill(c.shows ?? c.message.source)}${at}`}\ndyups: configuration file ${confPath} test failed\n`
    const ok = r.code === 1 && r.stdout === '' && pattern.test(r.stderr) &&
      r.stderr.endsWith(`\ndyups: configuration file ${confPath} test failed\n`) && r.stderr.split('\n').length === 3
    if (!ok) failures.push(`${c.name}:\n  expected (exit 1): ${JSON.stringify(expected)}\n  got (exit ${r.code}): ${JSON.stringify(r.stderr)}${r.stdout ? ` stdout ${JSON.stringify(r.stdout)}` : ''}`)
  }
  assert.equal(failures.length, 0, `\n${failures.join('\n')}`)
})

test('starting on a bad configuration fails the same way, without the -t line', async (t) => {
  const prefix = tempPrefix(t)
  const conf = writeConf(prefix, 'conf/nginx.conf', 'daemon off;\nevents {}\nhttp {\n    bogus 1;\n}\n')
  const incPrefix = tempPrefix(t)
  writeConf(incPrefix, 'conf/nginx.conf', 'daemon off;\nevents {}\nhttp {\n    include u.conf;\n}\n')
  const inc = writeConf(incPrefix, 'conf/u.conf', 'upstream u {\n    server 127.0.0.1:1 weight=0;\n}\n')
  const pathPrefix = tempPrefix(t)
  const pconf = writeConf(pathPrefix, 'conf/nginx.conf', 'daemon off;\nevents {}\nhttp {\n    dyups_upstream_conf conf/file/x.conf;\n}\n')
  writeConf(pathPrefix, 'conf/file', 'a regular file\n')
  const [r, ri, rp] = await Promise.all([runBin(['-p', prefix]), runBin(['-p', incPrefix]), runBin(['-p', pathPrefix])])
  assert.deepEqual(r, { code: 1, stdout: '', stderr: `dyups: [emerg] unknown directive "bogus" in ${conf}:4\n` })
  assert.deepEqual(ri, { code: 1, stdout: '', stderr: `dyups: [emerg] invalid parameter "weight=0" in ${inc}:2\n` })
  assert.equal(rp.code, 1)
  assert.equal(rp.stdout, '')
  assert.match(rp.stderr, new RegExp(`^dyups: \\[emerg\\] .*"${escapeRe(join(pathPrefix, 'conf/file/x.conf'))}".* in ${escapeRe(pconf)}:4\n$`))
})

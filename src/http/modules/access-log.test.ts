import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { parseText } from '../../config/index.js'
import {
  compileAccessLogs,
  defaultAccessLog,
  escapeDefault,
  escapeJson,
  LogFiles,
  LogFormats,
  COMBINED,
  type AccessLogContext,
} from './access-log.js'
import { BasicVarSource, Variables, timeLocal, type VarSource } from '../lib/variables.js'
import { Target, parseTarget } from '../lib/uri.js'

const FORMATS = String.raw`
log_format def '[$http_x_t] [$http_none] [$args] [$is_args] [$remote_user] [$status] [$body_bytes_sent] $request_length "$request"';
log_format js escape=json '{"t":"$http_x_t","none":"$http_none","args":"$args","ru":"$remote_user","s":$status}';
log_format raw escape=none '[$http_x_t] [$http_none] [$args]';
log_format multi 'a' "b" '$status' 'c$status' 'd';
`

// Three requests and the lines nginx 1.22.1 logged for them with the formats above (and `combined`).
const REQUESTS = [
  'GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-T: a"b\\\\c\x01\x1f\x7f\xff\xe9 \\t{}\r\nUser-Agent: Mozilla/5.0 "q"\r\n' +
    'Referer: http://ref/\r\nConnection: close\r\n\r\n',
  'GET / HTTP/1.0\r\n\r\n',
  'GET /%22?a=%22 HTTP/1.1\r\nHost: h\r\nX-T: \r\nAuthorization: Basic dTpw\r\nConnection: close\r\n\r\n',
]
const NGINX: Record<string, string[]> = {
  def: [
    '[a\\x22b\\x5C\\x5Cc\\x01\\x1F\\x7F\\xFF\\xE9 \\x5Ct{}] [-] [x=1] [?] [-] [200] [2] 125 "GET /a?x=1 HTTP/1.1"',
    '[-] [-] [-] [] [-] [200] [2] 18 "GET / HTTP/1.0"',
    '[] [-] [a=%22] [?] [u] [200] [2] 89 "GET /%22?a=%22 HTTP/1.1"',
  ],
  js: [
    '{"t":"a\\"b\\\\\\\\c\\u0001\\u001F\x7f\xff\xe9 \\\\t{}","none":"","args":"x=1","ru":"","s":200}',
    '{"t":"","none":"","args":"","ru":"","s":200}',
    '{"t":"","none":"","args":"a=%22","ru":"u","s":200}',
  ],
  raw: ['[a"b\\\\c\x01\x1f\x7f\xff\xe9 \\t{}] [] [x=1]', '[] [] []', '[] [] [a=%22]'],
  combined: [
    '127.0.0.1 - - [25/Nov/2026:15:18:54 +0000] "GET /a?x=1 HTTP/1.1" 200 2 "http://ref/" "Mozilla/5.0 \\x22q\\x22"',
    '127.0.0.1 - - [25/Nov/2026:15:18:54 +0000] "GET / HTTP/1.0" 200 2 "-" "-"',
    '127.0.0.1 - u [25/Nov/2026:15:18:54 +0000] "GET /%22?a=%22 HTTP/1.1" 200 2 "-" "-"',
  ],
  multi: ['ab200c200d', 'ab200c200d', 'ab200c200d'],
}
const LOGGED_AT = Date.UTC(2026, 10, 25, 15, 18, 54, 250)

function source(raw: string): VarSource {
  const src = new BasicVarSource()
  const lines = raw.split('\r\n\r\n')[0]!.split('\r\n')
  src.requestLine = lines[0]!
  const [method, target, protocol] = lines[0]!.split(' ')
  src.method = method!
  src.protocol = protocol!
  const t = new Target()
  assert.ok(parseTarget(target!, t))
  Object.assign(src, { uri: t.uri, args: t.args, requestUri: t.requestUri })
  const headers: string[] = []
  for (const l of lines.slice(1)) headers.push(l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim())
  src.headers = headers
  src.remoteAddr = '127.0.0.1'
  src.status = 200
  src.bodyBytesSent = 2
  src.requestLength = raw.length
  src.endMsec = LOGGED_AT
  return src
}

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'dyups-log-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function context(dir: string, formats = FORMATS): AccessLogContext & { files: LogFiles } {
  const vars = new Variables({ version: '0' })
  const f = new LogFormats(vars)
  for (const d of parseText(formats, 'f.conf')) f.add(d)
  return { formats: f, files: new LogFiles(), vars, resolvePath: (p) => (p.startsWith('/') ? p : join(dir, p)) }
}

test('formats write what nginx wrote, escapes and "-" included', (t) => {
  const ctx = context(tmp(t))
  ctx.vars.finish()
  for (const name of Object.keys(NGINX)) {
    const f = ctx.formats.get(name)!
    REQUESTS.forEach((raw, i) => {
      const want = NGINX[name]![i]!.replace('25/Nov/2026:15:18:54 +0000', timeLocal(LOGGED_AT))
      assert.equal(f.format(source(raw)), want, `${name} #${i}`)
    })
  }
})

test('escapes, byte by byte', () => {
  for (let c = 0; c < 256; c++) {
    const s = String.fromCharCode(c)
    const d = c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x7f ? '\\x' + c.toString(16).toUpperCase().padStart(2, '0') : s
    assert.equal(escapeDefault(s), d, `default ${c}`)
    const named: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x08: '\\b', 0x0c: '\\f' }
    const j = named[c] ?? (c < 0x20 ? '\\u00' + c.toString(16).toUpperCase().padStart(2, '0') : s)
    assert.equal(escapeJson(s), j, `json ${c}`)
  }
  const plain = 'nothing to escape here'
  assert.equal(escapeDefault(plain), plain)
  assert.equal(escapeJson(plain), plain)
})

test('log_format and access_log errors in nginx\'s words', (t) => {
  const dir = tmp(t)
  const formatErrors: Array<[string, string]> = [
    ["log_format def 'x';", 'duplicate "log_format" name "def"'],
    ["log_format combined 'x';", 'duplicate "log_format" name "combined"'],
    ["log_format e escape=xml 'x';", 'unknown log format escaping "xml"'],
    ["log_format e 'c$status$';", 'invalid parameter "$"'],
    ["log_format e 'a${';", 'invalid parameter "${"'],
    ["log_format e '${abc';", 'the closing bracket in "abc" variable is missing'],
    ["log_format e '$-x';", 'invalid parameter "$-x"'],
    ['log_format e;', 'invalid number of arguments in "log_format" directive'],
  ]
  for (const [text, message] of formatErrors) {
    const ctx = context(dir)
    assert.throws(
      () => ctx.formats.add(parseText(text, 'f.conf')[0]!),
      (e: any) => e.code === 'E_CONFIG' && e.message === message,
      text,
    )
  }
  const logErrors: Array<[string, string]> = [
    ['access_log off x;', 'invalid parameter "x"'],
    ['access_log a.log nosuch;', 'unknown log format "nosuch"'],
    ['access_log a.log combined bogus;', 'invalid parameter "bogus"'],
    ['access_log a.log combined buffer=0;', 'invalid buffer size "0"'],
    ['access_log a.log combined buffer=1g;', 'invalid buffer size "1g"'],
    ['access_log a.log combined buffer=4k flush=0;', 'invalid flush time "0"'],
    ['access_log a.log combined buffer=4k flush=x;', 'invalid flush time "x"'],
    ['access_log a.log combined flush=1s;', 'no buffer is defined for access_log "a.log"'],
    ['access_log a.log combined gzip=10;', 'invalid compression level "10"'],
    ['access_log a.log combined buffer=4k;\naccess_log a.log def buffer=8k;', 'access_log "a.log" already defined with conflicting parameters'],
    ['access_log logs/$host.log combined buffer=4k;', 'buffered logs cannot have variables in name'],
    ['access_log logs/$host.log;', 'variables in access_log path are not supported'],
    ['access_log syslog:server=127.0.0.1;', 'syslog is not supported'],
    ['access_log /nonexistent-dir/x.log;', 'open() "/nonexistent-dir/x.log" failed (2: No such file or directory)'],
  ]
  for (const [text, message] of logErrors) {
    const ctx = context(dir)
    const ds = parseText(text, 'l.conf')
    assert.throws(
      () => compileAccessLogs(ds, ctx),
      (e: any) => e.code === 'E_CONFIG' && e.message === message && e.at.file === 'l.conf',
      text,
    )
    ctx.files.close()
  }
})

test('off, inherit, format names caseless, the same file shared', (t) => {
  const dir = tmp(t)
  const ctx = context(dir)
  assert.equal(compileAccessLogs(parseText('access_log off;', 'c'), ctx), 'off')
  assert.equal(compileAccessLogs(parseText('access_log a.log; access_log off;', 'c'), ctx), 'off')
  assert.equal(compileAccessLogs(parseText('proxy_pass http://x;', 'c'), ctx), undefined)
  const logs = compileAccessLogs(parseText('access_log a.log DEF; access_log a.log COMBINED buffer=4k;', 'c'), ctx)
  assert.ok(Array.isArray(logs))
  assert.equal(logs[0]!.format.name, 'def')
  assert.equal(logs[1]!.format.name, 'combined')
  assert.equal(logs[0]!.file, logs[1]!.file)
  assert.equal(logs[0]!.file.size, 4096)
  mkdirSync(join(dir, 'logs'))
  const d = defaultAccessLog(ctx)
  assert.equal(d.file.path, join(dir, 'logs/access.log'))
  assert.equal(d.format.name, 'combined')
  ctx.files.close()
})

test('unbuffered: one write per loop turn, in order', async (t) => {
  const dir = tmp(t)
  const ctx = context(dir, "log_format n '$status $request_uri';")
  const [log] = compileAccessLogs(parseText('access_log n.log n;', 'c'), ctx) as any[]
  ctx.vars.finish()
  for (let i = 0; i < 3; i++) {
    const src = new BasicVarSource()
    src.status = 200 + i
    src.requestUri = `/r${i}`
    log.write(src)
  }
  const path = join(dir, 'n.log')
  assert.equal(readFileSync(path, 'latin1'), '') // not yet: same loop turn
  await new Promise((r) => setImmediate(r))
  assert.equal(readFileSync(path, 'latin1'), '200 /r0\n201 /r1\n202 /r2\n')
  ctx.files.close()
})

test('buffer=: written when full, on flush=, and at close; bytes kept as latin1', async (t) => {
  const dir = tmp(t)
  const ctx = context(dir, "log_format n escape=none '$request_uri';")
  const [log] = compileAccessLogs(parseText('access_log b.log n buffer=32 flush=20ms;', 'c'), ctx) as any[]
  ctx.vars.finish()
  const path = join(dir, 'b.log')
  const w = (uri: string): void => {
    const src = new BasicVarSource()
    src.requestUri = uri
    log.write(src)
  }
  w('/0123456789') // 12 bytes with newline
  w('/abcdefghij') // 24
  assert.equal(readFileSync(path, 'latin1'), '')
  w('/ABCDEFGHIJ') // would make 36 > 32: the first two are written
  assert.equal(readFileSync(path, 'latin1'), '/0123456789\n/abcdefghij\n')
  w('/' + 'x'.repeat(40)) // larger than the buffer: flushes, then goes straight out
  assert.equal(readFileSync(path, 'latin1'), '/0123456789\n/abcdefghij\n/ABCDEFGHIJ\n/' + 'x'.repeat(40) + '\n')
  w('/\xff\xe9') // flush= writes it without more traffic
  for (let i = 0; i < 400 && !readFileSync(path, 'latin1').endsWith('\xff\xe9\n'); i++) await new Promise((r) => setTimeout(r, 5))
  assert.ok(readFileSync(path).subarray(-3).equals(Buffer.from([0xff, 0xe9, 0x0a])))
  w('/last')
  ctx.files.close()
  assert.ok(readFileSync(path, 'latin1').endsWith('/last\n'))
})

test('gzip: each write is a gzip member', (t) => {
  const dir = tmp(t)
  const ctx = context(dir, "log_format n '$request_uri';")
  const [log] = compileAccessLogs(parseText('access_log g.log.gz n gzip=9;', 'c'), ctx) as any[]
  ctx.vars.finish()
  assert.equal(log.file.size, 65536)
  for (const u of ['/a', '/b']) {
    const src = new BasicVarSource()
    src.requestUri = u
    log.write(src)
    ctx.files.flush()
  }
  ctx.files.close()
  assert.equal(gunzipSync(readFileSync(join(dir, 'g.log.gz'))).toString('latin1'), '/a\n/b\n')
})

test('if= skips lines whose condition is empty or "0"', async (t) => {
  const dir = tmp(t)
  const ctx = context(dir, "log_format n '$request_uri';")
  const [log] = compileAccessLogs(parseText('access_log i.log n if=$arg_log;', 'c'), ctx) as any[]
  ctx.vars.finish()
  for (const [uri, args] of [['/none', ''], ['/zero', 'log=0'], ['/yes', 'log=1'], ['/empty', 'log=']]) {
    const src = new BasicVarSource()
    src.requestUri = uri!
    src.args = args!
    log.write(src)
  }
  ctx.files.close()
  assert.equal(readFileSync(join(dir, 'i.log'), 'latin1'), '/yes\n')
})

test('reopen: after a rotation, lines go to the new file', (t) => {
  const dir = tmp(t)
  const errors: string[] = []
  const ctx = { ...context(dir, "log_format n '$request_uri';"), files: new LogFiles({ onError: (m) => errors.push(m) }) }
  const [log] = compileAccessLogs(parseText('access_log r.log n;', 'c'), ctx) as any[]
  ctx.vars.finish()
  const w = (uri: string): void => {
    const src = new BasicVarSource()
    src.requestUri = uri
    log.write(src)
    ctx.files.flush()
  }
  const path = join(dir, 'r.log')
  w('/before')
  renameSync(path, path + '.1')
  w('/rotated-but-not-reopened')
  ctx.files.reopen()
  w('/after')
  ctx.files.close()
  assert.equal(readFileSync(path + '.1', 'latin1'), '/before\n/rotated-but-not-reopened\n')
  assert.equal(readFileSync(path, 'latin1'), '/after\n')
  assert.deepEqual(errors, [])
})

test('a reopen that cannot open the path keeps writing to the old file', (t) => {
  const dir = tmp(t)
  const errors: string[] = []
  const ctx = { ...context(dir, "log_format n '$request_uri';"), files: new LogFiles({ onError: (m) => errors.push(m) }) }
  const [log] = compileAccessLogs(parseText('access_log sub/r.log n;', 'c'), (mkdirSync(join(dir, 'sub')), ctx)) as any[]
  ctx.vars.finish()
  const path = join(dir, 'sub/r.log')
  renameSync(join(dir, 'sub'), join(dir, 'gone'))
  ctx.files.reopen()
  const src = new BasicVarSource()
  src.requestUri = '/still'
  log.write(src)
  ctx.files.close()
  assert.deepEqual(errors, [`open() "${path}" failed (2: No such file or directory)`])
  assert.equal(readFileSync(join(dir, 'gone/r.log'), 'latin1'), '/still\n')
})

test('the combined format text is nginx\'s', () => {
  assert.equal(
    COMBINED,
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"',
  )
})

/**
 * `expires` side by side with the real nginx: which answers get Expires and Cache-Control (static files, local
 * answers, proxied answers, whose own headers are replaced in place), where they go among the other headers, and the
 * `-t` messages for bad values. Expires dates are compared as an offset from the answer's Date when within two days of
 * it (they follow the clock), as they are otherwise.
 */
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { exchange, tempPrefix, writeConf } from './helpers.js'
import { dyupsTest, nginxTest, sideConf } from './nginx.js'
import { req, seen, startResponses, type Seen } from './responses.js'

const FILES = mkdtempSync(join(tmpdir(), 'dyups-expires-files-'))
process.once('exit', () => rmSync(FILES, { recursive: true, force: true }))
chmodSync(FILES, 0o755)
writeFileSync(join(FILES, 'page.html'), '<html><body>a static page long enough to be compressed</body></html>\n')
utimesSync(join(FILES, 'page.html'), 1_700_000_000, 1_700_000_000)

const hq = (o: Record<string, string>): string => Object.entries(o).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')

const SERVER = `
        location /e1h/ { expires 1h; proxy_pass http://u/; }
        location /eneg/ { expires -1; return 200 "negative\\n"; }
        location /eepoch/ { expires epoch; return 204; }
        location /emax/ { expires max; return 301 /elsewhere; }
        location /eadd/ { expires 30m; add_header X-A 1; return 200 "added\\n"; }
        location /estatic/ { expires 1h; gzip on; alias ${FILES}/; }
        location /emod/ { expires modified 1h; alias ${FILES}/; }
        location /emodp/ { expires modified +1d; proxy_pass http://u/; }
        location /eoff/ { expires 1h; location /eoff/in/ { expires off; proxy_pass http://u/; } }
        location /epage/ { expires 1h; error_page 404 /estatic/page.html; return 404; }
`

/** A response as seen(), its Expires written as `DATE+N` when within two days of its Date. */
async function ask(port: number, raw: string): Promise<Seen> {
  const text = await exchange(port, raw)
  const date = /\r\nDate: ([^\r]*)\r\n/.exec(text)?.[1]
  const fixed = text.replace(/\r\nExpires: ([^\r]*)\r\n/, (all, v: string) => {
    const delta = (Date.parse(v) - Date.parse(date ?? '')) / 1000
    return Math.abs(delta) <= 2 * 86400 ? `\r\nExpires: DATE+${delta}\r\n` : all
  })
  return seen(fixed, port, { head: raw.startsWith('HEAD ') })
}

const AE = 'Accept-Encoding: gzip\r\n'
const OLD = 'Tue, 14 Nov 2023 22:13:20 GMT'
const CASES: [string, string, string[]][] = [
  ['proxied 200', req('/e1h/s/200/x'), ['Expires: DATE+3600', 'Cache-Control: max-age=3600']],
  ['proxied 302', req('/e1h/s/302/x'), ['Expires: DATE+3600']],
  ['proxied 404: none', req('/e1h/s/404/x'), []],
  ['proxied, its own Expires and Cache-Control replaced in place', req(`/e1h/h/x?${hq({ Expires: 'Thu, 01 Jan 2099 00:00:00 GMT', 'X-Mid': '1', 'Cache-Control': 'public, max-age=5' })}`), ['Expires: DATE+3600', 'Cache-Control: max-age=3600']],
  ['proxied, modified from an old Last-Modified', req(`/emodp/h/x?${hq({ 'Last-Modified': OLD })}`), ['Cache-Control: no-cache']],
  ['proxied, modified without Last-Modified', req('/emodp/s/200/x'), ['Expires: DATE+86400', 'Cache-Control: max-age=86400']],
  ['negative time', req('/eneg/x'), ['Expires: DATE+-1', 'Cache-Control: no-cache']],
  ['epoch on a 204', req('/eepoch/x'), ['Expires: Thu, 01 Jan 1970 00:00:01 GMT', 'Cache-Control: no-cache']],
  ['max on a 301', req('/emax/x'), ['Expires: Thu, 31 Dec 2037 23:55:55 GMT', 'Cache-Control: max-age=315360000']],
  ['before add_header', req('/eadd/x'), ['Expires: DATE+1800', 'X-A: 1']],
  ['static file', req('/estatic/page.html'), ['Expires: DATE+3600']],
  ['static file, HEAD', req('/estatic/page.html', { method: 'HEAD' }), ['Expires: DATE+3600']],
  ['static file, 304', req('/estatic/page.html', { headers: `If-Modified-Since: ${OLD}\r\n` }), ['Expires: DATE+3600']],
  ['static file, a range', req('/estatic/page.html', { headers: 'Range: bytes=0-3\r\n' }), ['Expires: DATE+3600']],
  ['static file, two ranges', req('/estatic/page.html', { headers: 'Range: bytes=0-3,5-6\r\n' }), ['Expires: DATE+3600']],
  ['static file, gzip', req('/estatic/page.html', { headers: AE }), ['Expires: DATE+3600']],
  ['static file, missing: none', req('/estatic/none.html'), []],
  ['static file, modified', req('/emod/page.html'), ['Expires: Tue, 14 Nov 2023 23:13:20 GMT', 'Cache-Control: no-cache']],
  ['expires off inside', req('/eoff/in/s/200/x'), []],
  ['a file as an error page: none', req('/epage/x'), []],
]

test('expires sets Expires and Cache-Control where nginx sets them', async (t) => {
  const { pair } = await startResponses(t, { server: SERVER })
  for (const [name, raw, want] of CASES) {
    await t.test(name, async () => {
      const n = await ask(pair.nginx.port, raw)
      const d = await ask(pair.dyups.port, raw)
      for (const h of want) assert.ok(n.headers.includes(h), `nginx answered ${JSON.stringify(n).slice(0, 700)}`)
      if (want.length === 0) assert.ok(!n.headers.some((h) => h.startsWith('Expires:')), JSON.stringify(n))
      assert.deepEqual(d, n)
    })
  }
})

test('expires: -t says what nginx says', async (t) => {
  const cases: [string, string][] = [
    ['expires foo;', '"expires" directive invalid value'],
    ['expires later 1h;', '"expires" directive invalid value'],
    ['expires modified;', '"expires" directive invalid value'],
    ['expires modified @1h;', '"expires" directive daily time cannot be used with "modified" parameter'],
    ['expires @25h;', '"expires" directive daily time value must be less than 24 hours'],
    ['expires 1h;\n expires 2h;', '"expires" directive is duplicate'],
    ['expires 1h 2h 3h;', 'invalid number of arguments in "expires" directive'],
    ['expires @12h30m;', 'ok'],
    ['expires modified -1d;', 'ok'],
    ['expires 0;', 'ok'],
  ]
  for (const [line, want] of cases) {
    const out: string[] = []
    for (const kind of ['nginx', 'dyups'] as const) {
      const prefix = tempPrefix(t)
      mkdirSync(join(prefix, 'tmp'))
      writeConf(prefix, 'conf/nginx.conf', sideConf({ upstream: '    upstream u { server 127.0.0.1:1; }', location: ` ${line}` }, 1, kind))
      const r = kind === 'nginx' ? await nginxTest(prefix) : await dyupsTest(prefix)
      const m = /\[emerg\] (?:\d+#\d+: )?(.*) in \S+:\d+$/m.exec(r.stderr)
      out.push(r.code === 0 ? 'ok' : m?.[1] ?? r.stderr)
    }
    assert.equal(out[0], want, line)
    assert.equal(out[1], out[0], line)
  }
})

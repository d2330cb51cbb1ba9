/**
 * `charset` side by side with the real nginx: which answers get `; charset=NAME` in their Content-Type (static
 * files, local answers, error pages, proxied answers) and which keep theirs, headers in order and bodies equal.
 */
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { askBoth, req, startResponses } from './responses.js'

const FILES = mkdtempSync(join(tmpdir(), 'dyups-charset-files-'))
process.once('exit', () => rmSync(FILES, { recursive: true, force: true }))
chmodSync(FILES, 0o755)
writeFileSync(join(FILES, 'page.html'), '<html><body>a static page long enough to be compressed</body></html>\n')
writeFileSync(join(FILES, 'pic.gif'), 'GIF89a not really\n')

const hq = (o: Record<string, string>): string => Object.entries(o).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')

const SERVER = `
        charset utf-8;
        location /files/ { alias ${FILES}/; }
        location /gzfiles/ { gzip on; alias ${FILES}/; }
        location /ret/ { return 200 "local text\\n"; }
        location /ret404/ { return 404; }
        location /off/ { charset off; proxy_pass http://u/; }
        location /koi/ { charset koi8-r; return 200 "koi\\n"; }
`

const CASES: [string, string, string][] = [
  ['static html', req('/files/page.html'), 'Content-Type: text/html; charset=utf-8'],
  ['static gif: not in charset_types', req('/files/pic.gif'), 'Content-Type: image/gif'],
  ['static html, range', req('/files/page.html', { headers: 'Range: bytes=0-3\r\n' }), 'Content-Type: text/html; charset=utf-8'],
  ['static html, two ranges', req('/files/page.html', { headers: 'Range: bytes=0-3,6-9\r\n' }), 'Content-Type: text/html; charset=utf-8'],
  ['static html, gzip', req('/gzfiles/page.html', { headers: 'Accept-Encoding: gzip\r\n' }), 'Content-Type: text/html; charset=utf-8'],
  ['static, missing: error page', req('/files/none.html'), 'Content-Type: text/html; charset=utf-8'],
  ['return text', req('/ret/x'), 'Content-Type: text/plain; charset=utf-8'],
  ['return 404', req('/ret404/x'), 'Content-Type: text/html; charset=utf-8'],
  ['another charset', req('/koi/x'), 'Content-Type: text/plain; charset=koi8-r'],
  ['proxied text/plain', req('/s/200/x'), 'Content-Type: text/plain; charset=utf-8'],
  ['proxied with its own charset', req(`/h/x?${hq({ 'Content-Type': 'text/html; charset=iso-8859-1' })}`), 'Content-Type: text/html; charset=iso-8859-1'],
  ['proxied with another parameter', req(`/h/x?${hq({ 'Content-Type': 'text/html; level=1' })}`), 'Content-Type: text/html; level=1'],
  ['proxied json', req(`/h/x?${hq({ 'Content-Type': 'application/json' })}`), 'Content-Type: application/json'],
  ['proxied, encoded by the backend', req(`/h/x?${hq({ 'Content-Type': 'text/html', 'Content-Encoding': 'br' })}`), 'Content-Type: text/html; charset=utf-8'],
  ['charset off', req('/off/s/200/x'), 'Content-Type: text/plain'],
]

test('charset adds `; charset=NAME` where nginx adds it', async (t) => {
  const { pair } = await startResponses(t, { server: SERVER })
  for (const [name, raw, type] of CASES) {
    await t.test(name, async () => {
      const [n, d] = await askBoth(pair, raw)
      // A multipart answer names the type in each part.
      assert.ok(n.headers.includes(type) || n.body.includes(`\r\n${type}\r\n`), `nginx answered ${JSON.stringify(n).slice(0, 600)}`)
      assert.deepEqual(d, n)
    })
  }
})

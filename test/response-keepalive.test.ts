/**
 * keepalive_timeout's second parameter, side by side with nginx: `Keep-Alive: timeout=N` after `Connection:
 * keep-alive` on local answers, proxied answers (chunked or with a length) and error pages; none on a closing answer
 * or where the parameter is absent.
 */
import assert from 'node:assert/strict'
import test from 'node:test'
import { Conn } from './helpers.js'
import { seen, startResponses } from './responses.js'

const SERVER = `
        keepalive_timeout 65 60;
        location /ret { return 200 "kept\\n"; }
        location /p/ { proxy_pass http://u/; }
        location /plain/ { keepalive_timeout 65; proxy_pass http://u/; }
        location /half/ { keepalive_timeout 75s 1m; return 204; }
`

test('keepalive_timeout TIMEOUT HEADER_TIMEOUT sends Keep-Alive as nginx does', async (t) => {
  const { pair } = await startResponses(t, { server: SERVER })
  const paths = ['/ret', '/p/big/300', '/p/chunked/3000', '/p/status/404', '/missing', '/plain/big/10', '/half/x']
  const got: string[][][] = []
  for (const port of [pair.nginx.port, pair.dyups.port]) {
    const c = await Conn.open(port)
    const heads: string[][] = []
    for (const path of paths) {
      const r = await c.req({ path, host: 'side' })
      const text = `HTTP/1.1 ${r.status} X\r\n${r.rawHeaders.map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\n\r\n`
      heads.push(seen(text, port).headers)
    }
    // The last answer closes: no Keep-Alive then.
    const last = await c.req({ path: '/ret', host: 'side', headers: { Connection: 'close' } })
    heads.push(seen(`HTTP/1.1 ${last.status} X\r\n${last.rawHeaders.map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\n\r\n`, port).headers)
    c.close()
    got.push(heads)
  }
  assert.ok(got[0]![0]!.includes('Keep-Alive: timeout=60'), `nginx sent ${JSON.stringify(got[0]![0])}`)
  for (let i = 0; i <= paths.length; i++) assert.deepEqual(got[1]![i], got[0]![i], paths[i] ?? 'Connection: close')
})

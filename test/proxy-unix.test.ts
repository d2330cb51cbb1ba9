/**
 * Unix-domain sockets: a backend on `unix:/path` reached through an upstream group, through a literal proxy_pass
 * address, and through a group created with the dyups interface; and dyups itself listening on `unix:`.
 */
import assert from 'node:assert/strict'
import { connect, createServer, type Socket } from 'node:net'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { ans, answer, closeServer, freePorts, ipost, parseResponse, readRequests, request, startDyups, tempPrefix, waitFor, writeConf } from './helpers.js'

/** A backend on a unix socket under `dir` that answers `name URI` and records the requests. */
async function unixBackend(t: TestContext, dir: string, name: string): Promise<{ path: string; requests: string[] }> {
  const path = join(dir, `${name}.sock`)
  const requests: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    readRequests(s, sockets, (head) => {
      requests.push(head)
      const uri = head.slice(head.indexOf(' ') + 1, head.indexOf(' HTTP/'))
      const body = `${name} ${uri}`
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
    })
  })
  await new Promise<void>((r) => server.listen(path, r))
  t.after(() => closeServer(server, sockets))
  return { path, requests }
}

/** Sends `raw` on a unix socket and returns everything read until the server closes (bounded: 10 s). */
function unixExchange(path: string, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ path })
    let got = ''
    const timer = setTimeout(() => {
      s.destroy()
      reject(new Error(`no close on ${path} within 10 s; got ${JSON.stringify(got)}`))
    }, 10_000)
    s.on('data', (b: Buffer) => (got += b.toString('latin1')))
    s.on('error', reject)
    s.on('close', () => {
      clearTimeout(timer)
      resolve(got)
    })
    s.write(raw)
  })
}

test('unix-socket backends: group, literal address, interface group, and a unix listener', async (t) => {
  const prefix = tempPrefix(t)
  const a = await unixBackend(t, prefix, 'a')
  const b = await unixBackend(t, prefix, 'b')
  const [port, iface] = (await freePorts(2)) as [number, number]
  const listen = join(prefix, 'dyups.sock')
  writeConf(prefix, 'conf/nginx.conf', `daemon off;
worker_processes 2;
error_log logs/error.log info;
events {}
http {
    access_log off;
    upstream sock { server unix:${a.path}; keepalive 4; }
    server {
        listen 127.0.0.1:${port};
        listen unix:${listen};
        location /group/ { proxy_pass http://sock; proxy_http_version 1.1; proxy_set_header Connection ""; }
        location /literal/ { proxy_pass http://unix:${b.path}:/inside/; }
        location / { proxy_pass http://$host; }
    }
    server {
        listen 127.0.0.1:${iface};
        location / { dyups_interface; }
    }
}
`)
  await startDyups(t, prefix, [port, iface])

  const got = async (path: string, host = 'localhost'): Promise<string> => {
    const r = await request(port, { path, host })
    return `${r.status} ${r.body}`
  }
  assert.equal(await got('/group/x?q=1'), '200 a /group/x?q=1')
  assert.equal(await got('/literal/y'), '200 b /inside/y')
  assert.match(a.requests[0]!, /^GET \/group\/x\?q=1 HTTP\/1\.1\r\nHost: sock\r\n/)
  assert.match(b.requests[0]!, /^GET \/inside\/y HTTP\/1\.0\r\nHost: localhost\r\n/)

  // A group created through the interface, on the other socket.
  assert.deepEqual(answer(await ipost(iface, '/upstream/dyn', `server unix:${b.path};`)), ans(200, 'success'))
  assert.equal(await got('/z', 'dyn'), '200 b /z')

  // dyups on a unix socket answers like on TCP (the socket opens after the TCP listener: wait for it, bounded).
  assert.ok(await waitFor(() => existsSync(listen)), `${listen} was not created`)
  const viaUnix = parseResponse(await unixExchange(listen, 'GET /group/u HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))
  assert.equal(`${viaUnix.status} ${viaUnix.body}`, '200 a /group/u')
})

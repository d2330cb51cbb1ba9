/**
 * HTTP/2's configuration: `-t` says what nginx 1.22 says of the http2_* directives (the obsolete ones' warnings,
 * word for word, and its errors); the server-level `http2 on` (Tengine, nginx ≥ 1.25.1) offers h2 by ALPN to the
 * servers that have it and tells the preface from HTTP/1.x on a plain address; keepalive_requests and
 * keepalive_timeout bound an HTTP/2 connection as nginx ≥ 1.19.7 does; the dyups interface and the groups it makes
 * work over HTTP/2 as over HTTP/1.1.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import test from 'node:test'
import { copyTestCertificates, testCertificates } from '../src/proxy/testing.js'
import { backend, canConnect, freePorts, iget, request, startDyups, startInterface, tempPrefix, waitFor, writeConf } from './helpers.js'
import { h2request, h2session } from './h2-client.js'
import { dyupsTest, nginxTest } from './nginx.js'

/** `-t`'s stderr lines from `[` on, the program's name and pid cut, `{PREFIX}` for the prefix. */
function lines(stderr: string, prefix: string): string[] {
  return stderr.split('\n').filter((l) => l.includes('[')).map((l) => l.slice(l.indexOf('[')).replace(/^\[(\w+)\] \d+#\d+: /, '[$1] ').split(prefix).join('{PREFIX}'))
}

test('-t: the HTTP/2 directives as nginx 1.22 takes them, obsolete ones with its warnings', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const text = `events {}
http {
    http2_recv_timeout 10s;
    http2_idle_timeout 3m;
    http2_max_field_size 4k;
    http2_max_header_size 16k;
    http2_max_requests 1000;
    http2_max_concurrent_streams 64;
    http2_chunk_size 16k;
    http2_body_preread_size 128k;
    http2_recv_buffer_size 512k;
    http2_streams_index_size 64;
    http2_push off;
    server {
        listen 127.0.0.1:${port} http2;
        http2_idle_timeout 1m;
        location / { http2_chunk_size 4k; }
    }
}
`
  const out: Record<string, string[]> = {}
  for (const kind of ['nginx', 'dyups'] as const) {
    const prefix = tempPrefix(t)
    writeConf(prefix, 'conf/nginx.conf', text)
    const r = kind === 'nginx' ? await nginxTest(prefix) : await dyupsTest(prefix)
    assert.equal(r.code, 0, `${kind}: ${r.stderr}`)
    out[kind] = lines(r.stderr, prefix).filter((l) => l.startsWith('[warn]'))
  }
  assert.equal(out.nginx!.length, 6)
  assert.deepEqual(out.dyups, out.nginx)
})

test('-t: HTTP/2 directive errors as nginx 1.22 words them', async (t) => {
  for (const line of [
    'http2_chunk_size 0;',
    'http2_chunk_size abc;',
    'http2_body_preread_size 2147483648;',
    'http2_max_concurrent_streams -1;',
    'http2_streams_index_size 31;',
    'http2_recv_buffer_size 1;',
    'http2_max_concurrent_streams 1 2;',
  ]) {
    const out: Record<string, string[]> = {}
    for (const kind of ['nginx', 'dyups'] as const) {
      const prefix = tempPrefix(t)
      writeConf(prefix, 'conf/nginx.conf', `events {}\nhttp {\n    ${line}\n}\n`)
      const r = kind === 'nginx' ? await nginxTest(prefix) : await dyupsTest(prefix)
      assert.equal(r.code, 1, `${kind} ${line}`)
      out[kind] = lines(r.stderr, prefix).filter((l) => l.startsWith('[emerg]'))
    }
    assert.equal(out.nginx!.length, 1, line)
    assert.deepEqual(out.dyups, out.nginx, line)
  }
})

/** The protocol ALPN chose for SNI `name` (offering h2 and http/1.1). */
function alpn(port: number, ca: string, name: string): Promise<string | false> {
  return new Promise((res, rej) => {
    const s = tlsConnect({ port, host: '127.0.0.1', ca, servername: name, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      const p = s.alpnProtocol ?? false
      s.destroy()
      res(p)
    })
    s.on('error', rej)
  })
}

test('http2 on (server level): h2 by ALPN for the servers that have it, the preface told from HTTP/1.x on a plain address', async (t) => {
  const [tls, plain, off] = (await freePorts(3)) as [number, number, number]
  const prefix = tempPrefix(t)
  copyTestCertificates(join(prefix, 'conf'))
  const ca = readFileSync(join(testCertificates(), 'ca.pem'), 'latin1')
  writeConf(prefix, 'conf/nginx.conf', `events {}
error_log logs/error.log info;
http {
    access_log off;
    server {
        listen 127.0.0.1:${tls} ssl;
        listen 127.0.0.1:${plain};
        server_name a.test;
        http2 on;
        ssl_certificate a.pem;
        ssl_certificate_key a.key;
        location / { return 200 "a $server_protocol $http2\\n"; }
    }
    server {
        listen 127.0.0.1:${tls} ssl;
        server_name b.test;
        ssl_certificate b.pem;
        ssl_certificate_key b.key;
        location / { return 200 "b $server_protocol\\n"; }
    }
    server {
        listen 127.0.0.1:${off};
        location / { return 200 "off $server_protocol\\n"; }
    }
}
`)
  await startDyups(t, prefix, [tls, plain, off], ['-g', 'daemon off;'])
  assert.equal(await alpn(tls, ca, 'a.test'), 'h2')
  assert.equal(await alpn(tls, ca, 'b.test'), 'http/1.1')
  const s = await h2session(tls, { ca })
  const r = await h2request(s, { ':path': '/', ':authority': 'a.test' })
  s.close()
  assert.equal(r.body.toString(), 'a HTTP/2.0 h2\n')
  // The plain address of the server with http2 on: HTTP/2 with prior knowledge and HTTP/1.1 alike.
  const c = await h2session(plain)
  assert.equal((await h2request(c, { ':path': '/', ':authority': 'a.test' })).body.toString(), 'a HTTP/2.0 h2c\n')
  c.close()
  assert.equal((await request(plain, { host: 'a.test' })).body, 'a HTTP/1.1 \n')
  // Without http2, an address stays HTTP/1.x only (the preface is a bad request there).
  assert.equal((await request(off, {})).body, 'off HTTP/1.1\n')
  await assert.rejects(async () => {
    const x = await h2session(off)
    try {
      await h2request(x, { ':path': '/' }, undefined, 5_000)
    } finally {
      x.destroy()
    }
    throw new Error('answered')
  })
})

test('HTTP/2 connections end as nginx ≥ 1.19.7 ends them: keepalive_requests streams, then GOAWAY; keepalive_timeout idle', async (t) => {
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', `events {}
http {
    access_log off;
    keepalive_requests 5;
    keepalive_timeout 1s;
    server {
        listen 127.0.0.1:${port} http2;
        location / { return 200 "ok $connection_requests\\n"; }
    }
}
`)
  await startDyups(t, prefix, [port], ['-g', 'daemon off;'])
  const s = await h2session(port)
  let goaway = false
  s.on('goaway', () => (goaway = true))
  const bodies: string[] = []
  for (let i = 0; i < 5; i++) bodies.push((await h2request(s, { ':path': '/' })).body.toString())
  assert.deepEqual(bodies, ['ok 1\n', 'ok 2\n', 'ok 3\n', 'ok 4\n', 'ok 5\n'])
  assert.ok(await waitFor(() => goaway && s.closed), 'GOAWAY after the fifth stream, then the close')
  // Idle for keepalive_timeout: closed.
  const idle = await h2session(port)
  let closed = false
  idle.on('close', () => (closed = true))
  assert.equal((await h2request(idle, { ':path': '/' })).status, 200)
  assert.ok(await waitFor(() => closed, 5_000), 'an idle HTTP/2 connection is closed after keepalive_timeout')
})

test('the dyups interface over HTTP/2: a group posted, read and deleted; requests routed by it over HTTP/2', async (t) => {
  const [h2proxy, h2iface] = (await freePorts(2)) as [number, number]
  const a = await backend(t, 'A')
  const st = await startInterface(t, {
    workers: 2,
    server: `        listen 127.0.0.1:${h2proxy} http2;\n`,
    ifaceServer: `        listen 127.0.0.1:${h2iface} http2;\n`,
  })
  assert.ok(await waitFor(() => canConnect(h2proxy)))
  assert.ok(await waitFor(() => canConnect(h2iface)))
  const s = await h2session(h2iface)
  t.after(() => s.close())
  const post = await h2request(s, { ':method': 'POST', ':path': '/upstream/grp', ':authority': 'iface' }, `server 127.0.0.1:${a.port};`)
  assert.equal(post.status, 200)
  assert.equal(post.body.toString(), 'success')
  const detail = await h2request(s, { ':path': '/detail', ':authority': 'iface' })
  assert.equal(detail.body.toString(), (await iget(st.iface, '/detail')).body)
  assert.match(detail.body.toString(), new RegExp(`grp\\nserver 127.0.0.1:${a.port}`))
  // Every worker routes by it (the answer came after all of them had it).
  const p = await h2session(h2proxy)
  t.after(() => p.close())
  for (let i = 0; i < 10; i++) assert.equal((await h2request(p, { ':path': '/x', ':authority': 'grp' })).body.toString(), 'A')
  const del = await h2request(s, { ':method': 'DELETE', ':path': '/upstream/grp', ':authority': 'iface' })
  assert.equal(del.body.toString(), 'success')
  assert.equal((await h2request(p, { ':path': '/x', ':authority': 'grp' })).status, 502)
})

test('graceful stop (SIGQUIT): HTTP/2 clients get GOAWAY, the streams in flight finish', async (t) => {
  let release = (): void => {}
  const gate = new Promise<void>((r) => (release = r))
  let arrived = 0
  const back = createServer((_req, res) => {
    arrived++
    void gate.then(() => res.end('late\n'))
  })
  await new Promise<void>((r) => back.listen(0, '127.0.0.1', () => r()))
  t.after(() => {
    release()
    back.closeAllConnections()
    back.close()
  })
  const [port] = (await freePorts(1)) as [number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', `events {}
worker_shutdown_timeout 20s;
http {
    access_log off;
    server {
        listen 127.0.0.1:${port} http2;
        location / { proxy_pass http://127.0.0.1:${(back.address() as { port: number }).port}; }
    }
}
`)
  const d = await startDyups(t, prefix, [port], ['-g', 'daemon off;'])
  const s = await h2session(port)
  let goaway = false
  s.on('goaway', () => (goaway = true))
  const pending = h2request(s, { ':path': '/slow' })
  assert.ok(await waitFor(() => arrived === 1))
  const stopped = d.stop('SIGQUIT', 20_000)
  assert.ok(await waitFor(() => goaway), 'GOAWAY on stop')
  release()
  const r = await pending
  assert.equal(r.status, 200)
  assert.equal(r.body.toString(), 'late\n')
  assert.equal(await stopped, 0)
})

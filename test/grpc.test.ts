/**
 * grpc_pass with a real gRPC server and client (@grpc/grpc-js) on both sides of dyups: unary, server-streaming,
 * client-streaming and bidirectional calls, status codes and trailers, deadlines, a group replaced through the
 * interface while a stream is in flight (it finishes on the old server, new calls go to the new one), and the next
 * server after a refused connect; grpcs:// with the backend's certificate checked.
 */
import assert from 'node:assert/strict'
import test, { type TestContext } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { readFileSync } from 'node:fs'
import { createServer as createH2Server } from 'node:http2'
import { join } from 'node:path'
import { copyTestCertificates, testCertificates } from '../src/proxy/testing.js'
import { canConnect, freePorts, readText, startDyups, tempPrefix, waitFor, writeConf, request } from './helpers.js'
import { h2request, h2session } from './h2-client.js'

const id = (b: Buffer): Buffer => b
const METHODS = {
  Unary: { path: '/test.Echo/Unary', requestStream: false, responseStream: false },
  Server: { path: '/test.Echo/Server', requestStream: false, responseStream: true },
  Client: { path: '/test.Echo/Client', requestStream: true, responseStream: false },
  Bidi: { path: '/test.Echo/Bidi', requestStream: true, responseStream: true },
  Fail: { path: '/test.Echo/Fail', requestStream: false, responseStream: false },
  Slow: { path: '/test.Echo/Slow', requestStream: false, responseStream: false },
}
const SERVICE: grpc.ServiceDefinition = Object.fromEntries(Object.entries(METHODS).map(([k, m]) => [k, {
  ...m, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id, originalName: k,
}])) as unknown as grpc.ServiceDefinition
const Client = grpc.makeGenericClientConstructor(SERVICE as never, 'Echo')

/** A gRPC server answering with its name; `Server` streams sit until `release()` after their first message. */
async function grpcServer(t: TestContext, name: string, creds = grpc.ServerCredentials.createInsecure()): Promise<{ port: number; release: () => void }> {
  const server = new grpc.Server()
  let release = (): void => {}
  const gate = new Promise<void>((r) => (release = r))
  server.addService(SERVICE, {
    Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(`${name}:${call.request.toString()}`)),
    Server: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      call.write(Buffer.from(`${name}:1`))
      void gate.then(() => {
        call.write(Buffer.from(`${name}:2`))
        const md = new grpc.Metadata()
        md.set('x-trailer', name)
        call.end(md)
      })
      if (call.request.toString() !== 'wait') release()
    },
    Client: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const parts: string[] = []
      call.on('data', (b: Buffer) => parts.push(b.toString()))
      call.on('end', () => cb(null, Buffer.from(`${name}:${parts.join('')}`)))
    },
    Bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (b: Buffer) => call.write(Buffer.from(`${name}:${b.toString()}`)))
      call.on('end', () => call.end())
    },
    Fail: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb({ code: grpc.status.NOT_FOUND, details: 'nope' }),
    Slow: () => {},
  })
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? rej(e) : res(p))))
  t.after(() => {
    release()
    server.forceShutdown()
  })
  return { port, release }
}

type AnyClient = grpc.Client & Record<string, (...a: unknown[]) => unknown>

function unary(c: AnyClient, method: string, body: string, deadlineMs = 10_000): Promise<{ err: grpc.ServiceError | null; value: string }> {
  return new Promise((res) => {
    c[method]!(Buffer.from(body), new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, v?: Buffer) => res({ err, value: v?.toString() ?? '' }))
  })
}

test('grpc_pass: every kind of call, status codes, trailers, deadlines, a group replaced mid-stream, failover', async (t) => {
  const a = await grpcServer(t, 'A')
  const b = await grpcServer(t, 'B')
  const [h2, iface, h2f, dead] = (await freePorts(4)) as [number, number, number, number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', `worker_processes 2;
error_log logs/error.log info;
events {}
http {
    log_format t '$request|$status|$upstream_addr|$upstream_status|$http2';
    access_log logs/t.log t;
    upstream g { server 127.0.0.1:${a.port}; }
    upstream f { server 127.0.0.1:${dead}; server 127.0.0.1:${a.port}; }
    server {
        listen 127.0.0.1:${h2} http2;
        location / { grpc_pass grpc://g; grpc_read_timeout 5s; grpc_set_header x-from dyups; }
    }
    server {
        listen 127.0.0.1:${h2f} http2;
        location / { grpc_pass f; }
    }
    server {
        listen 127.0.0.1:${iface};
        location / { dyups_interface; }
    }
}
`)
  await startDyups(t, prefix, [h2, iface, h2f], ['-g', 'daemon off;'])
  const c = new Client(`127.0.0.1:${h2}`, grpc.credentials.createInsecure()) as unknown as AnyClient
  t.after(() => c.close())

  assert.deepEqual(await unary(c, 'Unary', 'hello'), { err: null, value: 'A:hello' })

  // Client streaming, bidi.
  const cs = await new Promise<string>((res, rej) => {
    const call = c.Client!(new grpc.Metadata(), (err: Error | null, v?: Buffer) => (err ? rej(err) : res(v!.toString()))) as grpc.ClientWritableStream<Buffer>
    for (const p of ['a', 'b', 'c']) call.write(Buffer.from(p))
    call.end()
  })
  assert.equal(cs, 'A:abc')
  const bidi = await new Promise<string[]>((res, rej) => {
    const call = c.Bidi!() as grpc.ClientDuplexStream<Buffer, Buffer>
    const got: string[] = []
    call.on('data', (v: Buffer) => got.push(v.toString()))
    call.on('error', rej)
    call.on('end', () => res(got))
    for (const p of ['x', 'y', 'z']) call.write(Buffer.from(p))
    call.end()
  })
  assert.deepEqual(bidi, ['A:x', 'A:y', 'A:z'])

  // Status codes and messages come through (a trailers-only answer).
  const fail = await unary(c, 'Fail', '')
  assert.equal(fail.err?.code, grpc.status.NOT_FOUND)
  assert.equal(fail.err?.details, 'nope')
  // Deadlines: the client gives up, dyups cancels the backend's stream.
  const slow = await unary(c, 'Slow', '', 300)
  assert.equal(slow.err?.code, grpc.status.DEADLINE_EXCEEDED)

  // A server stream in flight on A while the group is replaced by B: it finishes on A, with A's trailers.
  const stream = c.Server!(Buffer.from('wait')) as grpc.ClientReadableStream<Buffer>
  const got: string[] = []
  let trailer = ''
  stream.on('data', (v: Buffer) => got.push(v.toString()))
  stream.on('status', (st: grpc.StatusObject) => (trailer = String(st.metadata.get('x-trailer')[0] ?? '')))
  const ended = new Promise<void>((r) => stream.on('end', () => r()))
  assert.ok(await waitFor(() => got.length === 1))
  const post = await request(iface, { method: 'POST', path: '/upstream/g', body: `server 127.0.0.1:${b.port};` })
  assert.equal(post.body, 'success')
  // New calls go to B (every worker has the change once the interface answered).
  for (let i = 0; i < 6; i++) assert.deepEqual(await unary(c, 'Unary', 'n'), { err: null, value: 'B:n' })
  a.release()
  await ended
  assert.deepEqual(got, ['A:1', 'A:2'])
  assert.equal(trailer, 'A')

  // The first server refuses connections: the call goes to the next one.
  const cf = new Client(`127.0.0.1:${h2f}`, grpc.credentials.createInsecure()) as unknown as AnyClient
  t.after(() => cf.close())
  for (let i = 0; i < 3; i++) assert.deepEqual(await unary(cf, 'Unary', 'f'), { err: null, value: 'A:f' })
  assert.ok(!(await canConnect(dead)))
})

test('grpc_pass grpcs://: TLS to the backend, its certificate checked (grpc_ssl_verify, grpc_ssl_name)', async (t) => {
  const certs = testCertificates()
  const creds = grpc.ServerCredentials.createSsl(null, [{
    private_key: readFileSync(join(certs, 'backend.key')),
    cert_chain: readFileSync(join(certs, 'backend.pem')),
  }], false)
  const s = await grpcServer(t, 'S', creds)
  const [good, bad] = (await freePorts(2)) as [number, number]
  const prefix = tempPrefix(t)
  copyTestCertificates(join(prefix, 'conf'))
  writeConf(prefix, 'conf/nginx.conf', `error_log logs/error.log info;
events {}
http {
    access_log off;
    upstream gs { server 127.0.0.1:${s.port}; }
    grpc_ssl_verify on;
    grpc_ssl_trusted_certificate ca.pem;
    server {
        listen 127.0.0.1:${good} http2;
        location / { grpc_pass grpcs://gs; grpc_ssl_name backend.test; }
    }
    server {
        listen 127.0.0.1:${bad} http2;
        location / { grpc_pass grpcs://gs; grpc_ssl_name other.test; }
    }
}
`)
  await startDyups(t, prefix, [good, bad], ['-g', 'daemon off;'])
  const c = new Client(`127.0.0.1:${good}`, grpc.credentials.createInsecure()) as unknown as AnyClient
  t.after(() => c.close())
  assert.deepEqual(await unary(c, 'Unary', 'tls'), { err: null, value: 'S:tls' })
  const cb = new Client(`127.0.0.1:${bad}`, grpc.credentials.createInsecure()) as unknown as AnyClient
  t.after(() => cb.close())
  const r = await unary(cb, 'Unary', 'tls')
  assert.equal(r.err?.code, grpc.status.UNAVAILABLE)
  assert.ok(await waitFor(() => readText(join(prefix, 'logs/error.log')).includes('upstream SSL certificate does not match "other.test" while SSL handshaking to upstream')))
})

test('grpc_intercept_errors: an HTTP error status from the backend goes to error_page; off, it passes as it is', async (t) => {
  const back = createH2Server((_req, res) => {
    res.writeHead(503, { 'content-type': 'text/plain' })
    res.end('backend busy\n')
  })
  await new Promise<void>((r) => back.listen(0, '127.0.0.1', () => r()))
  t.after(() => back.close())
  const [on, off] = (await freePorts(2)) as [number, number]
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', `events {}
http {
    access_log off;
    upstream b { server 127.0.0.1:${(back.address() as { port: number }).port}; }
    server {
        listen 127.0.0.1:${on} http2;
        error_page 503 /busy;
        location = /busy { return 503 "page from dyups\n"; }
        location / { grpc_pass grpc://b; grpc_intercept_errors on; }
    }
    server {
        listen 127.0.0.1:${off} http2;
        error_page 503 /busy;
        location = /busy { return 503 "page from dyups\n"; }
        location / { grpc_pass grpc://b; }
    }
}
`)
  await startDyups(t, prefix, [on, off], ['-g', 'daemon off;'])
  for (const [port, body] of [[on, 'page from dyups\n'], [off, 'backend busy\n']] as const) {
    const s = await h2session(port)
    const r = await h2request(s, { ':method': 'POST', ':path': '/x.Y/Z', 'content-type': 'application/grpc' }, Buffer.alloc(5))
    s.close()
    assert.equal(r.status, 503)
    assert.equal(r.body.toString(), body)
  }
})

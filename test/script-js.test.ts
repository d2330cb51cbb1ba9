/**
 * njs-style JavaScript handlers end to end (docs/scripting.md): `js_import` + `js_content`, the request object, and
 * the dyups module answering exactly as the REST interface; errors and runaway loops are 500s that leave the worker
 * alive; a module that does not compile fails the configuration test.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import {
  ans, answer, childPids, idelete, iget, ipost, request, runBin, startInterface, tempPrefix, waitFor, writeConf, interfaceConf,
  freePorts, type Response,
} from './helpers.js'

const MODULE = `import dyups from 'dyups'

async function op(r) {
  const name = r.args.name === undefined ? '' : r.args.name
  const a = r.args.op === 'update' ? await dyups.update(name, r.requestText === undefined ? '' : r.requestText)
    : r.args.op === 'delete' ? await dyups.delete(name) : await dyups.get(name)
  r.return(200, a.status + '|' + a.body)
}

function thenStyle(r) {
  ngx.dyups.update('cb', 'server 127.0.0.1:85;').then((a) => r.return(200, a.status + a.body))
}

function boom(r) {
  throw new Error('boom') // the error line
}

async function asyncBoom(r) {
  await dyups.get('x')
  r.missing.field = 1
}

function loop(r) { r.warn('loop starts'); for (;;) {} }

async function loopAfterAwait(r) {
  await dyups.get('x')
  for (;;) {}
}

function len(r) {
  const b = r.requestText
  r.return(200, b === undefined ? 'none' : b.length + ' ' + b.slice(-3))
}

function api(r) {
  r.headersOut['X-A'] = '1'
  r.headersOut['Content-Type'] = 'application/x-test'
  r.status = 202
  r.send([r.method, r.uri, r.headersIn['x-custom'], r.headersIn['X-CUSTOM'], r.args.k, JSON.stringify(r.args.m),
    r.variables.arg_k, String(r.variables.nope), r.httpVersion].join(' '))
  r.send('\\n')
  r.warn('note from js')
  r.finish()
}

function silent(r) {}
function notFound(r) { r.return(404) }
function redirect(r) { r.return(302, '/elsewhere') }
function globals(r) { r.return(200, [typeof require, typeof process, typeof setTimeout, typeof ngx.log, njs.version].join(' ')) }
function arity(r) { return dyups.update('only-one') }

export default { op, thenStyle, boom, asyncBoom, loop, loopAfterAwait, len, api, silent, notFound, redirect, globals, arity }
`

const FUNCTIONS = ['op', 'thenStyle', 'boom', 'asyncBoom', 'loop', 'loopAfterAwait', 'len', 'api', 'silent', 'notFound', 'redirect', 'globals', 'arity']
const LOCATIONS = FUNCTIONS.map((f) => `        location = /${f} { js_content main.${f}; }\n`).join('') + '        location = /scoped { js_import lib from other/lib.js; js_content lib.hi; }\n'

const pct = (s: string): string => [...Buffer.from(s, 'latin1')].map((b) => '%' + b.toString(16).padStart(2, '0')).join('')

const parse = (r: Response): [number, string] => {
  const bar = r.body.indexOf('|')
  return [Number(r.body.slice(0, bar)), r.body.slice(bar + 1)]
}

function start(t: import('node:test').TestContext, workers: number) {
  return startInterface(t, {
    workers,
    http: '    js_import main.js;\n',
    server: LOCATIONS,
    files: { 'conf/main.js': MODULE, 'conf/other/lib.js': 'function hi(r) { r.return(200, "hi") }\nexport default { hi }\n' },
  })
}

test('dyups calls from JavaScript answer as the REST interface', async (t) => {
  const s = await start(t, 2)
  const js = async (op: string, name: string, body?: string): Promise<[number, string]> =>
    parse(await request(s.proxy, { method: op === 'update' ? 'POST' : 'GET', path: `/op?op=${op}&name=${pct(name)}`, body }))
  const rest = async (op: string, name: string, body?: string): Promise<[number, string]> => {
    const path = `/upstream/${pct(name)}`
    const r = op === 'update' ? await ipost(s.iface, path, body ?? '') : op === 'delete' ? await idelete(s.iface, path) : await iget(s.iface, path)
    return [r.status, r.body]
  }
  const cases: [string, string, string | undefined, [number, string]][] = [
    ['update', 'j1', 'server 127.0.0.1:81;', [200, 'success']],
    ['get', 'j1', undefined, [200, 'server 127.0.0.1:81\n']],
    ['update', 'j1', 'garbage 1;', [500, 'add server failed']],
    ['update', 'j1', '', [500, 'add server failed']],
    ['update', 'j1', 'server 127.0.0.1:82; server 127.0.0.1:83 down;', [200, 'success']],
    ['get', 'J1', undefined, [200, 'server 127.0.0.1:82\nserver 127.0.0.1:83\n']],
    ['delete', 'j1', undefined, [200, 'success']],
    ['delete', 'j1', undefined, [404, 'not found uptream']],
    ['get', 'j1', undefined, [404, '']],
    ['update', 'bytes \xff\xfe', 'server 127.0.0.1:84;', [200, 'success']],
    ['get', 'bytes \xff\xfe', undefined, [200, 'server 127.0.0.1:84\n']],
    ['delete', 'bytes \xff\xfe', undefined, [200, 'success']],
  ]
  for (const [op, name, body, want] of cases) assert.deepEqual(await js(op, name, body), want, `js ${op} ${JSON.stringify(name)}`)
  for (const [op, name, body, want] of cases) assert.deepEqual(await rest(op, name, body), want, `rest ${op} ${JSON.stringify(name)}`)
  assert.deepEqual(answer(await iget(s.iface, '/list')), ans(204))

  // Answering from a callback, without returning the promise; a module imported in a location.
  assert.deepEqual([(await request(s.proxy, { path: '/thenStyle' })).body], ['200success'])
  assert.deepEqual(answer(await iget(s.iface, '/upstream/cb')), ans(200, 'server 127.0.0.1:85\n'))
  assert.deepEqual([(await request(s.proxy, { path: '/scoped' })).body], ['hi'])
})

test('errors and runaway loops are 500s; the worker lives and others are served meanwhile', async (t) => {
  const s = await start(t, 2)
  const workers = childPids(s.d.pid)
  assert.equal(workers.length, 2)
  const file = s.d.prefix + '/conf/main.js'
  const line = readFileSync(file, 'latin1').split('\n').findIndex((l) => l.includes('the error line')) + 1

  const boom = await request(s.proxy, { path: '/boom' })
  assert.equal(boom.status, 500)
  assert.match(boom.body, /<title>500 Internal Server Error<\/title>/)
  assert.ok(s.d.errorLog().includes(`js exception: Error: boom at boom (${file}:${line}:`), s.d.errorLog())
  assert.equal((await request(s.proxy, { path: '/asyncBoom' })).status, 500)
  assert.match(s.d.errorLog(), /js exception: TypeError: Cannot set properties of undefined/)
  assert.equal((await request(s.proxy, { path: '/arity' })).status, 500)
  assert.match(s.d.errorLog(), /js exception: TypeError: exactly 2 arguments expected/)
  assert.equal((await request(s.proxy, { path: '/silent' })).status, 500)
  assert.match(s.d.errorLog(), /js handler "main.silent" ended without a response/)

  // A loop holds its engine thread until the budget cuts it; fresh connections are answered meanwhile.
  const order: string[] = []
  const loop = request(s.proxy, { path: '/loop' }).then((r) => (order.push('loop'), r))
  assert.ok(await waitFor(() => s.d.errorLog().includes('loop starts')), 'the loop started')
  const others = await Promise.all(Array.from({ length: 4 }, () => request(s.proxy, { path: '/pid' }).then((r) => (order.push('pid'), r))))
  const l = await loop
  assert.equal(l.status, 500)
  for (const r of others) assert.equal(r.status, 200)
  assert.deepEqual(order, ['pid', 'pid', 'pid', 'pid', 'loop'])
  assert.equal((await request(s.proxy, { path: '/loopAfterAwait' })).status, 500)
  assert.equal((s.d.errorLog().match(/the handler ran past its time budget \(1000 ms\)/g) ?? []).length, 2)

  // Bodies up to client_max_body_size reach the handler whole; past it 413.
  const big = 'x'.repeat(1000 * 1000 - 3) + 'end'
  assert.deepEqual([(await request(s.proxy, { method: 'POST', path: '/len', body: big })).body], ['1000000 end'])
  assert.deepEqual([(await request(s.proxy, { method: 'POST', path: '/len' })).body], ['none'])
  assert.equal((await request(s.proxy, { method: 'POST', path: '/len', body: 'y'.repeat(1024 * 1024 + 1) })).status, 413)

  // The module still works in the worker that ran the loop.
  for (let i = 0; i < 6; i++) assert.deepEqual([(await request(s.proxy, { path: '/scoped' })).body], ['hi'])
  assert.deepEqual(childPids(s.d.pid), workers, 'the workers survived')
})

test('the request object: method, uri, args, headers, variables, status, redirects', async (t) => {
  const s = await start(t, 1)
  const r = await request(s.proxy, { path: '/api?k=v%20w&m=1&m=2', headers: { 'X-Custom': 'c1' } })
  assert.equal(r.status, 202)
  assert.equal(r.headers['content-type'], 'application/x-test')
  assert.equal(r.headers['x-a'], '1')
  assert.equal(r.body, 'GET /api c1 c1 v w ["1","2"] v%20w undefined 1.1\n')
  assert.match(s.d.errorLog(), /\[warn\] \d+#0: js: note from js, client: 127\.0\.0\.1/)
  assert.equal((await request(s.proxy, { path: '/globals' })).body, 'undefined undefined undefined function 0.8.4')
  const nf = await request(s.proxy, { path: '/notFound' })
  assert.equal(nf.status, 404)
  assert.match(nf.body, /<title>404 Not Found<\/title>/)
  const red = await request(s.proxy, { path: '/redirect' })
  assert.equal(red.status, 302)
  assert.equal(red.headers.location, `http://localhost:${s.proxy}/elsewhere`)
})

test('a module that does not compile or imports another module fails the configuration test', async (t) => {
  const [proxy, iface] = await freePorts(2)
  const cases: [string, RegExp][] = [
    ['function f(r) {\n  r.return(200,\n}\nexport default { f }\n', /SyntaxError: .* in .*conf\/main\.js:3/],
    ["import fs from 'fs'\nexport default {}\n", /module "fs" is not supported \(only "dyups" can be imported\) in .*conf\/main\.js:1/],
  ]
  for (const [source, want] of cases) {
    const prefix = tempPrefix(t)
    writeConf(prefix, 'conf/main.js', source)
    writeConf(prefix, 'conf/nginx.conf', interfaceConf({ proxy: proxy!, iface: iface!, http: '    js_import main.js;\n', server: '        location = /f { js_content main.f; }\n' }))
    const run = await runBin(['-p', prefix, '-c', 'conf/nginx.conf', '-t'])
    assert.notEqual(run.code, 0)
    assert.match(run.stderr, want)
  }
  const prefix = tempPrefix(t)
  writeConf(prefix, 'conf/nginx.conf', interfaceConf({ proxy: proxy!, iface: iface!, server: '        location = /f { js_content main.f; }\n' }))
  const run = await runBin(['-p', prefix, '-c', 'conf/nginx.conf', '-t'])
  assert.match(run.stderr, /no imported module "main" for js_content "main\.f" in .*nginx\.conf:\d+/)
})

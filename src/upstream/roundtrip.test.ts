/**
 * Property: for any valid group, the `upstream` block renderUpstreamBlock writes parses and builds back into an
 * equal group. Groups are generated from a fixed seed, so a failure names a reproducible case.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseText } from '../config/index.js'
import { buildGroup, type Resolver } from './build.js'
import { renderUpstreamBlock } from './render.js'
import type { UpstreamGroup } from './types.js'
import { prng } from '../http1/testing.js'

const noDns: Resolver = async () => {
  throw new Error('no DNS in this test')
}

function generate(rnd: () => number): string[][] {
  const int = (n: number) => Math.floor(rnd() * n)
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!
  const bytes = (max: number, alphabet: string) => Array.from({ length: 1 + int(max) }, () => pick([...alphabet])).join('')
  const ANY = 'abcXYZ019 -_.:/"\'{};#$\\\t\r\n\x01\x7f\x80\xc3\xa9\xff'

  const lines: string[][] = []
  const method = pick(['rr', 'ip_hash', 'least_conn', 'hash', 'chash', 'random', 'random2', 'random2lc'])
  const backupOk = method === 'rr' || method === 'least_conn'
  switch (method) {
    case 'ip_hash':
    case 'least_conn':
      lines.push([method])
      break
    case 'hash':
      lines.push(['hash', pick(['$remote_addr', '$request_uri', '$host$uri', bytes(12, ANY)])])
      break
    case 'chash':
      lines.push(['hash', bytes(12, ANY), 'consistent'])
      break
    case 'random':
      lines.push(['random'])
      break
    case 'random2':
      lines.push(['random', 'two'])
      break
    case 'random2lc':
      lines.push(['random', 'two', 'least_conn'])
      break
  }

  const n = 1 + int(12)
  for (let i = 0; i < n; i++) {
    const addr = pick([
      () => `${int(256)}.${int(256)}.${int(256)}.${int(256)}:${1 + int(65535)}`,
      () => `10.0.${int(3)}.${int(3)}`,
      () => `0${int(10)}.1.2.3:0${1 + int(999)}`,
      () => `[${pick(['::1', '2001:DB8::1', 'fe80::a:b', '::ffff:1.2.3.4', '1:2:3:4:5:6:7:8'])}]:${1 + int(65535)}`,
      () => `[::${int(99)}]`,
      () => `unix:/tmp/${bytes(20, 'abc-_.019')}.sock`,
    ])()
    const line = ['server', addr]
    if (rnd() < 0.3) line.push(`weight=${1 + int(100)}`)
    if (rnd() < 0.3) line.push(`max_fails=${int(10)}`)
    if (rnd() < 0.3) line.push(`fail_timeout=${pick(['0', '5', '30s', '2m', '1h', '1d', '1h30m'])}`)
    if (rnd() < 0.3) line.push(`max_conns=${int(1000)}`)
    if (rnd() < 0.1) line.push(`slow_start=${pick(['10s', '1m'])}`)
    if (rnd() < 0.2) line.push('down')
    // keep the first server a primary, so the group always has one
    if (i > 0 && backupOk && rnd() < 0.3) line.push('backup')
    lines.push(line)
  }

  if (rnd() < 0.5) lines.push(['keepalive', String(1 + int(64))])
  if (rnd() < 0.3) lines.push(['keepalive_timeout', pick(['60s', '75s', '500ms', '1m', '1500ms'])])
  if (rnd() < 0.3) lines.push(['keepalive_requests', String(int(5000))])
  if (rnd() < 0.2) lines.push(['keepalive_time', pick(['1h', '10m', '90s'])])

  if (rnd() < 0.4) {
    const type = pick(['tcp', 'http', 'fastcgi', 'ssl_hello', 'mysql', 'ajp'])
    const check = ['check', `type=${type}`]
    if (rnd() < 0.5) check.push(`interval=${1 + int(10000)}`)
    if (rnd() < 0.5) check.push(`timeout=${1 + int(5000)}`)
    if (rnd() < 0.5) check.push(`rise=${1 + int(5)}`)
    if (rnd() < 0.5) check.push(`fall=${1 + int(5)}`)
    if (rnd() < 0.5) check.push(`default_down=${pick(['true', 'false', 'TRUE', 'False'])}`)
    if (rnd() < 0.2) check.push(`port=${1 + int(65535)}`)
    if (rnd() < 0.2) check.push('unique=true')
    lines.push(check)
    if (type === 'http' && rnd() < 0.5) lines.push(['check_http_send', bytes(40, ANY)])
    if (rnd() < 0.4) {
      const classes = Array.from({ length: 1 + int(4) }, () => pick(['http_1xx', 'http_2xx', 'http_3xx', 'http_4xx', 'http_5xx']))
      lines.push(['check_http_expect_alive', ...classes])
    }
    if (rnd() < 0.3) lines.push(['check_keepalive_requests', String(1 + int(100))])
    if (rnd() < 0.3) lines.push(['check_fastcgi_param', bytes(10, ANY), bytes(10, ANY)])
  }
  return lines
}

async function roundTrip(g: UpstreamGroup): Promise<UpstreamGroup> {
  const text = renderUpstreamBlock(g)
  const tree = parseText(text, 'upstream.conf')
  assert.equal(tree.length, 1)
  const u = tree[0]!
  assert.equal(u.name, 'upstream')
  assert.deepEqual(u.args, [g.name])
  return buildGroup(u.args[0]!, u.block!, { source: 'config', resolve: noDns })
}

test('render → parse → build gives back an equal group (1000 random groups)', async () => {
  const rnd = prng(20260101)
  const NAMES = ['host1', 'UpperCase', 'my host', 'a"b', "it's", 'x{y}', 'semi;colon', '#hash', 'back\\slash', 'tab\tnew\nline', '\xff\xc3\xa9', '$var', '']
  for (let i = 0; i < 1000; i++) {
    const lines = generate(rnd)
    const name = i < NAMES.length ? NAMES[i]! : Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => String.fromCharCode(1 + Math.floor(rnd() * 255))).join('')
    const directives = lines.map(([n, ...args], k) => ({ name: n!, args, block: null, file: 'gen', line: k + 1 }))
    const g = await buildGroup(name, directives, { source: 'config', resolve: noDns })
    const back = await roundTrip(g)
    assert.deepEqual(back, g, `case ${i}:\n${renderUpstreamBlock(g)}`)
  }
})

test('peers resolved from a name come back as addresses, one server line each', async () => {
  const dns: Resolver = async () => ['10.0.0.1', '10.0.0.2']
  const line = { name: 'server', args: ['app.example:8080', 'weight=2'], block: null, file: 'x', line: 1 }
  const g = await buildGroup('g', [line], { source: 'commands', resolve: dns })
  assert.equal(renderUpstreamBlock(g), 'upstream g {\n    server 10.0.0.1:8080 weight=2;\n    server 10.0.0.2:8080 weight=2;\n}\n')
  const back = await roundTrip(g)
  assert.deepEqual(
    back.servers.map((s) => [s.addr, s.name, s.entry, s.weight]),
    [
      ['10.0.0.1:8080', '10.0.0.1:8080', 0, 2],
      ['10.0.0.2:8080', '10.0.0.2:8080', 1, 2],
    ],
  )
})

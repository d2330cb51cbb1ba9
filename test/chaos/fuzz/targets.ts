/**
 * The fuzz targets: the configuration parser (src/config: parseText, then checkTree), the REST command-body parser
 * (src/upstream: parseCommands, the body of POST /upstream/NAME), and the HTTP/1.1 codec (src/http1: the request
 * head parser and the chunked decoder). Each takes one generated input and returns how it was taken, or throws a
 * {@link Violation}: an error other than the documented typed one, or a broken invariant —
 * - config: the tree, written back with nginx's quoting, parses to the same tree;
 * - commands: the group, rendered as an `upstream` block, parses and builds back to an equal group;
 * - head and chunked: the result does not depend on how the bytes were split (their documented guarantee), a parsed
 *   head written back parses to the same head, and decoded data encoded again decodes to the same data.
 */
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import { checkTree, parseText, type Directive } from '../../../src/config/index.js'
import { isDyupsError } from '../../../src/errors.js'
import {
  ChunkedDecoder, encodeChunk, formatRequestHead, HttpParseError, LAST_CHUNK, NEED_MORE, PARSE_ERROR, RequestHeadParser,
  type HeadLimits, type RequestHead,
} from '../../../src/http1/index.js'
import { buildGroup, parseCommands, quoteArg, renderUpstreamBlock, type Resolver } from '../../../src/upstream/index.js'
import { int, pick, type Rnd } from '../prng.js'
import { mutate } from './mutate.js'

/** A broken invariant or an undocumented error: the input is a failure. */
export class Violation extends Error {
  override name = 'Violation'
}

/** accepted: parsed (and the invariants held); rejected: the documented typed error; incomplete: more bytes wanted. */
export type Outcome = 'accepted' | 'rejected' | 'incomplete'

export interface Target {
  readonly name: string
  /** What a rejection may throw, as the docs say. */
  readonly typed: string
  generate(rnd: Rnd): string
  run(input: string, rnd: Rnd): Outcome | Promise<Outcome>
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..')
const file = (p: string): string => readFileSync(join(ROOT, p), 'latin1')

const untyped = (e: unknown, typed: string): Violation =>
  new Violation(`threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} (only ${typed} is documented)`)

// ---------------------------------------------------------------------------------------------------------------
// nginx.conf

const CONFIG_SEEDS = (): string[] => [
  file('example/conf/nginx.conf'),
  file('example/conf/upstream.conf'),
  file('test/debian-nginx/nginx.conf'),
  file('test/debian-nginx/sites-available/default'),
  file('test/debian-nginx/snippets/fastcgi-php.conf'),
  file('test/debian-nginx/proxy_params'),
  `daemon off;\nworker_processes 2;\nevents { worker_connections 1024; }\nhttp {\n    upstream a { server 127.0.0.1:1 weight=2; keepalive 8; }\n` +
  `    map $http_upgrade $c { default upgrade; '' close; }\n    server {\n        listen 127.0.0.1:8000 reuseport;\n` +
  `        server_name "a b" 'c' \\"d;\n        location ~* \\.(gif|jpg)$ { return 200 "x\\ty\\n"; }\n        location = /x { proxy_pass http://$host; }\n` +
  `        location /l { content_by_lua_block { ngx.say("}") -- } \n } }\n        if ($x) { return 404; }\n        set $a "\${b}c";\n    }\n}\n`,
  `# comment\nuser nobody;\nhttp { include mime.types; js_import main.js; server { listen 80; location / { js_content main.f; } } }\nevents {}\n`,
]

const CONFIG_DICT = [
  ';', '{', '}', '"', "'", '\\', '\\"', '#', '$', '${', '}', ' ', '\t', '\n', '\r\n', '\0', '\x80', '\xff', 'http {',
  'server {', 'location / {', 'upstream u {', 'events {}', 'include', '_by_lua_block {', 'if (', ')', '~*', '=', 'on',
  'off', '1m', '10s', '-1', 'server 127.0.0.1:80;', '"${x}"', "'\\''", '--[[', ']]', '[=[', ']=]',
]

/** A tree written back as nginx.conf text: every name and argument through quoteArg, blocks indented. */
function formatTree(tree: readonly Directive[], indent = ''): string {
  let out = ''
  for (const d of tree) {
    if (d.luaBlock === true) {
      // The Lua text is the raw text between the braces: written back as it was.
      out += `${indent}${[d.name, ...d.args.slice(0, -1)].map(quoteArg).join(' ')} {${d.args[d.args.length - 1]}}\n`
    } else if (d.block === null) out += `${indent}${[d.name, ...d.args].map(quoteArg).join(' ')};\n`
    else out += `${indent}${[d.name, ...d.args].map(quoteArg).join(' ')} {\n${formatTree(d.block, indent + '  ')}${indent}}\n`
  }
  return out
}

interface Shape { n: string; a: readonly string[]; b: Shape[] | null; l: boolean }
const shape = (tree: readonly Directive[]): Shape[] =>
  tree.map((d) => ({ n: d.name, a: d.args, b: d.block === null ? null : shape(d.block), l: d.luaBlock === true }))

export const configTarget = (): Target => {
  const seeds = CONFIG_SEEDS()
  return {
    name: 'config',
    typed: 'DyupsError E_CONFIG',
    generate: (rnd) => mutate(rnd, seeds, CONFIG_DICT),
    run(input, rnd) {
      const param = rnd() < 0.05
      let tree: Directive[]
      try {
        tree = parseText(input, 'fuzz.conf', { param })
      } catch (e) {
        if (isDyupsError(e) && e.code === 'E_CONFIG') return 'rejected'
        throw untyped(e, this.typed)
      }
      if (!param) {
        const text = formatTree(tree)
        let again: Directive[]
        try {
          again = parseText(text, 'fuzz.conf')
        } catch (e) {
          throw new Violation(`the tree written back does not parse (${(e as Error).message}):\n${text.slice(0, 2000)}`)
        }
        if (!isDeepStrictEqual(shape(again), shape(tree))) {
          throw new Violation(`the tree written back parses to another tree:\n${text.slice(0, 2000)}`)
        }
      }
      try {
        checkTree(tree)
      } catch (e) {
        if (isDyupsError(e) && e.code === 'E_CONFIG') return 'rejected'
        throw untyped(e, this.typed)
      }
      return 'accepted'
    },
  }
}

// ---------------------------------------------------------------------------------------------------------------
// POST /upstream/NAME bodies

/** No DNS: `localhost` and `example.test` stand for fixed addresses, every other name is not found. */
const resolver: Resolver = async (host) => {
  if (host === 'localhost') return ['127.0.0.1', '::1']
  if (host === 'example.test') return ['10.0.0.1', '10.0.0.2', '2001:db8::1']
  throw new Error('not found')
}

const COMMAND_SEEDS = [
  'server 127.0.0.1:8088;',
  'server 127.0.0.1:8088 weight=2 max_fails=3 fail_timeout=30s;\nserver 127.0.0.1:8089 backup;\nkeepalive 16;\n',
  'ip_hash;\nserver [::1]:80 max_conns=100;\nserver 10.0.0.1 down;\n',
  'hash $remote_addr$request_uri consistent;\nserver 127.0.0.1:1;\nserver 127.0.0.1:2 weight=5;\n',
  'least_conn;\nserver unix:/tmp/a.sock slow_start=10s;\nserver 127.0.0.1:2 backup;\nkeepalive 4;\nkeepalive_timeout 60s;\nkeepalive_requests 1000;\n',
  'random two least_conn;\nserver localhost:8080;\nserver example.test:81 weight=3;\n',
  'server 127.0.0.1:80;\ncheck interval=3000 rise=2 fall=5 timeout=1000 type=http default_down=false;\n' +
    'check_http_send "GET /health HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n";\ncheck_http_expect_alive http_2xx http_3xx;\ncheck_keepalive_requests 10;\n',
  'server 127.0.0.1:80; check type=fastcgi; check_fastcgi_param "REQUEST_METHOD" "GET";',
  '# a comment\nserver 0127.0.0.1:080   weight=010 ;  # trailing\n\tserver [2001:DB8::1]:65535 max_fails=0 fail_timeout=1h30m;\n',
  'zone z 64k;\nserver 127.0.0.1:80 resolve;\n',
]

const COMMAND_DICT = [
  ';', '{', '}', '"', "'", '\\', '#', '$', ' ', '\t', '\n', '\r\n', '\0', '\xff', 'server ', 'weight=', 'max_fails=',
  'fail_timeout=', 'max_conns=', 'backup', 'down', 'slow_start=', 'keepalive ', 'hash ', 'consistent', 'ip_hash;',
  'least_conn;', 'random', 'two', 'check ', 'type=', 'interval=', 'port=', 'check_http_send ', '127.0.0.1', '[::1]',
  '[::ffff:1.2.3.4]', 'unix:', 'localhost', 'example.test', ':', ':0', ':65536', '=', 'upstream x {', 'zone z 1m;',
]

export const commandsTarget = (): Target => ({
  name: 'commands',
  typed: 'DyupsError E_COMMANDS',
  generate: (rnd) => mutate(rnd, COMMAND_SEEDS, COMMAND_DICT),
  async run(input) {
    let g
    try {
      g = await parseCommands('fuzz', input, resolver)
    } catch (e) {
      if (isDyupsError(e) && e.code === 'E_COMMANDS') return 'rejected'
      throw untyped(e, this.typed)
    }
    // What dyups_upstream_conf writes must read back as the same group.
    const text = renderUpstreamBlock(g)
    let back
    try {
      const tree = parseText(text, 'upstream.conf')
      if (tree.length !== 1 || tree[0]!.name !== 'upstream' || tree[0]!.block === null) throw new Error(`not one upstream block`)
      back = await buildGroup(tree[0]!.args[0]!, tree[0]!.block, { source: 'config', resolve: resolver })
    } catch (e) {
      throw new Violation(`the rendered group does not read back (${(e as Error).message}):\n${text.slice(0, 2000)}`)
    }
    // A server line naming a host is written as one line per address it resolved to (src/upstream/roundtrip.test.ts),
    // so each peer's `name` (as written) and `entry` (its line) may change; everything else must not, and the
    // rendering is a fixed point.
    const peers = (x: typeof g) => ({ ...x, servers: x.servers.map((p) => ({ ...p, name: '', entry: 0 })) })
    if (!isDeepStrictEqual(peers(back), peers(g)) || renderUpstreamBlock(back) !== text) {
      throw new Violation(`the rendered group reads back as another group:\n${text.slice(0, 2000)}`)
    }
    return 'accepted'
  },
})

// ---------------------------------------------------------------------------------------------------------------
// HTTP/1.1 request heads

const HEAD_SEEDS = [
  'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET /p/a%20th?x=1&y=%ff HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\nCookie: a=b; c=d\r\n\r\n',
  'POST /upload HTTP/1.1\r\nHost: up\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello',
  'PUT /c HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'POST /c HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n',
  'GET http://Example.COM.:80/abs?q HTTP/1.1\r\nHost: other\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: [::1]:80\r\n\r\n',
  '\r\n\r\nHEAD /x HTTP/1.0\r\nConnection: keep-alive\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
  'DELETE /upstream/g HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-Match: "3"\r\nContent-Length: 0\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n',
  'CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n',
]

const HEAD_DICT = [
  '\r\n', '\n', '\r', ' ', '\t', ':', ': ', 'Host: ', 'Content-Length: ', 'Transfer-Encoding: ', 'chunked', 'identity',
  ',', 'Connection: ', 'close', 'keep-alive', 'Upgrade', 'Expect: 100-continue', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0',
  'HTTP/1.10', '\0', '\x7f', '\x80', '\xff', '%00', '%', '?', '#', '@', '[::1]', '[', ']', 'http://', 'https://', '*',
  '/..', '/./', '//', 'GET ', 'TRACE ', '\r\n\r\n', 'a'.repeat(8200), 'X: ' + 'v'.repeat(9000) + '\r\n',
]

const SMALL_LIMITS: Partial<HeadLimits> = { maxLine: 64, maxHeaderLine: 48, maxHeadBytes: 256, maxHeaders: 4 }

type HeadResult =
  | { kind: 'head'; end: number; head: ReturnType<typeof headShape> }
  | { kind: 'error'; error: string; status: number }
  | { kind: 'more' }

function headShape(h: RequestHead) {
  return {
    raw: h.raw, method: h.method, target: h.target, path: h.path, query: h.query, versionMinor: h.versionMinor, host: h.host,
    contentLength: h.contentLength, chunked: h.chunked, keepAlive: h.keepAlive, upgrade: h.upgrade, expectContinue: h.expectContinue,
    headBytes: h.headBytes, headers: h.headers,
  }
}

/** Feeds `buf` cut at `cuts` (ascending, the last is buf.length) to a new parser. */
function feedHead(buf: Buffer, cuts: readonly number[], limits: Partial<HeadLimits>): HeadResult {
  const p = new RequestHeadParser(limits)
  let from = 0
  for (const to of cuts) {
    const piece = buf.subarray(from, to)
    const r = p.execute(piece, 0)
    if (r === PARSE_ERROR) {
      if (!(p.error instanceof HttpParseError)) throw new Violation(`PARSE_ERROR without an HttpParseError: ${String(p.error)}`)
      return { kind: 'error', error: p.error.kind, status: p.error.httpStatus }
    }
    if (r !== NEED_MORE) {
      if (p.head === null || r < 0 || r > piece.length) throw new Violation(`a head end at ${r} of a ${piece.length}-byte piece`)
      return { kind: 'head', end: from + r, head: headShape(p.head) }
    }
    from = to
  }
  return { kind: 'more' }
}

/** 1 to 8 random cut points, or every byte for a short input now and then. */
function cutsFor(rnd: Rnd, len: number): number[] {
  if (len <= 300 && rnd() < 0.2) return Array.from({ length: len }, (_, i) => i + 1)
  const cuts = new Set<number>([len])
  const n = 1 + int(rnd, 8)
  for (let i = 0; i < n; i++) cuts.add(int(rnd, len + 1))
  return [...cuts].sort((a, b) => a - b)
}

export const headTarget = (): Target => ({
  name: 'http-head',
  typed: 'PARSE_ERROR with an HttpParseError (execute() never throws)',
  generate: (rnd) => mutate(rnd, HEAD_SEEDS, HEAD_DICT, 0.1),
  run(input, rnd) {
    const buf = Buffer.from(input, 'latin1')
    const limits = rnd() < 0.15 ? SMALL_LIMITS : {}
    let whole: HeadResult, split: HeadResult
    const cuts = cutsFor(rnd, buf.length)
    try {
      whole = feedHead(buf, [buf.length], limits)
      split = feedHead(buf, cuts, limits)
    } catch (e) {
      if (e instanceof Violation) throw e
      throw untyped(e, this.typed)
    }
    if (!isDeepStrictEqual(whole, split)) {
      throw new Violation(`fed whole and cut at ${cuts.slice(0, 20).join(',')}: ${JSON.stringify(whole).slice(0, 500)} vs ${JSON.stringify(split).slice(0, 500)}`)
    }
    if (whole.kind === 'error') return 'rejected'
    if (whole.kind === 'more') return 'incomplete'
    // Written back (as a relay writes a head), it parses to the same request.
    const h = whole.head
    const text = formatRequestHead(h.method, h.target, h.headers, h.versionMinor === 0 ? 0 : 1)
    const again = feedHead(Buffer.from(text, 'latin1'), [text.length], limits === SMALL_LIMITS ? {} : limits)
    const strip = (x: typeof h) => ({ ...x, raw: '', headBytes: 0, versionMinor: x.versionMinor === 0 ? 0 : 1 })
    if (again.kind !== 'head' || !isDeepStrictEqual(strip(again.head), strip(h))) {
      throw new Violation(`the head written back parses differently: ${JSON.stringify(text.slice(0, 500))} -> ${JSON.stringify(again).slice(0, 500)}`)
    }
    return 'accepted'
  },
})

// ---------------------------------------------------------------------------------------------------------------
// Chunked bodies

/** A valid chunked body of random data, with extensions and trailers now and then. */
function chunkedBody(rnd: Rnd): string {
  let out = ''
  const n = int(rnd, 6)
  for (let i = 0; i < n; i++) {
    const size = rnd() < 0.02 ? 1 + int(rnd, 70_000) : 1 + int(rnd, 40)
    // Random bytes, repeated past 64: the decoder never looks at data bytes, only counts them.
    let unit = ''
    for (let k = 0; k < Math.min(size, 64); k++) unit += String.fromCharCode(int(rnd, 256))
    const data = unit.repeat(Math.ceil(size / unit.length)).slice(0, size)
    const hex = size.toString(16)
    const ext = rnd() < 0.2 ? pick(rnd, [';a', ';a=b', ';name="quoted \\" value"', ' ;x=1', ';a;b=c']) : ''
    out += `${rnd() < 0.1 ? hex.toUpperCase().padStart(hex.length + 2, '0') : hex}${ext}\r\n${data}\r\n`
  }
  out += `0${rnd() < 0.1 ? ';last' : ''}\r\n`
  if (rnd() < 0.2) out += 'X-Trailer: v\r\nChecksum: abc\r\n'
  return out + '\r\n'
}

const CHUNKED_SEEDS = ['5\r\nhello\r\n0\r\n\r\n', '0\r\n\r\n', 'a;ext=1\r\n0123456789\r\n3\r\nabc\r\n0\r\nT: v\r\n\r\n', '1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1\r\n']
const CHUNKED_DICT = [
  '\r\n', '\n', '\r', ';', '=', '"', '\\', ' ', '\t', '0\r\n\r\n', 'ffffffffffffffff', '00000000000000000000001', '-1', '0x10',
  'X-T: v\r\n', '\0', ':', 'a'.repeat(5000),
]

type ChunkResult = { kind: 'end'; end: number; data: string } | { kind: 'error'; error: string } | { kind: 'more'; dataBytes: number }

function feedChunked(buf: Buffer, cuts: readonly number[], upstream: boolean, maxBody: number): ChunkResult {
  const d = new ChunkedDecoder({ upstream, maxBody })
  let from = 0
  for (const to of cuts) {
    const piece = buf.subarray(from, to)
    const r = d.execute(piece, 0)
    if (r === PARSE_ERROR) {
      if (!(d.error instanceof HttpParseError)) throw new Violation(`PARSE_ERROR without an HttpParseError: ${String(d.error)}`)
      return { kind: 'error', error: d.error.kind }
    }
    if (r !== NEED_MORE) {
      if (!d.done || r < 0 || r > piece.length) throw new Violation(`an end at ${r} of a ${piece.length}-byte piece, done ${d.done}`)
      return { kind: 'end', end: from + r, data: d.body().toString('latin1') }
    }
    from = to
  }
  return { kind: 'more', dataBytes: d.dataBytes }
}

export const chunkedTarget = (): Target => ({
  name: 'http-chunked',
  typed: 'PARSE_ERROR with an HttpParseError (execute() never throws)',
  generate: (rnd) => {
    if (rnd() < 0.3) return chunkedBody(rnd)
    const base = rnd() < 0.5 ? [chunkedBody(rnd), ...CHUNKED_SEEDS] : CHUNKED_SEEDS
    return mutate(rnd, base, CHUNKED_DICT, 0)
  },
  run(input, rnd) {
    const buf = Buffer.from(input, 'latin1')
    const upstream = rnd() < 0.3
    const maxBody = rnd() < 0.1 ? int(rnd, 100) : Infinity
    const cuts = cutsFor(rnd, buf.length)
    let whole: ChunkResult, split: ChunkResult
    try {
      whole = feedChunked(buf, [buf.length], upstream, maxBody)
      split = feedChunked(buf, cuts, upstream, maxBody)
    } catch (e) {
      if (e instanceof Violation) throw e
      throw untyped(e, this.typed)
    }
    if (!isDeepStrictEqual(whole, split)) {
      throw new Violation(`fed whole and cut at ${cuts.slice(0, 20).join(',')}: ${JSON.stringify(whole).slice(0, 300)} vs ${JSON.stringify(split).slice(0, 300)}`)
    }
    if (whole.kind === 'error') return 'rejected'
    if (whole.kind === 'more') return 'incomplete'
    // The data, encoded again, decodes to itself.
    const data = Buffer.from(whole.data, 'latin1')
    const enc = Buffer.concat([...(data.length > 0 ? [encodeChunk(data)] : []), LAST_CHUNK])
    const again = feedChunked(enc, [enc.length], false, Infinity)
    if (again.kind !== 'end' || again.data !== whole.data || again.end !== enc.length) {
      throw new Violation(`the data encoded again decodes differently: ${JSON.stringify(again).slice(0, 300)}`)
    }
    return 'accepted'
  },
})

export const TARGETS: Record<string, () => Target> = {
  config: configTarget,
  commands: commandsTarget,
  'http-head': headTarget,
  'http-chunked': chunkedTarget,
}

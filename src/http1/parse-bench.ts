/**
 * Micro-benchmark of the head parsers: a typical ~300-byte browser GET parsed 1e6 times (in one chunk, with the
 * headers array built, split in two) and a backend response head. Prints ns per head, best of 5 rounds.
 * Not a test: timings depend on the machine and its load.
 *
 *   npx tsc -p tsconfig.json && node dist/src/http1/parse-bench.js [iterations]
 */
import { arch, cpus, loadavg } from 'node:os'
import { RequestHeadParser, type RequestHead } from './request-parser.js'
import { ResponseHeadParser } from './response-parser.js'

const REQUEST = Buffer.from(
  'GET /api/v1/items?id=12345&sort=asc HTTP/1.1\r\n' +
    'Host: www.example.com\r\n' +
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n' +
    'Accept: text/html,application/xhtml+xml\r\n' +
    'Accept-Language: en-US,en;q=0.5\r\n' +
    'Accept-Encoding: gzip, deflate\r\n' +
    'Connection: keep-alive\r\n' +
    'Cookie: session=abc123\r\n' +
    '\r\n',
  'latin1',
)

const RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\n' +
    'Server: backend\r\n' +
    'Date: Mon, 27 Nov 2023 10:00:00 GMT\r\n' +
    'Content-Type: application/json\r\n' +
    'Content-Length: 1234\r\n' +
    'Connection: keep-alive\r\n' +
    'Cache-Control: no-cache\r\n' +
    '\r\n',
  'latin1',
)

const N = Number(process.argv[2] ?? 1e6)
const ROUNDS = 5

const req = new RequestHeadParser()
const cut = REQUEST.length >> 1
const first = REQUEST.subarray(0, cut)
const second = REQUEST.subarray(cut)
const res = new ResponseHeadParser()

// One function per scenario, each with its own loop: a shared loop calling closures would measure the call.
function oneChunk(n: number): number {
  let sink = 0
  for (let i = 0; i < n; i++) {
    req.reset()
    sink += req.execute(REQUEST, 0)
  }
  return sink
}

function withHeaders(n: number): number {
  let sink = 0
  for (let i = 0; i < n; i++) {
    req.reset()
    sink += req.execute(REQUEST, 0) + (req.head as RequestHead).headers.length
  }
  return sink
}

function twoChunks(n: number): number {
  let sink = 0
  for (let i = 0; i < n; i++) {
    req.reset()
    req.execute(first, 0)
    sink += req.execute(second, 0)
  }
  return sink
}

function response(n: number): number {
  let sink = 0
  for (let i = 0; i < n; i++) {
    res.reset()
    sink += res.execute(RESPONSE, 0)
  }
  return sink
}

/** Best of ROUNDS runs of n iterations, in ns per op (the least disturbed run on a shared machine). */
function bench(name: string, bytes: number, run: (n: number) => number): void {
  if (run(50_000) <= 0) throw new Error(`${name}: nothing parsed`)
  let best = Infinity
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint()
    run(N)
    const ns = Number(process.hrtime.bigint() - t0) / N
    if (ns < best) best = ns
  }
  console.log(`${name.padEnd(30)} ${String(bytes).padStart(4)} B  ${best.toFixed(0).padStart(5)} ns/op  ${(1e3 / best).toFixed(2)} M heads/s`)
}

console.log(`node ${process.version}, ${arch()}, ${cpus()[0]?.model ?? 'unknown cpu'} x${cpus().length}, load ${loadavg()[0].toFixed(1)}, ${N} x ${ROUNDS} iterations, best round`)
bench('request head, one chunk', REQUEST.length, oneChunk)
bench('request head + headers array', REQUEST.length, withHeaders)
bench('request head, two chunks', REQUEST.length, twoChunks)
bench('response head, one chunk', RESPONSE.length, response)

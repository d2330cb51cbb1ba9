/**
 * Micro-benchmark of the request-head parser: a typical ~300-byte browser GET, parsed 1e6 times, in one chunk
 * and (for comparison) split in two. Prints ns per head. Not a test: timings depend on the machine.
 *
 *   npx tsc -p tsconfig.json && node dist/src/http1/parse-bench.js [iterations]
 */
import { arch, cpus } from 'node:os'
import { RequestHeadParser } from './request-parser.js'
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

function bench(name: string, bytes: number, run: () => number): void {
  let sink = 0
  for (let i = 0; i < 50_000; i++) sink += run() // warm up, let the JIT settle
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < N; i++) sink += run()
  const ns = Number(process.hrtime.bigint() - t0) / N
  if (sink === 0) throw new Error('nothing parsed')
  console.log(`${name.padEnd(34)} ${bytes} B  ${ns.toFixed(0).padStart(5)} ns/op  ${(1e9 / ns / 1e6).toFixed(2)} M heads/s`)
}

const req = new RequestHeadParser()
const cut = REQUEST.length >> 1
const first = REQUEST.subarray(0, cut)
const second = REQUEST.subarray(cut)
const res = new ResponseHeadParser()

console.log(`node ${process.version}, ${arch()}, ${cpus()[0]?.model ?? 'unknown cpu'}, ${N} iterations`)
bench('request head, one chunk', REQUEST.length, () => {
  req.reset()
  return req.execute(REQUEST, 0)
})
bench('request head + headers array', REQUEST.length, () => {
  req.reset()
  const r = req.execute(REQUEST, 0)
  return r + (req.head as { headers: string[] }).headers.length
})
bench('request head, two chunks', REQUEST.length, () => {
  req.reset()
  req.execute(first, 0)
  return req.execute(second, 0)
})
bench('response head, one chunk', RESPONSE.length, () => {
  res.reset()
  return res.execute(RESPONSE, 0)
})

import assert from 'node:assert/strict'
import test from 'node:test'
import {
  CHUNK_TRAILER_CRLF, ChunkedDecoder, ChunkedScanner, LAST_CHUNK, chunkHeader, encodeChunk, type ChunkedDecoderOptions,
} from './chunked.js'
import { NEED_MORE, PARSE_ERROR } from './head.js'
import { latin1, pieces, splits } from './testing.js'

interface Result {
  result: 'end' | 'more' | 'error'
  /** end: offset just past the body in the whole input */
  offset?: number
  data?: string
  kind?: string
  status?: number
}

/** Feeds `input` cut at `cuts` to a decoder; also checks that a plain scanner ends at the same offset. */
function decode(input: Buffer, cuts: number[], opts: ChunkedDecoderOptions = {}): Result {
  const d = new ChunkedDecoder(opts)
  const s = new ChunkedScanner(opts)
  let at = 0
  for (const piece of pieces(input, cuts)) {
    const r = d.execute(piece, 0)
    const rs = s.execute(piece, 0)
    if (r === PARSE_ERROR) {
      if (d.error?.kind !== 'body-too-large') assert.equal(rs, PARSE_ERROR, 'scanner and decoder disagree')
      return { result: 'error', kind: d.error?.kind, status: d.error?.status }
    }
    assert.equal(rs, r, 'scanner and decoder disagree')
    if (r !== NEED_MORE) {
      assert.equal(d.done, true)
      return { result: 'end', offset: at + r, data: d.body().toString('latin1') }
    }
    at += piece.length
  }
  return { result: 'more', data: d.body().toString('latin1') }
}

function decodeAllWays(input: Buffer, opts: ChunkedDecoderOptions = {}): Result {
  const whole = decode(input, [], opts)
  for (const cuts of splits(input.length, 25, 5)) assert.deepEqual(decode(input, cuts, opts), whole, `split ${cuts.join(',')}`)
  return whole
}

const NEXT = 'GET /next HTTP/1.1\r\n'

const valid: Array<[string, string, string]> = [
  // name, body, data
  ['one chunk', '5\r\nhello\r\n0\r\n\r\n', 'hello'],
  ['several chunks', '5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n', 'hello world'],
  ['empty body', '0\r\n\r\n', ''],
  ['hex in both cases', 'A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n', '0123456789abcdefghijk'],
  ['leading zeros', '0005\r\nhello\r\n000\r\n\r\n', 'hello'],
  ['data holding CRLF and chunk-looking bytes', '7\r\n\r\n0\r\n\r\n\r\n0\r\n\r\n', '\r\n0\r\n\r\n'],
  ['extension name', '5;ext\r\nhello\r\n0\r\n\r\n', 'hello'],
  ['extension with token value', '5;a=b\r\nhello\r\n0;last=1\r\n\r\n', 'hello'],
  ['several extensions with BWS', '5 ; a = b ;c;d="x"\r\nhello\r\n0\r\n\r\n', 'hello'],
  ['quoted extension with escapes', '5;q="a \\"b\\" ;=, c"\r\nhello\r\n0\r\n\r\n', 'hello'],
  ['quoted extension with obs-text', '5;q="caf\xe9"\r\nhello\r\n0\r\n\r\n', 'hello'],
  ['trailers', '5\r\nhello\r\n0\r\nX-Sum: abc\r\nX-Other:\tv  \r\n\r\n', 'hello'],
  ['binary data', '4\r\n\x00\xff\r\n\r\n0\r\n\r\n', '\x00\xff\r\n'],
]

test('valid chunked bodies end at the right byte and decode, however they are split', () => {
  for (const [name, body, data] of valid) {
    for (const upstream of [false, true]) {
      const r = decodeAllWays(latin1(body + NEXT), { upstream })
      assert.deepEqual(r, { result: 'end', offset: latin1(body).length, data }, `${name} (upstream=${upstream})`)
    }
  }
})

const strictRejects: Array<[string, string]> = [
  ['bare LF after the size', '5\nhello\r\n0\r\n\r\n'],
  ['bare LF after the data', '5\r\nhello\n0\r\n\r\n'],
  ['bare LF after the last chunk', '0\n\r\n'],
  ['bare LF ending the trailers', '0\r\n\n'],
  ['bare LF in a trailer', '0\r\nX: y\n\r\n'],
  ['data longer than its size', '5\r\nhelloX\r\n0\r\n\r\n'],
  ['data shorter than its size', '5\r\nhell\r\n0\r\n\r\n'],
  ['no size', '\r\nhello\r\n0\r\n\r\n'],
  ['negative size', '-5\r\nhello\r\n0\r\n\r\n'],
  ['size with 0x', '0x5\r\nhello\r\n0\r\n\r\n'],
  ['non-hex size', 'g\r\nhello\r\n0\r\n\r\n'],
  ['space before the size', ' 5\r\nhello\r\n0\r\n\r\n'],
  ['whitespace after the size without extension', '5 \r\nhello\r\n0\r\n\r\n'],
  ['extension without a name', '5;=x\r\nhello\r\n0\r\n\r\n'],
  ['extension name with a space inside', '5;a b\r\nhello\r\n0\r\n\r\n'],
  ['extension with an empty value', '5;a=\r\nhello\r\n0\r\n\r\n'],
  ['extension value with a bad byte', '5;a=b@c\r\nhello\r\n0\r\n\r\n'],
  ['unterminated quoted value', '5;a="b\r\nhello\r\n0\r\n\r\n'],
  ['CTL in a quoted value', '5;a="b\x01"\r\nhello\r\n0\r\n\r\n'],
  ['two semicolons', '5;;a\r\nhello\r\n0\r\n\r\n'],
  ['bare CR in the size line', '5\rX\r\nhello\r\n0\r\n\r\n'],
  ['obs-fold in the trailers', '0\r\nX: a\r\n b\r\n\r\n'],
  ['trailer without a colon', '0\r\nNoColon\r\n\r\n'],
  ['trailer name with a space', '0\r\nX Y: a\r\n\r\n'],
  ['CTL in a trailer value', '0\r\nX: a\x01\r\n\r\n'],
]

test('strict (client) mode refuses the shapes front ends and back ends disagree on: 400', () => {
  for (const [name, body] of strictRejects) {
    const r = decodeAllWays(latin1(body + NEXT))
    assert.deepEqual([r.result, r.kind, r.status], ['error', 'invalid-chunk', 400], name)
  }
})

test('upstream mode is as tolerant as nginx: bare LF, any extension and trailer bytes', () => {
  const tolerated: Array<[string, string]> = [
    ['5\nhello\n0\n\n', 'hello'],
    ['5 \r\nhello\r\n0\r\n\r\n', 'hello'],
    ['5;;;@@ "\r\nhello\r\n0\r\n\r\n', 'hello'],
    ['5\r\nhello\r\n0\r\nX a b\x01\r\n\r\n', 'hello'],
    ['5\r\nhello\r\n0\r\nX: y\n\n', 'hello'],
  ]
  for (const [body, data] of tolerated) {
    const r = decodeAllWays(latin1(body + NEXT), { upstream: true })
    assert.deepEqual(r, { result: 'end', offset: latin1(body).length, data }, JSON.stringify(body))
  }
  for (const body of ['5\r\nhelloX\r\n0\r\n\r\n', 'g\r\n', '0\r\nX\x00\r\n\r\n', '5\rX']) {
    const r = decodeAllWays(latin1(body + NEXT), { upstream: true })
    assert.deepEqual([r.result, r.kind, r.status], ['error', 'invalid-chunk', 502], JSON.stringify(body))
  }
})

test('chunk sizes: 2^53-1 is accepted, anything larger overflows', () => {
  const max = decodeAllWays(latin1('1fffffffffffff\r\nabc'))
  assert.deepEqual(max, { result: 'more', data: 'abc' })
  for (const size of ['20000000000000', 'ffffffffffffffff', '1' + '0'.repeat(20)]) {
    const r = decodeAllWays(latin1(`${size}\r\n`))
    assert.deepEqual([r.kind, r.status], ['chunk-size-overflow', 400], size)
  }
  const s = new ChunkedScanner({ upstream: true })
  assert.equal(s.execute(latin1('fffffffffffffffff\r\n'), 0), PARSE_ERROR)
  assert.equal(s.error?.status, 502)
})

test('line and trailer limits', () => {
  const at = (n: number): string => `5;x=${'a'.repeat(n - 6)}\r\n` // a size line of n bytes, CRLF included
  assert.equal(at(4096).length, 4096)
  assert.equal(decodeAllWays(latin1(at(4096) + 'hello\r\n0\r\n\r\n')).result, 'end')
  assert.equal(decodeAllWays(latin1(at(4097) + 'hello\r\n0\r\n\r\n')).kind, 'chunk-line-too-long')
  assert.equal(decodeAllWays(latin1('0'.repeat(5000))).kind, 'chunk-line-too-long')
  assert.equal(decodeAllWays(latin1(`5;${'a'.repeat(5000)}`), { upstream: true }).kind, 'chunk-line-too-long')
  assert.equal(decodeAllWays(latin1(at(40) + 'hello\r\n0\r\n\r\n'), { maxLine: 39 }).kind, 'chunk-line-too-long')

  const trailers = (n: number): string => `0\r\nX: ${'t'.repeat(n - 7)}\r\n\r\n` // a trailer section of n bytes
  assert.equal(trailers(8192).length - 3, 8192)
  assert.equal(decodeAllWays(latin1(trailers(8192))).result, 'end')
  assert.equal(decodeAllWays(latin1(trailers(8193))).kind, 'trailers-too-large')
  assert.equal(decodeAllWays(latin1(`0\r\n${'X: y\r\n'.repeat(2000)}`)).kind, 'trailers-too-large')
  assert.throws(() => new ChunkedScanner({ maxLine: 0 }), RangeError)
})

test('decoder: maxBody is client_max_body_size (413), copy detaches from the input', () => {
  const body = latin1('5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n')
  assert.equal(decodeAllWays(body, { maxBody: 10 }).data, 'helloworld')
  const over = decodeAllWays(body, { maxBody: 9 })
  assert.deepEqual([over.kind, over.status], ['body-too-large', 413])

  const input = Buffer.from(body)
  const views = new ChunkedDecoder()
  const copies = new ChunkedDecoder({ copy: true })
  assert.equal(views.execute(input, 0), input.length)
  assert.equal(copies.execute(input, 0), input.length)
  input.fill(0x21)
  assert.equal(views.body().toString(), '!!!!!!!!!!')
  assert.equal(copies.body().toString(), 'helloworld')

  copies.reset()
  copies.maxBody = 3
  assert.equal(copies.execute(latin1('5\r\nhello'), 0), PARSE_ERROR)
  assert.equal(copies.error?.code, 'E_BODY_TOO_LARGE')
})

test('after the end, execute() takes nothing more; after an error it keeps failing; reset() starts over', () => {
  const s = new ChunkedScanner()
  assert.equal(s.execute(latin1('0\r\n\r\n'), 0), 5)
  assert.equal(s.done, true)
  assert.equal(s.execute(latin1('more'), 0), 0)
  s.reset()
  assert.equal(s.done, false)
  assert.equal(s.execute(latin1('x'), 0), PARSE_ERROR)
  assert.equal(s.execute(latin1('0\r\n\r\n'), 0), PARSE_ERROR)
  s.reset()
  assert.equal(s.execute(latin1('3\r\nabc\r\n'), 0), NEED_MORE)
  assert.equal(s.dataBytes, 3)
  assert.equal(s.execute(latin1('0\r\n\r\nrest'), 0), 5)
})

test('encoders produce what the decoder reads back', () => {
  assert.equal(chunkHeader(1), '1\r\n')
  assert.equal(chunkHeader(255), 'ff\r\n')
  assert.equal(chunkHeader(65536), '10000\r\n')
  assert.equal(encodeChunk(latin1('hello')).toString('latin1'), '5\r\nhello\r\n')
  assert.equal(LAST_CHUNK.toString('latin1'), '0\r\n\r\n')
  assert.equal(CHUNK_TRAILER_CRLF.toString('latin1'), '\r\n')
  assert.throws(() => encodeChunk(Buffer.alloc(0)), RangeError)
  const data = Buffer.alloc(70000, 0x61)
  const wire = Buffer.concat([encodeChunk(data.subarray(0, 17)), latin1(chunkHeader(69983)), data.subarray(17), CHUNK_TRAILER_CRLF, LAST_CHUNK])
  const d = new ChunkedDecoder()
  assert.equal(d.execute(wire, 0), wire.length)
  assert.equal(d.body().equals(data), true)
})

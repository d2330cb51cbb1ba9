/**
 * Test support for the codec's tests: seeded splits of an input into chunks, and plain-object summaries of what
 * a parser returned, so "fed whole, byte by byte, or cut at random places" can be compared with deepEqual.
 * Not exported from index.ts.
 */
import { NEED_MORE, PARSE_ERROR } from './head.js'
import type { HttpParseError } from './http-error.js'
import { RequestHeadParser, type HeadLimits, type RequestHead } from './request-parser.js'
import { ResponseHeadParser, type ResponseHead, type ResponseLimits } from './response-parser.js'

/** mulberry32: a tiny seeded PRNG, so random splits are the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Cut points (sorted, inside 1..len-1) for each way of splitting: whole, byte by byte, and `random` seeded cuts. */
export function splits(len: number, random = 20, seed = 1): number[][] {
  const out: number[][] = [[], Array.from({ length: Math.max(0, len - 1) }, (_, i) => i + 1)]
  const rnd = prng(seed * 7919 + len)
  for (let r = 0; r < random; r++) {
    const n = 1 + Math.floor(rnd() * Math.min(8, len))
    const cuts = new Set<number>()
    for (let k = 0; k < n && len > 1; k++) cuts.add(1 + Math.floor(rnd() * (len - 1)))
    out.push([...cuts].sort((x, y) => x - y))
  }
  return out
}

/** The chunks of `buf` cut at `cuts`, each a fresh Buffer (as sockets deliver them). */
export function pieces(buf: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = []
  let at = 0
  for (const c of [...cuts, buf.length]) {
    out.push(Buffer.from(buf.subarray(at, c)))
    at = c
  }
  return out
}

export interface Outcome {
  result: 'head' | 'error' | 'more'
  /** head: offset of the body in the whole input */
  offset?: number
  head?: Record<string, unknown>
  status?: number
  kind?: string
  code?: string
}

function errorOutcome(e: HttpParseError): Outcome {
  return { result: 'error', status: e.status, kind: e.kind, code: e.code }
}

export function summarizeRequest(h: RequestHead): Record<string, unknown> {
  return {
    method: h.method, target: h.target, path: h.path, query: h.query, versionMinor: h.versionMinor,
    headers: h.headers, host: h.host, contentLength: h.contentLength, chunked: h.chunked, keepAlive: h.keepAlive,
    upgrade: h.upgrade, expectContinue: h.expectContinue, headBytes: h.headBytes,
  }
}

export function summarizeResponse(h: ResponseHead): Record<string, unknown> {
  return {
    status: h.status, reason: h.reason, versionMinor: h.versionMinor, headers: h.headers,
    contentLength: h.contentLength, chunked: h.chunked, connectionClose: h.connectionClose, keepAlive: h.keepAlive,
    upgrade: h.upgrade, lengthAndChunked: h.lengthAndChunked, headBytes: h.headBytes,
  }
}

/** Feeds `input` cut at `cuts` to a request parser; what came out. */
export function feedRequest(input: Buffer, cuts: number[], limits: Partial<HeadLimits> = {}, parser?: RequestHeadParser): Outcome {
  const p = parser ?? new RequestHeadParser(limits)
  let at = 0
  for (const piece of pieces(input, cuts)) {
    const r = p.execute(piece, 0)
    if (r === PARSE_ERROR) return errorOutcome(p.error as HttpParseError)
    if (r !== NEED_MORE) return { result: 'head', offset: at + r, head: summarizeRequest(p.head as RequestHead) }
    at += piece.length
  }
  return { result: 'more' }
}

/** Feeds `input` cut at `cuts` to a response parser; what came out. */
export function feedResponse(input: Buffer, cuts: number[], limits: Partial<ResponseLimits> = {}): Outcome {
  const p = new ResponseHeadParser(limits)
  let at = 0
  for (const piece of pieces(input, cuts)) {
    const r = p.execute(piece, 0)
    if (r === PARSE_ERROR) return errorOutcome(p.error as HttpParseError)
    if (r !== NEED_MORE) return { result: 'head', offset: at + r, head: summarizeResponse(p.head as ResponseHead) }
    at += piece.length
  }
  return { result: 'more' }
}

export const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1')

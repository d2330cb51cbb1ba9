/**
 * Readers for the few header values that decide framing and routing, shared by both head parsers. Each works on
 * the raw bytes of a value (OWS already trimmed) and allocates nothing.
 */
import { BSLASH, COLON, COMMA, DQUOTE, EQUALS, HT, QDTEXT, SEMI, SLASH, SP, TOKEN, bytes, eqLower } from './chars.js'

export const CONN_CLOSE = 1
export const CONN_KEEP_ALIVE = 2
export const CONN_UPGRADE = 4

export const TE_NONE = 0
export const TE_CHUNKED = 1
/** Only codings we cannot decode, chunked last or absent: nginx answers 501. */
export const TE_UNKNOWN = 2
/** Not a list of codings, or chunked not last / twice (RFC 9112 §6.1): 400. */
export const TE_INVALID = 3

/** validateHost() result flag: the host has uppercase letters. */
export const HOST_UPPER = 1 << 30
/** validateHost() result mask: the host's length. */
export const HOST_LEN = HOST_UPPER - 1

const V_CLOSE = bytes('close')
const V_KEEP_ALIVE = bytes('keep-alive')
const V_UPGRADE = bytes('upgrade')
const V_CHUNKED = bytes('chunked')

/**
 * Content-Length: 1*DIGIT, at most 2^53-1 (larger values cannot be counted exactly; nginx's limit is 2^63-1, which
 * no body reaches). Returns the value or -1.
 */
export function parseContentLength(b: Uint8Array, vs: number, ve: number): number {
  if (vs === ve) return -1
  let n = 0
  for (let i = vs; i < ve; i++) {
    const d = b[i] - 0x30
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
    if (n > Number.MAX_SAFE_INTEGER) return -1
  }
  return n
}

/**
 * Connection options (RFC 9110 §7.6.1) as CONN_* flags. An element that is not a lone token is ignored, not an
 * error: Connection only ever relaxes or ends reuse.
 */
export function parseConnection(b: Uint8Array, vs: number, ve: number): number {
  let i = vs, flags = 0
  while (i < ve) {
    while (i < ve && (b[i] === SP || b[i] === HT || b[i] === COMMA)) i++
    const ts = i
    while (i < ve && TOKEN[b[i]] === 1) i++
    const n = i - ts
    while (i < ve && (b[i] === SP || b[i] === HT)) i++
    if (i < ve && b[i] !== COMMA) {
      while (i < ve && b[i] !== COMMA) i++
      continue
    }
    if (n === 5 && eqLower(b, ts, V_CLOSE)) flags |= CONN_CLOSE
    else if (n === 10 && eqLower(b, ts, V_KEEP_ALIVE)) flags |= CONN_KEEP_ALIVE
    else if (n === 7 && eqLower(b, ts, V_UPGRADE)) flags |= CONN_UPGRADE
  }
  return flags
}

/** Exactly `chunked`, any case: what nginx accepts from a backend. */
export function isChunked(b: Uint8Array, vs: number, ve: number): boolean {
  return ve - vs === 7 && eqLower(b, vs, V_CHUNKED)
}

/**
 * A request's Transfer-Encoding: `1#transfer-coding`, where chunked, if present, is last and appears once, and
 * carries no parameters. Returns TE_CHUNKED, TE_UNKNOWN or TE_INVALID.
 */
export function parseTransferEncoding(b: Uint8Array, vs: number, ve: number): number {
  let i = vs, sawChunked = false, unknown = false
  for (;;) {
    while (i < ve && (b[i] === SP || b[i] === HT)) i++
    const ts = i
    while (i < ve && TOKEN[b[i]] === 1) i++
    if (i === ts || sawChunked) return TE_INVALID
    const chunked = i - ts === 7 && eqLower(b, ts, V_CHUNKED)
    while (i < ve && (b[i] === SP || b[i] === HT)) i++
    if (i < ve && b[i] === SEMI) {
      if (chunked) return TE_INVALID
      i = skipParams(b, i, ve)
      if (i < 0) return TE_INVALID
    }
    if (chunked) sawChunked = true
    else unknown = true
    if (i >= ve) return unknown ? TE_UNKNOWN : TE_CHUNKED
    if (b[i] !== COMMA) return TE_INVALID
    i++
  }
}

/**
 * Skips `*( ";" OWS token OWS "=" OWS ( token / quoted-string ) OWS )` from b[i] (which is ';') up to e.
 * Returns the index after the parameters, or -1 if they are malformed.
 */
function skipParams(b: Uint8Array, i: number, e: number): number {
  while (i < e && b[i] === SEMI) {
    i++
    while (i < e && (b[i] === SP || b[i] === HT)) i++
    const ns = i
    while (i < e && TOKEN[b[i]] === 1) i++
    if (i === ns) return -1
    while (i < e && (b[i] === SP || b[i] === HT)) i++
    if (i >= e || b[i] !== EQUALS) return -1
    i++
    while (i < e && (b[i] === SP || b[i] === HT)) i++
    if (i < e && b[i] === DQUOTE) {
      i++
      for (;;) {
        if (i >= e) return -1
        const c = b[i]
        if (c === DQUOTE) { i++; break }
        if (c === BSLASH) {
          if (i + 1 >= e) return -1
          i += 2
          continue
        }
        if (QDTEXT[c] === 0) return -1
        i++
      }
    } else {
      const vs = i
      while (i < e && TOKEN[b[i]] === 1) i++
      if (i === vs) return -1
    }
    while (i < e && (b[i] === SP || b[i] === HT)) i++
  }
  return i
}

/**
 * nginx's ngx_http_validate_host over b[s, e): no `..`, no `/`, no SP/CTL/DEL, not empty. Returns the length of the
 * host part (port and one trailing dot cut, `[…]` kept whole) | HOST_UPPER when it has uppercase letters, or -1.
 */
export function validateHost(b: Uint8Array, s: number, e: number): number {
  const len = e - s
  let dotPos = len, hostLen = len, state = 0, upper = 0
  for (let i = 0; i < len; i++) {
    const ch = b[s + i]
    if (ch === 0x2e) {
      if (dotPos === i - 1) return -1
      dotPos = i
    } else if (ch === COLON) {
      if (state === 0) { hostLen = i; state = 2 }
    } else if (ch === 0x5b) {
      if (i === 0) state = 1
    } else if (ch === 0x5d) {
      if (state === 1) { hostLen = i + 1; state = 2 }
    } else {
      if (ch === SLASH || ch <= SP || ch === 0x7f) return -1
      if (ch >= 0x41 && ch <= 0x5a) upper = HOST_UPPER
    }
  }
  if (dotPos === hostLen - 1) hostLen--
  if (hostLen <= 0) return -1
  return hostLen | upper
}

/**
 * A Host value (or an absolute-form authority) as nginx's `$host` has it: lowercased, port and one trailing dot
 * removed; null when nginx would answer 400. For callers outside the parser; latin1 in, latin1 out.
 */
export function normalizeHost(value: string): string | null {
  const b = Buffer.from(value, 'latin1')
  const r = validateHost(b, 0, b.length)
  if (r < 0) return null
  const host = value.slice(0, r & HOST_LEN)
  return (r & HOST_UPPER) !== 0 ? host.toLowerCase() : host
}

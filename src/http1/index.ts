/**
 * The HTTP/1.1 codec of dyups' request path, for raw `net`/`tls` sockets: incremental strict request-head parser,
 * tolerant backend response-head parser with the framing decision, chunked body scanner/decoder/encoder, and the
 * head writer. It works on Buffers and latin1 strings, never on decoded text, and knows nothing of the rest of
 * dyups (it imports only the errors leaf).
 *
 * Protocol shared by every parser here: `execute(buf, start)` returns the offset where the message part ended,
 * NEED_MORE (all bytes taken; feed the next chunk), or PARSE_ERROR (`error` says why and which status to answer).
 */
export { NEED_MORE, PARSE_ERROR, MessageHead, OFFSETS_PER_HEADER } from './head.js'
export { HttpParseError, type ParseErrorKind } from './http-error.js'
export { RequestHeadParser, RequestHead, DEFAULT_HEAD_LIMITS, type HeadLimits } from './request-parser.js'
export {
  ResponseHeadParser, ResponseHead, DEFAULT_RESPONSE_LIMITS, bodyKind, BODY_NONE, BODY_LENGTH, BODY_CHUNKED,
  BODY_UNTIL_CLOSE, type BodyKind, type ResponseLimits,
} from './response-parser.js'
export {
  ChunkedScanner, ChunkedDecoder, encodeChunk, chunkHeader, LAST_CHUNK, CHUNK_TRAILER_CRLF, type ChunkedOptions,
  type ChunkedDecoderOptions,
} from './chunked.js'
export {
  STATUS_TEXT, statusLine, wireStatus, formatHeaders, formatResponseHead, formatRequestHead, headBuffer, isToken,
  isFieldValue, httpDate,
} from './serialize.js'
export { normalizeHost } from './fields.js'
export { latin1 } from './chars.js'

/**
 * The one error type of the codec: a DyupsError whose HTTP status is the one nginx answers with, plus a stable
 * `kind` naming the rule that fired, so tests and logs tell "bare LF" from "obs-fold" without reading wording.
 *
 * Every parse error ends the connection: after a malformed head the byte stream cannot be resynchronised, and
 * answering on it is what request smuggling feeds on.
 */
import { DyupsError, type Code } from '../errors.js'

export type ParseErrorKind =
  // request line
  | 'invalid-method'
  | 'invalid-target'
  | 'invalid-version'
  | 'http09'
  | 'version-not-supported'
  | 'method-not-allowed'
  | 'uri-too-long'
  // header lines
  | 'bare-lf'
  | 'bare-cr'
  | 'obs-fold'
  | 'invalid-header-name'
  | 'space-before-colon'
  | 'invalid-header-value'
  | 'header-too-large'
  | 'head-too-large'
  | 'too-many-headers'
  // header semantics
  | 'no-host'
  | 'duplicate-host'
  | 'invalid-host'
  | 'duplicate-content-length'
  | 'invalid-content-length'
  | 'duplicate-transfer-encoding'
  | 'invalid-transfer-encoding'
  | 'unknown-transfer-encoding'
  | 'transfer-encoding-http10'
  | 'length-and-chunked'
  // responses
  | 'invalid-status-line'
  // chunked bodies
  | 'invalid-chunk'
  | 'chunk-size-overflow'
  | 'chunk-line-too-long'
  | 'trailers-too-large'
  | 'body-too-large'

export class HttpParseError extends DyupsError {
  /**
   * @param code the DyupsError code (E_BAD_REQUEST, E_URI_TOO_LONG, E_HEADER_TOO_LARGE, E_UPSTREAM)
   * @param httpStatus the status sent on the wire (400, 405, 414, 501, 502, 505)
   * @param kind which rule rejected the message
   * @param title the error page title; differs from the status text only for nginx's
   *   "400 Request Header Or Cookie Too Large" (its internal 494)
   */
  constructor(
    code: Code,
    readonly httpStatus: number,
    readonly kind: ParseErrorKind,
    message: string,
    readonly title: string,
  ) {
    super(code, message)
    this.name = 'HttpParseError'
  }

  override get status(): number {
    return this.httpStatus
  }

  /** Always true: the stream is out of sync after a rejected head or body. */
  get closeConnection(): boolean {
    return true
  }
}

/**
 * Failure injection, for the tests that prove a failing handler fails its own request only. Armed by the
 * environment: `DYUPS_FAILPOINTS=content` makes a request carrying `X-Dyups-Failpoint: throw` (a synchronous throw)
 * or `X-Dyups-Failpoint: reject` (a rejected promise) fail in the content phase. Unset — always, in production —
 * each check is one read of a constant.
 */
import type { Request } from './request.js'

export const CONTENT_FAILPOINT = (process.env['DYUPS_FAILPOINTS'] ?? '').split(',').includes('content')

/** Fails as the request asks, or returns undefined. */
export function contentFailpoint(req: Request): Promise<void> | undefined {
  const how = req.head.get('x-dyups-failpoint')
  if (how === 'throw') throw new Error('failpoint: content handler threw')
  if (how === 'reject') return Promise.reject(new Error('failpoint: content handler rejected'))
  return undefined
}

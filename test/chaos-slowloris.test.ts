/**
 * Chaos, short version: slowloris. Connections that trickle a request head a byte at a time (complete header lines,
 * forever) are all closed by client_header_timeout, which bounds the whole head; an ordinary client is served
 * meanwhile. Asserts that they end, not when.
 */
import { test } from 'node:test'
import { slowloris } from './chaos/slowloris.js'

test('slowloris: 100 connections trickling header bytes are all closed by client_header_timeout 2s', async (t) => {
  await slowloris(t, { kind: 'dyups', connections: 100, tickMs: 100, timeout: '2s', workers: 2, boundMs: 60_000 })
})

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FAIL_KINDS, FAIL_TIMEOUT, LATENCY_BOUNDS_MS, PeerState } from './peers.js'

test('PeerState.answered: status class, and the bucket whose bound is the first at or above the time', () => {
  const s = new PeerState('127.0.0.1:1')
  for (const [status, ms] of [[200, 0], [204, 5], [301, 6], [404, 10_000], [503, 10_001], [101, 250], [99, 1], [600, 1]] as const) s.answered(status, ms)
  assert.deepEqual(s.responses, [1, 2, 1, 1, 1])
  assert.equal(s.latency.length, LATENCY_BOUNDS_MS.length + 1)
  // 0 and 5 ms: le 0.005; 6: le 0.01; 1, 1: le 0.005; 250: le 0.25; 10 000: le 10; 10 001: above every bound.
  assert.deepEqual(s.latency, [4, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1])
  assert.equal(s.latencySum, 0 + 5 + 6 + 10_000 + 10_001 + 250 + 1 + 1)
  s.failed(FAIL_TIMEOUT)
  assert.equal(s.failures.length, FAIL_KINDS.length)
  assert.equal(s.failures[FAIL_KINDS.indexOf('timeout')], 1)
})

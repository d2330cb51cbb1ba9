import { test } from 'node:test'
import assert from 'node:assert/strict'
import { errorCount, parseDuration, parseSize, parseWrk } from './wrk.js'

// Captured from wrk 4.1.0 (Debian) on this project's machine.
const KEEPALIVE = `Running 2s test @ http://127.0.0.1:41159/
  1 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   281.87us  178.56us   4.57ms   95.01%
    Req/Sec    66.62k    11.12k   83.14k    55.00%
  Latency Distribution
     50%  268.00us
     75%  343.00us
     90%  387.00us
     99%  523.00us
  132253 requests in 2.00s, 20.56MB read
Requests/sec:  66109.34
Transfer/sec:     10.28MB
`

const NO_LATENCY_FLAG = `Running 1s test @ http://127.0.0.1:41159/64k
  2 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   765.94us  437.18us   6.29ms   92.15%
    Req/Sec     6.84k   824.55     7.97k    80.00%
  13634 requests in 1.00s, 855.50MB read
Requests/sec:  13589.62
Transfer/sec:    852.71MB
`

const ERRORS = `Running 1s test @ http://127.0.0.1:39999/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   425.73us  800.75us  14.53ms   94.29%
    Req/Sec    34.31k    12.98k   46.14k    80.00%
  Latency Distribution
     50%  227.00us
     75%  348.00us
     90%  720.00us
     99%    3.67ms
  34049 requests in 1.00s, 1.53MB read
  Socket errors: connect 0, read 694, write 0, timeout 0
  Non-2xx or 3xx responses: 34049
Requests/sec:  33985.35
Transfer/sec:      1.52MB
`

const SLOW = `Running 1m test @ http://127.0.0.1:40000/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20s   300.00ms   2.00s    70.00%
    Req/Sec    40.00     10.00    60.00     70.00%
  Latency Distribution
     50%    1.10s
     75%    1.40s
     90%    1.80s
     99%    2.00s
  2400 requests in 1.00m, 300.00KB read
  Socket errors: connect 0, read 0, write 0, timeout 12
Requests/sec:     40.00
Transfer/sec:      5.00KB
`

test('durations and sizes in every unit wrk prints', () => {
  const cases: [string, number][] = [['268.00us', 0.268], ['0.91ms', 0.91], ['1.20s', 1200], ['1.00m', 60000], ['2.00h', 7200000]]
  for (const [s, ms] of cases) assert.ok(Math.abs(parseDuration(s) - ms) < 1e-9, s)
  assert.equal(parseSize('10.28MB'), 10.28 * 1024 * 1024)
  assert.equal(parseSize('300.00KB'), 300 * 1024)
  assert.equal(parseSize('12B'), 12)
  assert.throws(() => parseDuration('3 days'), /bad duration/)
  assert.throws(() => parseSize('3PB'), /bad size/)
})

test('keepalive report with --latency', () => {
  const r = parseWrk(KEEPALIVE)
  assert.equal(r.requests, 132253)
  assert.equal(r.seconds, 2)
  assert.equal(r.rps, 66109.34)
  assert.deepEqual(r.latency, { avg: 0.28187, max: 4.57, p50: 0.268, p75: 0.343, p90: 0.387, p99: 0.523 })
  assert.deepEqual(r.errors, { connect: 0, read: 0, write: 0, timeout: 0, status: 0 })
  assert.equal(r.bytesPerSec, 10.28 * 1024 * 1024)
  assert.equal(errorCount(r), 0)
})

test('report without --latency has no percentiles', () => {
  const r = parseWrk(NO_LATENCY_FLAG)
  assert.equal(r.requests, 13634)
  assert.ok(Number.isNaN(r.latency.p50) && Number.isNaN(r.latency.p99))
  assert.equal(r.latency.max, 6.29)
})

test('socket errors and non-2xx answers are counted', () => {
  const r = parseWrk(ERRORS)
  assert.deepEqual(r.errors, { connect: 0, read: 694, write: 0, timeout: 0, status: 34049 })
  assert.equal(errorCount(r), 694 + 34049)
  assert.equal(r.latency.p99, 3.67)
})

test('second and minute units in latency and duration', () => {
  const r = parseWrk(SLOW)
  assert.equal(r.seconds, 60)
  assert.equal(r.latency.p50, 1100)
  assert.equal(r.latency.avg, 1200)
  assert.equal(r.errors.timeout, 12)
})

test('a failed wrk run is an error naming what wrk said', () => {
  assert.throws(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused\n'), /no report: unable to connect/)
})

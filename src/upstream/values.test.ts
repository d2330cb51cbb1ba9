import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ngxAtoi, ngxParseSize, ngxParseTime } from './values.js'

test('ngx_atoi: digits only', () => {
  const cases: [string, number][] = [
    ['0', 0],
    ['1', 1],
    ['007', 7],
    ['65535', 65535],
    ['', -1],
    ['-1', -1],
    ['+1', -1],
    [' 1', -1],
    ['1 ', -1],
    ['1.5', -1],
    ['0x10', -1],
    ['99999999999999999999', -1],
  ]
  for (const [s, want] of cases) assert.equal(ngxAtoi(s), want, JSON.stringify(s))
})

test('ngx_parse_time in seconds (fail_timeout)', () => {
  const cases: [string, number | null][] = [
    ['10', 10],
    ['30s', 30],
    ['2m', 120],
    ['1h', 3600],
    ['1h30m', 5400],
    ['1h 30m', 5400],
    ['1d', 86400],
    ['1w', 604800],
    ['1M', 2592000],
    ['1y', 31536000],
    ['0', 0],
    ['500ms', null],
    ['1s500ms', null],
    ['', null],
    ['s', null],
    ['30x', null],
    ['1m1h', null],
    ['1s1s', null],
    ['-1', null],
  ]
  for (const [s, want] of cases) assert.equal(ngxParseTime(s, true), want, JSON.stringify(s))
})

test('ngx_parse_time in milliseconds (keepalive_timeout)', () => {
  const cases: [string, number | null][] = [
    ['60s', 60000],
    ['60', 60000],
    ['500ms', 500],
    ['1s500ms', 1500],
    ['2m', 120000],
    ['1h', 3600000],
    ['1d', 86400000],
    ['1y', null],
    ['1M', null],
    ['ms', null],
    ['', null],
  ]
  for (const [s, want] of cases) assert.equal(ngxParseTime(s, false), want, JSON.stringify(s))
})

test('ngx_parse_size', () => {
  const cases: [string, number | null][] = [
    ['0', 0],
    ['512', 512],
    ['64k', 65536],
    ['64K', 65536],
    ['2m', 2097152],
    ['1G', 1073741824],
    ['', null],
    ['k', null],
    ['1.5m', null],
    ['10kb', null],
  ]
  for (const [s, want] of cases) assert.equal(ngxParseSize(s), want, JSON.stringify(s))
})

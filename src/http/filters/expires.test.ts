import assert from 'node:assert/strict'
import { test } from 'node:test'
import { EXPIRES_ACCESS, EXPIRES_DAILY, EXPIRES_EPOCH, EXPIRES_MAX, EXPIRES_MODIFIED, EXPIRES_OFF, parseExpires } from '../../config/index.js'
import { expiresLines, expiresValues } from './expires.js'

test('parseExpires: nginx forms and messages', () => {
  const cases: [string[], unknown][] = [
    [['1h'], { kind: EXPIRES_ACCESS, time: 3600 }],
    [['+1d'], { kind: EXPIRES_ACCESS, time: 86400 }],
    [['-1'], { kind: EXPIRES_ACCESS, time: -1 }],
    [['modified', '30m'], { kind: EXPIRES_MODIFIED, time: 1800 }],
    [['@12h30m'], { kind: EXPIRES_DAILY, time: 45000 }],
    [['epoch'], { kind: EXPIRES_EPOCH, time: 0 }],
    [['max'], { kind: EXPIRES_MAX, time: 0 }],
    [['off'], { kind: EXPIRES_OFF, time: 0 }],
    [['foo'], 'invalid value'],
    [['later', '1h'], 'invalid value'],
    [['modified', '@1h'], 'daily time cannot be used with "modified" parameter'],
    [['@25h'], 'daily time value must be less than 24 hours'],
    [['1ms'], 'invalid value'],
  ]
  for (const [args, want] of cases) assert.deepEqual(parseExpires(args), want, args.join(' '))
})

test('expiresValues: statuses, kinds, max-age', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0)
  const sec = now / 1000
  const at = (s: number): string => new Date(s * 1000).toUTCString()
  assert.deepEqual(expiresValues({ kind: EXPIRES_ACCESS, time: 3600 }, 200, -1, now), { expires: at(sec + 3600), cacheControl: 'max-age=3600' })
  assert.deepEqual(expiresValues({ kind: EXPIRES_ACCESS, time: -60 }, 200, -1, now), { expires: at(sec - 60), cacheControl: 'no-cache' })
  assert.deepEqual(expiresValues({ kind: EXPIRES_MODIFIED, time: 3600 }, 200, sec - 600, now), { expires: at(sec + 3000), cacheControl: 'max-age=3000' })
  assert.deepEqual(expiresValues({ kind: EXPIRES_MODIFIED, time: 60 }, 200, sec - 600, now), { expires: at(sec - 540), cacheControl: 'no-cache' })
  assert.deepEqual(expiresValues({ kind: EXPIRES_MODIFIED, time: 60 }, 200, -1, now), { expires: at(sec + 60), cacheControl: 'max-age=60' })
  const daily = expiresValues({ kind: EXPIRES_DAILY, time: 3600 }, 200, -1, now)!
  const next = Date.parse(daily.expires) / 1000
  assert.ok(next > sec && next - sec <= 86400, daily.expires)
  assert.equal(daily.cacheControl, `max-age=${next - sec}`)
  assert.equal(new Date(next * 1000).getHours(), 1, 'one o\'clock local time')
  for (const s of [200, 201, 204, 206, 301, 302, 303, 304, 307, 308]) assert.notEqual(expiresValues({ kind: EXPIRES_MAX, time: 0 }, s, -1, now), null, String(s))
  for (const s of [100, 202, 300, 400, 404, 500, 502]) assert.equal(expiresValues({ kind: EXPIRES_MAX, time: 0 }, s, -1, now), null, String(s))
  assert.equal(expiresLines({ kind: EXPIRES_EPOCH, time: 0 }, 200, -1), 'Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\nCache-Control: no-cache\r\n')
  assert.equal(expiresLines(null, 200, -1), '')
  assert.equal(expiresLines({ kind: EXPIRES_MAX, time: 0 }, 404, -1), '')
})

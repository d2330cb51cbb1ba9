import { test } from 'node:test'
import assert from 'node:assert/strict'
import { groupKey } from './names.js'

test('groupKey folds ASCII only', () => {
  const cases: [string, string][] = [
    ['host1', 'host1'],
    ['UpperCase', 'uppercase'],
    ['MY HOST', 'my host'],
    ['a.B-c_D', 'a.b-c_d'],
    ['\xc0\xff', '\xc0\xff'], // latin1 letters are bytes, not letters
    ['X\xc3\x89Y', 'x\xc3\x89y'],
    ['', ''],
  ]
  for (const [name, key] of cases) assert.equal(groupKey(name), key, JSON.stringify(name))
  const same = 'already-lower'
  assert.equal(groupKey(same), same)
})

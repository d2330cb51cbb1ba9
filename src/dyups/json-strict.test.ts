import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_DEPTH, strictJsonProblem } from './json-strict.js'

test('duplicate keys are found wherever they are, with where; escapes and strings holding braces are read right', () => {
  assert.equal(strictJsonProblem('{"a": 1, "b": [1, {"x": "}{,:\\"", "y": 2}]}'), null)
  assert.deepEqual(strictJsonProblem('{"weight": 1, "weight": 100}'), { code: 'duplicate_key', message: 'duplicate key "weight" in the body' })
  assert.deepEqual(strictJsonProblem('{"servers": [{"server": "a"}, {"server": "b", "down": true, "down": false}]}'), {
    code: 'duplicate_key', message: 'duplicate key "down" in "servers[1]"',
  })
  // The same name spelled with an escape is the same key.
  assert.equal(strictJsonProblem('{"a": {"k": 1, "\\u006b": 2}}')!.message, 'duplicate key "k" in "a"')
  // The same key in sibling objects is fine.
  assert.equal(strictJsonProblem('[{"k": 1}, {"k": 2}]'), null)
})

test('nesting is bounded without recursion', () => {
  assert.equal(strictJsonProblem('['.repeat(MAX_DEPTH) + ']'.repeat(MAX_DEPTH)), null)
  assert.equal(strictJsonProblem('['.repeat(10_000) + ']'.repeat(10_000))!.code, 'too_deep')
})

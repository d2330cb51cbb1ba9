import assert from 'node:assert/strict'
import { test } from 'node:test'
import { v8Wording } from './js-protocol.js'

test("QuickJS's commonest errors are logged in V8's words; others as QuickJS wrote them", () => {
  const cases: [string, string][] = [
    ["TypeError: cannot set property 'field' of undefined at f (/m.js:3:9)", "TypeError: Cannot set properties of undefined (setting 'field') at f (/m.js:3:9)"],
    ["TypeError: cannot read property 'x' of null", "TypeError: Cannot read properties of null (reading 'x')"],
    ["ReferenceError: 'process' is not defined at anonymous (<input>:3:8)", 'ReferenceError: process is not defined at anonymous (<input>:3:8)'],
    ['TypeError: not a function at f (/m.js:1:2)', 'TypeError: not a function at f (/m.js:1:2)'],
    ["Error: cannot read property 'x' of undefined", "Error: cannot read property 'x' of undefined"],
    ['InternalError: out of memory', 'InternalError: out of memory'],
  ]
  for (const [quickjs, logged] of cases) assert.equal(v8Wording(quickjs), logged)
})

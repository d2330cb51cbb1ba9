/**
 * Chaos: the JavaScript sandbox against the escapes test/script-js-sandbox.test.ts does not try (the list is in
 * test/chaos/sandbox.ts). None reaches the worker; the worker answers after each one, and another module stays clean.
 */
import { test } from 'node:test'
import { sandboxEscapes } from './chaos/sandbox.js'

test('more ways out of the JavaScript sandbox: each blocked or confined to its own module', async (t) => {
  await sandboxEscapes(t)
})

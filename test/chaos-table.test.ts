/**
 * Chaos, short version: a 45 000-server group (a POST body of about 1 MB) posted under traffic, then a reload under
 * the same traffic (the long run sends ten SIGHUPs each once the one before was logged, then ten 700 ms apart).
 * Every request is answered 200 by the backend; the group is whole and routed by every worker right after its 200;
 * the reload leaves the table exactly as it was.
 */
import { test } from 'node:test'
import { hugeGroupAndStorms } from './chaos/table.js'

test('a 45 000-server POST and a reload under traffic: every request answered, the table intact', async (t) => {
  await hugeGroupAndStorms(t, { servers: 45_000, concurrency: 8, baselineMs: 300, storms: [{ reloads: 1, pace: 'logged' }] })
})

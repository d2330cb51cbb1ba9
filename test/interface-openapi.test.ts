/**
 * docs/openapi.json against the running interface: every documented route and method is served (neither 404
 * not_found nor 405), every other method on a documented path is 405 with exactly the documented methods in `Allow`,
 * paths the document does not name are 404, every $ref resolves, and GET /api/openapi.json serves the document.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { ROOT, backend, iget, request, startInterface } from './helpers.js'

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

interface Doc { openapi: string; paths: Record<string, Record<string, unknown>> }

test('docs/openapi.json: every route the interface serves is documented, and every documented route is served', async (t) => {
  const text = readFileSync(join(ROOT, 'docs/openapi.json'), 'utf8')
  const doc = JSON.parse(text) as Doc
  assert.equal(doc.openapi, '3.1.0')
  // Every $ref names something in the document.
  for (const m of text.matchAll(/"\$ref": "#\/([^"]+)"/g)) {
    let at: unknown = doc
    for (const part of m[1]!.split('/')) at = (at as Record<string, unknown>)[part]
    assert.notEqual(at, undefined, `$ref #/${m[1]}`)
  }

  const a = await backend(t, 'oa')
  const s = await startInterface(t, { workers: 2, http: `    upstream g { server 127.0.0.1:${a.port}; }\n` })
  const served = await iget(s.iface, '/api/openapi.json')
  assert.deepEqual([served.status, served.headers['content-type']], [200, 'application/json'])
  assert.deepEqual(JSON.parse(served.body), doc)

  const send = (method: string, path: string): ReturnType<typeof request> =>
    request(s.iface, { method, path: `${path}?dry_run=1`, ...(method === 'GET' ? {} : { body: '{}', headers: { 'Content-Type': 'application/json' } }) })
  const code = (body: string): string | undefined => {
    try {
      return (JSON.parse(body) as { error?: { code: string } }).error?.code
    } catch {
      return undefined
    }
  }
  for (const [template, item] of Object.entries(doc.paths)) {
    const path = template.replace('{name}', 'g').replace('{id}', '0')
    const documented = METHODS.filter((m) => item[m.toLowerCase()] !== undefined)
    assert.ok(documented.length > 0, template)
    for (const m of METHODS) {
      const r = await send(m, path)
      if (documented.includes(m)) {
        assert.notEqual(r.status, 405, `${m} ${template} is documented and served`)
        assert.ok(!(r.status === 404 && code(r.body) === 'not_found'), `${m} ${template} is documented and served: ${r.status} ${r.body}`)
        assert.ok(r.status < 500, `${m} ${template}: ${r.status} ${r.body}`)
      } else {
        assert.equal(r.status, 405, `${m} ${template} is not documented, so not served`)
        assert.deepEqual(r.headers['allow']!.split(', ').sort(), [...documented].sort(), `Allow of ${template}`)
      }
    }
  }
  // Paths the document does not name.
  for (const path of ['/api', '/api/nothing', '/api/upstreams/g/other', '/api/upstreams/g/servers/0/x', '/api/batch/x', '/api/openapi.json/x', '/api/openapi.yaml']) {
    for (const m of METHODS) {
      const r = await send(m, path)
      assert.deepEqual([r.status, code(r.body)], [404, 'not_found'], `${m} ${path}`)
    }
  }
})

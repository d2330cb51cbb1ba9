import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseText } from '../../config/index.js'
import { compileErrorPages } from './error-page.js'
import { Variables } from '../lib/variables.js'

const pages = (text: string) => {
  const vars = new Variables({ version: '0' })
  const p = compileErrorPages(parseText(text, 't.conf'), vars)
  vars.finish()
  return p
}

test('a level without error_page has no list (it inherits)', () => {
  assert.equal(pages('set $a 1;'), null)
})

test('targets, overwrites and the first entry for a status', () => {
  const p = pages(`
    error_page 404 /404.html?from=x;
    error_page 500 502 =200 /50x;
    error_page 403 = @named;
    error_page 404 /second;
    error_page 495 /ssl;
    error_page 301 =301 http://example.com/;
    error_page 410 /v/$uri;
  `)!
  const e404 = p.find(404)!
  assert.deepEqual([e404.overwrite, e404.uri, e404.args], [-1, '/404.html', 'from=x'])
  assert.deepEqual([p.find(500)!.overwrite, p.find(502)!.uri], [200, '/50x'])
  assert.deepEqual([p.find(403)!.overwrite, p.find(403)!.uri, p.find(403)!.value.constant], [0, null, '@named'])
  assert.equal(p.find(495)!.overwrite, 400, "nginx's own 49x codes answer 400 unless told")
  assert.deepEqual([p.find(301)!.overwrite, p.find(301)!.uri], [301, null])
  assert.equal(p.find(410)!.uri, null, 'a value with variables is split per request')
  assert.equal(p.find(410)!.value.constant, null)
  assert.equal(p.find(418), null)
  assert.equal(p.find(200), null)
  assert.equal(p.find(999), null)
})

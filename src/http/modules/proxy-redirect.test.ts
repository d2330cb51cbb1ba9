import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseText, type Directive } from '../../config/index.js'
import { RequestHeadParser } from '../../http1/index.js'
import { compileProxyRedirect, levelRedirects } from './proxy-redirect.js'
import { Request } from '../lib/request.js'
import { Variables } from '../lib/variables.js'

const block = (text: string): Directive[] => parseText(text, 't.conf')

function request(host: string): Request {
  const p = new RequestHeadParser()
  p.execute(Buffer.from(`GET /x HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 'latin1'), 0)
  const r = new Request(p.head!, 0)
  r.host = host
  return r
}

test('rules rewrite from the prefix on, first match wins', () => {
  const vars = new Variables({ version: '0' })
  const ds = levelRedirects(block(`
    proxy_redirect http://a/ /a/;
    proxy_redirect ~^http://(\\w+)\\.rx/(.*)$ /rx/$1/$2;
    proxy_redirect ~*^HTTP://C/ /c/;
    proxy_redirect http://$host/ /h/;
    proxy_redirect http://a/x /never/;
  `))
  assert.ok(Array.isArray(ds))
  const rd = compileProxyRedirect({ directives: ds, url: 'http://u', hasUri: false, location: '/' }, vars)!
  vars.finish()
  const r = request('side')
  const cases: [string, string | null][] = [
    ['http://a/x?y', '/a/x?y'],
    ['http://A/x', null],
    ['http://foo.rx/bar', '/rx/foo/bar'],
    ['http://c/deep', '/c/'],
    ['http://side/p', '/h/p'],
    ['http://other/', null],
  ]
  for (const [v, want] of cases) assert.equal(rd.rewrite(r, v, 0), want, v)
  assert.equal(rd.rewriteRefresh(r, '3; URL=http://a/r'), '3; URL=/a/r')
  assert.equal(rd.rewriteRefresh(r, '3'), null)
})

test('the default rule follows proxy_pass and the location', () => {
  const vars = new Variables({ version: '0' })
  const r = request('h')
  const withUri = compileProxyRedirect({ directives: null, url: 'http://u/two/', hasUri: true, location: '/one/' }, vars)!
  assert.equal(withUri.rewrite(r, 'http://u/two/x', 0), '/one/x')
  const noUri = compileProxyRedirect({ directives: null, url: 'http://u', hasUri: false, location: '/one/' }, vars)!
  assert.equal(noUri.rewrite(r, 'http://u/x', 0), '/x')
  assert.equal(compileProxyRedirect({ directives: null, url: null, hasUri: false, location: '/' }, vars), null)
  assert.equal(compileProxyRedirect({ directives: 'off', url: 'http://u', hasUri: false, location: '/' }, vars), null)
  assert.throws(() => compileProxyRedirect({ directives: block('proxy_redirect default;'), url: null, hasUri: false, location: '/' }, vars),
    /cannot be used with "proxy_pass" directive with variables/)
})

test('levelRedirects checks order as nginx', () => {
  assert.equal(levelRedirects(block('proxy_pass http://u;')), undefined)
  assert.equal(levelRedirects(block('proxy_redirect off; proxy_redirect http://a/ /;')), 'off')
  assert.equal(levelRedirects(block('proxy_redirect false;')), 'off')
  assert.throws(() => levelRedirects(block('proxy_redirect http://a/ /; proxy_redirect off;')), /directive is duplicate/)
  assert.throws(() => levelRedirects(block('proxy_redirect default; proxy_pass http://u;')), /should be placed after/)
  assert.equal((levelRedirects(block('proxy_pass http://u; proxy_redirect default;')) as Directive[]).length, 1)
})

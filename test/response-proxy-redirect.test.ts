/**
 * proxy_redirect side by side with the real nginx: Location and Refresh headers of proxied answers rewritten (or
 * not) identically, headers in the same order; and `-t` refusing the same misplaced `default`s with the same message.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { tempPrefix, writeConf } from './helpers.js'
import { dyupsTest, nginxTest, sideConf } from './nginx.js'
import { askBoth, req, startResponses, type Seen } from './responses.js'

const SERVER = `
        location /one/ { proxy_pass http://u/h/; }
        location /off/ { proxy_redirect off; proxy_pass http://u/h/; }
        location /rules/ {
            proxy_pass http://u/h/;
            proxy_redirect http://a.example/ /a/;
            proxy_redirect http://b.example/ http://c.example/;
            proxy_redirect ~^http://(\\w+)\\.rx/(.*)$ /rx/$1/$2;
            proxy_redirect ~*^HTTP://CASE/ /case/;
            proxy_redirect $scheme://$host/ /vars/;
        }
        location /withdefault/ { proxy_pass http://u/h/; proxy_redirect default; proxy_redirect http://x/ /x/; }
        location ~ ^/h/rx { proxy_pass http://u; }
        location /h/var { proxy_pass http://u$request_uri; }
        location /inh/ {
            proxy_redirect http://inh.example/ /inherited/;
            location /inh/sub/ { proxy_pass http://u/h/; }
        }
        location = /exact { proxy_pass http://u/h/exact; }
`

const q = (pairs: Record<string, string>): string => Object.entries(pairs).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')

interface Case {
  name: string
  path: string
  headers: Record<string, string>
  /** A header line nginx is expected to send. */
  expect: string
}

const CASES: Case[] = [
  { name: 'default: proxy_pass URL → location', path: '/one/x', headers: { Location: 'http://u/h/page?a=1' }, expect: 'Location: http://side:PORT/one/page?a=1' },
  { name: 'default: other hosts unchanged, in place', path: '/one/x', headers: { 'X-A': '1', Location: 'http://other/h/page', 'X-B': '2' }, expect: 'Location: http://other/h/page' },
  { name: 'default: a relative Location stays relative', path: '/one/x', headers: { 'X-A': '1', Location: '/relative', 'X-B': '2' }, expect: 'Location: /relative' },
  { name: 'default: prefix is case-sensitive', path: '/one/x', headers: { Location: 'HTTP://U/h/page' }, expect: 'Location: HTTP://U/h/page' },
  { name: 'Refresh url= rewritten, not made absolute', path: '/one/x', headers: { Refresh: '5; url=http://u/h/r' }, expect: 'Refresh: 5; url=/one/r' },
  { name: 'Refresh URL= caseless', path: '/one/x', headers: { Refresh: '5; URL=http://u/h/r' }, expect: 'Refresh: 5; URL=/one/r' },
  { name: 'Refresh without url=', path: '/one/x', headers: { Refresh: '5' }, expect: 'Refresh: 5' },
  { name: 'a lowercase location header', path: '/one/x', headers: { 'X-A': '1', location: 'http://u/h/lower' }, expect: 'Location: http://side:PORT/one/lower' },
  { name: 'off', path: '/off/x', headers: { Location: 'http://u/h/page' }, expect: 'Location: http://u/h/page' },
  { name: 'rule to a path', path: '/rules/x', headers: { Location: 'http://a.example/p' }, expect: 'Location: http://side:PORT/a/p' },
  { name: 'rule to a URL', path: '/rules/x', headers: { Location: 'http://b.example/p' }, expect: 'Location: http://c.example/p' },
  { name: 'regex with captures', path: '/rules/x', headers: { Location: 'http://foo.rx/bar?q=1' }, expect: 'Location: http://side:PORT/rx/foo/bar?q=1' },
  { name: 'caseless regex replaces the whole value', path: '/rules/x', headers: { Location: 'http://case/deep/path' }, expect: 'Location: http://side:PORT/case/' },
  { name: 'variables in FROM', path: '/rules/x', headers: { Location: 'http://side/p' }, expect: 'Location: http://side:PORT/vars/p' },
  { name: 'explicit rules drop the default', path: '/rules/x', headers: { Location: 'http://u/h/p' }, expect: 'Location: http://u/h/p' },
  { name: 'default beside a rule', path: '/withdefault/x', headers: { Location: 'http://u/h/z' }, expect: 'Location: http://side:PORT/withdefault/z' },
  { name: 'rule beside default', path: '/withdefault/x', headers: { Location: 'http://x/y' }, expect: 'Location: http://side:PORT/x/y' },
  { name: 'regex location: URL/ → /', path: '/h/rx', headers: { Location: 'http://u/q' }, expect: 'Location: http://side:PORT/q' },
  { name: 'proxy_pass with variables: no default', path: '/h/var', headers: { Location: 'http://u/q' }, expect: 'Location: http://u/q' },
  { name: 'inherited from the enclosing location', path: '/inh/sub/x', headers: { Location: 'http://inh.example/z' }, expect: 'Location: http://side:PORT/inherited/z' },
  { name: 'exact location', path: '/exact', headers: { Location: 'http://u/h/exact/more' }, expect: 'Location: http://side:PORT/exact/more' },
]

test('proxy_redirect rewrites Location and Refresh as nginx', async (t) => {
  const { pair } = await startResponses(t, { server: SERVER })
  for (const c of CASES) {
    await t.test(c.name, async () => {
      const [n, d]: [Seen, Seen] = await askBoth(pair, req(`${c.path}?${q(c.headers)}`))
      assert.ok(n.headers.includes(c.expect), `nginx sent ${JSON.stringify(n.headers)}`)
      assert.deepEqual(d, n)
    })
  }
})

function emerg(stderr: string): string {
  const m = /\[emerg\] (?:\d+#\d+: )?(.*) in \S+:(\d+)$/m.exec(stderr)
  return m === null ? `no [emerg] line in ${JSON.stringify(stderr)}` : `${m[1]} :${m[2]}`
}

test('proxy_redirect configuration errors as nginx -t', async (t) => {
  const cases: [string, string, string, string][] = [
    ['default with variables', '', 'proxy_pass http://u$request_uri; proxy_redirect default;', '"proxy_redirect default" cannot be used with "proxy_pass" directive with variables'],
    ['default before proxy_pass', '', 'proxy_redirect default; proxy_pass http://u/x/;', '"proxy_redirect default" should be placed after the "proxy_pass" directive'],
    ['default at the http level', 'proxy_redirect default;', '', '"proxy_redirect default" should be placed after the "proxy_pass" directive'],
    ['off after a rule', '', 'proxy_redirect http://a/ /; proxy_redirect off;', '"proxy_redirect" directive is duplicate'],
    ['bad single argument', '', 'proxy_redirect on;', 'invalid parameter "on"'],
  ]
  for (const [name, http, location, message] of cases) {
    await t.test(name, async () => {
      const prefix = tempPrefix(t)
      const extra = `        location /x/ { ${location} }\n`
      writeConf(prefix, 'conf/nginx.conf', sideConf({ upstream: '    upstream u { server 127.0.0.1:1; }', http }, 1, 'dyups', extra))
      const [n, d] = await Promise.all([nginxTest(prefix), dyupsTest(prefix)])
      assert.equal(emerg(n.stderr).split(' :')[0], message)
      assert.equal(emerg(d.stderr + d.stdout), emerg(n.stderr))
      assert.equal(d.code, 1)
    })
  }
})

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseText, type Directive } from '../../config/index.js'
import {
  Variables,
  BasicVarSource,
  parseTemplate,
  argValue,
  cookieValue,
  headerValue,
  basicAuthUser,
  secondsDotMillis,
  statusText,
  timeLocal,
  timeIso8601,
  type VarSource,
} from './variables.js'
import { buildLocations, LocationMatch } from '../conf/locations.js'
import { Target, parseTarget } from './uri.js'
import { normalizeHost } from '../conf/vhosts.js'

const conf = (text: string): Directive[] => parseText(text, 't.conf')

// An http block and, per raw request, what nginx 1.22.1 answered from 127.0.0.1. One deliberate difference:
// repeated request headers are joined with ", " in $http_* as nginx does since 1.23.0 (1.22.1 gave the first one);
// `x_foo` is absent because the codec drops header names with underscores, as nginx does by default.
const HTTP = String.raw`
map $arg_m $mapped {
  default d;
  a A;
  \~lit tilde;
  "" empty;
  ~^re(?<mc>[0-9]+)$ "re:$mc:$1";
  ~*^CI ci;
  ~^x(.)y "x:$1";
  var "v:$arg_x";
}
map $http_x_h $hmap {
  hostnames;
  default none;
  example.com exact;
  *.example.com star;
  .example.org dot;
  www.example.* tail;
  ~^(?<hm>[a-z]+)\.regex$ "re:$hm";
}
map $arg_n $nodefault { a 1; }
server {
  listen 127.0.0.1:18931;
  server_name vars.test;
  location /v {
    return 200 "host=[$host] xfoo=[$http_x_foo] cookie=[$http_cookie] ca=[$cookie_a] cb=[$cookie_B] ax=[$arg_x] aY=[$arg_Y] isargs=[$is_args] args=[$args] qs=[$query_string] ru=[$request_uri] uri=[$uri] du=[$document_uri] req=[$request] m=[$request_method] proto=[$server_protocol] ruser=[$remote_user] cl=[$content_length] ct=[$content_type] ua=[$http_user_agent] ref=[$http_referer] xff=[$proxy_add_x_forwarded_for] sn=[$server_name] scheme=[$scheme] https=[$https] mapped=[$mapped] hmap=[$hmap] nodef=[$nodefault] hh=[$http_host]";
  }
  location ~ ^/cap/(?<first>[a-z]+)/([0-9]+) {
    set $s "set:$first";
    return 200 "1=[$1] 2=[$2] 3=[$3] first=[$first] s=[$s] unset=[$unset] br=[${'${'}first}x]";
  }
  location /unset { set $unset "x"; return 200 "never"; }
}
`
const NGINX: Array<[string, string]> = [
  ["GET /v HTTP/1.0\r\n\r\n",
   "host=[vars.test] xfoo=[] cookie=[] ca=[] cb=[] ax=[] aY=[] isargs=[] args=[] qs=[] ru=[/v] uri=[/v] du=[/v] req=[GET /v HTTP/1.0] m=[GET] proto=[HTTP/1.0] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[empty] hmap=[none] nodef=[] hh=[]"],
  ["GET /v?x=1&Y=2&m=a HTTP/1.1\r\nHost: Vars.Test:8080\r\nX-Foo: one\r\nx_foo: two\r\nX-FOO: three\r\nCookie: a=1; B=2\r\nCookie: c=3;a=4\r\nUser-Agent: UA/1.0\r\nReferer: http://r/\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\nContent-Type: text/x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
   "host=[vars.test] xfoo=[one, three] cookie=[a=1; B=2; c=3;a=4] ca=[1] cb=[2] ax=[1] aY=[2] isargs=[?] args=[x=1&Y=2&m=a] qs=[x=1&Y=2&m=a] ru=[/v?x=1&Y=2&m=a] uri=[/v] du=[/v] req=[GET /v?x=1&Y=2&m=a HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[alice] cl=[0] ct=[text/x] ua=[UA/1.0] ref=[http://r/] xff=[10.0.0.1, 10.0.0.2, 127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[A] hmap=[none] nodef=[] hh=[Vars.Test:8080]"],
  ["GET /v?xx=1&ax=2&x=3&X=4 HTTP/1.1\r\nHost: h\r\nCookie: aa=1; a =5\r\nAuthorization: basic  Om5vdXNlcg==\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[aa=1; a =5] ca=[5] cb=[] ax=[3] aY=[] isargs=[?] args=[xx=1&ax=2&x=3&X=4] qs=[xx=1&ax=2&x=3&X=4] ru=[/v?xx=1&ax=2&x=3&X=4] uri=[/v] du=[/v] req=[GET /v?xx=1&ax=2&x=3&X=4 HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[empty] hmap=[none] nodef=[] hh=[h]"],
  ["GET /v?m=A&x=&Y HTTP/1.1\r\nHost: h\r\nCookie: b=1, a=7\r\nAuthorization: Basic bm9jb2xvbg==\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[b=1, a=7] ca=[7] cb=[1, a=7] ax=[] aY=[] isargs=[?] args=[m=A&x=&Y] qs=[m=A&x=&Y] ru=[/v?m=A&x=&Y] uri=[/v] du=[/v] req=[GET /v?m=A&x=&Y HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[A] hmap=[none] nodef=[] hh=[h]"],
  ["GET /v?m=re42 HTTP/1.1\r\nHost: h\r\nAuthorization: Basic YWxp!2U6eA==\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[] aY=[] isargs=[?] args=[m=re42] qs=[m=re42] ru=[/v?m=re42] uri=[/v] du=[/v] req=[GET /v?m=re42 HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[re:42:42] hmap=[none] nodef=[] hh=[h]"],
  ["GET /v?m=ci-foo HTTP/1.1\r\nHost: h\r\nAuthorization: Basic YWxpY2U6eA\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[] aY=[] isargs=[?] args=[m=ci-foo] qs=[m=ci-foo] ru=[/v?m=ci-foo] uri=[/v] du=[/v] req=[GET /v?m=ci-foo HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[alice] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[ci] hmap=[none] nodef=[] hh=[h]"],
  ["GET /v?m=xQy HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer abc\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[] aY=[] isargs=[?] args=[m=xQy] qs=[m=xQy] ru=[/v?m=xQy] uri=[/v] du=[/v] req=[GET /v?m=xQy HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[x:Q] hmap=[none] nodef=[] hh=[h]"],
  ["GET /v?m=var&x=vx HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[vx] aY=[] isargs=[?] args=[m=var&x=vx] qs=[m=var&x=vx] ru=[/v?m=var&x=vx] uri=[/v] du=[/v] req=[GET /v?m=var&x=vx HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[v:vx] hmap=[none] nodef=[] hh=[h]"],
  ["GET /v?m=~lit HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[] aY=[] isargs=[?] args=[m=~lit] qs=[m=~lit] ru=[/v?m=~lit] uri=[/v] du=[/v] req=[GET /v?m=~lit HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[tilde] hmap=[none] nodef=[] hh=[h]"],
  ["GET /v?m= HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[] aY=[] isargs=[?] args=[m=] qs=[m=] ru=[/v?m=] uri=[/v] du=[/v] req=[GET /v?m= HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[empty] hmap=[none] nodef=[] hh=[h]"],
  ["GET /v?m=zzz&n=A HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[] aY=[] isargs=[?] args=[m=zzz&n=A] qs=[m=zzz&n=A] ru=[/v?m=zzz&n=A] uri=[/v] du=[/v] req=[GET /v?m=zzz&n=A HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[d] hmap=[none] nodef=[1] hh=[h]"],
  ["GET /v? HTTP/1.1\r\nHost: h\r\nX-H: example.com\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[] aY=[] isargs=[] args=[] qs=[] ru=[/v?] uri=[/v] du=[/v] req=[GET /v? HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[empty] hmap=[exact] nodef=[] hh=[h]"],
  ["GET /v HTTP/1.1\r\nHost: h\r\nX-H: EXAMPLE.com.\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[] aY=[] isargs=[] args=[] qs=[] ru=[/v] uri=[/v] du=[/v] req=[GET /v HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[empty] hmap=[exact] nodef=[] hh=[h]"],
  ["GET /v HTTP/1.1\r\nHost: h\r\nX-H: a.b.example.com\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[] aY=[] isargs=[] args=[] qs=[] ru=[/v] uri=[/v] du=[/v] req=[GET /v HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[empty] hmap=[star] nodef=[] hh=[h]"],
  ["GET /v HTTP/1.1\r\nHost: h\r\nX-H: example.org\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[] aY=[] isargs=[] args=[] qs=[] ru=[/v] uri=[/v] du=[/v] req=[GET /v HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[empty] hmap=[dot] nodef=[] hh=[h]"],
  ["GET /v HTTP/1.1\r\nHost: h\r\nX-H: www.example.net\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[] aY=[] isargs=[] args=[] qs=[] ru=[/v] uri=[/v] du=[/v] req=[GET /v HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[empty] hmap=[tail] nodef=[] hh=[h]"],
  ["GET /v HTTP/1.1\r\nHost: h\r\nX-H: abc.regex\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[] aY=[] isargs=[] args=[] qs=[] ru=[/v] uri=[/v] du=[/v] req=[GET /v HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[empty] hmap=[re:abc] nodef=[] hh=[h]"],
  ["GET /v HTTP/1.1\r\nHost: h\r\nX-H: ABC.regex\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[] aY=[] isargs=[] args=[] qs=[] ru=[/v] uri=[/v] du=[/v] req=[GET /v HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[empty] hmap=[none] nodef=[] hh=[h]"],
  ["GET /v HTTP/1.1\r\nHost: h\r\nX-H: nothing\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[] aY=[] isargs=[] args=[] qs=[] ru=[/v] uri=[/v] du=[/v] req=[GET /v HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[empty] hmap=[none] nodef=[] hh=[h]"],
  ["GET http://Abs.Host:1/v?x=abs HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n",
   "host=[abs.host] xfoo=[] cookie=[] ca=[] cb=[] ax=[abs] aY=[] isargs=[?] args=[x=abs] qs=[x=abs] ru=[/v?x=abs] uri=[/v] du=[/v] req=[GET http://Abs.Host:1/v?x=abs HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[empty] hmap=[none] nodef=[] hh=[other]"],
  ["GET /cap/abc/123 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
   "1=[abc] 2=[123] 3=[] first=[abc] s=[set:abc] unset=[] br=[abcx]"],
  ["GET /v?x=%41%20b&arg_x=no HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
   "host=[h] xfoo=[] cookie=[] ca=[] cb=[] ax=[%41%20b] aY=[] isargs=[?] args=[x=%41%20b&arg_x=no] qs=[x=%41%20b&arg_x=no] ru=[/v?x=%41%20b&arg_x=no] uri=[/v] du=[/v] req=[GET /v?x=%41%20b&arg_x=no HTTP/1.1] m=[GET] proto=[HTTP/1.1] ruser=[] cl=[] ct=[] ua=[] ref=[] xff=[127.0.0.1] sn=[vars.test] scheme=[http] https=[] mapped=[empty] hmap=[none] nodef=[] hh=[h]"],
]

/** A VarSource for a raw request, filled the way the request path fills it. */
function source(raw: string, vars: Variables): VarSource {
  const src = new BasicVarSource()
  const [head] = raw.split('\r\n\r\n')
  const lines = head!.split('\r\n')
  src.requestLine = lines[0]!
  const [method, target, protocol] = lines[0]!.split(' ')
  src.method = method!
  src.protocol = protocol!
  const t = new Target()
  assert.ok(parseTarget(target!, t))
  src.uri = t.uri
  src.args = t.args
  src.requestUri = t.requestUri
  const headers: string[] = []
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':')
    const name = l.slice(0, i)
    if (name.includes('_')) continue
    headers.push(name, l.slice(i + 1).trim())
  }
  src.headers = headers
  const hostHeader = headers.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === 'host')
  src.host = t.host ? normalizeHost(t.host)! : hostHeader >= 0 ? normalizeHost(headers[hostHeader + 1]!)! : ''
  src.remoteAddr = '127.0.0.1'
  src.remotePort = 50000
  src.serverAddr = '127.0.0.1'
  src.serverPort = 18931
  src.serverName = 'vars.test'
  src.sets = new Array(vars.slots)
  return src
}

function setup() {
  const http = conf(HTTP)
  const vars = new Variables({ version: '0.1.0', hostname: 'box' })
  for (const d of http) if (d.name === 'map') vars.addMap(d)
  const server = http.find((d) => d.name === 'server')!.block!
  const locations = buildLocations(server)
  vars.declareCaptures(locations.captureNames)
  // per location: its `set`s and its `return` text
  const sets = locations.locations.map((l) =>
    l.directive.block!.filter((d) => d.name === 'set').map((d) => ({ set: vars.setter(d.args[0]!, d), value: vars.compile(d.args[1]!, d) })),
  )
  const bodies = locations.locations.map((l) => {
    const r = l.directive.block!.find((d) => d.name === 'return')!
    return vars.compile(r.args[1]!, r)
  })
  vars.finish()
  return { vars, locations, sets, bodies }
}

test('every variable of every request evaluates as nginx evaluated it', () => {
  const { vars, locations, sets, bodies } = setup()
  const m = new LocationMatch()
  for (const [raw, want] of NGINX) {
    const src = source(raw, vars)
    const loc = locations.match(src.uri, m)!
    if (m.captures) src.captures = m.captures
    for (const s of sets[loc.id]!) s.set(src, s.value.eval(src))
    assert.equal(bodies[loc.id]!.eval(src), want, raw)
  }
})

test('template syntax: nginx\'s errors and parts', () => {
  const rows: Array<[string, string]> = [
    ['a$', 'invalid variable name'],
    ['${a', 'the closing bracket in "a" variable is missing'],
    ['${}', 'invalid variable name'],
    ['$$first', 'invalid variable name'],
    ['x$', 'invalid variable name'],
  ]
  for (const [text, message] of rows) {
    assert.throws(
      () => parseTemplate(text, { file: 'f', line: 3 }),
      (e: any) => e.code === 'E_CONFIG' && e.message === message && e.at.line === 3,
      text,
    )
  }
  assert.deepEqual(parseTemplate('a$b-${c}d$1$9x$0$Host', undefined), [
    'a',
    { name: 'b' },
    '-',
    { name: 'c' },
    'd',
    1,
    9,
    'x',
    { name: '0' },
    { name: 'Host' },
  ])
  assert.deepEqual(parseTemplate('no variables', undefined), ['no variables'])
  assert.deepEqual(parseTemplate('', undefined), [])
})

test('unknown variables are reported by finish(), at their first use (nginx -t wording)', () => {
  const rows: Array<[string, string]> = [
    ['$0', 'unknown "0" variable'],
    ['${1}', 'unknown "1" variable'],
    ['$foo', 'unknown "foo" variable'],
    ['$FOO_bar', 'unknown "foo_bar" variable'],
    ['x $pipe', 'unknown "pipe" variable'],
  ]
  for (const [text, message] of rows) {
    const vars = new Variables({ version: '0' })
    vars.compile(text, { file: 'f', line: 7 })
    assert.throws(
      () => vars.finish(),
      (e: any) => e.code === 'E_CONFIG' && e.message === message && e.at.line === 7,
      text,
    )
  }
  // Known in nginx: exact names in any case, prefixes, trailer prefixes (never found).
  const vars = new Variables({ version: '0' })
  for (const ok of ['$Host$HTTP_X', '$arg_', '$http_', '$upstream_trailer_x $sent_trailer_x $upstream_cookie_a', '$1 $9']) {
    vars.compile(ok)
  }
  vars.finish()
})

test('a variable may be used before the set or map that defines it', () => {
  const vars = new Variables({ version: '0' })
  const t = vars.compile('[$later][$m]')
  const slot = vars.declareSet('$later')
  vars.addMap(conf('map $uri $m { /x hit; }')[0]!)
  vars.finish()
  const src = new BasicVarSource()
  src.sets = new Array(vars.slots)
  src.uri = '/x'
  assert.equal(t.eval(src), '[][hit]')
  src.sets[slot] = 'v'
  assert.equal(t.eval(src), '[v][hit]')
  // compiled after finish(): resolved at once
  assert.equal(vars.compile('$later').eval(src), 'v')
  assert.throws(() => vars.compile('$nope'), (e: any) => e.message === 'unknown "nope" variable')
})

test('set and map declarations: nginx\'s errors', () => {
  const vars = new Variables({ version: '0' })
  const rows: Array<[() => unknown, string]> = [
    [() => vars.declareSet('$host'), 'the duplicate "host" variable'],
    [() => vars.declareSet('uri'), 'the duplicate "uri" variable'],
    [() => vars.addMap(conf('map $uri $host {}')[0]!), 'the duplicate "host" variable'],
    [() => vars.addMap(conf('map $uri y {}')[0]!), 'invalid variable name "y"'],
    [() => vars.addMap(conf('map $uri $m { a b c; }')[0]!), 'invalid number of the map parameters'],
    [() => vars.addMap(conf('map $uri $m { default a; default b; }')[0]!), 'duplicate default map parameter'],
    [() => vars.addMap(conf('map $uri $m { a 1; A 2; }')[0]!), 'conflicting parameter "a"'],
    [() => vars.addMap(conf('map $uri $m { hostnames; *.a.com 1; .a.com 2; }')[0]!), 'conflicting parameter ".a.com"'],
    [() => vars.addMap(conf('map $uri $m { hostnames; w*w 1; }')[0]!), 'invalid hostname or wildcard "w*w"'],
    [() => vars.addMap(conf('map $uri $m { ~(a 1; }')[0]!), 'pcre2_compile() failed: Unterminated group in "(a"'],
    [() => vars.declareCaptures(['host']), 'the duplicate "host" variable'],
  ]
  for (const [f, message] of rows) assert.throws(f, (e: any) => e.code === 'E_CONFIG' && e.message === message, message)
  // accepted by nginx
  vars.declareSet('$args')
  vars.addMap(conf('map $uri $m2 { a 1; } ')[0]!)
  vars.addMap(conf('map $uri $m2 { b 2; } ')[0]!) // the later map wins
  vars.addMap(conf('map $uri $m3 { hostnames 1; }')[0]!) // "hostnames" with a value is a key
  vars.declareCaptures(['args', 'capname'])
  const t = vars.compile('$m2|$m3')
  const args = vars.compile('$args')
  vars.finish()
  const src = new BasicVarSource()
  src.uri = 'b'
  assert.equal(t.eval(src), '2|')
  src.uri = 'hostnames'
  assert.equal(t.eval(src), '|1')
  src.args = 'q=1'
  src.captures = /(?<args>x)/.exec('x')
  assert.equal(args.eval(src), 'q=1')
})

test('set $args changes the query string', () => {
  const vars = new Variables({ version: '0' })
  const set = vars.setter('$args')
  const t = vars.compile('$args$is_args')
  vars.finish()
  const src = new BasicVarSource()
  set(src, 'a=1')
  assert.equal(src.args, 'a=1')
  assert.equal(t.eval(src), 'a=1?')
})

test('request, connection and upstream values', () => {
  const vars = new Variables({ version: '9.8.7', hostname: 'MyBox' })
  const t = (s: string) => vars.compile(s)
  const all = t(
    '$nginx_version|$hostname|$pid|$connection|$connection_requests|$remote_port|$server_addr|$server_port|' +
      '$status|$body_bytes_sent|$bytes_sent|$request_length|$upstream_addr|$upstream_status|' +
      '$upstream_response_time|$upstream_connect_time|$upstream_header_time|$upstream_response_length|' +
      '$upstream_bytes_received|$upstream_bytes_sent|$upstream_http_x_up|$upstream_cookie_sid|$sent_http_content_type|' +
      '$proxy_host|$proxy_port|$https|$scheme',
  )
  vars.finish()
  const src = new BasicVarSource()
  Object.assign(src, {
    pid: 4242,
    connection: 17,
    connectionRequests: 3,
    remotePort: 51000,
    serverAddr: '10.0.0.1',
    serverPort: 8080,
    status: 502,
    bodyBytesSent: 157,
    bytesSent: 300,
    requestLength: 78,
    upstreamAddr: '127.0.0.1:8088, 127.0.0.1:8089',
    upstreamStatus: '502, 200',
    upstreamResponseTime: '0.001, 0.004',
    upstreamConnectTime: '0.000, 0.001',
    upstreamHeaderTime: '-, 0.004',
    upstreamResponseLength: '0, 12',
    upstreamBytesReceived: '0, 120',
    upstreamBytesSent: '78, 78',
    upstreamHeaders: ['X-Up', 'a', 'Set-Cookie', 'sid=abc; Path=/', 'x-up', 'b'],
    sentHead: 'HTTP/1.1 200 OK\r\nServer: dyups\r\nContent-Type: text/plain\r\n\r\n',
    proxyHost: 'host1',
    proxyPort: '80',
    scheme: 'https',
  })
  assert.equal(
    all.eval(src),
    '9.8.7|mybox|4242|17|3|51000|10.0.0.1|8080|502|157|300|78|127.0.0.1:8088, 127.0.0.1:8089|502, 200|' +
      '0.001, 0.004|0.000, 0.001|-, 0.004|0, 12|0, 120|78, 78|a, b|abc|text/plain|host1|80|on|https',
  )
  const empty = new BasicVarSource()
  assert.equal(all.eval(empty).split('|').slice(2, 3)[0], String(process.pid))
  assert.equal(all.eval(empty).split('|').slice(8, 9)[0], '000')
})

test('not found is undefined, so a log can write "-"', () => {
  const vars = new Variables({ version: '0' })
  const names = ['http_x_none', 'cookie_none', 'arg_none', 'args', 'remote_user', 'upstream_addr', 'sent_http_x', 'server_protocol', 'content_length']
  const refs = names.map((n) => vars.ref(n))
  vars.finish()
  const src = new BasicVarSource()
  src.protocol = ''
  for (const r of refs) assert.equal(r.get(src), undefined, r.name)
  assert.equal(vars.ref('is_args').get(src), '')
})

test('times: nginx formats, cached per second, now = endMsec when set', () => {
  const vars = new Variables({ version: '0' })
  const t = vars.compile('$msec|$request_time|$time_local|$time_iso8601')
  vars.finish()
  const src = new BasicVarSource()
  const end = Date.UTC(2026, 10, 25, 14, 44, 33, 7)
  src.startMsec = end - 1234.5
  src.endMsec = end
  const [msec, rt, local, iso] = t.eval(src).split('|')
  assert.equal(msec, String(Math.floor(end / 1000)) + '.007')
  assert.equal(rt, '1.234')
  assert.equal(local, timeLocal(end))
  assert.equal(iso, timeIso8601(end))
  assert.match(local!, /^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$/)
  assert.match(iso!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/)
  const d = new Date(end)
  const off = -d.getTimezoneOffset()
  if (off === 0) {
    assert.equal(local, '25/Nov/2026:14:44:33 +0000')
    assert.equal(iso, '2026-11-25T14:44:33+00:00')
  }
  src.startMsec = end + 5 // clock skew: never negative
  assert.equal(t.eval(src).split('|')[1], '0.000')
  assert.equal(secondsDotMillis(0), '0.000')
  assert.equal(secondsDotMillis(61050.9), '61.050')
  assert.deepEqual([0, 9, 99, 200, 499].map(statusText), ['000', '009', '099', '200', '499'])
})

test('helpers: args, cookies, headers, basic auth', () => {
  assert.equal(argValue('a=1&b=2', 'b'), '2')
  assert.equal(argValue('ab=1&b=2', 'b'), '2')
  assert.equal(argValue('B=2', 'b'), '2')
  assert.equal(argValue('b', 'b'), undefined)
  assert.equal(argValue('b=', 'b'), '')
  assert.equal(argValue('xb=1', 'b'), undefined)
  assert.equal(argValue('', 'b'), undefined)
  assert.equal(cookieValue(['Cookie', 'a=1; b = 2 ;c=3'], 'b'), '2 ')
  assert.equal(cookieValue(['cookie', 'x=1', 'COOKIE', 'y=2'], 'y'), '2')
  assert.equal(cookieValue(['Cookie', 'ab=1'], 'a'), undefined)
  assert.equal(headerValue(['Via', '1', 'VIA', '2'], 'via', ', '), '1, 2')
  assert.equal(headerValue(['X-A-B', 'v'], 'x_a_b', ', '), 'v')
  assert.equal(headerValue(null, 'x', ', '), undefined)
  const b64 = (s: string) => Buffer.from(s, 'latin1').toString('base64')
  assert.equal(basicAuthUser(['Authorization', 'Basic ' + b64('u:p')]), 'u')
  assert.equal(basicAuthUser(['authorization', 'bAsIc    ' + b64('u\xe9:p')]), 'u\xe9')
  assert.equal(basicAuthUser(['Authorization', 'Basic ' + b64('u:p').replace(/=+$/, '')]), 'u')
  assert.equal(basicAuthUser(['Authorization', 'Basic ' + b64(':p')]), undefined)
  assert.equal(basicAuthUser(['Authorization', 'Basic ' + b64('nocolon')]), undefined)
  assert.equal(basicAuthUser(['Authorization', 'Basic a']), undefined)
  assert.equal(basicAuthUser(['Authorization', 'Basic ']), undefined)
  assert.equal(basicAuthUser(['Authorization', 'Digest x']), undefined)
  assert.equal(basicAuthUser([]), undefined)
})

test('$host falls back to the server name; $binary_remote_addr; $proxy_add_x_forwarded_for', () => {
  const vars = new Variables({ version: '0' })
  const host = vars.compile('$host')
  const bin = vars.compile('$binary_remote_addr')
  const xff = vars.compile('$proxy_add_x_forwarded_for')
  vars.finish()
  const src = new BasicVarSource()
  src.serverName = 'srv'
  assert.equal(host.eval(src), 'srv')
  src.host = 'h.com'
  assert.equal(host.eval(src), 'h.com')
  src.remoteAddr = '10.1.2.3'
  assert.equal(bin.eval(src), '\x0a\x01\x02\x03')
  src.remoteAddr = '::1'
  assert.equal(bin.eval(src), '\x00'.repeat(15) + '\x01')
  assert.equal(xff.eval(src), '::1')
  src.headers = ['X-Forwarded-For', '1.1.1.1', 'x-forwarded-for', '2.2.2.2']
  assert.equal(xff.eval(src), '1.1.1.1, 2.2.2.2, ::1')
})

test('$request_id: 32 hex digits, stable within a request', () => {
  const vars = new Variables({ version: '0' })
  const t = vars.compile('$request_id')
  vars.finish()
  const a = new BasicVarSource()
  const id = t.eval(a)
  assert.match(id, /^[0-9a-f]{32}$/)
  assert.equal(t.eval(a), id)
  assert.notEqual(t.eval(new BasicVarSource()), id)
})

test('constant templates skip evaluation; maps that refer to each other stop', () => {
  const vars = new Variables({ version: '0' })
  const c = vars.compile('plain text')
  assert.equal(c.constant, 'plain text')
  vars.addMap(conf('map $b $a { default "<$b>"; }')[0]!)
  vars.addMap(conf('map $a $b { default "<$a>"; }')[0]!)
  const loop = vars.compile('$a')
  vars.finish()
  // nginx fails the evaluation ("cycle while evaluating variable"); here the variable is not found.
  assert.equal(loop.eval(new BasicVarSource()), '')
  // and the next evaluation starts clean
  const vars2 = new Variables({ version: '0' })
  vars2.addMap(conf('map $uri $ok { default fine; }')[0]!)
  const ok = vars2.compile('$ok')
  vars2.finish()
  assert.equal(ok.eval(new BasicVarSource()), 'fine')
})

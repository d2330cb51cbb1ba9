import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseStatusQuery, queryArg, renderStatus, STATUS_DOWN, STATUS_UP } from './status.js'
import type { StatusRow } from './types.js'

const rows: StatusRow[] = [
  { index: 0, upstream: 'backend', name: '127.0.0.1:8081', down: false, rise: 12, fall: 0, type: 'http', port: 0 },
  { index: 1, upstream: 'backend', name: '127.0.0.1:8082', down: true, rise: 0, fall: 7, type: 'http', port: 0 },
  { index: 2, upstream: 'db', name: '[::1]:3306', down: false, rise: 3, fall: 0, type: 'tcp', port: 3307 },
]

test('html: Tengine\'s page byte for byte', () => {
  const { body, contentType } = renderStatus(rows, { format: 'html', flag: 0 })
  assert.equal(contentType, 'text/html')
  assert.equal(body, `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
  <title>Nginx http upstream check status</title>
</head>
<body>
<h1>Nginx http upstream check status</h1>
<h2>Check upstream server number: 3, generation: 1</h2>
<table style="background-color:white" cellspacing="0" ${'       '}cellpadding="3" border="1">
  <tr bgcolor="#C0C0C0">
    <th>Index</th>
    <th>Upstream</th>
    <th>Name</th>
    <th>Status</th>
    <th>Rise counts</th>
    <th>Fall counts</th>
    <th>Check type</th>
    <th>Check port</th>
  </tr>
  <tr>
    <td>0</td>
    <td>backend</td>
    <td>127.0.0.1:8081</td>
    <td>up</td>
    <td>12</td>
    <td>0</td>
    <td>http</td>
    <td>0</td>
  </tr>
  <tr bgcolor="#FF0000">
    <td>1</td>
    <td>backend</td>
    <td>127.0.0.1:8082</td>
    <td>down</td>
    <td>0</td>
    <td>7</td>
    <td>http</td>
    <td>0</td>
  </tr>
  <tr>
    <td>2</td>
    <td>db</td>
    <td>[::1]:3306</td>
    <td>up</td>
    <td>3</td>
    <td>0</td>
    <td>tcp</td>
    <td>3307</td>
  </tr>
</table>
</body>
</html>
`)
})

test('csv and json, filtered by status; indexes keep their positions', () => {
  assert.deepEqual(renderStatus(rows, { format: 'csv', flag: 0 }), {
    body: '0,backend,127.0.0.1:8081,up,12,0,http,0\n1,backend,127.0.0.1:8082,down,0,7,http,0\n2,db,[::1]:3306,up,3,0,tcp,3307\n',
    contentType: 'text/plain',
  })
  assert.equal(renderStatus(rows, { format: 'csv', flag: STATUS_UP }).body, '0,backend,127.0.0.1:8081,up,12,0,http,0\n2,db,[::1]:3306,up,3,0,tcp,3307\n')
  assert.equal(renderStatus(rows, { format: 'csv', flag: STATUS_DOWN | STATUS_UP }).body, '1,backend,127.0.0.1:8082,down,0,7,http,0\n')
  const json = renderStatus(rows, { format: 'json', flag: STATUS_UP })
  assert.equal(json.contentType, 'application/json')
  assert.equal(json.body, `{"servers": {
  "total": 2,
  "up": 2,
  "down": 0,
  "generation": 1,
  "server": [
    {"index": 0, "upstream": "backend", "name": "127.0.0.1:8081", "status": "up", "rise": 12, "fall": 0, "type": "http", "port": 0},
    {"index": 2, "upstream": "db", "name": "[::1]:3306", "status": "up", "rise": 3, "fall": 0, "type": "tcp", "port": 3307}
  ]
}}
`)
  assert.deepEqual(JSON.parse(renderStatus(rows, { format: 'json', flag: 0 }).body).servers.down, 1)
  assert.equal(renderStatus([], { format: 'json', flag: 0 }).body, '{"servers": {\n  "total": 0,\n  "up": 0,\n  "down": 0,\n  "generation": 1,\n  "server": [\n  ]\n}}\n')
  assert.equal(renderStatus([], { format: 'csv', flag: 0 }).body, '')
})

test('names are escaped where the format needs it', () => {
  const odd: StatusRow[] = [{ ...rows[0]!, upstream: 'a"<b>\\\x01\xe9' }]
  assert.match(renderStatus(odd, { format: 'html', flag: 0 }).body, /<td>a&quot;&lt;b&gt;\\\x01\xe9<\/td>/)
  const j = renderStatus(odd, { format: 'json', flag: 0 }).body
  assert.ok(j.includes('"upstream": "a\\"<b>\\\\\\u0001\xe9"'))
  assert.equal(JSON.parse(j).servers.server[0].upstream, 'a"<b>\\\x01\xe9')
})

test('query: format= and status= as ngx_http_arg finds them; bad values keep the default', () => {
  const cases: [string, string, number, string[]][] = [
    ['', 'html', 0, []],
    ['format=json', 'json', 0, []],
    ['format=csv&status=down', 'csv', STATUS_DOWN, []],
    ['STATUS=UP&Format=json', 'json', STATUS_UP, []],
    ['xformat=json&status=up', 'html', STATUS_UP, []],
    ['format=xml&status=sideways', 'html', 0, ['xml', 'sideways']],
    ['a=1&format=csv&format=json', 'csv', 0, []],
  ]
  for (const [args, format, flag, errors] of cases) {
    assert.deepEqual(parseStatusQuery(args, 'html'), { query: { format, flag }, errors }, args)
  }
  assert.deepEqual(parseStatusQuery('', 'json').query.format, 'json')
  assert.equal(queryArg('a=1&b=', 'b'), '')
  assert.equal(queryArg('ab=1', 'b'), null)
})

test('prometheus: Tengine\'s format, line for line', () => {
  const { body, contentType } = renderStatus(rows, { format: 'prometheus', flag: 0 })
  assert.equal(contentType, 'text/plain')
  assert.equal(body, `# HELP nginx_upstream_count_total Nginx total number of servers
# TYPE nginx_upstream_count_total gauge
nginx_upstream_count_total 3
# HELP nginx_upstream_count_up Nginx total number of servers that are UP
# TYPE nginx_upstream_count_up gauge
nginx_upstream_count_up 2
# HELP nginx_upstream_count_down Nginx total number of servers that are DOWN
# TYPE nginx_upstream_count_down gauge
nginx_upstream_count_down 1
# HELP nginx_upstream_count_generation Nginx generation
# TYPE nginx_upstream_count_generation gauge
nginx_upstream_count_generation 1
# HELP nginx_upstream_server_rise Nginx rise counter
# TYPE nginx_upstream_server_rise counter
nginx_upstream_server_rise{index="0",upstream="backend",name="127.0.0.1:8081",status="up",type="http",port="0"} 12
nginx_upstream_server_rise{index="1",upstream="backend",name="127.0.0.1:8082",status="down",type="http",port="0"} 0
nginx_upstream_server_rise{index="2",upstream="db",name="[::1]:3306",status="up",type="tcp",port="3307"} 3
# HELP nginx_upstream_server_fall Nginx fall counter
# TYPE nginx_upstream_server_fall counter
nginx_upstream_server_fall{index="0",upstream="backend",name="127.0.0.1:8081",status="up",type="http",port="0"} 0
nginx_upstream_server_fall{index="1",upstream="backend",name="127.0.0.1:8082",status="down",type="http",port="0"} 7
nginx_upstream_server_fall{index="2",upstream="db",name="[::1]:3306",status="up",type="tcp",port="3307"} 0
# HELP nginx_upstream_server_active Nginx active 1 for UP / 0 for DOWN
# TYPE nginx_upstream_server_active gauge
nginx_upstream_server_active{index="0",upstream="backend",name="127.0.0.1:8081",type="http",port="0"} 1
nginx_upstream_server_active{index="1",upstream="backend",name="127.0.0.1:8082",type="http",port="0"} 0
nginx_upstream_server_active{index="2",upstream="db",name="[::1]:3306",type="tcp",port="3307"} 1
`)
  // ?status=down keeps the down server alone, its index unchanged; a quote in a name stays inside its label.
  const down = renderStatus([...rows, { ...rows[0]!, index: 3, upstream: 'q"x\\' }], { format: 'prometheus', flag: STATUS_DOWN }).body
  assert.match(down, /^nginx_upstream_count_total 1$/m)
  assert.match(down, /^nginx_upstream_server_active\{index="1",upstream="backend",name="127.0.0.1:8082",type="http",port="0"\} 0$/m)
  const named = renderStatus([{ ...rows[0]!, upstream: 'q"x\\\ny' }], { format: 'prometheus', flag: 0 }).body
  assert.match(named, /upstream="q\\"x\\\\\\ny"/)
  assert.equal(parseStatusQuery('format=prometheus', 'html').query.format, 'prometheus')
})

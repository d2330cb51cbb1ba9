import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseText } from './parser.js'
import { checkTree } from './check.js'
import { formatPos } from './dump.js'
import { DIRECTIVES, defaultRegistry } from './directives.js'
import { DyupsError } from '../errors.js'
import type { Context } from './types.js'

/** The message dyups prints for a configuration, or 'ok'. */
export function verdict(text: string, context?: Context): string {
  try {
    checkTree(parseText(text, 'conf'), { context })
    return 'ok'
  } catch (e) {
    assert.ok(e instanceof DyupsError, String(e))
    assert.equal(e.code, 'E_CONFIG')
    return e.message + formatPos(e.at)
  }
}

const E = 'events {}\n'
const H = (body: string) => `${E}http {\n${body}\n}`
const S = (body: string) => H(`server {\n${body}\n}`)
const L = (body: string) => S(`location / {\n${body}\n}`)
const U = (body: string) => H(`upstream u {\nserver 127.0.0.1;\n${body}\n}`)

// Every expected message below is what nginx 1.22 prints for the same text (checked with `nginx -t`), except the
// rows marked "dyups".
export const cases: [string, string, string][] = [
  ['minimal', E, 'ok'],
  ['no events', 'http {}', 'no "events" section in configuration'],
  ['unknown directive', H('foo 1;'), 'unknown directive "foo" in conf:3'],
  ['unknown block directive', H('foo {\n bar;\n}'), 'unknown directive "foo" in conf:3'],
  ['not supported by dyups (dyups)', L('sub_filter a b;'), '"sub_filter" directive is not supported by dyups in conf:5'],
  ['load_module (dyups)', 'load_module x.so;', '"load_module" directive is not supported by dyups in conf:1'],
  ['not allowed here', H('listen 80;'), '"listen" directive is not allowed here in conf:3'],
  ['main directive in http', H('daemon off;'), '"daemon" directive is not allowed here in conf:3'],
  ['server_name in location', L('server_name a;'), '"server_name" directive is not allowed here in conf:5'],
  ['not terminated by ;', H('listen 80 {}'), '"listen" directive is not allowed here in conf:3'],
  ['simple directive with a block', S('listen 80 {\n}'), 'directive "listen" is not terminated by ";" in conf:4'],
  ['block directive without block', H('server;'), 'directive "server" has no opening "{" in conf:3'],
  ['events without block', 'events;', 'directive "events" has no opening "{" in conf:1'],
  ['too many arguments', H('root a b;'), 'invalid number of arguments in "root" directive in conf:3'],
  ['too few arguments', H('proxy_set_header a;'), 'invalid number of arguments in "proxy_set_header" directive in conf:3'],
  ['block with arguments', 'events x {}', 'invalid number of arguments in "events" directive in conf:1'],
  ['duplicate daemon', `${E}daemon on;\ndaemon off;`, '"daemon" directive is duplicate in conf:3'],
  ['duplicate events', `${E}events {}`, '"events" directive is duplicate in conf:2'],
  ['duplicate http', `${E}http {}\nhttp {}`, '"http" directive is duplicate in conf:3'],
  ['duplicate worker_processes', `${E}worker_processes 1;\nworker_processes 2;`, '"worker_processes" directive is duplicate in conf:3'],
  ['duplicate pid', `${E}pid a;\npid b;`, '"pid" directive is duplicate in conf:3'],
  ['duplicate proxy_pass', L('proxy_pass http://a;\nproxy_pass http://b;'), '"proxy_pass" directive is duplicate in conf:6'],
  ['duplicate sendfile', H('sendfile on;\nsendfile off;'), '"sendfile" directive is duplicate in conf:4'],
  ['duplicate in one block only', H('sendfile on;\nserver {\n sendfile off;\n}'), 'ok'],
  ['error_log may repeat', `${E}error_log a;\nerror_log b;`, 'ok'],
  ['duplicate worker_connections', 'events {\n worker_connections 1;\n worker_connections 2;\n}', '"worker_connections" directive is duplicate in conf:3'],
  ['bad flag', `${E}daemon yes;`, 'invalid value "yes" in "daemon" directive, it must be "on" or "off" in conf:2'],
  ['flag any case', `${E}daemon OFF;`, 'ok'],
  ['worker_processes auto', `${E}worker_processes auto;`, 'ok'],
  ['worker_processes invalid', `${E}worker_processes x;`, '"worker_processes" directive invalid value in conf:2'],
  ['worker_connections invalid', 'events { worker_connections x; }', 'invalid number "x" in conf:1'],
  ['bad time', H('proxy_read_timeout 1y;'), '"proxy_read_timeout" directive invalid value in conf:3'],
  ['bad size', H('client_header_buffer_size 1g;'), '"client_header_buffer_size" directive invalid value in conf:3'],
  ['offset takes g', H('client_max_body_size 1g;'), 'ok'],
  ['bad number', H('keepalive_requests x;'), '"keepalive_requests" directive invalid number in conf:3'],
  ['bad enum', H('proxy_http_version 2;'), 'invalid value "2" in conf:3'],
  ['bad bitmask', H('proxy_next_upstream error foo;'), 'invalid value "foo" in conf:3'],
  ['bad bufs', H('large_client_header_buffers 0 8k;'), '"large_client_header_buffers" directive invalid value in conf:3'],
  ['error_log bad level', `${E}error_log x foo;`, 'invalid log level "foo" in conf:2'],
  ['error_log two levels', `${E}error_log x info warn;`, 'duplicate log level "warn" in conf:2'],
  ['error_log debug_http', `${E}error_log x debug_http;`, 'ok'],
  ['listen forms', S('listen 80;\nlisten 127.0.0.1:81 default_server reuseport backlog=511;\nlisten [::]:82 ipv6only=on;\nlisten *:83 ssl http2 deferred bind;\nlisten unix:/tmp/a.sock;\nlisten localhost:84 so_keepalive=30m::10;\nssl_certificate a.pem;'), 'ok'],
  ['listen bad port', S('listen 99999;'), 'invalid port in "99999" of the "listen" directive in conf:4'],
  ['listen port 0', S('listen 1.2.3.4:0;'), 'invalid port in "1.2.3.4:0" of the "listen" directive in conf:4'],
  ['listen v6 bad port', S('listen [::1]:80x;'), 'invalid port in "[::1]:80x" of the "listen" directive in conf:4'],
  ['listen v6 unclosed', S('listen [::1;'), 'invalid host in "[::1" of the "listen" directive in conf:4'],
  ['listen v6 invalid', S('listen [zz]:80;'), 'invalid IPv6 address in "[zz]:80" of the "listen" directive in conf:4'],
  ['listen unix empty', S('listen unix:;'), 'no path in the unix domain socket in "unix:" of the "listen" directive in conf:4'],
  ['listen bad address', S('listen 999.1.1.1:80;'), 'host not found in "999.1.1.1:80" of the "listen" directive in conf:4'],
  ['listen with uri', S('listen a/b;'), 'invalid host in "a/b" of the "listen" directive in conf:4'],
  ['listen no host', S('listen :80;'), 'no host in ":80" of the "listen" directive in conf:4'],
  ['listen bad parameter', S('listen 80 foo;'), 'invalid parameter "foo" in conf:4'],
  ['listen bad ipv6only', S('listen 80 ipv6only=maybe;'), 'invalid parameter "ipv6only=maybe" in conf:4'],
  ['listen bad backlog', S('listen 80 backlog=x;'), 'invalid backlog "backlog=x" in conf:4'],
  ['listen bad so_keepalive', S('listen 80 so_keepalive=x;'), 'invalid so_keepalive value: "x" in conf:4'],
  ['listen ssl without certificate', S('listen 80 ssl;'), 'no "ssl_certificate" is defined for the "listen ... ssl" directive in conf:3'],
  ['listen ssl with the http certificate', H('ssl_certificate a.pem;\nserver {\nlisten 443 ssl;\n}'), 'ok'],
  ['listen twice in one server', S('listen 80;\nlisten *:80;'), 'a duplicate listen 0.0.0.0:80 in conf:5'],
  ['listen same address, two servers', H('server {\nlisten 127.0.0.1:80;\n}\nserver {\nlisten 127.0.0.01:80;\n}'), 'ok'],
  ['two default servers', H('server {\nlisten 80 default_server;\n}\nserver {\nlisten 80 default;\n}'), 'a duplicate default server for 0.0.0.0:80 in conf:7'],
  ['two default servers, IPv6', H('server {\nlisten [::]:80 default_server;\n}\nserver {\nlisten [0::0]:80 default_server;\n}'), 'a duplicate default server for [::]:80 in conf:7'],
  ['two default servers, unix', H('server {\nlisten unix:/tmp/x default_server;\n}\nserver {\nlisten unix:/tmp/x default_server;\n}'), 'a duplicate default server for unix:/tmp/x in conf:7'],
  ['listen options twice', H('server {\nlisten 80 backlog=5;\n}\nserver {\nlisten 80 reuseport;\n}'), 'duplicate listen options for 0.0.0.0:80 in conf:7'],
  ['server_name invalid', S('server_name *x;'), 'server name "*x" is invalid in conf:4'],
  ['location forms', S('location = /a {}\nlocation ^~ /b {}\nlocation ~ \\.php$ {}\nlocation ~* x {}\nlocation @n {}\nlocation /c { location /c/d {} }'), 'ok'],
  ['location bad modifier', S('location x /a {}'), 'invalid location modifier "x" in conf:4'],
  ['location in exact', S('location = /a {\nlocation /b {}\n}'), 'location "/b" cannot be inside the exact location "/a" in conf:5'],
  ['location in named', S('location @a { location /b {} }'), 'location "/b" cannot be inside the named location "@a" in conf:4'],
  ['named location nested', S('location /a { location @b {} }'), 'named location "@b" can be on the server level only in conf:4'],
  ['location outside', S('location /a { location /b {} }'), 'location "/b" is outside location "/a" in conf:4'],
  ['location too many args', S('location = /a b {}'), 'invalid number of arguments in "location" directive in conf:4'],
  ['set', L('set $a 1;'), 'ok'],
  ['set bad name', L('set a 1;'), 'invalid variable name "a" in conf:5'],
  ['return forms', L('return 200;\n'), 'ok'],
  ['return url', L('return http://x;'), 'ok'],
  ['return bad code', L('return abc;'), 'invalid return code "abc" in conf:5'],
  ['return code > 999', L('return 1000;'), 'invalid return code "1000" in conf:5'],
  ['return url with text', L('return https://x 1;'), 'invalid return code "https://x" in conf:5'],
  ['return 3 args', L('return 200 a b;'), 'invalid number of arguments in "return" directive in conf:5'],
  ['echo in location', L('echo a b c;\necho;'), 'ok'],
  ['echo in server', S('echo a;'), '"echo" directive is not allowed here in conf:4'],
  ['proxy_pass bad prefix', L('proxy_pass x;'), 'invalid URL prefix in conf:5'],
  ['proxy_pass bad port', L('proxy_pass http://127.0.0.1:99999;'), 'invalid port in upstream "127.0.0.1:99999" in conf:5'],
  ['proxy_pass no host', L('proxy_pass http://;'), 'no host in upstream "" in conf:5'],
  ['proxy_pass variable', L('proxy_pass http://$host$request_uri;'), 'ok'],
  ['proxy_pass forms', L('proxy_pass https://u/path?x;'), 'ok'],
  ['proxy_redirect bad', H('proxy_redirect foo;'), 'invalid parameter "foo" in conf:3'],
  ['error_page forms', S('error_page 404 /404.html;\nerror_page 500 502 =200 /x;\nerror_page 404 = @x;'), 'ok'],
  ['error_page one arg', S('error_page 404;'), 'invalid number of arguments in "error_page" directive in conf:4'],
  ['error_page bad code', S('error_page abc /x;'), 'invalid value "abc" in conf:4'],
  ['error_page 200', S('error_page 200 /x;'), 'value "200" must be between 300 and 599 in conf:4'],
  ['error_page 499', S('error_page 499 /x;'), 'invalid value "499" in conf:4'],
  ['error_page bad =', S('error_page 404 =x /x;'), 'invalid value "=x" in conf:4'],
  ['error_page only =', S('error_page =404 /x;'), 'invalid value "=404" in conf:4'],
  ['add_header always', H('add_header a b always;'), 'ok'],
  ['add_header bad', H('add_header a b c;'), 'invalid parameter "c" in conf:3'],
  ['access_log off x', H('access_log off x;'), 'invalid parameter "x" in conf:3'],
  ['access_log unknown format', H('access_log x nofmt;'), 'unknown log format "nofmt" in conf:3'],
  ['access_log format defined', H('log_format main "$remote_addr";\naccess_log x main buffer=32k flush=5s;\naccess_log y combined gzip=5;'), 'ok'],
  ['access_log format defined later', H('access_log x main;\nlog_format main x;'), 'unknown log format "main" in conf:3'],
  ['access_log bad parameter', H('access_log x combined foo;'), 'invalid parameter "foo" in conf:3'],
  ['access_log buffer=0', H('access_log x combined buffer=0;'), 'invalid buffer size "0" in conf:3'],
  ['access_log flush without buffer', H('access_log x combined flush=1s;'), 'no buffer is defined for access_log "x" in conf:3'],
  ['access_log bad flush', H('access_log x combined flush=x buffer=1k;'), 'invalid flush time "x" in conf:3'],
  ['access_log bad gzip', H('access_log x combined gzip=10 buffer=1k;'), 'invalid compression level "10" in conf:3'],
  ['log_format combined', H('log_format combined x;'), 'duplicate "log_format" name "combined" in conf:3'],
  ['log_format twice', H('log_format a x;\nlog_format a y;'), 'duplicate "log_format" name "a" in conf:4'],
  ['log_format escape', H('log_format a escape=foo x;'), 'unknown log format escaping "foo" in conf:3'],
  ['resolver forms', H('resolver 127.0.0.1 [::1]:5353 valid=30s ipv6=off;'), 'ok'],
  ['resolver bad valid', H('resolver 1.2.3.4 valid=x;'), 'invalid parameter: valid=x in conf:3'],
  ['resolver bad ipv6', H('resolver 1.2.3.4 ipv6=x;'), 'invalid parameter: ipv6=x in conf:3'],
  ['resolver bad port', H('resolver 1.2.3.4:99999;'), 'invalid port in resolver "1.2.3.4:99999" in conf:3'],
  ['resolver twice', H('resolver 1.2.3.4;\nresolver 1.2.3.5;'), '"resolver" directive is duplicate in conf:4'],
  ['allow forms', H('allow 10.0.0.0/8;\nallow ::1;\nallow unix:;\ndeny all;'), 'ok'],
  ['allow bad prefix', H('allow 1.2.3.4/33;'), 'invalid parameter "1.2.3.4/33" in conf:3'],
  ['allow bad address', H('deny foo;'), 'invalid parameter "foo" in conf:3'],
  ['allow bad v6 prefix', H('allow ::1/129;'), 'invalid parameter "::1/129" in conf:3'],
  ['limit forms', H('limit_req_zone $binary_remote_addr zone=one:10m rate=5r/s;\nlimit_conn_zone $binary_remote_addr zone=addr:10m;\nlimit_req zone=one burst=5 nodelay;\nlimit_conn addr 10;\nlimit_req_status 429;\nlimit_conn_log_level warn;\nlimit_req_dry_run on;'), 'ok'],
  ['limit status range', H('limit_req_status 399;'), 'value must be between 400 and 599 in conf:3'],
  ['limit log level', H('limit_conn_log_level debug;'), 'invalid value "debug" in conf:3'],
  ['realip forms', H('set_real_ip_from 10.0.0.0/8;\nset_real_ip_from ::1;\nset_real_ip_from unix:;\nreal_ip_header X-Forwarded-For;\nreal_ip_recursive on;'), 'ok'],
  ['realip host name', H('set_real_ip_from proxy.example;'), 'host name "proxy.example" in "set_real_ip_from" is not supported by dyups, use addresses in conf:3'],
  ['realip header twice', H('real_ip_header a;\nreal_ip_header b;'), '"real_ip_header" directive is duplicate in conf:4'],
  ['realip recursive bad', H('real_ip_recursive yes;'), 'invalid value "yes" in "real_ip_recursive" directive, it must be "on" or "off" in conf:3'],
  ['map', H('map $http_host $name {\n hostnames;\n default 0;\n example.com 1;\n}'), 'ok'],
  ['map bad variable', H('map $a b {}'), 'invalid variable name "b" in conf:3'],
  ['map bad entry', H('map $a $b {\n a b c;\n}'), 'invalid number of the map parameters in conf:4'],
  ['map nested block', H('map $a $b {\n a {\n}\n}'), 'unexpected "{" in conf:4'],
  ['types nested block', H('types {\n a {\n}\n}'), 'unexpected "{" in conf:4'],
  ['types entries are free', H('types {\n text/html html htm;\n x/y;\n}'), 'ok'],
  ['index empty', S('index "";'), 'index "" in "index" directive is invalid in conf:4'],
  ['gzip_comp_level', H('gzip_comp_level 10;'), 'value must be between 1 and 9 in conf:3'],
  ['ssl_session_cache', H('ssl_session_cache foo;'), 'invalid session cache "foo" in conf:3'],
  ['ssl_session_cache forms', H('ssl_session_cache builtin:1000 shared:SSL:10m;'), 'ok'],
  ['server_tokens', H('server_tokens foo;'), 'invalid value "foo" in conf:3'],
  ['upstream', U('keepalive 16;\nkeepalive_timeout 60s;\nkeepalive_requests 100;\nleast_conn;\ncheck interval=3000 rise=2 fall=5 timeout=1000 type=http;\ncheck_http_send "HEAD / HTTP/1.0\\r\\n\\r\\n";\ncheck_http_expect_alive http_2xx http_3xx;'), 'ok'],
  ['upstream without servers', H('upstream u {\n\n}'), 'no servers are inside upstream in conf:5'],
  ['upstream hash no args', U('hash;'), 'invalid number of arguments in "hash" directive in conf:5'],
  ['upstream hash bad', U('hash a b;'), 'invalid parameter "b" in conf:5'],
  ['upstream random bad', U('random x;'), 'invalid parameter "x" in conf:5'],
  ['upstream random two bad', U('random two x;'), 'invalid parameter "x" in conf:5'],
  ['upstream keepalive 0', U('keepalive 0;'), 'invalid value "0" in "keepalive" directive in conf:5'],
  ['upstream keepalive twice', U('keepalive 1;\nkeepalive 2;'), '"keepalive" directive is duplicate in conf:6'],
  ['upstream keepalive_timeout', U('keepalive_timeout 1y;'), '"keepalive_timeout" directive invalid value in conf:5'],
  ['upstream keepalive_requests twice', U('keepalive_requests 1;\nkeepalive_requests 2;'), '"keepalive_requests" directive is duplicate in conf:6'],
  ['upstream zone bad', U('zone z x;'), 'invalid zone size "x" in conf:5'],
  ['upstream zone small', U('zone z 1k;'), 'zone "z" is too small in conf:5'],
  ['upstream server with block', H('upstream u {\nserver a {\n}\n}'), 'directive "server" is not terminated by ";" in conf:4'],
  ['http server with args', H('server a {}'), 'invalid number of arguments in "server" directive in conf:3'],
  ['dyups directives (dyups)', H('dyups_read_msg_timeout 1s;\ndyups_shm_zone_size 2m;\ndyups_trylock on;\ndyups_read_msg_log off;\ndyups_upstream_conf conf/upstream.conf;\nserver {\nlocation / { dyups_interface; }\n}'), 'ok'],
  ['dyups_interface with args (dyups)', L('dyups_interface x;'), 'invalid number of arguments in "dyups_interface" directive in conf:5'],
  ['dyups_interface in server (dyups)', S('dyups_interface;'), '"dyups_interface" directive is not allowed here in conf:4'],
  ['dyups_read_msg_timeout bad (dyups)', H('dyups_read_msg_timeout x;'), '"dyups_read_msg_timeout" directive invalid value in conf:3'],
  ['dyups_shm_zone_size bad (dyups)', H('dyups_shm_zone_size 2MB;'), '"dyups_shm_zone_size" directive invalid value in conf:3'],
  ['dyups_trylock bad (dyups)', H('dyups_trylock yes;'), 'invalid value "yes" in "dyups_trylock" directive, it must be "on" or "off" in conf:3'],
  ['dyups_cluster (dyups)', H('dyups_cluster etcd://127.0.0.1:2379,[::1]:2379 prefix=/fleet/ node=a-1 lease=3s;\ndyups_cluster_ack commit;\ndyups_cluster_ack_timeout 2s;'), 'ok'],
  ['dyups_cluster in main (dyups)', 'dyups_cluster etcds://etcd.example:2379 cacert=ca.pem cert=c.pem key=c.key user=u password=p;\ndyups_cluster_ack_timeout 30s;\n' + H(''), 'ok'],
  ['dyups_cluster scheme (dyups)', H('dyups_cluster http://127.0.0.1:2379;'), 'invalid URL "http://127.0.0.1:2379" in "dyups_cluster", it must start with "etcd://" or "etcds://" in conf:3'],
  ['dyups_cluster host (dyups)', H('dyups_cluster etcd://127.0.0.1;'), 'invalid host "127.0.0.1" in "dyups_cluster", it must be HOST:PORT in conf:3'],
  ['dyups_cluster param (dyups)', H('dyups_cluster etcd://127.0.0.1:2379 ttl=3;'), 'invalid parameter "ttl=3" in conf:3'],
  ['dyups_cluster lease (dyups)', H('dyups_cluster etcd://127.0.0.1:2379 lease=1500ms;'), 'invalid parameter "lease=1500ms", a lease is whole seconds, at least 1s in conf:3'],
  ['dyups_cluster user alone (dyups)', H('dyups_cluster etcd://127.0.0.1:2379 user=u;'), '"user=" and "password=" go together in "dyups_cluster" in conf:3'],
  ['dyups_cluster tls on etcd:// (dyups)', H('dyups_cluster etcd://127.0.0.1:2379 cacert=ca.pem;'), 'TLS parameters need an "etcds://" URL in "dyups_cluster" in conf:3'],
  ['dyups_cluster twice (dyups)', H('dyups_cluster etcd://127.0.0.1:2379;\ndyups_cluster etcd://127.0.0.1:2379;'), '"dyups_cluster" directive is duplicate in conf:4'],
  ['dyups_cluster_ack bad (dyups)', H('dyups_cluster_ack some;'), 'invalid value "some" in conf:3'],
  ['check_status (dyups)', L('check_status json;'), 'ok'],
  ['check_status bad (dyups)', L('check_status xml;'), 'invalid check format "xml" in conf:5'],
  ['content_by_lua_block (dyups)', L('content_by_lua_block {\n ngx.say("}")\n}'), 'ok'],
  ['content_by_lua twice (dyups)', L('content_by_lua "a";\ncontent_by_lua_block { b() }'), '"content_by_lua_block" directive is duplicate in conf:6'],
  ['content_by_lua_block without block (dyups)', L('content_by_lua_block;'), 'directive "content_by_lua_block" has no opening "{" in conf:5'],
  ['content_by_lua_block with args (dyups)', L('content_by_lua_block x {\n}'), 'invalid number of arguments in "content_by_lua_block" directive in conf:5'],
  ['content_by_lua with block (dyups)', L('content_by_lua {\n}'), 'directive "content_by_lua" is not terminated by ";" in conf:5'],
  ['other lua blocks are not supported (dyups)', L('access_by_lua_block { }'), '"access_by_lua_block" directive is not supported by dyups in conf:5'],
  ['js_import forms (dyups)', H('js_import a.js;\njs_import m from a.js;'), 'ok'],
  ['js_import two args (dyups)', H('js_import m a.js;'), 'invalid number of arguments in "js_import" directive in conf:3'],
  ['no-ops are checked', H('sendfile maybe;'), 'invalid value "maybe" in "sendfile" directive, it must be "on" or "off" in conf:3'],
  ['no-ops accepted', `${E}user www-data;\nworker_rlimit_nofile 1024;\nhttp {\n tcp_nopush on;\n types_hash_max_size 2048;\n open_file_cache max=1000 inactive=20s;\n}`, 'ok'],
  ['first error wins', H('foo;\nbar 1 2 3;'), 'unknown directive "foo" in conf:3'],
  ['errors are reported in file order across blocks', H('server {\n listen 99999;\n}\nfoo;'), 'invalid port in "99999" of the "listen" directive in conf:4'],
]

for (const [name, text, want] of cases) {
  test(`check: ${name}`, () => assert.equal(verdict(text), want))
}

test('check: upstream-context bodies (dyups command bodies)', () => {
  assert.equal(verdict('server 127.0.0.1:8088;\nip_hash;', 'upstream'), 'ok')
  assert.equal(verdict('server a;\ngarbage 1;', 'upstream'), 'unknown directive "garbage" in conf:2')
  assert.equal(verdict('upstream x { server a; }', 'upstream'), '"upstream" directive is not allowed here in conf:1')
})

test('check: the registry is consistent', () => {
  const names = new Set<string>()
  for (const d of DIRECTIVES) {
    names.add(d.name)
    assert.ok(d.contexts.length > 0, d.name)
    assert.ok(!defaultRegistry.isUnsupported(d.name), `${d.name} is both registered and unsupported`)
  }
  for (const n of ['daemon', 'listen', 'server', 'upstream', 'dyups_interface', 'content_by_lua_block', 'echo']) {
    assert.ok(names.has(n), n)
  }
  assert.equal(defaultRegistry.lookup('server')?.length, 2)
  assert.ok(DIRECTIVES.filter((d) => d.noop !== true).every((d) => (d.docs ?? '').length > 0))
})

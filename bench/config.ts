/**
 * The proxies' configuration. nginx and dyups get the same text (same upstream blocks, keepalive, worker
 * count, proxy settings); only the dyups directives (`dyups_interface`, `dyups_upstream_conf`) differ.
 */

export type Routing = 'static' | 'host'

export interface ProxyConf {
  /** `worker_processes`: a count or `auto` */
  workers: number | 'auto'
  /** `static`: `proxy_pass http://bench;` — `host`: `proxy_pass http://$host;` */
  routing: Routing
  /** upstream blocks, written to conf/upstream.conf and included */
  upstreams: string
  /** dyups only: `dyups_upstream_conf conf/upstream.conf;` (the persistence file is the included file) */
  persist?: boolean
  /** a second listener, `listen … http2` (h2c), on the same server */
  h2?: boolean
}

/** An `upstream NAME { server ...; keepalive N; }` block on one line per directive. */
export function upstreamBlock(name: string, servers: readonly string[], keepalive = 0): string {
  let s = `upstream ${name} {\n`
  for (const a of servers) s += `    server ${a};\n`
  if (keepalive > 0) s += `    keepalive ${keepalive};\n`
  return `${s}}\n`
}

/** The body of `POST /upstream/NAME` that gives a group these servers. */
export function commands(servers: readonly string[], keepalive = 0): string {
  return servers.map((a) => `server ${a};`).join('') + (keepalive > 0 ? `keepalive ${keepalive};` : '')
}

/** nginx.conf for a proxy listening on `port`, with the dyups interface on `ifPort` when given. */
export function proxyConf(c: ProxyConf, port: number, ifPort: number | null, h2Port: number | null = null): string {
  const target = c.routing === 'host' ? 'http://$host' : 'http://bench'
  const iface = ifPort === null ? '' : `
    server {
        listen 127.0.0.1:${ifPort};
        location / {
            dyups_interface;
        }
    }
`
  return `worker_processes ${c.workers};
pid logs/proxy.pid;
error_log logs/error.log warn;

events {
    worker_connections 16384;
}

http {
    access_log off;
    client_max_body_size 2m;
${ifPort !== null && c.persist ? '    dyups_upstream_conf conf/upstream.conf;\n' : ''}${h2Port !== null ? '    keepalive_requests 100000000;\n' : ''}    include upstream.conf;

    server {
        listen 127.0.0.1:${port};
${h2Port !== null ? `        listen 127.0.0.1:${h2Port} http2;\n` : ''}        location / {
            proxy_pass ${target};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
${iface}}
`
}

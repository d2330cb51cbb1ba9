/**
 * Node's floor for a proxy: a byte relay with no HTTP in it. Each client connection gets one backend connection
 * (the group's servers in turn) and bytes are forwarded both ways through Node's stream layer ('data' + write,
 * pause on a full socket, resume on 'drain'). A proxy in Node cannot spend less than this per request; the bench
 * runs it beside nginx and dyups so the gap is measured, not guessed.
 *
 * Started like a proxy (`-p PREFIX -c conf/nginx.conf`): it listens on the first `listen` of conf/nginx.conf and
 * forwards to the `server` lines of the first upstream in conf/upstream.conf.
 */
import { connect, createServer, type Socket } from 'node:net'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

function arg(flag: string): string {
  const i = process.argv.indexOf(flag)
  const v = i < 0 ? undefined : process.argv[i + 1]
  if (v === undefined) throw new Error(`relay: ${flag} is missing`)
  return v
}

const prefix = arg('-p')
const conf = readFileSync(join(prefix, arg('-c')), 'utf8')
const upstreams = readFileSync(join(prefix, 'conf', 'upstream.conf'), 'utf8')
const listen = /listen\s+([\d.]+):(\d+)/.exec(conf)
if (listen === null) throw new Error('relay: no listen ADDR:PORT in the configuration')
const servers = [...upstreams.split('}')[0]!.matchAll(/server\s+([\d.]+):(\d+)/g)].map((m) => ({ host: m[1]!, port: Number(m[2]) }))
if (servers.length === 0) throw new Error('relay: no server ADDR:PORT in the first upstream')

/** Bytes from `a` to `b`, pausing `a` while `b` is full. */
function pipe(a: Socket, b: Socket): void {
  a.on('data', (d: Buffer) => { if (!b.write(d)) a.pause() })
  b.on('drain', () => a.resume())
  a.on('end', () => b.end())
  a.on('error', () => b.destroy())
  a.on('close', () => b.destroy())
}

let next = 0
const server = createServer({ noDelay: true }, (client) => {
  const up = connect({ ...servers[next++ % servers.length]!, noDelay: true })
  pipe(client, up)
  pipe(up, client)
})
server.listen(Number(listen[2]), listen[1])
for (const sig of ['SIGTERM', 'SIGQUIT', 'SIGINT'] as const) process.on(sig, () => process.exit(0))

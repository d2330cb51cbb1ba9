/**
 * The JavaScript handlers' engine, measured (docs/scripting.md, "The engine, and why"): per tree given (this one
 * by default; another checkout, built, to compare in the same run), a dyups with one worker and a js_content
 * location, interleaved over rounds:
 * - the worker's RssAnon without a js_import, with a module loaded, and after wrk on the handler;
 * - how long the first handler request takes right after the listener answers (the engine's start);
 * - requests/s of `r.return(200, "hi")` and of `return 200 hi` in the same worker (wrk -t1 -c8);
 * - while a handler loops forever: how many other requests the same worker answered until the loop's 500, and
 *   their latencies; how long a second handler request waited.
 *
 * node bin/node24.js dist/bench/js-sandbox.js [--rounds N] [--seconds S] [TREE...]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const MODULE = `function hi(r) { r.return(200, "hi") }
function loop(r) { while (true) {} }
export default { hi, loop }
`

const conf = (port: number, js: boolean): string => `daemon off;
master_process on;
worker_processes 1;
error_log logs/error.log info;
events {}
http {
    access_log off;
${js ? '    js_import main.js;\n' : ''}    server {
        listen 127.0.0.1:${port};
        location = /plain { return 200 hi; }
${js ? '        location = /js { js_content main.hi; }\n        location = /loop { js_content main.loop; }\n' : ''}    }
}
`

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => res(p))
    })
  })
}

function get(port: number, path: string): Promise<{ status: number; ms: number }> {
  return new Promise((res, rej) => {
    const t0 = performance.now()
    const q = request({ host: '127.0.0.1', port, path, agent: false }, (r) => {
      r.resume()
      r.on('end', () => res({ status: r.statusCode ?? 0, ms: performance.now() - t0 }))
    })
    q.on('error', rej)
    q.end()
  })
}

function childOf(pid: number): number {
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue
    try {
      const st = readFileSync(`/proc/${n}/stat`, 'latin1')
      if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid) return Number(n)
    } catch {
      // gone
    }
  }
  throw new Error(`no worker under ${pid}`)
}

const rssAnonKb = (pid: number): number => Number(/^RssAnon:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))![1])

interface Started {
  p: ChildProcess
  port: number
  prefix: string
}

async function start(tree: string, js: boolean): Promise<Started> {
  const port = await freePort()
  const prefix = mkdtempSync(join(tmpdir(), 'dyups-jsbench-'))
  mkdirSync(join(prefix, 'conf'))
  mkdirSync(join(prefix, 'logs'))
  writeFileSync(join(prefix, 'conf/nginx.conf'), conf(port, js))
  writeFileSync(join(prefix, 'conf/main.js'), MODULE)
  const p = spawn(process.execPath, [join(tree, 'bin/dyups.js'), '-p', prefix, '-c', 'conf/nginx.conf'], { stdio: 'ignore' })
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      if ((await get(port, '/plain')).status === 200) break
    } catch {
      if (Date.now() > deadline) throw new Error(`${tree}: dyups did not answer in 30 s`)
    }
    await sleep(5)
  }
  return { p, port, prefix }
}

async function stop(s: Started): Promise<void> {
  s.p.kill('SIGKILL')
  await sleep(200)
  rmSync(s.prefix, { recursive: true, force: true })
}

function wrk(port: number, path: string, seconds: number): number {
  const out = execFileSync('wrk', ['-t1', '-c8', `-d${seconds}s`, `http://127.0.0.1:${port}${path}`], { encoding: 'latin1' })
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1])
}

async function measure(tree: string, seconds: number): Promise<Record<string, number>> {
  const idle = await start(tree, false)
  await sleep(500)
  const idleKb = rssAnonKb(childOf(idle.p.pid!))
  await stop(idle)

  const s = await start(tree, true)
  const first = await get(s.port, '/js')
  const worker = childOf(s.p.pid!)
  await sleep(500)
  const loadedKb = rssAnonKb(worker)
  const plainRps = wrk(s.port, '/plain', seconds)
  const jsRps = wrk(s.port, '/js', seconds)
  const afterKb = rssAnonKb(worker)

  // Other connections of the same worker while a handler loops (bounded: the loop ends at its budget).
  let over = false
  const loop = get(s.port, '/loop').then((r) => ((over = true), r))
  await sleep(50)
  const lat: number[] = []
  while (!over) lat.push((await get(s.port, '/plain')).ms)
  const loopMs = (await loop).ms
  const loop2 = get(s.port, '/loop')
  await sleep(50)
  const jsDuring = (await get(s.port, '/js')).ms
  await loop2
  await stop(s)
  lat.sort((a, b) => a - b)
  return {
    idleKb, loadedKb, afterKb, firstJsMs: Math.round(first.ms), plainRps: Math.round(plainRps), jsRps: Math.round(jsRps),
    loopMs: Math.round(loopMs), answeredDuringLoop: lat.length, medianMsDuringLoop: +(lat[lat.length >> 1] ?? 0).toFixed(2),
    maxMsDuringLoop: Math.round(lat[lat.length - 1] ?? 0), jsWaitDuringLoopMs: Math.round(jsDuring),
  }
}

const args = process.argv.slice(2)
let rounds = 3
let seconds = 4
const trees: string[] = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--rounds') rounds = Number(args[++i])
  else if (args[i] === '--seconds') seconds = Number(args[++i])
  else trees.push(resolve(args[i]!))
}
if (trees.length === 0) trees.push(resolve(import.meta.dirname, '../..'))
for (let round = 0; round < rounds; round++) {
  for (const tree of trees) console.log(JSON.stringify({ round, tree, ...(await measure(tree, seconds)) }))
}

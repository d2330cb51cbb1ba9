/**
 * The console sessions of the documentation, run for real: every ```console block of README.md and docs/*.md is
 * either replayed against a running dyups and its documented output compared with what dyups answers, or listed in
 * SKIPPED with the reason. The examples are the bundled example's (example/conf/, as docs/api.md says: 8080 proxies to
 * the group named by Host, echo backends answer `8088`/`8089` on their ports, the interface is on 8081), run on a copy
 * whose four ports are free test ports: commands are mapped doc → real, and outputs real → doc before they are
 * compared, so `8088` in a documented output means "the backend that stands for 8088".
 *
 * What is compared: curl's output as the docs show it (`-i`: status line, header lines in order, blank line, body;
 * otherwise the body), with the Date value masked, the running version written as the documentation's (Server
 * header and error pages), CRLF shown as LF (Markdown cannot show a CR), and a `$` prompt after a body without a
 * final newline put on a line of its own, as docs/api.md says it does. A Content-Length is first checked against the
 * bytes received, then shown as the length of the body as it reads with the documented ports (the test ports have
 * five digits, the documented ones four).
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { BIN, ROOT, alive, childPids, dechunk, freePorts, readText, runBin, startDyups, tempPrefix, waitFor, waitGone, writeConf, type Dyups } from './helpers.js'

/** The ports the documentation uses; each is replaced by a free test port, never used itself. */
const DOC_PORTS = [8080, 8081, 8088, 8089] as const
/** The prefix the documentation runs dyups in (docs/api.md: "The copy used here lives in /tmp/dyups-example"). */
const DOC_PREFIX = '/tmp/dyups-example'
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

// ---------------------------------------------------------------------------------------------------------------
// The blocks.

interface Step {
  /** The command after `$ `. */
  cmd: string
  /** Its documented output: every line up to the next prompt, each with its newline. */
  out: string
}

interface Block {
  file: string
  line: number
  steps: Step[]
}

/** Every ```console block of README.md and docs/*.md, in file order. */
function consoleBlocks(): Block[] {
  const files = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)]
  const blocks: Block[] = []
  for (const file of files) {
    const lines = readFileSync(join(ROOT, file), 'utf8').split('\n')
    for (let i = 0; i < lines.length; i++) {
      if (lines[i] !== '```console') continue
      const start = i + 1
      const steps: Step[] = []
      for (i++; i < lines.length && lines[i] !== '```'; i++) {
        const l = lines[i]!
        if (l.startsWith('$ ')) steps.push({ cmd: l.slice(2), out: '' })
        else if (steps.length === 0) throw new Error(`${file}:${i + 1}: a console block must start with a $ prompt`)
        else steps[steps.length - 1]!.out += `${l}\n`
      }
      blocks.push({ file, line: start, steps })
    }
  }
  return blocks
}

/** A block's key in the tables below: its file and its first command. */
const keyOf = (b: Block): string => `${b.file}: ${b.steps[0]!.cmd}`

/**
 * Blocks that are not run, with the reason. Everything else must be in a SESSION.
 */
const SKIPPED: Record<string, string> = {
  'README.md: npm start':
    'npm start binds the documented ports 8080/8081/8088/8089 on every address, and its output is elided ("…"); ' +
    'test/example.test.ts runs the same example on free ports',
  'docs/operations.md: curl -s 127.0.0.1:8081/list':
    'the production setup (a password file, limit_except, a group "app"); test/access-auth.test.ts runs the same ' +
    'requests: reads open, a write 401 without credentials and 200 with them',
  'docs/reliability.md: npm run chaos                        # everything, about 6 minutes on 2 cores':
    'the long chaos run itself (minutes); its short version is part of npm test (test/chaos-*.test.ts)',
}

/**
 * Blocks run one after the other on one dyups, as the documentation runs them ("Each console block continues with the
 * same running server unless the text says otherwise"), on the example's configuration with the changes the text
 * around the blocks asks for (`conf`, quoted in `quote`).
 */
interface Session {
  name: string
  /** The blocks, by key, in the order they run; a block with `restart` starts dyups again first (same prefix). */
  blocks: { key: string; restart?: boolean }[]
  /** The doc's sentence naming the configuration (a comment for the reader; shown in the test name). */
  quote?: string
  /** Edits of example/conf/nginx.conf. */
  conf?: (nginxConf: string) => string
  /** Files given in the prefix before the start (paths relative to it), in documented terms (ports mapped). */
  files?: Record<string, string>
  /** Not started at all (a `-t` only block): the configuration is written as documented, listening everywhere. */
  noStart?: boolean
}

/** `http {` of the example gets `lines` right after `include conf/upstream.conf;`. */
const inHttp = (lines: string) => (c: string): string => {
  const at = '    include conf/upstream.conf;\n'
  assert.ok(c.includes(at), 'the example includes conf/upstream.conf')
  return c.replace(at, `${at}${lines}`)
}
/** The interface's `location / { dyups_interface; }` rewritten. */
const ifaceLocation = (f: (loc: string) => string) => (c: string): string => {
  const loc = '        location / {\n            dyups_interface;\n        }\n'
  assert.ok(c.includes(loc), 'the example has the interface at location /')
  return c.replace(loc, f(loc))
}

const SESSIONS: Session[] = [
  {
    name: 'a prefix location',
    quote: 'With `location /dyups/ { dyups_interface; }` the interface receives `/dyups/list`, whose first segment `dyups` is no keyword it knows, and `/list` itself matches no location',
    conf: ifaceLocation(() => '        location /dyups/ {\n            dyups_interface;\n        }\n'),
    blocks: [{ key: 'docs/api.md: curl -i 127.0.0.1:8081/dyups/list' }],
  },
  {
    name: 'allow/deny',
    quote: 'With `allow 10.1.0.0/16; deny all;`, a request from 127.0.0.1 gets nginx\'s 403 page and changes nothing',
    conf: ifaceLocation(() => '        location / {\n            allow 10.1.0.0/16;\n            deny all;\n            dyups_interface;\n        }\n'),
    blocks: [{ key: 'docs/api.md: curl -i -X DELETE 127.0.0.1:8081/upstream/host1' }],
  },
  {
    // The sections from "General rules" to "ETag and If-Match" are one session on the bundled example:
    // "Each console block continues with the same running server unless the text says otherwise."
    name: 'the interface session of docs/api.md',
    quote: 'A body larger than `client_max_body_size` (default `1m`) gets `413`: big.txt is 1 MiB and one byte, on the default',
    files: { 'big.txt': 'x'.repeat(1024 * 1024 + 1) },
    blocks: [
      { key: "docs/api.md: curl '127.0.0.1:8081//LIST/?x=1'" },
      { key: 'docs/api.md: curl -i 127.0.0.1:8081/list' },
      { key: "docs/api.md: curl -i -d 'server 127.0.0.1:8089;server 127.0.0.1:8088;' 127.0.0.1:8081/upstream/dyhost" },
      { key: 'docs/api.md: cat dyhost.conf' },
      { key: "docs/api.md: curl -d 'ip_hash; server 127.0.0.1:8088; server 127.0.0.1:8089;' 127.0.0.1:8081/upstream/pinned" },
      { key: "docs/api.md: curl -i -d 'server 127.0.0.1:8088 foo=1;' 127.0.0.1:8081/upstream/dyhost" },
      { key: "docs/api.md: curl -d 'ip_hash; server 127.0.0.1:8088; server 127.0.0.1:8089 backup;' 127.0.0.1:8081/upstream/dyhost" },
      { key: "docs/api.md: curl -i -d '' 127.0.0.1:8081/upstream/dyhost" },
      { key: "docs/api.md: curl -d 'server 127.0.0.1:8088;' 127.0.0.1:8081/upstream/MyApp" },
      { key: 'docs/api.md: curl -i -X DELETE 127.0.0.1:8081/upstream/dyhost' },
      { key: "docs/api.md: curl -X DELETE '127.0.0.1:8081/upstream/my%20app'" },
      { key: 'docs/api.md: curl -si 127.0.0.1:8081/list | grep ETag' },
    ],
  },
  {
    name: 'dyups_trylock on',
    quote: 'Ten concurrent POSTs with `dyups_trylock on;`',
    conf: inHttp('    dyups_trylock on;\n'),
    blocks: [{ key: "docs/api.md: seq 10 | xargs -P 10 -I{} curl -s -w ' (%{http_code})\\n' -d 'server 127.0.0.1:8088;' 127.0.0.1:8081/upstream/g{}" }],
  },
  {
    name: 'four workers',
    quote: 'With `worker_processes 4;` and `dyups_read_msg_log on;`, replace `host1` and send eight requests on eight new connections',
    conf: (c) => inHttp('    dyups_read_msg_log on;\n')(c.replace('daemon off;\n', 'daemon off;\nworker_processes 4;\n')),
    blocks: [{ key: "docs/api.md: curl -d 'server 127.0.0.1:8089;' 127.0.0.1:8081/upstream/host1; echo; for i in 1 2 3 4 5 6 7 8; do curl -H 'Host: host1' 127.0.0.1:8080; done" }],
  },
  {
    // -t binds nothing, so the example's `listen PORT` (every address) is tested as documented, warning included.
    name: 'persistence: -t',
    quote: 'Here the example\'s `nginx.conf` also defines, in `http {}`, a static group `upstream legacy { server 127.0.0.1:8089; }`',
    conf: inHttp('    upstream legacy { server 127.0.0.1:8089; }\n'),
    noStart: true,
    blocks: [{ key: 'docs/api.md: dyups -p /tmp/dyups-example -t' }],
  },
  {
    name: 'persistence: kill -9 and restart',
    quote: 'Here the example\'s `nginx.conf` also defines, in `http {}`, a static group `upstream legacy { server 127.0.0.1:8089; }`',
    conf: inHttp('    upstream legacy { server 127.0.0.1:8089; }\n'),
    blocks: [
      { key: "docs/api.md: curl -d 'server 127.0.0.1:8089;server 127.0.0.1:8088;' 127.0.0.1:8081/upstream/dyhost" },
      // "Started again, the table is the one of the last 200"
      { key: 'docs/api.md: curl 127.0.0.1:8081/detail', restart: true },
    ],
  },
  {
    name: 'the README session against npm start',
    blocks: [{ key: "README.md: curl -H 'Host: host1' 127.0.0.1:8080" }],
  },
]

/**
 * Blocks whose documented output dyups does not produce and where dyups is the one that is wrong. Their steps are
 * run, the differing step is left out, and a test.todo names the difference. Empty: none known.
 */
const CODE_DIFFERS: { block: string; cmd: string; difference: string }[] = []

/** How many blocks are checked: a new console block fails here until it is run (or listed in SKIPPED). */
const CHECKED_BLOCKS = 20

// ---------------------------------------------------------------------------------------------------------------
// A running session: the port map, the prefix, dyups.

class Env {
  readonly map = new Map<number, number>()
  d: Dyups | null = null
  /** The workers a killed primary left serving, which the next start replaces. */
  orphans: number[] = []
  /** The groups whose POST won in the concurrent step (dyups_trylock). */
  won: string[] = []
  constructor(readonly t: TestContext, readonly prefix: string, ports: number[]) {
    DOC_PORTS.forEach((p, i) => this.map.set(p, ports[i]!))
  }

  /** Documented text → the test's: ports and the prefix. */
  toReal(s: string): string {
    return s.replace(/\b(8080|8081|8088|8089)\b/g, (m) => String(this.map.get(Number(m)))).replaceAll(DOC_PREFIX, this.prefix)
  }

  /** The test's text → documented: ports, the prefix and the running version. */
  toDoc(s: string): string {
    let out = s.replaceAll(this.prefix, DOC_PREFIX)
    for (const [doc, real] of this.map) out = out.replace(new RegExp(`\\b${real}\\b`, 'g'), String(doc))
    return out.replaceAll(`dyups/${VERSION}`, `dyups/${DOC_VERSION}`)
  }

  port(doc: number): number {
    const p = this.map.get(doc)
    assert.ok(p !== undefined, `the documentation names port ${doc}, which is none of ${DOC_PORTS.join(', ')}`)
    return p
  }

  /** Real ports to wait for at start: the proxy, the interface and the two echo backends. */
  get ports(): number[] {
    return [...this.map.values()]
  }
}

/** The version the documented outputs show (`Server: dyups/X`): the running one is shown as it. */
const DOC_VERSION = /Server: dyups\/(\S+)/.exec(readFileSync(join(ROOT, 'docs/api.md'), 'utf8'))?.[1] ?? VERSION

/**
 * The example's configuration with the session's edits, its ports mapped and (unless `everywhere`) every listen on
 * 127.0.0.1: the tests listen nowhere else.
 */
function exampleConf(env: Env, s: Session, everywhere: boolean): { nginx: string; upstream: string } {
  let nginx = readFileSync(join(ROOT, 'example/conf/nginx.conf'), 'utf8')
  if (s.conf) nginx = s.conf(nginx)
  nginx = env.toReal(nginx)
  if (!everywhere) nginx = nginx.replace(/^(\s*listen\s+)(\d+);/gm, '$1127.0.0.1:$2;')
  return { nginx, upstream: env.toReal(readFileSync(join(ROOT, 'example/conf/upstream.conf'), 'utf8')) }
}

// ---------------------------------------------------------------------------------------------------------------
// The commands.

/** Shell words: bare, '…' and "…" (no expansion: the blocks use none outside the commands handled whole). */
function words(cmd: string): string[] {
  const out: string[] = []
  let i = 0
  while (i < cmd.length) {
    if (cmd[i] === ' ') {
      i++
      continue
    }
    let w = ''
    while (i < cmd.length && cmd[i] !== ' ') {
      const c = cmd[i]!
      if (c === "'" || c === '"') {
        const end = cmd.indexOf(c, i + 1)
        if (end < 0) throw new Error(`unbalanced ${c} in: ${cmd}`)
        const inner = cmd.slice(i + 1, end)
        if (c === '"' && /[$`\\]/.test(inner)) throw new Error(`expansion in double quotes is not handled: ${cmd}`)
        w += inner
        i = end + 1
      } else if ('|;&<>()$`\\'.includes(c)) {
        throw new Error(`shell syntax ${c} is not handled here: ${cmd}`)
      } else {
        w += c
        i++
      }
    }
    out.push(w)
  }
  return out
}

interface Curl {
  include: boolean
  method: string
  path: string
  port: number
  headers: [string, string][]
  body: Buffer | null
  writeOut: string | null
}

/** curl's arguments, the flags the documentation uses and no other (an unknown one fails the test). */
function parseCurl(env: Env, args: string[]): Curl {
  const c: Curl = { include: false, method: '', path: '/', port: 0, headers: [], body: null, writeOut: null }
  let url: string | null = null
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    const value = (): string => {
      const v = args[++i]
      if (v === undefined) throw new Error(`curl ${a} needs a value`)
      return v
    }
    if (a === '-i') c.include = true
    else if (a === '-s') {
      // Silent: no progress meter, which curl does not print to a pipe or a terminal capture anyway.
    } else if (a === '-si' || a === '-is') c.include = true
    else if (a === '-X') c.method = value()
    else if (a === '-H') {
      const h = value()
      const colon = h.indexOf(':')
      if (colon <= 0) throw new Error(`curl -H ${h}: not "Name: value"`)
      c.headers.push([h.slice(0, colon), h.slice(colon + 1).trim()])
    } else if (a === '-d') {
      const v = value()
      // curl -d @file strips the file's newlines; no block uses it, so it is not emulated.
      if (v.startsWith('@')) throw new Error('curl -d @file is not handled (use --data-binary)')
      c.body = Buffer.from(v, 'utf8')
    } else if (a === '--data-binary') {
      const v = value()
      c.body = v.startsWith('@') ? readFileSync(join(env.prefix, v.slice(1))) : Buffer.from(v, 'utf8')
    } else if (a === '-w') c.writeOut = value()
    else if (a.startsWith('-')) throw new Error(`curl flag ${a} is not handled`)
    else if (url === null) url = a
    else throw new Error(`curl: a second URL ${a}`)
  }
  if (url === null) throw new Error('curl without a URL')
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)(\/.*)?$/.exec(url)
  if (m === null || m[1] !== '127.0.0.1') throw new Error(`curl URL ${url}: only 127.0.0.1:PORT[/path] is handled`)
  c.port = Number(m[2])
  c.path = m[3] ?? '/'
  if (c.method === '') c.method = c.body !== null ? 'POST' : 'GET'
  return c
}

interface Answer {
  /** The head as received (through the blank line), the body as it is on the wire, and the decoded body. */
  head: string
  wire: string
  body: string
}

/**
 * Sends curl's request (its headers: Host, User-Agent, Accept, then -H, then the body's) on a new connection, with
 * no `Connection` header as curl sends none, and reads one response (framed as curl frames it). Bounded: 10 s.
 */
function send(c: Curl, open?: Socket): Promise<Answer> {
  const headers: [string, string][] = [['Host', `127.0.0.1:${c.port}`], ['User-Agent', 'curl/8.5.0'], ['Accept', '*/*']]
  for (const [k, v] of c.headers) {
    const at = headers.findIndex(([h]) => h.toLowerCase() === k.toLowerCase())
    if (at >= 0) headers[at] = [k, v]
    else headers.push([k, v])
  }
  if (c.body !== null) {
    headers.push(['Content-Length', String(c.body.length)])
    if (!headers.some(([h]) => h.toLowerCase() === 'content-type')) headers.push(['Content-Type', 'application/x-www-form-urlencoded'])
  }
  const head = `${c.method} ${c.path} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`
  return new Promise((resolve, reject) => {
    const s = open ?? connect(c.port, '127.0.0.1')
    let buf = Buffer.alloc(0)
    let closed = false
    const timer = setTimeout(() => {
      s.destroy()
      reject(new Error(`no complete answer from ${c.port} within 10 s; got ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`))
    }, 10_000)
    const done = (a: Answer): void => {
      clearTimeout(timer)
      s.destroy()
      resolve(a)
    }
    const check = (): void => {
      const text = buf.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      if (end < 0) {
        if (closed) reject(new Error(`closed before a complete head: ${JSON.stringify(text)}`))
        return
      }
      const h = text.slice(0, end + 4)
      const rest = text.slice(end + 4)
      const status = Number(h.split(' ')[1])
      const cl = /\r\ncontent-length: *(\d+)\r\n/i.exec(h)
      if (status === 204 || status === 304 || c.method === 'HEAD') return done({ head: h, wire: '', body: '' })
      if (/\r\ntransfer-encoding: *chunked\r\n/i.test(h)) {
        if (rest.endsWith('0\r\n\r\n') || closed) done({ head: h, wire: rest, body: dechunk(rest) })
        return
      }
      if (cl !== null) {
        if (rest.length >= Number(cl[1]) || closed) done({ head: h, wire: rest, body: rest.slice(0, Number(cl[1])) })
        return
      }
      if (closed) done({ head: h, wire: rest, body: rest })
    }
    s.on('data', (b: Buffer) => {
      buf = Buffer.concat([buf, b])
      check()
    })
    s.on('error', () => {}) // a reset after the answer (a 413 before the whole body) still leaves the answer
    s.on('close', () => {
      closed = true
      check()
    })
    s.write(head)
    // Written after the head as curl does; the server may answer (413) and close before taking it all.
    if (c.body !== null) s.write(c.body, () => {})
  })
}

/**
 * What curl prints for an answer, in documented terms: `-i` adds the head; CRLF is shown as LF; the Date value and
 * the version are masked; Content-Length is checked against the bytes and shown for the body with documented ports.
 */
function shown(env: Env, c: Curl, a: Answer): string {
  const body = env.toDoc(a.body)
  let out = ''
  if (c.include) {
    const cl = /\r\ncontent-length: *(\d+)\r\n/i.exec(a.head)
    if (cl !== null) assert.equal(Number(cl[1]), Buffer.byteLength(a.body, 'latin1'), `Content-Length is the body's length: ${a.head}`)
    const head = a.head
      .replace(/\r\nDate: [^\r]*/i, '\r\nDate: (masked)')
      .replace(/\r\n(content-length: *)\d+\r\n/i, (_m, k: string) => `\r\n${k}${Buffer.byteLength(body, 'latin1')}\r\n`)
    out += env.toDoc(head)
  }
  out += body
  if (c.writeOut !== null) {
    if (/%\{(?!http_code\})/.test(c.writeOut)) throw new Error(`curl -w ${c.writeOut}: only %{http_code} is handled`)
    out += c.writeOut.replaceAll('%{http_code}', a.head.split(' ')[1]!).replaceAll('\\n', '\n')
  }
  return out.replaceAll('\r\n', '\n')
}

async function curl(env: Env, args: string[], open?: (port: number) => Socket): Promise<string> {
  const c = parseCurl(env, args.map((a) => env.toReal(a)))
  return shown(env, c, await send(c, open?.(c.port)))
}

/** A connection to 127.0.0.1:port, resolved once it is established (bounded: 10 s). */
function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1')
    const timer = setTimeout(() => {
      s.destroy()
      reject(new Error(`no connection to ${port} within 10 s`))
    }, 10_000)
    s.once('connect', () => {
      clearTimeout(timer)
      resolve(s)
    })
    s.once('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
  })
}

/** Log lines with the time and the pid masked (both differ on every run). */
const maskLog = (s: string): string => s.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: /gm, 'TIME [$1] PID#0: ')

/** A prompt after output without a final newline is shown on its own line (docs/api.md, "About the examples"). */
const asPrinted = (s: string): string => (s === '' || s.endsWith('\n') ? s : `${s}\n`)

/** A step's documented output in the comparable form (Date and log times masked). */
const documented = (out: string): string => maskLog(out.replace(/^Date: .*$/gm, 'Date: (masked)'))

/**
 * Runs one documented command; returns its output in documented terms. Compound shell lines are handled whole,
 * by their exact text: each is a loop over the single commands above.
 */
async function run(env: Env, s: Session, cmd: string): Promise<string> {
  const special = COMPOUND[cmd]
  if (special !== undefined) return special(env, s)
  const pipe = /^(.*) \| grep (\w+)$/.exec(cmd)
  if (pipe !== null) {
    const all = await run(env, s, pipe[1]!)
    return all.split('\n').filter((l) => l.includes(pipe[2]!)).map((l) => `${l}\n`).join('')
  }
  const w = words(cmd)
  const [name, ...args] = w
  switch (name) {
    case 'curl':
      return curl(env, args)
    case 'cat': {
      assert.equal(args.length, 1, cmd)
      return env.toDoc(readText(join(env.prefix, args[0]!)))
    }
    case 'ls': {
      assert.equal(args.length, 1, cmd)
      return readdirSync(join(env.prefix, args[0]!)).sort().map((f) => `${f}\n`).join('')
    }
    case 'tail': {
      assert.ok(args.length === 3 && args[0] === '-n', cmd)
      const lines = readText(join(env.prefix, args[2]!)).split('\n').slice(0, -1)
      return env.toDoc(maskLog(lines.slice(-Number(args[1])).map((l) => `${l}\n`).join('')))
    }
    case 'grep': {
      assert.equal(args.length, 2, cmd)
      // The pattern is a basic regular expression whose only escapes (`\[`, `\]`) mean the same in JavaScript.
      const re = new RegExp(args[0]!)
      return env.toDoc(maskLog(readText(join(env.prefix, args[1]!)).split('\n').filter((l) => re.test(l)).map((l) => `${l}\n`).join('')))
    }
    case 'dyups': {
      const r = await runBin(args.map((a) => env.toReal(a)))
      if (args.includes('-s')) {
        // -s only signals the primary: the next command sees the state after it is gone, as on the doc's terminal.
        assert.equal(r.code, 0, r.stderr)
        assert.ok(await waitFor(() => env.d!.child.exitCode !== null || env.d!.child.signalCode !== null), 'dyups stops after -s stop')
      }
      return env.toDoc(r.stdout + r.stderr)
    }
    default:
      throw new Error(`command not handled: ${cmd}`)
  }
}

/** Compound shell lines of the blocks, each run as its shell would run it. */
const COMPOUND: Record<string, (env: Env, s: Session) => Promise<string>> = {
  // A while-read loop over /list: one DELETE per listed name, each printed as `name: ` + the body + a newline.
  [`curl -s 127.0.0.1:8081/list | while read -r g; do printf '%s: ' "$g"; curl -X DELETE "127.0.0.1:8081/upstream/$g"; echo; done`]: async (env) => {
    let out = ''
    for (const g of (await curl(env, ['-s', '127.0.0.1:8081/list'])).split('\n').filter((l) => l !== '')) {
      assert.ok(!/[\s'"%]/.test(g), `a name the loop passes to curl as is: ${g}`)
      out += `${g}: ${await curl(env, ['-X', 'DELETE', `127.0.0.1:8081/upstream/${g}`])}\n`
    }
    return out
  },
  // One POST, a newline, then eight GETs, each on a new connection, one after the other.
  [`curl -d 'server 127.0.0.1:8089;' 127.0.0.1:8081/upstream/host1; echo; for i in 1 2 3 4 5 6 7 8; do curl -H 'Host: host1' 127.0.0.1:8080; done`]: async (env) => {
    let out = `${await curl(env, ['-d', 'server 127.0.0.1:8089;', '127.0.0.1:8081/upstream/host1'])}\n`
    for (let i = 0; i < 8; i++) out += await curl(env, ['-H', 'Host: host1', '127.0.0.1:8080'])
    return out
  },
  // Ten curls at once, g1 … g10; their outputs in the order they finish. The ten connections are established
  // before any request is written, so that the requests arrive together however slowly connections are accepted
  // on a busy machine: overlapping changes are what the block shows.
  [`seq 10 | xargs -P 10 -I{} curl -s -w ' (%{http_code})\\n' -d 'server 127.0.0.1:8088;' 127.0.0.1:8081/upstream/g{}`]: async (env) => {
    const outs: string[] = []
    const socks = await Promise.all(Array.from({ length: 10 }, () => connected(env.port(8081))))
    await Promise.all(socks.map((sock, i) =>
      curl(env, ['-s', '-w', ' (%{http_code})\\n', '-d', 'server 127.0.0.1:8088;', `127.0.0.1:8081/upstream/g${i + 1}`], () => sock).then((o) => {
        outs.push(o)
        if (o === 'success (200)\n') env.won.push(`g${i + 1}`)
      })))
    return outs.join('')
  },
  // The primary killed with SIGKILL; nothing is printed. Its workers outlive it and serve on until the next start
  // takes over from them (docs/operations.md#when-the-primary-dies): they are this test's to end if that fails.
  'kill -9 $(cat logs/dyups.pid)': async (env) => {
    const pid = Number(readText(join(env.prefix, 'logs/dyups.pid')).trim())
    assert.equal(pid, env.d!.pid, 'the pid file names the primary')
    env.orphans = childPids(pid)
    const orphans = env.orphans
    env.t.after(() => {
      for (const w of orphans) {
        // Only a worker of this dyups still running (its command line names the binary), never a reused pid.
        if (alive(w) && readText(`/proc/${w}/cmdline`).includes(BIN)) process.kill(w, 'SIGKILL')
      }
    })
    process.kill(pid, 'SIGKILL')
    assert.ok(await waitFor(() => env.d!.child.exitCode !== null || env.d!.child.signalCode !== null), 'the primary is gone')
    return ''
  },
}

/**
 * Steps whose output is not one fixed text, compared by what the documentation says of it. The ten concurrent POSTs
 * with dyups_trylock: which of them win is a race, so each output must be one of the two documented answers, some of
 * each, and the /list that follows the two groups of the example, then exactly the groups whose POST succeeded.
 */
function compareLoose(env: Env, cmd: string, real: string, doc: string): boolean {
  if (cmd.startsWith('seq 10 | xargs')) {
    const answers = real.split(/(?<= \(\d{3}\)\n)/)
    const forms = new Set(doc.split(/(?<= \(\d{3}\)\n)/))
    assert.deepEqual(forms, new Set(['wait and try again\n (409)\n', 'success (200)\n']), 'the documented answers')
    assert.equal(answers.length, 10, real)
    for (const a of answers) assert.ok(forms.has(a), `a documented answer: ${JSON.stringify(a)}`)
    assert.ok(answers.includes('success (200)\n') && answers.includes('wait and try again\n (409)\n'), `some of each: ${real}`)
    return true
  }
  if (cmd === 'curl 127.0.0.1:8081/list' && env.won.length > 0) {
    const lines = real.split('\n').slice(0, -1)
    assert.deepEqual(lines.slice(0, 2), doc.split('\n').slice(0, 2), real)
    assert.deepEqual(lines.slice(2).sort(), [...env.won].sort(), real)
    return true
  }
  return false
}

// ---------------------------------------------------------------------------------------------------------------
// The tests.

const BLOCKS = consoleBlocks()
const byKey = new Map<string, Block>()
for (const b of BLOCKS) {
  assert.ok(!byKey.has(keyOf(b)), `two console blocks start with the same command: ${keyOf(b)}`)
  byKey.set(keyOf(b), b)
}

test('every console block of the documentation is checked or skipped with a reason', () => {
  const inSessions = SESSIONS.flatMap((s) => s.blocks.map((b) => b.key))
  for (const k of [...inSessions, ...Object.keys(SKIPPED), ...CODE_DIFFERS.map((c) => c.block)]) assert.ok(byKey.has(k), `no console block starts with: ${k}`)
  const unlisted = BLOCKS.map(keyOf).filter((k) => !inSessions.includes(k) && SKIPPED[k] === undefined)
  assert.deepEqual(unlisted, [], 'console blocks neither run nor skipped: add them to SESSIONS or SKIPPED')
  assert.equal(new Set(inSessions).size, inSessions.length, 'a block runs once')
  assert.equal(inSessions.length, CHECKED_BLOCKS, 'the checked blocks')
  assert.equal(BLOCKS.length, CHECKED_BLOCKS + Object.keys(SKIPPED).length)
})

// The sessions are independent (each its own prefix, ports and dyups): they run side by side.
test('the console sessions', { concurrency: true }, async (top) => {
  await Promise.all(SESSIONS.map((s) => top.test(`${s.name}${s.quote ? ` (${s.quote})` : ''}`, async (t) => {
    const prefix = tempPrefix(t)
    const env = new Env(t, prefix, await freePorts(DOC_PORTS.length))
    const conf = exampleConf(env, s, s.noStart === true)
    writeConf(prefix, 'conf/nginx.conf', conf.nginx)
    writeConf(prefix, 'conf/upstream.conf', conf.upstream)
    for (const [f, text] of Object.entries(s.files ?? {})) writeConf(prefix, f, env.toReal(text))
    // Started means every worker is up (the primary's notice): a worker still starting would take the table from
    // its snapshot, and the documented sessions (four workers logging a change) ran with all of them serving.
    const start = async (): Promise<void> => {
      const started = (): number => readText(join(prefix, 'logs/error.log')).split('dyups started, ').length
      const before = started()
      env.d = await startDyups(t, prefix, env.ports, [])
      assert.ok(await waitFor(() => started() > before, 30_000), `dyups started: ${env.d.stderr()}`)
      // Starting again after a kill -9 takes over from the workers the dead primary left: they are gone.
      assert.deepEqual(await waitGone(env.orphans), [], 'the orphaned workers are replaced')
    }
    if (!s.noStart) await start()
    for (const { key, restart } of s.blocks) {
      const block = byKey.get(key)!
      if (restart) await start()
      for (const step of block.steps) {
        const where = `${block.file}:${block.line} $ ${step.cmd}`
        if (CODE_DIFFERS.some((c) => c.block === key && c.cmd === step.cmd)) continue
        // `cat FILE` of a file the session has not made shows the file the doc's next commands send: it is written
        // from the documented output (ports mapped), which is thereby the file's content by definition.
        if (step.cmd.startsWith('cat ') && !step.cmd.includes('/') && readText(join(prefix, step.cmd.slice(4))) === '') {
          writeFileSync(join(prefix, step.cmd.slice(4)), env.toReal(step.out))
          continue
        }
        const doc = documented(step.out)
        let real = asPrinted(await run(env, s, step.cmd))
        // A log line is written by the process that applied the change, which may follow the answer by a moment.
        if (/^(tail|grep) /.test(step.cmd) && real !== doc) {
          await waitFor(async () => (real = asPrinted(await run(env, s, step.cmd))) === doc, 5_000)
        }
        if (compareLoose(env, step.cmd, real, doc)) continue
        assert.equal(real, doc, where)
      }
    }
  })))
})

for (const c of CODE_DIFFERS) test.todo(`${c.block}: $ ${c.cmd}: ${c.difference}`)

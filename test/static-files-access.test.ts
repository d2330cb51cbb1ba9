/**
 * Files the server may not read, side by side with nginx: both serve as an unprivileged user — `nobody` when the
 * suite runs as root (nginx's workers by `user nobody nogroup;`, dyups switched to that user by test/as-user.ts, since
 * it does not switch users itself), else the user running the suite — so file modes decide, and a file or directory
 * without permission answers 403 with nginx's error-log line.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BIN, ROOT, canConnect, freePorts, readText, request, sleep, tempPrefix, writeConf } from './helpers.js'
import { startNginx } from './nginx.js'

const NOBODY = 65534
/** test/as-user.ts, compiled: dyups loaded as root, then run as `nobody`. */
const AS_USER = join(ROOT, 'dist/test/as-user.js')
/** Root reads every file whatever its mode: as root, both servers run as `nobody`. */
const AS_ROOT = process.getuid?.() === 0

/** [path, mode] of the tree served; directories end with `/`. */
const TREE: [string, number][] = [
  ['html/', 0o755],
  ['html/ok.txt', 0o644],
  ['html/secret.txt', 0o000],
  ['html/locked/', 0o000],
  ['html/locked/f.txt', 0o644],
  ['html/noexec/', 0o644],
  ['html/noexec/f.txt', 0o644],
  ['html/nolist/', 0o311],
  ['html/nolist/index.html', 0o644],
  ['html/nolist/f.txt', 0o644],
  ['html/listonly/', 0o711],
  ['html/listonly/g.txt', 0o644],
]

function conf(port: number, kind: 'nginx' | 'dyups'): string {
  const nginxOnly = kind === 'nginx'
    ? '    client_body_temp_path tmp/body;\n    proxy_temp_path tmp/proxy;\n    fastcgi_temp_path tmp/fastcgi;\n    uwsgi_temp_path tmp/uwsgi;\n    scgi_temp_path tmp/scgi;\n'
    : ''
  return `${kind === 'nginx' ? (AS_ROOT ? 'user nobody nogroup;' : '') : 'master_process off;'}
error_log logs/error.log error;
pid logs/nginx.pid;
events {}
http {
    access_log off;
    server_tokens off;
    server {
        listen 127.0.0.1:${port};
        location / { }
        location /try/ { try_files /secret.txt /locked/f.txt /ok.txt =404; }
        location /try2/ { try_files /locked/f.txt /ok.txt =404; }
    }
${nginxOnly}}
`
}

function makeTree(prefix: string): void {
  chmodSync(prefix, 0o755)
  if (AS_ROOT) chownSync(join(prefix, 'logs'), NOBODY, NOBODY)
  // Directories first (their files are written while they are still open), modes last.
  for (const [p] of TREE) if (p.endsWith('/')) mkdirSync(join(prefix, p), { recursive: true })
  for (const [p] of TREE) if (!p.endsWith('/')) writeFileSync(join(prefix, p), `${p}\n`)
  for (const [p, mode] of TREE.slice().reverse()) chmodSync(join(prefix, p), mode)
}

const readLog = (prefix: string): string => readText(join(prefix, 'logs/error.log'))

test('files without permission: 403 and the log line, as nginx', async (t) => {
  const [pn, pd] = (await freePorts(2)) as [number, number]
  const xn = tempPrefix(t)
  const xd = tempPrefix(t)
  mkdirSync(join(xn, 'tmp'))
  makeTree(xn)
  makeTree(xd)
  writeConf(xn, 'conf/nginx.conf', conf(pn, 'nginx'))
  writeConf(xd, 'conf/nginx.conf', conf(pd, 'dyups'))
  chmodSync(join(xd, 'conf'), 0o755)
  await startNginx(t, xn, [pn])
  const args = ['-p', xd, '-c', 'conf/nginx.conf', '-g', 'daemon off;']
  const child = spawn(process.execPath, AS_ROOT ? [AS_USER, String(NOBODY), String(NOBODY), ...args] : [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr!.on('data', (b: Buffer) => (err += b.toString('latin1')))
  t.after(() => void child.kill('SIGKILL'))
  const deadline = Date.now() + 30_000
  while (!(await canConnect(pd))) {
    assert.ok(Date.now() < deadline && child.exitCode === null, `dyups did not start: ${err}`)
    await sleep(20)
  }

  const paths = ['/ok.txt', '/secret.txt', '/locked/f.txt', '/locked/', '/locked', '/noexec/f.txt', '/noexec/', '/nolist/', '/nolist/f.txt', '/listonly/', '/try/x', '/try2/x']
  for (const path of paths) {
    await t.test(path, async () => {
      const run = async (port: number, prefix: string): Promise<unknown> => {
        const from = readLog(prefix).length
        const r = await request(port, { path })
        const errors = readLog(prefix).slice(from).split('\n').filter((l) => l !== '')
          .map((l) => l.replace(/^\S+ \S+ \[(\w+)\] \d+#\d+: (\*\d+ )?/, '[$1] ').split(prefix).join('PREFIX'))
        return { status: r.status, location: r.headers['location']?.replace(`:${port}`, ':PORT'), body: r.body.replace(/<center>(nginx|dyups)<\/center>/, ''), errors }
      }
      const ngx = await run(pn, xn)
      if (process.env.SIDE_DEBUG) console.log(path, JSON.stringify(ngx))
      assert.deepEqual(await run(pd, xd), ngx)
    })
  }
})

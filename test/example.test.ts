/**
 * The bundled example, run as `npm start` runs its copy in example/run/ (`-p PREFIX -c conf/nginx.conf`, here with a
 * relative prefix from the directory above), on a copy whose ports 8080/8081/8088/8089 are rewritten to free ones:
 * the documentation's curl session, step by step.
 */
import assert from 'node:assert/strict'
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { test } from 'node:test'
import { ROOT, answer, ans, detailLine, errorPage, freePorts, idelete, iget, ipost, runBin, startBinIn, tempPrefix, via } from './helpers.js'

test('the example: 502, POST a group, alternation, /detail, DELETE, /list', async (t) => {
  const prefix = tempPrefix(t)
  cpSync(join(ROOT, 'example'), prefix, { recursive: true })
  const [proxy, iface, e1, e2] = (await freePorts(4)) as [number, number, number, number]
  const map: Record<string, number> = { 8080: proxy, 8081: iface, 8088: e1, 8089: e2 }
  for (const f of ['conf/nginx.conf', 'conf/upstream.conf']) {
    const p = join(prefix, f)
    const text = readFileSync(p, 'latin1')
    const out = text.replace(/\b(8080|8081|8088|8089)\b/g, (m) => String(map[m]))
    assert.notEqual(out, text, `${f} names the example's ports`)
    writeFileSync(p, out, 'latin1')
  }
  const d = await startBinIn(t, dirname(prefix), prefix, ['-p', basename(prefix), '-c', 'conf/nginx.conf'], [proxy, iface, e1, e2])

  // The interface listens on every address with no allow/deny: one warning at start, on stderr and in the error log,
  // naming the listener and the location.
  const warning = `the dyups interface is reachable from any address on 0.0.0.0:${iface} and no "allow" or "deny" rule ` +
    `guards it: listen on 127.0.0.1, or add "allow 127.0.0.1; deny all;" to its location in ${join(prefix, 'conf/nginx.conf')}:37`
  assert.deepEqual(d.stderr().split('\n').filter((l) => l.includes('[warn]')), [`dyups: [warn] ${warning}`])
  assert.deepEqual(d.errorLog().split('\n').filter((l) => l.includes('[warn]')).map((l) => l.replace(/^.*\[warn\] \d+#0: /, '')), [warning])

  // The group does not exist yet: nginx's 502 page.
  const bad = await via(proxy, 'dyhost')
  assert.equal(bad.status, 502)
  assert.match(bad.headers['server'] ?? '', /^dyups\/\d+\.\d+\.\d+$/)
  assert.equal(bad.headers['content-type'], 'text/html')
  assert.ok(bad.body.includes('<center><h1>502 Bad Gateway</h1></center>'), bad.body)
  assert.equal(bad.body, errorPage(502, 'Bad Gateway', bad.headers['server']!))
  assert.equal(Number(bad.headers['content-length']), bad.body.length)

  // The static groups reach the echo backends, which answer their text and a newline.
  const h1 = await via(proxy, 'host1')
  assert.deepEqual([h1.status, h1.body], [200, `${e1}\n`])
  assert.deepEqual([(await via(proxy, 'host2')).body], [`${e2}\n`])

  assert.deepEqual(answer(await ipost(iface, '/upstream/dyhost', `server 127.0.0.1:${e2};server 127.0.0.1:${e1};`)), ans(200, 'success'))
  const seen: string[] = []
  for (let i = 0; i < 4; i++) {
    const r = await via(proxy, 'dyhost')
    seen.push(`${r.status} ${r.body}`)
  }
  assert.deepEqual(seen, [`200 ${e2}\n`, `200 ${e1}\n`, `200 ${e2}\n`, `200 ${e1}\n`])

  const detail = `host1\n${detailLine(`127.0.0.1:${e1}`)}\nhost2\n${detailLine(`127.0.0.1:${e2}`)}\n`
  assert.deepEqual(answer(await iget(iface, '/detail')),
    ans(200, `${detail}dyhost\n${detailLine(`127.0.0.1:${e2}`)}${detailLine(`127.0.0.1:${e1}`)}\n`))
  assert.deepEqual(answer(await iget(iface, '/list')), ans(200, 'host1\nhost2\ndyhost\n'))
  assert.deepEqual(answer(await iget(iface, '/upstream/dyhost')), ans(200, `server 127.0.0.1:${e2}\nserver 127.0.0.1:${e1}\n`))

  assert.deepEqual(answer(await idelete(iface, '/upstream/dyhost')), ans(200, 'success'))
  assert.deepEqual(answer(await iget(iface, '/detail')), ans(200, detail))
  assert.deepEqual(answer(await iget(iface, '/list')), ans(200, 'host1\nhost2\n'))
  assert.equal((await via(proxy, 'dyhost')).status, 502)
  assert.deepEqual(answer(await idelete(iface, '/upstream/dyhost')), ans(404, 'not found uptream'))

  // A graceful stop leaves conf/upstream.conf a valid include of the example's own nginx.conf.
  assert.equal(await d.stop('SIGQUIT'), 0)
  const r = await runBin(['-p', prefix, '-c', 'conf/nginx.conf', '-t', '-q'])
  assert.deepEqual(r, { code: 0, stdout: '', stderr: '' })
})

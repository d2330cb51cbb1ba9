/**
 * dyups_dashboard in a real headless browser (Debian's chromium, driven by playwright-core): every group and server
 * shows with its state; a server whose health checks fail shows down within one refresh; its Down button (a PATCH
 * of the JSON interface served by the same server) stops its traffic while the other server's counters keep
 * growing, and Restore brings it back. Where no interface answers, the page is read-only. A screenshot is kept in
 * the test's temp dir (and copied to $DYUPS_DASHBOARD_PNG when set, as docs/dashboard.png was made).
 */
import assert from 'node:assert/strict'
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { chromium, type Page } from 'playwright-core'
import { backend, closeServer, request, startInterface, waitFor } from './helpers.js'

const CHROMIUM = '/usr/bin/chromium'

async function rows(page: Page, upstream: string): Promise<{ server: string; state: string; requests: number; buttons: string[] }[]> {
  return page.$$eval(`section[data-upstream="${upstream}"] tr[data-server]`, (trs) =>
    trs.map((tr) => ({
      server: (tr as HTMLElement).dataset['server']!,
      state: (tr as HTMLElement).dataset['state']!,
      requests: Number(tr.querySelector('td.requests')!.textContent),
      buttons: [...tr.querySelectorAll('button')].map((b) => b.textContent!),
    })),
  )
}

test('dyups_dashboard: groups, states, rates; a server going down shows within one refresh; Down stops its traffic', async (t) => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the dashboard test drives Debian's chromium (apt-get install chromium)`)
  const [a, b, c, d] = await Promise.all([backend(t, 'a'), backend(t, 'b'), backend(t, 'c'), backend(t, 'd')])
  const A = `127.0.0.1:${a.port}`, B = `127.0.0.1:${b.port}`, C = `127.0.0.1:${c.port}`, D = `127.0.0.1:${d.port}`
  const s = await startInterface(t, {
    workers: 2,
    http: `    upstream web { server ${A}; server ${B}; }
    upstream hc { server ${C}; server ${D}; check interval=100 rise=1 fall=1 timeout=500 type=tcp; }
`,
    server: '        location = /dashboard { dyups_dashboard; }\n',
    ifaceServer: '        location = /dashboard { dyups_dashboard; }\n',
  })
  const tmp = mkdtempSync(join(tmpdir(), 'dyups-dashboard-'))
  const profile = join(tmp, 'profile')
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1280, height: 720 },
  })
  // The browser's fresh profile goes with it; the screenshot stays in the temp dir as the test's artifact.
  t.after(async () => {
    await ctx.close()
    rmSync(profile, { recursive: true, force: true })
  })
  const page = await ctx.newPage()
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(String(e)))
  const REFRESH = 300
  await page.goto(`http://127.0.0.1:${s.iface}/dashboard?refresh=${REFRESH}`)
  const refreshes = async (): Promise<number> => Number(await page.getAttribute('body', 'data-refreshes'))
  const state = async (up: string, server: string): Promise<string | undefined> => (await rows(page, up)).find((r) => r.server === server)?.state
  assert.ok(await waitFor(async () => (await refreshes()) >= 1, 20_000), 'the page refreshes')
  assert.equal(await page.getAttribute('body', 'data-writable'), 'true', 'the interface answers here')
  assert.deepEqual((await rows(page, 'web')).map((r) => [r.server, r.state, r.buttons]), [[A, 'up', ['Down', 'Drain']], [B, 'up', ['Down', 'Drain']]])
  assert.ok(await waitFor(async () => (await state('hc', C)) === 'up' && (await state('hc', D)) === 'up', 20_000), 'the checked servers come up')
  assert.equal(await page.textContent('#version'), '0')
  assert.equal(await page.textContent('#workers'), '2')

  // A server going down: once the data says so, the page shows it within one refresh (the one in flight may have
  // read the data before; the next one cannot have).
  await closeServer(d.server, [])
  const data = async (): Promise<{ upstreams: { name: string; servers: { address: string; state: string }[] }[] }> =>
    JSON.parse((await request(s.iface, { path: '/dashboard?format=json' })).body)
  assert.ok(await waitFor(async () => (await data()).upstreams.find((g) => g.name === 'hc')!.servers.find((x) => x.address === D)!.state === 'unhealthy', 20_000))
  const n = await refreshes()
  assert.ok(await waitFor(async () => (await refreshes()) >= n + 2, 20_000))
  assert.equal(await state('hc', D), 'unhealthy', 'shown within one refresh')
  assert.equal(await state('hc', C), 'up')

  // Traffic reaches both servers of web; Down on a's row: a gets no more, b gets it all, and the page's counters say so.
  for (let i = 0; i < 10; i++) assert.equal((await request(s.proxy, { host: 'web' })).status, 200)
  assert.ok(a.requests.length > 0 && b.requests.length > 0)
  await page.click(`section[data-upstream="web"] tr[data-server="${A}"] button.down`)
  assert.ok(await waitFor(async () => (await state('web', A)) === 'down', 20_000), 'a is down')
  assert.deepEqual((await rows(page, 'web')).map((r) => r.buttons), [['Restore'], ['Down', 'Drain']])
  const [seenA, seenB] = [a.requests.length, b.requests.length]
  const before = await rows(page, 'web')
  for (let i = 0; i < 10; i++) assert.equal((await request(s.proxy, { host: 'web' })).status, 200)
  assert.deepEqual([a.requests.length - seenA, b.requests.length - seenB], [0, 10], 'the down server takes no traffic')
  assert.ok(await waitFor(async () => (await rows(page, 'web'))[1]!.requests >= before[1]!.requests + 10, 20_000), 'b\'s counter grows')
  assert.equal((await rows(page, 'web'))[0]!.requests, before[0]!.requests, 'a\'s does not')
  const shot = join(tmp, 'dashboard.png')
  await page.screenshot({ path: shot, fullPage: true })
  assert.ok(statSync(shot).size > 10_000, 'a screenshot')
  t.diagnostic(`screenshot: ${shot}`)
  if (process.env['DYUPS_DASHBOARD_PNG']) copyFileSync(shot, process.env['DYUPS_DASHBOARD_PNG'])

  // Restore: a takes traffic again.
  await page.click(`section[data-upstream="web"] tr[data-server="${A}"] button.restore`)
  assert.ok(await waitFor(async () => (await state('web', A)) === 'up', 20_000), 'a is up again')
  for (let i = 0; i < 10; i++) assert.equal((await request(s.proxy, { host: 'web' })).status, 200)
  assert.ok(a.requests.length > seenA, 'a takes traffic again')

  // Drain: a takes no new requests while it drains; Undrain brings it back.
  await page.click(`section[data-upstream="web"] tr[data-server="${A}"] button.drain`)
  assert.ok(await waitFor(async () => (await state('web', A)) === 'draining', 20_000), 'a is draining')
  assert.deepEqual((await rows(page, 'web')).map((r) => r.buttons), [['Down', 'Undrain'], ['Down', 'Drain']])
  const drainedAt = a.requests.length
  for (let i = 0; i < 10; i++) assert.equal((await request(s.proxy, { host: 'web' })).status, 200)
  assert.equal(a.requests.length, drainedAt, 'the draining server takes no new request')
  await page.click(`section[data-upstream="web"] tr[data-server="${A}"] button.undrain`)
  assert.ok(await waitFor(async () => (await state('web', A)) === 'up', 20_000), 'a is up after the drain')

  // Where no interface answers (the proxy server's /api/ goes to a backend), the page has no buttons.
  const ro = await ctx.newPage()
  await ro.goto(`http://127.0.0.1:${s.proxy}/dashboard?refresh=${REFRESH}`)
  assert.ok(await waitFor(async () => Number(await ro.getAttribute('body', 'data-refreshes')) >= 1, 20_000))
  assert.equal(await ro.getAttribute('body', 'data-writable'), 'false')
  assert.equal(await ro.textContent('#mode'), 'read only')
  assert.deepEqual((await rows(ro, 'web')).map((r) => r.buttons), [[], []])
  assert.deepEqual(errors, [], 'no script errors')
  // The page needs nothing from elsewhere: every request it made went to dyups.
  const html = (await request(s.iface, { path: '/dashboard' })).body
  assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//i)
  assert.equal((await request(s.iface, { method: 'POST', path: '/dashboard', body: '' })).status, 405)
})

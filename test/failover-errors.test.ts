/**
 * Failures side by side with the real nginx, with backends that refuse connections, close without answering,
 * answer 5xx/4xx or an invalid head, or cut the body short: which servers are tried, the final status, and
 * $upstream_addr / $upstream_status (times by shape) must be what nginx writes for the same scenario.
 * Every scenario has its own servers, so no passive-health state leaks between them.
 */
import { test } from 'node:test'
import { compareScenarios, Farm, gets, startScenarios, type Backend, type Scenario } from './nginx.js'

/** Head lines nginx refuses as "upstream sent invalid header". */
const INVALID: [string, string][] = [
  ['a NUL byte', 'X-A: a\0b'],
  ['a space in a name', 'Bad Name: x'],
  ['a folded line', 'X-A: a\r\n b'],
  ['a head over 8k', `X-A: ${'y'.repeat(9000)}`],
]

const srv = (...bs: (Backend | string)[]): string => bs.map((b) => `        server ${typeof b === 'string' ? b : `${b.addr};`}`).join('\n')

test('failures and retries, as nginx', async (t) => {
  const farm = new Farm(t)
  const ok = (n: string): Promise<Backend> => farm.add(n)
  const status = (n: string, s: number): Promise<Backend> => farm.add(n, { status: s })
  const list: Scenario[] = [
    { name: 'refused, then the next server; the refused one is skipped within fail_timeout', upstream: srv(await farm.dead('X1'), await ok('A1')), reqs: gets(3) },
    { name: 'closed without an answer, then the next server', upstream: srv(await farm.add('C2', 'close'), await ok('A2')), reqs: gets(3) },
    { name: '502 answer without http_502: passed to the client', upstream: srv(await status('S3', 502), await ok('A3')), reqs: gets(3) },
    {
      name: '502 answer with http_502: the next server',
      upstream: srv(await status('S4', 502), await ok('A4')),
      location: 'proxy_next_upstream error timeout http_502;',
      reqs: gets(3),
    },
    {
      name: 'a refused attempt after an answered one has no connect time',
      upstream: srv(await status('S5', 502), await farm.dead('X5'), await ok('A5')),
      location: 'proxy_next_upstream error http_502;',
      reqs: gets(2),
    },
    {
      name: 'the last try passes the backend\'s own answer',
      upstream: srv(await status('S6', 502), await status('T6', 503)),
      location: 'proxy_next_upstream error http_502 http_503;',
      reqs: gets(3),
    },
    { name: 'every server refused: 502, then no live upstreams', upstream: srv(await farm.dead('X7'), await farm.dead('Y7')), reqs: gets(3) },
    { name: 'a single refused server: 502 every time', upstream: srv(await farm.dead('X8')), reqs: gets(3) },
    {
      name: 'proxy_next_upstream off: the refused server is the answer',
      upstream: srv(await farm.dead('X9'), await ok('A9')),
      location: 'proxy_next_upstream off;',
      reqs: gets(3),
    },
    {
      name: 'proxy_next_upstream_tries 2 stops after two servers',
      upstream: srv(await farm.dead('X10'), await farm.dead('Y10'), await farm.dead('Z10'), await ok('A10')),
      location: 'proxy_next_upstream_tries 2;',
      reqs: gets(3),
    },
    {
      name: 'POST to a refused server is resent (the request never left)',
      upstream: srv(await farm.dead('X11'), await ok('A11')),
      reqs: [{ method: 'POST', body: 'x' }, { method: 'POST', body: 'x' }],
    },
    {
      name: 'POST to a server that closes without an answer is not resent',
      upstream: srv(await farm.add('C12', 'close'), await ok('A12')),
      reqs: [{ method: 'POST', body: 'x' }, { method: 'POST', body: 'x' }, { method: 'POST', body: 'x' }],
    },
    {
      name: 'POST with non_idempotent is resent',
      upstream: srv(await farm.add('C13', 'close'), await ok('A13')),
      location: 'proxy_next_upstream error timeout non_idempotent;',
      reqs: [{ method: 'POST', body: 'x' }, { method: 'POST', body: 'x' }],
    },
    {
      name: 'POST answered 502 with http_502 but not non_idempotent: passed to the client',
      upstream: srv(await status('S14', 502), await ok('A14')),
      location: 'proxy_next_upstream error http_502;',
      reqs: [{ method: 'POST', body: 'x' }, { method: 'POST', body: 'x' }],
    },
    {
      name: 'PATCH and LOCK are non-idempotent, PUT, DELETE and others are not',
      upstream: srv(`${(await status('S15', 502)).addr} max_fails=0;`, await ok('A15')),
      location: 'proxy_next_upstream error http_502;',
      reqs: ['PATCH', 'LOCK', 'PUT', 'DELETE', 'PROPFIND', 'MKCOL'].flatMap((method) => [{ method, body: 'x' }, { method, body: 'x' }]),
    },
    {
      name: 'http_404 moves on without counting a failure',
      upstream: srv(await status('F16', 404), await ok('A16')),
      location: 'proxy_next_upstream error http_404;',
      reqs: gets(4),
    },
    {
      name: 'http_403 moves on without counting a failure',
      upstream: srv(await status('F17', 403), await ok('A17')),
      location: 'proxy_next_upstream error http_403;',
      reqs: gets(4),
    },
    {
      name: 'http_500, http_503, http_504, http_429 count as failures',
      upstream: srv(await status('F18', 500), await status('G18', 503), await status('H18', 504), await status('I18', 429), await ok('A18')),
      location: 'proxy_next_upstream error http_500 http_503 http_504 http_429;',
      reqs: gets(4),
    },
    {
      name: 'a status not named is passed to the client',
      upstream: srv(await status('F19', 500), await ok('A19')),
      location: 'proxy_next_upstream error http_502;',
      reqs: gets(3),
    },
    {
      name: 'an invalid header (a NUL byte) with default proxy_next_upstream: 502',
      upstream: srv(await farm.add('B20', { raw: 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 3\r\n\r\nB20' }), await ok('A20')),
      reqs: gets(3),
    },
    ...(await Promise.all(INVALID.map(async ([what, line], i): Promise<Scenario> => ({
      name: `invalid_header: ${what} moves on`,
      upstream: srv(await farm.add(`B21${i}`, { raw: `HTTP/1.1 200 OK\r\n${line}\r\nContent-Length: 1\r\n\r\nR` }), await ok(`A21${i}`)),
      location: 'proxy_next_upstream error invalid_header;',
      reqs: gets(2),
    })))),
    {
      name: 'a body cut short: 200 logged, the client gets what came, the server stays in rotation',
      upstream: srv(await farm.add('P22', 'partial'), await ok('A22')),
      reqs: gets(4),
    },
    {
      name: 'a backup after failing primaries, with max_fails=2',
      upstream: srv(`${(await farm.dead('X23')).addr} max_fails=2;`, await ok('A23'), `${(await ok('E23')).addr} backup;`),
      location: 'proxy_next_upstream error http_502;',
      reqs: gets(4),
    },
    {
      name: 'one primary refused: the backup, then the backup alone',
      upstream: srv(await farm.dead('X24'), `${(await ok('E24')).addr} backup;`),
      reqs: gets(3),
    },
    {
      name: 'least_conn past a refused server',
      upstream: `        least_conn;\n${srv(await ok('A25'), await farm.dead('X25'), `${(await ok('B25')).addr} weight=2;`)}`,
      reqs: gets(6),
    },
    {
      name: 'least_conn: every primary refused, the backups by least_conn',
      upstream: `        least_conn;\n${srv(await farm.dead('X26'), `${(await ok('E26')).addr} backup;`, `${(await ok('F26')).addr} backup;`)}`,
      reqs: gets(4),
    },
    {
      name: 'ip_hash with a single server refused: 502 each time',
      upstream: `        ip_hash;\n${srv(await farm.dead('X27'))}`,
      reqs: gets(2),
    },
  ]
  const p = await startScenarios(t, list)
  await compareScenarios(t, p, farm, list)
})

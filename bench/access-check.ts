/**
 * Micro-benchmark of the `allow`/`deny` check (src/http/modules/access.ts) against the same rules on Node's
 * `net.BlockList`: 10 rules, 1e6 checks over a mix of client addresses, best of 5 rounds, ns per check.
 * Not a test: timings depend on the machine and its load.
 *
 *   npm run build && node bin/node24.js dist/bench/access-check.js [checks]
 *
 * BlockList answers "is this address in the set", not nginx's "the first matching rule decides". The fairest
 * encoding here merges each run of consecutive rules with the same action into one BlockList and checks the runs
 * in order (the order among rules of one action does not matter), so these rules cost 4 BlockList checks at most;
 * IPv4-mapped IPv6 clients are turned into IPv4 first, as nginx and AccessRules do. Both answers are compared on
 * every address before timing.
 */
import { BlockList, isIPv4 } from 'node:net'
import { loadavg } from 'node:os'
import { compileAccess } from '../src/http/modules/access.js'
import type { Directive } from '../src/config/index.js'

const RULES: Array<['allow' | 'deny', string]> = [
  ['deny', '192.168.1.1'],
  ['deny', '10.13.0.0/16'],
  ['deny', '2001:db8:dead::/48'],
  ['allow', '10.0.0.0/8'],
  ['allow', '192.168.0.0/16'],
  ['allow', '172.16.0.0/12'],
  ['allow', '127.0.0.1'],
  ['allow', '::1'],
  ['allow', '2001:db8::/32'],
  ['deny', 'all'],
]

const CLIENTS = [
  '127.0.0.1', '10.1.2.3', '10.13.9.9', '192.168.1.1', '192.168.7.7', '172.20.1.1', '8.8.8.8', '203.0.113.9',
  '::1', '2001:db8::5', '2001:db8:dead::1', 'fe80::1', '::ffff:10.1.2.3', '::ffff:8.8.8.8',
]

function nginxRules(): (addr: string) => boolean {
  const directives: Directive[] = RULES.map(([name, arg], i) => ({ name, args: [arg], block: null, file: 'bench', line: i + 1 }))
  const rules = compileAccess(directives)!
  return (addr) => rules.allows(addr)
}

function blockListRules(): (addr: string) => boolean {
  const runs: Array<{ list: BlockList; deny: boolean }> = []
  for (const [action, arg] of RULES) {
    const deny = action === 'deny'
    let run = runs.at(-1)
    if (run === undefined || run.deny !== deny) runs.push((run = { list: new BlockList(), deny }))
    if (arg === 'all') {
      run.list.addSubnet('0.0.0.0', 0, 'ipv4')
      run.list.addSubnet('::', 0, 'ipv6')
      continue
    }
    const [addr, bits] = arg.split('/') as [string, string | undefined]
    const type = isIPv4(addr) ? 'ipv4' : 'ipv6'
    if (bits === undefined) run.list.addAddress(addr, type)
    else run.list.addSubnet(addr, Number(bits), type)
  }
  return (client) => {
    let addr = client, type: 'ipv4' | 'ipv6' = 'ipv4'
    if (client.startsWith('::ffff:') && isIPv4(client.slice(7))) addr = client.slice(7)
    else if (client.includes(':')) type = 'ipv6'
    for (const r of runs) if (r.list.check(addr, type)) return !r.deny
    return true
  }
}

function time(name: string, allows: (addr: string) => boolean, checks: number): number {
  let best = Infinity
  let allowed = 0
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < checks; i++) if (allows(CLIENTS[i % CLIENTS.length]!)) allowed++
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / checks)
  }
  process.stdout.write(`${name.padEnd(34)} ${best.toFixed(1).padStart(7)} ns/check  (${allowed} allowed)\n`)
  return best
}

const checks = Number(process.argv[2] ?? 1e6)
const hand = nginxRules()
const list = blockListRules()
for (const c of CLIENTS) {
  if (hand(c) !== list(c)) throw new Error(`the two disagree on ${c}: AccessRules ${hand(c)}, BlockList ${list(c)}`)
}
process.stdout.write(`${RULES.length} rules, ${checks} checks per round over ${CLIENTS.length} addresses, ` +
  `Node ${process.version}, load average ${loadavg()[0]!.toFixed(2)}\n`)
const a = time('AccessRules (hand-written)', hand, checks)
const b = time('net.BlockList (runs of rules)', list, checks)
process.stdout.write(`BlockList / AccessRules: ${(b / a).toFixed(1)}x\n`)

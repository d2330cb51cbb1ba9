/** The Lua scripts given to wrk, written into the run's temporary directory. */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** A script that POSTs a body of `bytes` bytes on every request. */
export function postScript(dir: string, bytes: number): string {
  const p = join(dir, `post-${bytes}.lua`)
  writeFileSync(p, `wrk.method = "POST"
wrk.body = string.rep("x", ${bytes})
wrk.headers["Content-Type"] = "application/octet-stream"
`)
  return p
}

/**
 * A script whose every request carries `Host: PREFIX<k>` with k uniform in 1..n, so a proxy routing by
 * `proxy_pass http://$host` picks a random group among n.
 */
export function randomHostScript(dir: string, prefix: string, n: number): string {
  const p = join(dir, `host-${prefix}-${n}.lua`)
  writeFileSync(p, `local n = ${n}
local prefix = "${prefix}"
local fmt = wrk.format
local random = math.random
request = function()
  return fmt(nil, nil, { Host = prefix .. random(n) })
end
`)
  return p
}

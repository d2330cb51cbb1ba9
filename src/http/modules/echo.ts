/** `echo ARGS…`: each argument's value on a line of its own, answered 200. */
import type { Responder } from '../lib/context.js'
import type { Request } from '../lib/request.js'
import type { Template } from '../lib/variables.js'

export function doEcho(c: Responder, req: Request, parts: readonly Template[]): void {
  let body = ''
  for (const p of parts) body += p.eval(req) + '\n'
  c.sendLocal(200, body, null)
}

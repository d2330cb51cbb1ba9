/**
 * What the Lua and the JavaScript handlers share: the dyups calls, made through src/dyups exactly as the REST
 * interface makes them (so both answer with its status and body), the response a script builds, query-string
 * decoding, header and variable access, and the error log's levels.
 *
 * Strings are byte strings here as everywhere in dyups: one char per byte (latin1).
 */
import { handleInterface, remove, update, type Actor } from '../../../dyups/index.js'
import { formatError } from '../../../errors.js'
import { log } from '../../../log.js'
import type { Services } from '../../lib/context.js'
import { requestContext } from '../../lib/log-context.js'
import type { Request } from '../../lib/request.js'

export interface DyupsAnswer {
  status: number
  body: string
}

/**
 * Tengine's answer when no `dyups_interface` is configured (ngx_dyups_update_upstream / _delete_upstream check
 * `ngx_http_dyups_api_enable` first): 405 and `API disabled\n`.
 */
export const API_DISABLED: Readonly<DyupsAnswer> = Object.freeze({ status: 405, body: 'API disabled\n' })

export type DyupsOp = 'update' | 'delete' | 'get'

/**
 * One dyups call from a script: `update` (POST /upstream/NAME), `delete` (DELETE /upstream/NAME) or `get`
 * (GET /upstream/NAME), answered with exactly the interface's status and body for the same change. Never rejects:
 * an internal failure is a 500 with a one-line reason, as on the interface.
 * @param enabled whether the configuration has a `dyups_interface` (Tengine's requirement); if not: 405 `API disabled\n`
 */
export async function dyupsCall(w: Services, enabled: boolean, op: DyupsOp, name: string, body = '', req?: Request): Promise<DyupsAnswer> {
  if (!enabled) return { status: API_DISABLED.status, body: API_DISABLED.body }
  const deps = w.deps
  // A script's call is audited by what it did (the call and the group's name), for the client of its request.
  const user = req === undefined ? '' : (variable(w, req, 'remote_user') ?? '')
  const actor: Actor = {
    source: 'script', client: req === undefined ? '' : (variable(w, req, 'remote_addr') ?? ''), user: user === '' ? null : user, method: op, target: name,
  }
  try {
    const r =
      op === 'update'
        ? await update(deps.sink, name, body, { trylock: deps.trylock, actor })
        : op === 'delete'
          ? await remove(deps.sink, name, null, actor)
          : await handleInterface(
              { method: 'GET', segments: ['upstream', name], body: null, ifMatch: null },
              { table: deps.table, sink: deps.sink, trylock: deps.trylock },
            )
    return { status: r.status, body: r.body ?? '' }
  } catch (e) {
    log('alert', `dyups ${op} from a script failed: ${formatError(e)}`)
    return { status: 500, body: formatError(e).replace(/[\r\n]+/g, ' ') }
  }
}

/** The request context nginx appends to error lines. */
export const logContext = requestContext

export { bodyText, headerPairs, levelOf, parseArgs, ScriptResponse, unescapeUri } from './ngx-common.js'

/**
 * Reads a variable by name as `$name` would (undefined: not found, or no such variable). Numbers are the
 * captures of the last regex match.
 */
export function variable(w: Services, req: Request, name: string | number): string | undefined {
  if (typeof name === 'number') {
    const c = req.captures
    return c === null || !Number.isInteger(name) ? undefined : (c[name] ?? undefined)
  }
  if (name === '') return undefined
  try {
    return w.vars.ref(name).get(req)
  } catch {
    // An unknown name: nginx's Lua and njs answer nil / undefined.
    return undefined
  }
}

/**
 * POST /api/batch (docs/api.md#batch): several changes to several groups, applied as one — all or none, one table
 * version, one journal record and fsync, one delta to the workers. Each change is built here, in order, on the
 * groups as the earlier changes of the batch leave them (two edits of one group's servers both apply), by the
 * same code as the single routes; the store then applies the batch atomically.
 */
import { formatError, isDyupsError } from '../errors.js'
import { groupKey, parseCommands, type Resolver, type UpstreamGroup } from '../upstream/index.js'
import type { GroupChange } from '../store/index.js'
import { groupCommands, JsonInputError, serverInput } from './json-input.js'
import { editedCommands } from './json-servers.js'
import type { TableView } from './types.js'

/** At most this many changes in one batch. */
export const BATCH_MAX = 1000

const OPS = new Set(['put', 'delete', 'add_server', 'patch_server', 'delete_server'])
const FIELDS: Record<string, Set<string>> = {
  put: new Set(['op', 'upstream', 'group', 'text']),
  delete: new Set(['op', 'upstream']),
  add_server: new Set(['op', 'upstream', 'server']),
  patch_server: new Set(['op', 'upstream', 'id', 'server']),
  delete_server: new Set(['op', 'upstream', 'id']),
}

/** A change of the batch that cannot apply: its status, code and message (which names the change). */
export class BatchError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export interface BuiltBatch {
  changes: GroupChange[]
  /** The touched groups, before the batch (undefined: absent) and after it (undefined: deleted), by key. */
  groups: Map<string, { name: string; before: UpstreamGroup | undefined; after: UpstreamGroup | undefined }>
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The group changes of a batch body (`{"changes": [CHANGE, …]}`) against `table`.
 * @throws BatchError (400 for a malformed change or one the group checks refuse, 404 for an unknown group or server)
 */
export async function buildBatch(body: unknown, table: TableView, resolve?: Resolver): Promise<BuiltBatch> {
  if (!isObject(body) || Object.keys(body).some((k) => k !== 'changes')) throw new BatchError(400, 'invalid_body', 'the body must be {"changes": [CHANGE, …]}')
  const list = body['changes']
  if (!Array.isArray(list) || list.length === 0 || list.length > BATCH_MAX) {
    throw new BatchError(400, 'invalid_value', `"changes" must be an array of 1 to ${BATCH_MAX} changes`)
  }
  const groups: BuiltBatch['groups'] = new Map()
  const current = (name: string): UpstreamGroup | undefined => {
    const e = groups.get(groupKey(name))
    return e !== undefined ? e.after : table.get(name)
  }
  const changes: GroupChange[] = []
  for (let i = 0; i < list.length; i++) {
    const at = `changes[${i}]`
    const c = list[i]
    try {
      if (!isObject(c) || typeof c['op'] !== 'string' || !OPS.has(c['op'])) {
        throw new JsonInputError('invalid_value', `"${at}.op" must be one of ${[...OPS].join(', ')}`)
      }
      const op = c['op']
      for (const k of Object.keys(c)) if (!FIELDS[op]!.has(k)) throw new JsonInputError('unknown_field', `unknown field "${k}" in "${at}"`)
      const name = c['upstream']
      // eslint-disable-next-line no-control-regex
      if (typeof name !== 'string' || name === '' || /[\x00-\x1f\x7f]/.test(name)) {
        throw new JsonInputError('invalid_name', `"${at}.upstream" must be a group name without control bytes`)
      }
      const before = current(name)
      let after: UpstreamGroup | undefined
      if (op === 'delete') {
        if (before === undefined) throw new BatchError(404, 'upstream_not_found', `${at}: no upstream "${name}"`)
        changes.push({ op: 'delete', name: before.name })
      } else {
        let commands: string | null
        if (op === 'put') {
          const hasText = c['text'] !== undefined
          if (hasText === (c['group'] !== undefined)) throw new JsonInputError('invalid_value', `"${at}" needs one of "group" (a GROUP) or "text" (a command body)`)
          if (hasText && typeof c['text'] !== 'string') throw new JsonInputError('invalid_value', `"${at}.text" must be a string`)
          commands = hasText ? (c['text'] as string) : groupCommands(c['group'])
        } else {
          if (before === undefined) throw new BatchError(404, 'upstream_not_found', `${at}: no upstream "${name}"`)
          const id = c['id']
          if (op !== 'add_server' && (typeof id !== 'number' || !Number.isInteger(id) || id < 0)) {
            throw new JsonInputError('invalid_value', `"${at}.id" must be a server id`)
          }
          commands = op === 'add_server' ? editedCommands(before, -1, null, serverInput(c['server'], `${at}.server`, false))
            : op === 'patch_server' ? editedCommands(before, id as number, serverInput(c['server'], `${at}.server`, true))
            : editedCommands(before, id as number, null)
          if (commands === null) throw new BatchError(404, 'server_not_found', `${at}: no server ${id as number} in upstream "${name}"`)
        }
        try {
          after = await parseCommands(before?.name ?? name, commands, resolve)
        } catch (e) {
          if (!isDyupsError(e)) throw e
          throw new BatchError(400, 'invalid_body', `${at}: ${formatError(e)}`)
        }
        changes.push({ op: 'put', group: after })
      }
      const key = groupKey(name)
      const e = groups.get(key)
      if (e === undefined) groups.set(key, { name: before?.name ?? name, before, after })
      else e.after = after
    } catch (e) {
      if (e instanceof JsonInputError) throw new BatchError(400, e.code, e.message.includes(at) ? e.message : `${at}: ${e.message}`)
      throw e
    }
  }
  return { changes, groups }
}

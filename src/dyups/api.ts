/**
 * The dyups operations with Tengine's answers: update (create or replace a group from a command body) and delete.
 * The REST interface and the scripting APIs (Lua's `ngx.dyups`, JS) share these, so they answer alike.
 */
import { STATUS, formatError, isDyupsError } from '../errors.js'
import { log } from '../log.js'
import { parseCommands, type Resolver } from '../upstream/index.js'
import type { Ack, Actor, ChangeSink, Outcome, Reply } from './types.js'

export const LOCKED_BODY = 'wait and try again\n'

/** Maps the coordinator's outcome to the status and body Tengine gives (docs/api.md#post-creating-and-replacing-a-group, docs/api.md#delete-removing-a-group). */
export function reply(o: Outcome): Reply {
  if (o.error === null) return { status: 200, body: 'success', etag: o.version }
  switch (o.error.code) {
    case 'E_NO_GROUP':
      return { status: 404, body: 'not found uptream', etag: null }
    case 'E_LOCKED':
      return { status: 409, body: LOCKED_BODY, etag: null }
    case 'E_PRECONDITION':
      return { status: 412, body: 'precondition failed', etag: o.version }
    case 'E_COMMANDS':
      return ADD_FAILED
    case 'E_PRIMARY_GONE':
    case 'E_CLUSTER':
      // The reason is the body: whether the change was refused or its outcome is unknown (docs/api.md).
      return { status: STATUS[o.error.code], body: o.error.message, etag: null }
    case 'E_CLUSTER_ACK':
      // Committed: the version it made is the ETag; the body names the nodes that did not confirm it (docs/cluster.md).
      return { status: STATUS.E_CLUSTER_ACK, body: o.error.message, etag: o.version }
    default:
      // One line: an internal failure (e.g. the journal write) and nothing applied anywhere.
      return { status: 500, body: o.error.message.replace(/[\r\n]+/g, ' '), etag: null }
  }
}

export interface UpdateOptions {
  ifMatch?: number | null
  /** `?ack=` (dyups_cluster); absent: the configured default. */
  ack?: Ack
  trylock: boolean
  resolve?: Resolver
  /** Who asks, for the audit log. */
  actor?: Actor
}

const REFUSED_NAME: Reply = { status: 400, body: '', etag: null }
const ADD_FAILED: Reply = { status: 500, body: 'add server failed', etag: null }

/**
 * Command bodies larger than this are parsed where the sink applies them (the primary) rather than in the worker
 * that received them: 45 000 servers take a few hundred milliseconds to parse and build, which would hold every
 * other connection of that worker. A body of this size parses in about a millisecond.
 */
export const PARSE_AWAY_BYTES = 16 * 1024

/** Tengine's error-log line for a command body that builds no group. */
export function logAddFailed(name: string, e: unknown): void {
  log('error', `[dyups] add server failed for upstream "${name}": ${formatError(e)}`)
}

/**
 * A name holding a control byte (0x00–0x1F, 0x7F) would forge lines in `/list` and `/detail`, which scripts parse:
 * refused with 400 and an empty body, nothing applied (Tengine accepts it).
 */
export function hasControlByte(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}

/**
 * Creates or replaces group `name` from `body` (upstream-block contents, latin1): the outcome, with E_COMMANDS and
 * the reason (`… in command body:N`) when the body builds no group (logged as Tengine logs it), E_LOCKED when
 * dyups_trylock finds the table busy. The name is the caller's to check.
 */
export async function apply(sink: ChangeSink, name: string, body: string, opts: UpdateOptions): Promise<Outcome> {
  if (body.length > PARSE_AWAY_BYTES && sink.update !== undefined && opts.resolve === undefined) {
    return sink.update(name, body, opts.ifMatch ?? null, opts.actor, opts.ack ?? null)
  }
  let group
  try {
    group = await parseCommands(name, body, opts.resolve)
  } catch (e) {
    if (!isDyupsError(e)) throw e
    // Tengine checks its lock before it parses: a busy table answers 409 even to a bad body.
    if (opts.trylock && (await sink.busy())) return { version: -1, error: { code: 'E_LOCKED', message: 'another change is being applied' } }
    logAddFailed(name, e)
    return { version: -1, error: { code: 'E_COMMANDS', message: formatError(e) } }
  }
  return sink.submit({ op: 'put', group }, opts.ifMatch ?? null, opts.actor, opts.ack ?? null)
}

/** Creates or replaces group `name` from `body` (upstream-block contents, latin1), with Tengine's answers. */
export async function update(sink: ChangeSink, name: string, body: string, opts: UpdateOptions): Promise<Reply> {
  if (hasControlByte(name)) return REFUSED_NAME
  return reply(await apply(sink, name, body, opts))
}

/** Deletes group `name` (static or created). */
export async function remove(sink: ChangeSink, name: string, ifMatch: number | null = null, actor?: Actor, ack: Ack = null): Promise<Reply> {
  if (hasControlByte(name)) return REFUSED_NAME
  return reply(await sink.submit({ op: 'delete', name }, ifMatch, actor, ack))
}

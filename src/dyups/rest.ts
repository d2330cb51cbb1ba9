/**
 * Tengine's dyups REST interface (docs/api.md#general-rules, docs/api.md#get-reading-the-table, docs/api.md#post-creating-and-replacing-a-group, docs/api.md#delete-removing-a-group), byte for byte:
 *   GET /list, GET /detail, GET /upstream/NAME, POST /upstream/NAME, DELETE /upstream/NAME.
 * The request path hands over the decoded path segments and the whole body; this module only decides the answer.
 * Beyond Tengine: reads carry the table version as an ETag; a write with If-Match answers 412 when it moved.
 */
import { readFile } from 'node:fs/promises'
import { formatError, isDyupsError } from '../errors.js'
import { parseCommands, renderDetail, renderList, renderServers, type Resolver } from '../upstream/index.js'
import { groupDiff } from './diff.js'
import { apply, hasControlByte, remove, update } from './api.js'
import { groupCommands, JsonInputError, serverInput, type ServerInput } from './json-input.js'
import { editedCommands, serverIndex } from './json-servers.js'
import { BatchError, buildBatch } from './json-batch.js'
import { strictJsonProblem } from './json-strict.js'
import { groupJson, jsonError, jsonReply, rowsByAddr } from './json.js'
import type { Ack, Actor, ChangeSink, ClusterSource, LiveReport, LiveSource, Outcome, Reply, TableView } from './types.js'

export interface InterfaceRequest {
  method: string
  /** Decoded, slash-merged path split into segments (docs/api.md#general-rules); `/` is []. */
  segments: readonly string[]
  /** null: the request had neither Content-Length nor Transfer-Encoding. */
  body: string | null
  /** The If-Match header as sent, or null. */
  ifMatch: string | null
  /** The Content-Type header (the JSON interface's PUT tells JSON from a text body by it); absent: none. */
  contentType?: string | null
  /** The query string without `?` (the JSON interface's `dry_run=1`); absent: none. */
  query?: string
  /** Who asks, for the audit log; absent: unknown. */
  actor?: Actor
}

export interface InterfaceDeps {
  table: TableView
  sink: ChangeSink
  trylock: boolean
  resolve?: Resolver
  /** Live server state for the JSON interface; absent: no state (every server `up`, no counters). */
  live?: LiveSource
  /** The fleet's nodes for GET /api/cluster (dyups_cluster); absent: none. */
  cluster?: ClusterSource
}

const NO_LIVE: LiveReport = { workers: 0, statics: null, rows: [] }

const empty = (status: number, etag: number | null = null): Reply => ({ status, body: '', etag })

const lower = (s: string | undefined): string => (s === undefined ? '' : s.toLowerCase())

export async function handleInterface(req: InterfaceRequest, deps: InterfaceDeps): Promise<Reply> {
  const seg = req.segments
  const kind = lower(seg[0])
  if (kind === 'api') return handleJson(req, deps)
  switch (req.method) {
    case 'GET': {
      const v = deps.table.version
      if (seg.length === 0) return { status: 404, body: null, etag: null }
      if (kind === 'list' || kind === 'detail') {
        if (deps.table.size === 0) return empty(204, v)
        const body = kind === 'list' ? renderList(deps.table.list()) : renderDetail(deps.table.list())
        return { status: 200, body, etag: v }
      }
      if (kind === 'cluster' && seg.length === 1 && deps.cluster !== undefined) return clusterText(deps)
      if (kind === 'upstream' && seg.length === 2) {
        if (hasControlByte(seg[1]!)) return empty(400)
        const g = deps.table.get(seg[1]!)
        return g ? { status: 200, body: renderServers(g), etag: v } : empty(404, v)
      }
      return empty(404, v)
    }
    case 'POST': {
      if (req.body === null) return empty(204)
      if (seg.length !== 2) return { status: 404, body: 'not support this interface', etag: null }
      if (kind !== 'upstream') return { status: 404, body: 'not support this api', etag: null }
      const ifMatch = parseIfMatch(req.ifMatch)
      return update(deps.sink, seg[1]!, req.body, { ifMatch, ack: ackOf(req), trylock: deps.trylock, resolve: deps.resolve, actor: req.actor })
    }
    case 'DELETE': {
      if (seg.length !== 2) return { status: 405, body: 'not support this interface', etag: null }
      if (kind !== 'upstream') return { status: 405, body: 'not support this api', etag: null }
      return remove(deps.sink, seg[1]!, parseIfMatch(req.ifMatch), req.actor, ackOf(req))
    }
    default:
      return empty(405)
  }
}

/**
 * The JSON interface under /api/ (docs/api.md#json-interface): reads, and creating, replacing and deleting a group.
 * Unknown paths answer 404, other methods 405 with `Allow`, both as JSON errors.
 */
async function handleJson(req: InterfaceRequest, deps: InterfaceDeps): Promise<Reply> {
  const seg = req.segments
  const v = deps.table.version
  if (lower(seg[1]) === 'openapi.json' && seg.length === 2) return req.method === 'GET' ? openapi(v) : methodNotAllowed(req.method, 'GET', v)
  if (lower(seg[1]) === 'batch' && seg.length === 2) return req.method === 'POST' ? jsonBatch(req, deps) : methodNotAllowed(req.method, 'POST', v)
  if (lower(seg[1]) === 'cluster' && seg.length === 2) return clusterRead(req, deps)
  if (lower(seg[1]) !== 'upstreams' || seg.length > 5 || (seg.length >= 4 && lower(seg[3]) !== 'servers')) {
    return jsonError(404, 'not_found', 'no such resource', v)
  }
  const name = seg[2]
  if (name !== undefined && hasControlByte(name)) return jsonError(400, 'invalid_name', 'a group name holds a control byte', v)
  if (seg.length >= 4) return handleServers(req, deps, name!, seg[4])
  const allowed = name === undefined ? 'GET' : 'GET, PUT, DELETE'
  switch (req.method) {
    case 'GET':
      return jsonRead(deps, name)
    case 'PUT':
      if (name === undefined) break
      return jsonPut(req, deps, name)
    case 'DELETE':
      if (name === undefined) break
      if (dryRun(req)) return jsonDryRun(deps, name, null, parseIfMatch(req.ifMatch))
      return jsonOutcome(await deps.sink.submit({ op: 'delete', name }, parseIfMatch(req.ifMatch), req.actor, ackOf(req)), deps, null)
  }
  return methodNotAllowed(req.method, allowed, v)
}

/** docs/openapi.json, shipped with the package, read once. ASCII, so its bytes go out as they are. */
let openapiText: Promise<string> | null = null
async function openapi(v: number): Promise<Reply> {
  openapiText ??= readFile(new URL('../../../docs/openapi.json', import.meta.url), 'latin1')
  try {
    return { status: 200, body: await openapiText, etag: v, type: 'application/json' }
  } catch (e) {
    openapiText = null
    return jsonError(500, 'internal_error', `the OpenAPI document cannot be read (${(e as Error).message})`, v)
  }
}

/**
 * GET /cluster, the text view of /api/cluster (dyups_cluster only; otherwise the path is Tengine's 404): a line for
 * this node and its link to etcd, then one per live node: `NAME applied=N lag=N host=HOST pid=N`, this one marked
 * `(self)`.
 */
async function clusterText(deps: InterfaceDeps): Promise<Reply> {
  const v = deps.table.version
  const r = (await deps.cluster!.report()) as ClusterReportShape | null
  if (r === null) return empty(404, v)
  const lines = [`node ${r.node} version=${r.version} ${r.connected ? 'connected' : `disconnected: ${r.reason ?? ''}`}`]
  for (const n of r.nodes) lines.push(`${n.node} applied=${n.applied} lag=${n.lag} host=${n.host} pid=${n.pid}${n.self ? ' (self)' : ''}`)
  return { status: 200, body: lines.join('\n').replace(/[\r]/g, ' ') + '\n', etag: v }
}

/** What a ClusterSource reports (src/cluster/'s ClusterReport), as far as the text view reads it. */
interface ClusterReportShape {
  node: string
  connected: boolean
  reason: string | null
  version: number
  nodes: { node: string; applied: number; lag: number; self: boolean; host: string; pid: number }[]
}

/** GET /api/cluster: this node, whether it follows etcd, and every live node with the version it applied. */
async function clusterRead(req: InterfaceRequest, deps: InterfaceDeps): Promise<Reply> {
  const v = deps.table.version
  if (req.method !== 'GET') return methodNotAllowed(req.method, 'GET', v)
  const report = deps.cluster === undefined ? null : await deps.cluster.report()
  if (report === null) return jsonError(404, 'not_found', 'this instance is in no cluster (dyups_cluster)', v)
  return jsonReply(200, report, v)
}

function methodNotAllowed(method: string, allow: string, v: number): Reply {
  const r = jsonError(405, 'method_not_allowed', `${method} is not allowed here`, v)
  r.allow = allow
  return r
}

const liveOf = (deps: InterfaceDeps): Promise<LiveReport> => (deps.live === undefined ? Promise.resolve(NO_LIVE) : deps.live.report())

/** A JSON body turned into what a write needs by `convert`, or the 400 answer (invalid JSON, or what `convert` refused). */
function readJson<T>(text: string, v: number, convert: (parsed: unknown) => T): { value: T } | { refused: Reply } {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    return { refused: jsonError(400, 'invalid_json', `the body is not JSON: ${(e as Error).message}`, v) }
  }
  const problem = strictJsonProblem(text)
  if (problem !== null) return { refused: jsonError(400, problem.code, problem.message, v) }
  try {
    return { value: convert(parsed) }
  } catch (e) {
    if (!(e instanceof JsonInputError)) throw e
    return { refused: jsonError(400, e.code, e.message, v) }
  }
}

async function jsonRead(deps: InterfaceDeps, name: string | undefined): Promise<Reply> {
  const v = deps.table.version
  const g = name === undefined ? undefined : deps.table.get(name)
  if (name !== undefined && g === undefined) return jsonError(404, 'upstream_not_found', `no upstream "${name}"`, v)
  const live = await liveOf(deps)
  const byAddr = rowsByAddr(live)
  if (g !== undefined) return jsonReply(200, groupJson(g, live, byAddr), v)
  // The table may have moved while the workers answered: the version is read again, so the ETag names what is shown.
  const upstreams = []
  for (const x of deps.table.list()) upstreams.push(groupJson(x, live, byAddr))
  return jsonReply(200, { version: deps.table.version, workers: live.workers, upstreams }, deps.table.version)
}

/**
 * /api/upstreams/NAME/servers[/ID]: the servers of a group, one added (POST), changed (PATCH) or removed
 * (DELETE). A change rewrites the group with that one edit (json-servers.ts) and applies it under If-Match on the
 * version it was read at; when another change came in between and the client gave no If-Match, it is read and
 * edited again (a few times), so concurrent edits of different servers all apply.
 */
async function handleServers(req: InterfaceRequest, deps: InterfaceDeps, name: string, idText: string | undefined): Promise<Reply> {
  const v = deps.table.version
  const id = idText === undefined ? -1 : /^\d{1,9}$/.test(idText) ? Number(idText) : -2
  if (id === -2) return jsonError(404, 'server_not_found', `no server "${idText!}"`, v)
  const method = req.method
  const allowed = id === -1 ? 'GET, POST' : 'GET, PATCH, DELETE'
  if (method === 'GET') {
    const g = deps.table.get(name)
    if (g === undefined) return jsonError(404, 'upstream_not_found', `no upstream "${name}"`, v)
    const live = await liveOf(deps)
    const servers = groupJson(g, live, rowsByAddr(live))['servers'] as unknown[]
    if (id === -1) return jsonReply(200, servers, v)
    const at = serverIndex(g, id)
    return at !== -1 ? jsonReply(200, servers[at], v) : jsonError(404, 'server_not_found', `no server ${id} in upstream "${name}"`, v)
  }
  if (!((id === -1 && method === 'POST') || (id >= 0 && (method === 'PATCH' || method === 'DELETE')))) return methodNotAllowed(method, allowed, v)
  let input: ServerInput | null = null
  if (method !== 'DELETE') {
    const unsupported = mediaRefused(req, false, v)
    if (unsupported !== null) return unsupported
    const r = readJson(req.body ?? '', v, (x) => serverInput(x, 'the server', method === 'PATCH'))
    if ('refused' in r) return r.refused
    input = r.value
  }
  const asked = parseIfMatch(req.ifMatch)
  for (let attempt = 0; ; attempt++) {
    const at = deps.table.version
    const g = deps.table.get(name)
    if (g === undefined) return jsonError(404, 'upstream_not_found', `no upstream "${name}"`, at)
    const commands = method === 'POST' ? editedCommands(g, -1, null, input!) : editedCommands(g, id, input)
    if (commands === null) return jsonError(404, 'server_not_found', `no server ${id} in upstream "${name}"`, at)
    if (dryRun(req)) return jsonDryRun(deps, name, commands, asked)
    const o = await apply(deps.sink, name, commands, { ifMatch: asked ?? at, ack: ackOf(req), trylock: deps.trylock, resolve: deps.resolve, actor: req.actor })
    if (o.error?.code === 'E_PRECONDITION' && asked === null && attempt < 4) continue
    if (o.error !== null) return jsonOutcome(o, deps, name)
    return jsonRead(deps, name)
  }
}

/**
 * POST /api/batch: the changes built on the table as read (json-batch.ts) and applied as one change under If-Match
 * on that version; without a client If-Match, a batch overtaken by another change is built again (a few times).
 */
async function jsonBatch(req: InterfaceRequest, deps: InterfaceDeps): Promise<Reply> {
  const unsupported = mediaRefused(req, false, deps.table.version)
  if (unsupported !== null) return unsupported
  const r = readJson(req.body ?? '', deps.table.version, (x) => x)
  if ('refused' in r) return r.refused
  const asked = parseIfMatch(req.ifMatch)
  for (let attempt = 0; ; attempt++) {
    const at = deps.table.version
    if (asked !== null && asked !== at) return jsonError(412, 'precondition_failed', 'the table moved since the version given in If-Match', at)
    let built
    try {
      built = await buildBatch(r.value, deps.table, deps.resolve)
    } catch (e) {
      if (!(e instanceof BatchError)) throw e
      return jsonError(e.status, e.code, e.message, at)
    }
    if (dryRun(req)) {
      const diffs = [...built.groups.values()].map((g) => groupDiff(g.name, g.before, g.after))
      return jsonReply(200, { dry_run: true, version: at, diffs }, at)
    }
    const o = await deps.sink.submit({ op: 'batch', changes: built.changes }, asked ?? at, req.actor, ackOf(req))
    if (o.error?.code === 'E_PRECONDITION' && asked === null && attempt < 4) continue
    if (o.error !== null) return jsonOutcome(o, deps, null)
    const live = await liveOf(deps)
    const byAddr = rowsByAddr(live)
    const upstreams = []
    const deleted = []
    for (const g of built.groups.values()) {
      const now = deps.table.get(g.name)
      if (now === undefined) deleted.push(g.name)
      else upstreams.push(groupJson(now, live, byAddr))
    }
    return jsonReply(200, { version: o.version, upstreams, deleted }, o.version)
  }
}

/**
 * 415 for a body whose Content-Type says it is something the route does not read: JSON (`application/json`, any
 * `+json`), Tengine's server lines (`text/plain`, on PUT), or no type or curl's default for `-d`
 * (`application/x-www-form-urlencoded`, which carries the bytes as they are), read as the route reads its bodies.
 */
function mediaRefused(req: InterfaceRequest, text: boolean, v: number): Reply | null {
  const type = (req.contentType ?? '').split(';', 1)[0]!.trim().toLowerCase()
  if (type === '' || type === 'application/json' || type.endsWith('+json') || type === 'application/x-www-form-urlencoded') return null
  if (text && type === 'text/plain') return null
  return jsonError(415, 'unsupported_media_type', `a body of type "${type.replace(/[^\x21-\x7e]/g, '?')}" is not read here: send application/json${text ? ' or text/plain' : ''}`, v)
}

/** PUT: a GROUP in JSON (Content-Type application/json) or Tengine's text body; the group as it is then. */
async function jsonPut(req: InterfaceRequest, deps: InterfaceDeps, name: string): Promise<Reply> {
  const v = deps.table.version
  if (req.body === null) return jsonError(400, 'invalid_body', 'a body is needed: a GROUP in JSON, or server lines', v)
  const unsupported = mediaRefused(req, true, v)
  if (unsupported !== null) return unsupported
  let commands = req.body
  if (/^application\/json\s*(;|$)/i.test(req.contentType ?? '')) {
    const r = readJson(req.body, v, groupCommands)
    if ('refused' in r) return r.refused
    commands = r.value
  }
  if (dryRun(req)) return jsonDryRun(deps, name, commands, parseIfMatch(req.ifMatch))
  const o = await apply(deps.sink, name, commands, { ifMatch: parseIfMatch(req.ifMatch), ack: ackOf(req), trylock: deps.trylock, resolve: deps.resolve, actor: req.actor })
  return jsonOutcome(o, deps, name)
}

/** `?ack=all|commit`: what a write waits for in a cluster (docs/cluster.md); anything else is the configured default. */
function ackOf(req: InterfaceRequest): Ack {
  const m = /(?:^|&)ack=(all|commit)(?:&|$)/.exec(req.query ?? '')
  return m === null ? null : (m[1] as 'all' | 'commit')
}

const dryRun = (req: InterfaceRequest): boolean => /(?:^|&)dry_run=(?:1|true)(?:&|$)/.test(req.query ?? '')

/**
 * `?dry_run=1`: the write is checked as it would be (If-Match, the group built from `commands`; null: a delete) and
 * answered with what it would change (diff.ts); nothing is applied, sent to the primary or written anywhere.
 */
async function jsonDryRun(deps: InterfaceDeps, name: string, commands: string | null, ifMatch: number | null): Promise<Reply> {
  const v = deps.table.version
  if (ifMatch !== null && ifMatch !== v) return jsonError(412, 'precondition_failed', 'the table moved since the version given in If-Match', v)
  const before = deps.table.get(name)
  if (commands === null && before === undefined) return jsonError(404, 'upstream_not_found', `no upstream "${name}"`, v)
  let after
  if (commands !== null) {
    try {
      after = await parseCommands(before?.name ?? name, commands, deps.resolve)
    } catch (e) {
      if (!isDyupsError(e)) throw e
      return jsonError(400, 'invalid_body', formatError(e), v)
    }
  }
  return jsonReply(200, { dry_run: true, version: v, diff: groupDiff(before?.name ?? name, before, after) }, v)
}

/** The answer to a write: the group as it is now (PUT), 204 (DELETE), or the error as JSON. */
function jsonOutcome(o: Outcome, deps: InterfaceDeps, name: string | null): Promise<Reply> | Reply {
  if (o.error === null) return name === null ? { status: 204, body: '', etag: o.version } : jsonRead(deps, name)
  const status = o.error.code === 'E_COMMANDS' ? 400 : STATUS_OF[o.error.code] ?? 500
  const code = o.error.code === 'E_CLUSTER' ? 'cluster_unavailable' : codeOfStatus(status)
  return jsonError(status, code, o.error.message, status === 412 || status === 504 ? o.version : null)
}

const STATUS_OF: Record<string, number> = { E_NO_GROUP: 404, E_LOCKED: 409, E_PRECONDITION: 412, E_PRIMARY_GONE: 503, E_CLUSTER: 503, E_CLUSTER_ACK: 504, E_NOT_IMPLEMENTED: 501 }

function codeOfStatus(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_body'
    case 404:
      return 'upstream_not_found'
    case 409:
      return 'locked'
    case 412:
      return 'precondition_failed'
    case 503:
      return 'primary_gone'
    case 504:
      return 'not_acknowledged'
    case 501:
      return 'not_implemented'
    default:
      return 'internal_error'
  }
}

/**
 * `If-Match: "12"` → 12; `*` → no condition. Anything that is not a version we issued can never match, so it maps
 * to -1 and the write answers 412.
 */
export function parseIfMatch(h: string | null): number | null {
  if (h === null) return null
  const t = h.trim()
  if (t === '*') return null
  const m = /^(?:W\/)?"(\d{1,15})"$/.exec(t)
  return m ? Number(m[1]) : -1
}

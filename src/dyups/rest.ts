/**
 * Tengine's dyups REST interface (docs/api.md#general-rules, docs/api.md#get-reading-the-table, docs/api.md#post-creating-and-replacing-a-group, docs/api.md#delete-removing-a-group), byte for byte:
 *   GET /list, GET /detail, GET /upstream/NAME, POST /upstream/NAME, DELETE /upstream/NAME.
 * The request path hands over the decoded path segments and the whole body; this module only decides the answer.
 * Beyond Tengine: reads carry the table version as an ETag; a write with If-Match answers 412 when it moved.
 */
import { renderDetail, renderList, renderServers, type Resolver } from '../upstream/index.js'
import { hasControlByte, remove, update } from './api.js'
import { groupJson, jsonError, jsonReply, rowsByAddr } from './json.js'
import type { ChangeSink, LiveReport, LiveSource, Reply, TableView } from './types.js'

export interface InterfaceRequest {
  method: string
  /** Decoded, slash-merged path split into segments (docs/api.md#general-rules); `/` is []. */
  segments: readonly string[]
  /** null: the request had neither Content-Length nor Transfer-Encoding. */
  body: string | null
  /** The If-Match header as sent, or null. */
  ifMatch: string | null
}

export interface InterfaceDeps {
  table: TableView
  sink: ChangeSink
  trylock: boolean
  resolve?: Resolver
  /** Live server state for the JSON interface; absent: no state (every server `up`, no counters). */
  live?: LiveSource
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
      return update(deps.sink, seg[1]!, req.body, { ifMatch, trylock: deps.trylock, resolve: deps.resolve })
    }
    case 'DELETE': {
      if (seg.length !== 2) return { status: 405, body: 'not support this interface', etag: null }
      if (kind !== 'upstream') return { status: 405, body: 'not support this api', etag: null }
      return remove(deps.sink, seg[1]!, parseIfMatch(req.ifMatch))
    }
    default:
      return empty(405)
  }
}

/**
 * The JSON interface under /api/ (docs/api.md#json-interface). Reads only for now: other methods answer 405 with
 * `Allow`, unknown paths 404, both as JSON errors.
 */
async function handleJson(req: InterfaceRequest, deps: InterfaceDeps): Promise<Reply> {
  const seg = req.segments
  const v = deps.table.version
  if (lower(seg[1]) !== 'upstreams' || seg.length > 3) return jsonError(404, 'not_found', 'no such resource', v)
  if (req.method !== 'GET') {
    const r = jsonError(405, 'method_not_allowed', `${req.method} is not allowed here`, v)
    r.allow = 'GET'
    return r
  }
  if (seg.length === 3 && hasControlByte(seg[2]!)) return jsonError(400, 'invalid_name', 'a group name holds a control byte', v)
  const g = seg.length === 3 ? deps.table.get(seg[2]!) : undefined
  if (seg.length === 3 && g === undefined) return jsonError(404, 'upstream_not_found', `no upstream "${seg[2]!}"`, v)
  const live = deps.live === undefined ? NO_LIVE : await deps.live.report()
  // The report is gathered while the table may move on: the version is read again so the ETag names the table shown.
  const byAddr = rowsByAddr(live)
  if (g !== undefined) return jsonReply(200, groupJson(g, live, byAddr), v)
  const upstreams = []
  for (const x of deps.table.list()) upstreams.push(groupJson(x, live, byAddr))
  return jsonReply(200, { version: deps.table.version, workers: live.workers, upstreams }, deps.table.version)
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

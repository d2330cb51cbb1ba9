/**
 * `try_files` (ngx_http_core_try_files_phase): the first candidate that exists (a directory for a `name/`
 * candidate, anything else otherwise) becomes `$uri` and the location's handler goes on with it; when none does,
 * the last parameter is an internal redirect (its own `?args`, or none), a named location, or `=code`.
 * Candidates are tested with an asynchronous stat().
 */
import { stat } from 'node:fs/promises'
import { log } from '../../log.js'
import type { Responder } from '../lib/context.js'
import type { HttpRequest } from '../conf/types.js'
import { ALIAS_WHOLE, type TryFiles } from '../conf/static.js'
import { errnoText } from '../../errno.js'
import { context, fsPath, internalError, rootOf } from './static.js'

/**
 * Runs the try_files phase of `req`'s location.
 * @returns true when a candidate matched ($uri changed): the caller runs the content handler; false when the
 *   request was answered or redirected.
 */
export async function tryFiles(c: Responder, req: HttpRequest, tf: TryFiles): Promise<boolean> {
  try {
    return await run(c, req, tf)
  } catch (e) {
    internalError(c, req, e)
    return false
  }
}

async function run(c: Responder, req: HttpRequest, tf: TryFiles): Promise<boolean> {
  const fc = req.loc!.files
  const alias = fc.root.alias
  for (const f of tf.files) {
    const name = strip(f.name.eval(req), f.name.constant === null, alias, req.uri)
    const path = rootOf(fc, req) + name
    let isDir: boolean
    try {
      isDir = (await stat(fsPath(path))).isDirectory()
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'ENAMETOOLONG') {
        log('crit', `stat() "${path}" failed (${errnoText(e)})${context(req)}`)
      }
      continue
    }
    if (isDir !== f.dir) continue
    if (alias === 0) {
      req.uri = name
    } else if (alias === ALIAS_WHOLE) {
      if (!f.dir) {
        req.uri = name
        req.addUriToAlias = true
      }
    } else {
      req.uri = req.uri.slice(0, alias) + name
    }
    return !c.gone
  }
  if (c.gone) return false
  if (tf.fallback === null) {
    c.finishLocal(tf.code)
    return false
  }
  const target = strip(tf.fallback.eval(req), tf.fallback.constant === null, alias, req.uri)
  if (target.startsWith('@')) {
    c.namedLocation(target)
    return false
  }
  const q = target.indexOf('?')
  c.internalRedirect(q < 0 ? target : target.slice(0, q), q < 0 ? '' : target.slice(q + 1))
  return false
}

/** With an alias, a computed name that starts with the location's prefix loses it (nginx's memmove). */
function strip(name: string, computed: boolean, alias: number, uri: string): string {
  if (!computed || alias <= 0) return name
  return name.startsWith(uri.slice(0, alias)) ? name.slice(alias) : name
}

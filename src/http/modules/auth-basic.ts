/**
 * `auth_basic` and `auth_basic_user_file` (ngx_http_auth_basic_module): HTTP Basic authentication against a file of
 * `user:hash[:comment]` lines.
 *
 * As nginx: the realm and the file name may hold variables; a realm that evaluates to `off` turns the check off
 * (so does `auth_basic off` in an inner level); a relative file name is taken from the configuration's directory.
 * A request without usable credentials — no `Authorization`, not `Basic `, base64 nginx's decoder refuses, no `:`
 * or an empty user — gets 401 with `WWW-Authenticate: Basic realm="…"` and an info line; an unknown user or a
 * wrong password gets 401 and an error line; a missing file 403, an unreadable one 500. The file is looked up with
 * nginx's own scanner (ngx_http_auth_basic_handler): lines starting with `#` or CR are comments, blank lines are
 * skipped, the first line whose name matches wins, the hash ends at `:`, CR or LF — and its quirks too (a line
 * that is only a prefix of the user's name, without a colon, makes the line after it skipped).
 *
 * nginx opens and reads the file on every request, so an edited file counts at once without a reload. dyups keeps
 * the file's bytes and checks it with stat() on each request that brings credentials: a change of inode, size,
 * mtime or ctime reads it again, so edits count at once as well. Per file version it keeps the lookups already
 * made (user → hash) and the `Authorization` values already verified against the hash found (so a slow bcrypt or
 * SHA-crypt hash costs once per client credential, not per request); both maps are bounded and dropped with the
 * version. A wrong password is hashed on every request, as in nginx.
 *
 * `$remote_user` is nginx's: the user named by the `Authorization` header, whether or not it was accepted
 * (variables.ts).
 */
import { readFileSync, statSync, type Stats } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import type { Directive } from '../../config/index.js'
import type { Pos } from '../../errors.js'
import { errnoText } from '../../errno.js'
import { log } from '../../log.js'
import type { Template, Variables, VarSource } from '../lib/variables.js'
import { hashFormat, MATCH, UNSUPPORTED, verifyPassword } from './passwords.js'

/** What the check reads and sets on the request. */
export interface AuthTarget extends VarSource {
  /** The `WWW-Authenticate` value a 401 goes out with. */
  wwwAuthenticate: string | null
}

/** Where the check logs from. */
export interface AuthHost {
  where(): string
}

/** {@link AuthBasic.check}: authenticated. */
export const AUTH_OK = 0
/** {@link AuthBasic.check}: the realm is `off` (nginx's NGX_DECLINED). */
export const AUTH_OFF = -1

/** Entries a file version remembers, of each kind, before it starts over. */
const MEMO_MAX = 1024

/** One user file: its bytes as last read, and what was looked up in them. */
class UserFile {
  data: Buffer | null = null
  private ino = -1
  private size = -1
  private mtime = -1
  private ctime = -1
  /** user → the hash of the line nginx's scanner finds, or null. */
  readonly users = new Map<string, string | null>()
  /** `Authorization` value → the hash it was verified against. */
  readonly verified = new Map<string, string>()

  constructor(readonly path: string) {}

  /** Reads the file again when it changed. @throws the stat() or read error */
  refresh(st: Stats): void {
    if (st.ino === this.ino && st.size === this.size && st.mtimeMs === this.mtime && st.ctimeMs === this.ctime && this.data !== null) return
    this.data = null
    this.users.clear()
    this.verified.clear()
    this.data = readFileSync(this.path)
    this.ino = st.ino
    this.size = st.size
    this.mtime = st.mtimeMs
    this.ctime = st.ctimeMs
  }

  lookup(user: string): string | null {
    let hash = this.users.get(user)
    if (hash === undefined) {
      hash = findUser(this.data!, user)
      if (this.users.size >= MEMO_MAX) this.users.clear()
      this.users.set(user, hash)
    }
    return hash
  }

  remember(authorization: string, hash: string): void {
    if (this.verified.size >= MEMO_MAX) this.verified.clear()
    this.verified.set(authorization, hash)
  }
}

const LOGIN = 0
const PASSWD = 1
const SKIP = 2

/**
 * ngx_http_auth_basic_handler's scan of the file for `user` (latin1): the hash of the first line `user:hash…`, up to
 * `:`, CR or LF (and, as a C string, up to a NUL); null when no line names the user.
 */
export function findUser(buf: Buffer, user: string): string | null {
  let state = LOGIN
  let login = 0
  let passwd = 0
  const n = user.length
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!
    if (state === LOGIN) {
      if (login === 0) {
        if (c === 0x23 || c === 0x0d) {
          state = SKIP
          continue
        }
        if (c === 0x0a) continue
      }
      // The user's name is followed by the ':' that ended it in the decoded credentials.
      if (c !== (login < n ? user.charCodeAt(login) : 0x3a)) {
        state = SKIP
        continue
      }
      if (login === n) {
        state = PASSWD
        passwd = i + 1
      }
      login++
    } else if (state === PASSWD) {
      if (c === 0x0a || c === 0x0d || c === 0x3a) return cString(buf, passwd, i)
    } else if (c === 0x0a) {
      state = LOGIN
      login = 0
    }
  }
  return state === PASSWD ? cString(buf, passwd, buf.length) : null
}

function cString(buf: Buffer, from: number, to: number): string {
  const z = buf.indexOf(0, from)
  return buf.toString('latin1', from, z >= 0 && z < to ? z : to)
}

const B64 = new Int8Array(256).fill(-1)
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i

// The credentials of the request being checked (one check runs at a time).
let credUser = ''
let credPassword = ''
let credHeader = ''

/** ngx_http_auth_basic_user: the first `Authorization` header, `Basic ` (any case), base64 as ngx_decode_base64. */
function credentials(headers: readonly string[]): boolean {
  let h: string | undefined
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!
    if (name.length === 13 && name.toLowerCase() === 'authorization') {
      h = headers[i + 1]
      break
    }
  }
  if (h === undefined || h.length < 6 || h.slice(0, 6).toLowerCase() !== 'basic ') return false
  let from = 6
  while (from < h.length && h.charCodeAt(from) === 0x20) from++
  let len = 0
  while (from + len < h.length) {
    const c = h.charCodeAt(from + len)
    if (c === 0x3d) break
    if (c > 0xff || B64[c] === -1) return false
    len++
  }
  if (len === 0 || len % 4 === 1) return false
  const auth = Buffer.from(h.slice(from, from + len), 'base64').toString('latin1')
  const colon = auth.indexOf(':')
  if (colon <= 0) return false
  credUser = auth.slice(0, colon)
  // crypt(3) and nginx's own schemes take the password as a C string.
  const z = auth.indexOf('\0', colon + 1)
  credPassword = auth.slice(colon + 1, z < 0 ? auth.length : z)
  credHeader = h
  return true
}

/** The user files of one configuration, by absolute path. */
export class UserFiles {
  private readonly files = new Map<string, UserFile>()

  constructor(readonly confDir: string) {}

  get(path: string): UserFile {
    let f = this.files.get(path)
    if (f === undefined) {
      f = new UserFile(path)
      // Files named through variables could be many: keep a bounded number.
      if (this.files.size >= MEMO_MAX) this.files.clear()
      this.files.set(path, f)
    }
    return f
  }
}

/** The `auth_basic` check of one level: a realm and a user file. */
export class AuthBasic {
  constructor(
    private readonly realm: Template,
    private readonly file: Template,
    private readonly files: UserFiles,
  ) {}

  /**
   * Authenticates a request.
   * @returns {@link AUTH_OK}, {@link AUTH_OFF}, or the status to answer: 401 (with `req.wwwAuthenticate` set), 403
   *   (the file does not exist) or 500
   */
  check(req: AuthTarget, h: AuthHost): number {
    const realm = this.realm.eval(req)
    if (realm === 'off') return AUTH_OFF
    if (!credentials(req.headers)) {
      log('info', `no user/password was provided for basic authentication${h.where()}`)
      return this.challenge(req, realm)
    }
    const user = credUser
    let path = this.file.eval(req)
    if (!isAbsolute(path)) path = resolve(this.files.confDir, path)
    const f = this.files.get(path)
    let st: Stats | undefined
    try {
      st = statSync(path, { throwIfNoEntry: false })
      if (st === undefined) {
        log('error', `open() "${path}" failed (2: No such file or directory)${h.where()}`)
        return 403
      }
      if (st.isDirectory()) {
        log('crit', `pread() "${path}" failed (21: Is a directory)${h.where()}`)
        return 500
      }
      f.refresh(st)
    } catch (e) {
      log('crit', `open() "${path}" failed (${errnoText(e)})${h.where()}`)
      return 500
    }
    const hash = f.lookup(user)
    if (hash === null) {
      log('error', `user "${user}" was not found in "${path}"${h.where()}`)
      return this.challenge(req, realm)
    }
    if (f.verified.get(credHeader) === hash) return AUTH_OK
    const v = verifyPassword(credPassword, hash)
    if (v === MATCH) {
      f.remember(credHeader, hash)
      return AUTH_OK
    }
    if (v === UNSUPPORTED) {
      log('error', `user "${user}": the password hash in "${path}" is in a format dyups does not support${h.where()}`)
      return 500
    }
    log('error', `user "${user}": password mismatch${h.where()}`)
    return this.challenge(req, realm)
  }

  private challenge(req: AuthTarget, realm: string): number {
    req.wwwAuthenticate = `Basic realm="${realm}"`
    return 401
  }
}

/** `auth_basic` and `auth_basic_user_file` in force at one level; `auth` is set when both are. */
export interface AuthLevel {
  realm: Template | null
  file: Template | null
  auth: AuthBasic | null
}

export const NO_AUTH: AuthLevel = { realm: null, file: null, auth: null }

/**
 * Compiles the auth_basic directives of each level, merging as nginx does (each of the two inherited on its own),
 * and reads each user file named without variables once, to warn about lines whose hash cannot match.
 */
export class AuthCompiler {
  readonly files: UserFiles
  private readonly checked = new Set<string>()

  constructor(confDir: string, private readonly warn?: (message: string, at: Pos) => void) {
    this.files = new UserFiles(confDir)
  }

  level(parent: AuthLevel, block: readonly Directive[], vars: Variables): AuthLevel {
    let realm = parent.realm
    let file = parent.file
    let changed = false
    for (const d of block) {
      if (d.name === 'auth_basic') {
        realm = vars.compile(d.args[0]!, { file: d.file, line: d.line })
        changed = true
      } else if (d.name === 'auth_basic_user_file') {
        file = vars.compile(d.args[0]!, { file: d.file, line: d.line })
        changed = true
        if (file.constant !== null) this.checkFile(file.constant)
      }
    }
    if (!changed) return parent
    return { realm, file, auth: realm !== null && file !== null ? new AuthBasic(realm, file, this.files) : null }
  }

  /** Warns (with the file's own line) about hashes no password can match and formats dyups does not compute. */
  private checkFile(name: string): void {
    const path = isAbsolute(name) ? name : resolve(this.files.confDir, name)
    if (this.warn === undefined || this.checked.has(path)) return
    this.checked.add(path)
    let text: string
    try {
      text = readFileSync(path, 'latin1')
    } catch {
      // nginx reads the file per request only: a file made later is fine.
      return
    }
    const lines = text.split('\n')
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!
      if (line === '' || line.startsWith('#') || line.startsWith('\r')) continue
      const colon = line.indexOf(':')
      if (colon < 0) continue
      const user = line.slice(0, colon)
      const m = /^[^:\r]*/.exec(line.slice(colon + 1))![0]
      const f = hashFormat(m)
      if (f === 'unsupported') {
        this.warn(`the password hash of user "${user}" is in a format dyups does not support: its requests get 500`, { file: path, line: i + 1 })
      } else if (f === 'invalid') {
        this.warn(`the password hash of user "${user}" is in no known format: no password matches it`, { file: path, line: i + 1 })
      }
    }
  }
}

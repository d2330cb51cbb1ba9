/**
 * Tengine's health-check directives in an upstream block (modules/ngx_http_upstream_check_module):
 * `check`, `check_http_send`, `check_http_expect_alive`, `check_keepalive_requests`, `check_fastcgi_param`.
 * Read in order into the same state Tengine keeps, so the odd cases (a second `check` keeps the first one's type;
 * `check_http_send` before `check` fails) come out as in Tengine.
 */
import type { CheckSpec, CheckStatusClass, CheckType } from './types.js'
import { ngxAtoi } from './values.js'

const TYPES: readonly CheckType[] = ['tcp', 'http', 'fastcgi', 'ssl_hello', 'mysql', 'ajp']
const CLASSES: readonly CheckStatusClass[] = ['http_1xx', 'http_2xx', 'http_3xx', 'http_4xx', 'http_5xx']

/** `check_http_send` for type=http when none is given. */
export const HTTP_DEFAULT_SEND = 'GET / HTTP/1.0\r\n\r\n'
const HTTP_DEFAULT_ALIVE = 0b00110 // http_2xx | http_3xx

/** What the `check_*` directives set, before the group is finished. */
export class CheckState {
  type: CheckType | null = null
  interval = 30000
  timeout = 1000
  rise = 2
  fall = 5
  defaultDown = true
  unique = false
  port = 0
  send: string | null = null
  /** Bit i = CLASSES[i]; 0 = not set. */
  alive = 0
  keepaliveRequests = 1
  fastcgiParams: [string, string][] = []

  /** `check [type=] [interval=] [timeout=] [rise=] [fall=] [default_down=] [unique=] [port=]`. Returns an error or null. */
  check(args: readonly string[]): string | null {
    let port = 0
    let rise = 2
    let fall = 5
    let interval = 30000
    let timeout = 1000
    let defaultDown = true
    let unique = false

    for (const a of args) {
      if (a.startsWith('type=')) {
        const t = TYPES.find((x) => x === a.slice(5))
        if (t === undefined) return invalid(a)
        this.type = t
      } else if (a.startsWith('port=')) {
        port = ngxAtoi(a.slice(5))
        if (port <= 0) return invalid(a)
      } else if (a.startsWith('interval=')) {
        interval = ngxAtoi(a.slice(9))
        if (interval <= 0) return invalid(a)
      } else if (a.startsWith('timeout=')) {
        timeout = ngxAtoi(a.slice(8))
        if (timeout <= 0) return invalid(a)
      } else if (a.startsWith('rise=')) {
        rise = ngxAtoi(a.slice(5))
        if (rise <= 0) return invalid(a)
      } else if (a.startsWith('fall=')) {
        fall = ngxAtoi(a.slice(5))
        if (fall <= 0) return invalid(a)
      } else if (a.startsWith('default_down=')) {
        const v = bool(a.slice(13))
        if (v === null) return `invalid value "${a}", it must be "true" or "false"`
        defaultDown = v
      } else if (a.startsWith('unique=')) {
        const v = bool(a.slice(7))
        if (v === null) return `invalid value "${a}", it must be "true" or "false"`
        unique = v
      } else {
        return invalid(a)
      }
    }

    this.port = port
    this.interval = interval
    this.timeout = timeout
    this.fall = fall
    this.rise = rise
    this.defaultDown = defaultDown
    this.unique = unique
    if (this.type === null) this.type = 'tcp'
    if (this.send === null || this.send.length === 0) this.send = this.type === 'http' ? HTTP_DEFAULT_SEND : ''
    if (this.alive === 0) this.alive = this.type === 'http' ? HTTP_DEFAULT_ALIVE : 0
    return null
  }

  /** `check_http_send STRING`. */
  httpSend(value: string): string | null {
    if (this.type === null) return 'invalid check_http_send should set [check] first'
    if (value.length > 0 && this.type !== 'http') return `invalid check_http_send for type "${this.type}"`
    this.send = value
    return null
  }

  /** `check_http_expect_alive http_2xx ...` (case-insensitive; a repeated class is only a warning in Tengine). */
  expectAlive(args: readonly string[]): string | null {
    let bits = 0
    for (const a of args) {
      const i = CLASSES.indexOf(a.toLowerCase() as CheckStatusClass)
      if (i < 0) return `invalid value "${a}"`
      bits |= 1 << i
    }
    this.alive = bits
    return null
  }

  /** `check_keepalive_requests N`; the message is completed by the caller as nginx does (`"NAME" directive ...`). */
  keepaliveRequestsDirective(value: string): string | null {
    const n = ngxAtoi(value)
    if (n <= 0) return 'invalid value'
    this.keepaliveRequests = n
    return null
  }

  fastcgiParam(name: string, value: string): void {
    this.fastcgiParams.push([name, value])
  }

  /** The finished spec; null when no `check` line was given (the other directives then do nothing, as in Tengine). */
  finish(): CheckSpec | null {
    if (this.type === null) return null
    const expectAlive: CheckStatusClass[] = []
    for (let i = 0; i < CLASSES.length; i++) if (this.alive & (1 << i)) expectAlive.push(CLASSES[i]!)
    return {
      type: this.type,
      interval: this.interval,
      timeout: this.timeout,
      rise: this.rise,
      fall: this.fall,
      defaultDown: this.defaultDown,
      unique: this.unique,
      port: this.port,
      send: this.send ?? '',
      expectAlive,
      keepaliveRequests: this.keepaliveRequests,
      fastcgiParams: this.fastcgiParams.map(([k, v]) => [k, v] as const),
    }
  }
}

/** The `check_http_expect_alive` classes a type gets when none are given. */
export function defaultExpectAlive(type: CheckType): readonly CheckStatusClass[] {
  return type === 'http' ? ['http_2xx', 'http_3xx'] : []
}

const invalid = (a: string): string => `invalid parameter "${a}"`

function bool(s: string): boolean | null {
  const v = s.toLowerCase()
  return v === 'true' ? true : v === 'false' ? false : null
}

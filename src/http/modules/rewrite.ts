/**
 * nginx's rewrite module: `set`, `rewrite`, `if`, `return` and `break`, run in configuration order — the server's
 * before a location is chosen, the location's after (ngx_http_rewrite_module). Compiled once into a list of ops; a
 * request walks the list without allocating beyond what the rewritten strings need.
 */
import { statSync } from 'node:fs'
import type { Directive } from '../../config/index.js'
import { DyupsError, type Pos } from '../../errors.js'
import { compileRegex, regexCaptures } from '../lib/regex.js'
import type { Request } from '../lib/request.js'
import type { Setter, Template, Variables } from '../lib/variables.js'

export const OP_SET = 0
export const OP_REWRITE = 1
export const OP_IF = 2
export const OP_RETURN = 3
export const OP_BREAK = 4

/** How a rewrite ends: on to the next op, or stop here (`last`, `break`) keeping or dropping the URI change. */
const FLAG_NONE = 0
const FLAG_LAST = 1
const FLAG_BREAK = 2

/** `Loc`: the location configuration an `if` block makes the request's (conf/types.ts's LocConf). */
export type RewriteOp<Loc = unknown> =
  | { readonly op: typeof OP_SET; readonly set: Setter; readonly value: Template }
  | {
      readonly op: typeof OP_REWRITE
      readonly re: RegExp
      readonly replacement: Template
      readonly flag: number
      /** 0: an internal rewrite; 301/302: a redirect with the result as Location. */
      readonly redirect: number
      /** The replacement has a `?`: it sets the arguments. */
      readonly setsArgs: boolean
      /** The request's arguments are appended (the replacement does not end with `?`). */
      readonly keepArgs: boolean
    }
  | { readonly op: typeof OP_IF; readonly cond: Condition; readonly body: readonly RewriteOp<Loc>[]; readonly conf: Loc | null }
  | { readonly op: typeof OP_RETURN; readonly code: number; readonly text: Template | null }
  | { readonly op: typeof OP_BREAK }

type Condition =
  | { readonly k: 'var'; readonly v: Template }
  | { readonly k: 'eq'; readonly v: Template; readonly value: Template; readonly neg: boolean }
  | { readonly k: 're'; readonly v: Template; readonly re: RegExp; readonly neg: boolean }
  | { readonly k: 'file'; readonly v: Template; readonly test: string; readonly neg: boolean }

/** Where the ops answer a request themselves: `return` and redirecting rewrites. */
export interface RewriteAnswer {
  /** nginx's `return CODE [TEXT|URL]`, with TEXT already evaluated (null: none). */
  answer(code: number, text: string | null): void
}

/** The request goes on to the content phase (its location may now be an `if` block's). */
export const GO_ON = 0
/** The URI changed: choose the location again. */
export const REMATCH = 1
/** A `return` or a redirect answered the request. */
export const ANSWERED = 2

const REWRITE_DIRECTIVES = new Set(['set', 'rewrite', 'if', 'return', 'break'])

/**
 * The location configuration of `if (…) { block }`, inheriting from the enclosing location; null at the server level,
 * where an `if` holds rewrite directives only.
 */
export type IfConf<Loc> = ((block: readonly Directive[]) => Loc) | null

const at = (d: Directive): Pos => ({ file: d.file, line: d.line })

/**
 * The rewrite ops of one level, in configuration order.
 * @throws DyupsError E_CONFIG with nginx's words for bad conditions, flags, regexes and return codes
 */
export function compileRewrites<Loc>(block: readonly Directive[], vars: Variables, ifConf: IfConf<Loc>): RewriteOp<Loc>[] {
  const ops: RewriteOp<Loc>[] = []
  for (const d of block) {
    switch (d.name) {
      case 'set':
        ops.push({ op: OP_SET, set: vars.setter(d.args[0]!, at(d)), value: vars.compile(d.args[1]!, at(d)) })
        break
      case 'rewrite':
        ops.push(compileRewrite(d, vars))
        break
      case 'return':
        ops.push(compileReturn(d, vars))
        break
      case 'break':
        ops.push({ op: OP_BREAK })
        break
      case 'if': {
        const body = d.block ?? []
        if (ifConf === null) {
          // An `if` at the server level may only hold rewrite directives (nginx's NGX_HTTP_SIF_CONF).
          const other = body.find((c) => !REWRITE_DIRECTIVES.has(c.name) && c.name !== 'rewrite_log')
          if (other !== undefined) throw new DyupsError('E_CONFIG', `"${other.name}" directive is not allowed here`, at(other))
        }
        const inner = body.find((c) => c.name === 'if')
        if (inner !== undefined) throw new DyupsError('E_CONFIG', '"if" directive is not allowed here', at(inner))
        const cond = compileCondition(d, vars)
        ops.push({ op: OP_IF, cond, body: compileRewrites(body, vars, ifConf), conf: ifConf === null ? null : ifConf(body) })
        break
      }
    }
  }
  return ops
}

function compileRewrite(d: Directive, vars: Variables): RewriteOp<never> {
  const [pattern, repl, flagArg] = d.args as [string, string, string | undefined]
  const re = compileRegex(pattern, false, at(d))
  vars.declareCaptures(regexCaptures(re)[1], at(d))
  let flag = FLAG_NONE
  let redirect = /^(https?:\/\/|\$scheme)/.test(repl) ? 302 : 0
  switch (flagArg) {
    case undefined: break
    case 'last': flag = FLAG_LAST; break
    case 'break': flag = FLAG_BREAK; break
    case 'redirect': redirect = 302; break
    case 'permanent': redirect = 301; break
    default: throw new DyupsError('E_CONFIG', `invalid parameter "${flagArg}"`, at(d))
  }
  const keepArgs = !repl.endsWith('?')
  const text = keepArgs ? repl : repl.slice(0, -1)
  return { op: OP_REWRITE, re, replacement: vars.compile(text, at(d)), flag, redirect, setsArgs: text.includes('?'), keepArgs }
}

function compileReturn(d: Directive, vars: Variables): RewriteOp<never> {
  const a0 = d.args[0]!
  if (d.args.length === 1 && /^(https?:\/\/|\$scheme)/.test(a0)) return { op: OP_RETURN, code: 302, text: vars.compile(a0, at(d)) }
  const code = Number(a0)
  if (!/^\d{1,3}$/.test(a0) || code > 999) throw new DyupsError('E_CONFIG', `invalid return code "${a0}"`, at(d))
  return { op: OP_RETURN, code, text: d.args.length > 1 ? vars.compile(d.args[1]!, at(d)) : null }
}

/**
 * `if (…)` as nginx reads it (ngx_http_rewrite_if_condition): the parentheses may stand alone or stick to the first
 * and last arguments; then `$var`, `$var = text`, `$var != text`, `$var ~ re` (`~*`, `!~`, `!~*`), `-f|-d|-e|-x path`
 * (and `!-…`).
 */
function compileCondition(d: Directive, vars: Variables): Condition {
  const args = d.args.slice()
  const invalid = (s: string): DyupsError => new DyupsError('E_CONFIG', `invalid condition "${s}"`, at(d))
  if (args.length === 0 || !args[0]!.startsWith('(')) throw invalid(args[0] ?? '')
  if (args[0] === '(') args.shift()
  else args[0] = args[0]!.slice(1)
  const lastArg = args[args.length - 1]
  if (lastArg === undefined || !lastArg.endsWith(')')) throw invalid(lastArg ?? '')
  if (lastArg === ')') args.pop()
  else args[args.length - 1] = lastArg.slice(0, -1)
  const first = args[0]
  if (first === undefined) throw invalid('')
  if (first.length > 1 && first.startsWith('$')) {
    const v = vars.compile(first, at(d))
    if (args.length === 1) return { k: 'var', v }
    if (args.length !== 3) throw invalid(first)
    const op = args[1]!
    const value = args[2]!
    if (op === '=' || op === '!=') return { k: 'eq', v, value: vars.compile(value, at(d)), neg: op === '!=' }
    if (op === '~' || op === '~*' || op === '!~' || op === '!~*') {
      const re = compileRegex(value, op.endsWith('*'), at(d))
      vars.declareCaptures(regexCaptures(re)[1], at(d))
      return { k: 're', v, re, neg: op.startsWith('!') }
    }
    throw new DyupsError('E_CONFIG', `unexpected "${op}" in condition`, at(d))
  }
  const neg = first.startsWith('!')
  const test = neg ? first.slice(1) : first
  if (test.length === 2 && test.startsWith('-')) {
    if (args.length !== 2) throw invalid(first)
    if (!'fdex'.includes(test[1]!)) throw invalid(first)
    return { k: 'file', v: vars.compile(args[1]!, at(d)), test: test[1]!, neg }
  }
  throw invalid(first)
}

/**
 * Runs `ops` for `req`, nginx's way: a `set` assigns, a matching `rewrite` changes `$uri` (and maybe `$args`) or
 * redirects, a true `if` runs its block and makes its configuration the request's, `return` answers, `break` stops.
 * The caller clears `req.uriChanged` when it chooses a location, as nginx's find-config phase does.
 * @returns GO_ON, REMATCH (the URI changed and no `break` kept it in place) or ANSWERED
 */
export function runRewrites<Loc>(ops: readonly RewriteOp<Loc>[], req: Request<Loc>, out: RewriteAnswer): number {
  const r = run(ops, req, out)
  if (r === STOP_BREAK) return GO_ON
  if (r === ANSWERED) return ANSWERED
  return req.uriChanged ? REMATCH : GO_ON
}

/** Internal results of {@link run}: on, or stop (with `last`: rematch if changed; with `break`: stay). */
const CONTINUE = 3
const STOP_LAST = 4
const STOP_BREAK = 5

function run<Loc>(ops: readonly RewriteOp<Loc>[], req: Request<Loc>, out: RewriteAnswer): number {
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!
    switch (o.op) {
      case OP_SET:
        o.set(req, o.value.eval(req))
        break
      case OP_REWRITE: {
        const r = rewrite(o, req, out)
        if (r !== CONTINUE) return r
        break
      }
      case OP_IF:
        if (!test(o.cond, req)) break
        if (o.conf !== null) req.loc = o.conf
        {
          const r = run(o.body, req, out)
          if (r !== CONTINUE) return r
        }
        break
      case OP_RETURN:
        out.answer(o.code, o.text === null ? null : o.text.eval(req))
        return ANSWERED
      case OP_BREAK:
        // nginx's break code: a URI already changed stays changed, but the location is not chosen again.
        if (req.uriChanged) req.locationBypassed = true
        return STOP_BREAK
    }
  }
  return CONTINUE
}

function rewrite(o: Extract<RewriteOp, { op: typeof OP_REWRITE }>, req: Request, out: RewriteAnswer): number {
  const m = o.re.exec(req.uri)
  if (m === null) return CONTINUE
  req.captures = m
  const value = o.replacement.eval(req)
  if (o.redirect !== 0) {
    const args = o.keepArgs && req.args !== '' ? (o.setsArgs ? '&' : '?') + req.args : ''
    out.answer(o.redirect, value + args)
    return ANSWERED
  }
  if (o.setsArgs) {
    const q = value.indexOf('?')
    const newArgs = value.slice(q + 1)
    req.args = o.keepArgs && req.args !== '' ? (newArgs === '' ? req.args : `${newArgs}&${req.args}`) : newArgs
    req.uri = value.slice(0, q)
  } else {
    req.uri = value
    // A replacement ending in `?` drops the request's arguments.
    if (!o.keepArgs) req.args = ''
  }
  req.uriChanged = true
  req.rewritten = true
  if (o.flag === FLAG_BREAK) {
    req.locationBypassed = true
    return STOP_BREAK
  }
  return o.flag === FLAG_LAST ? STOP_LAST : CONTINUE
}

function test(c: Condition, req: Request): boolean {
  const v = c.v.eval(req)
  switch (c.k) {
    case 'var':
      return v !== '' && v !== '0'
    case 'eq':
      return (v === c.value.eval(req)) !== c.neg
    case 're': {
      const m = c.re.exec(v)
      if (m !== null) req.captures = m
      return (m !== null) !== c.neg
    }
    case 'file':
      return fileTest(v, c.test) !== c.neg
  }
}

/**
 * `-f`, `-d`, `-e`, `-x`. nginx answers these with a blocking stat() too (or from open_file_cache); a stat of a local
 * path costs microseconds, and only configurations that use the tests pay it.
 */
function fileTest(path: string, kind: string): boolean {
  const st = statSync(path, { throwIfNoEntry: false })
  if (st === undefined) return false
  switch (kind) {
    case 'f': return st.isFile()
    case 'd': return st.isDirectory()
    case 'e': return true
    default: return st.isFile() && (st.mode & 0o111) !== 0
  }
}

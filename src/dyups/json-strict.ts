/**
 * What JSON.parse lets through and the JSON interface refuses: a key given twice in one object (JSON.parse keeps the
 * last one silently, so `{"weight": 1, "weight": 100}` would apply a value the sender may not have meant — RFC 8259
 * leaves such objects' meaning undefined) and nesting deeper than any body of the interface needs. Runs on text
 * JSON.parse accepted, in one pass without recursion, so a hostile body cannot exhaust the stack.
 */

/** Deeper than any GROUP or batch body (a batch's group's server is 5 levels). */
export const MAX_DEPTH = 32

interface Frame {
  /** An object's keys so far; null for an array. */
  keys: Set<string> | null
  /** Object: the key whose value is being read; array: the index of the element. */
  at: string | number
  expectKey: boolean
}

const where = (stack: readonly Frame[], upTo: number): string => {
  let out = ''
  for (let i = 0; i < upTo; i++) {
    const f = stack[i]!
    out += typeof f.at === 'number' ? `[${f.at}]` : out === '' ? f.at : `.${f.at}`
  }
  return out === '' ? 'the body' : `"${out}"`
}

/**
 * The first problem of valid JSON `text`: `duplicate key "k" in "servers[0]"`, or `nesting deeper than 32 levels`;
 * null when there is none.
 */
export function strictJsonProblem(text: string): { code: string; message: string } | null {
  const stack: Frame[] = []
  const n = text.length
  for (let i = 0; i < n; ) {
    const c = text.charCodeAt(i)
    switch (c) {
      case 0x7b: // {
      case 0x5b: // [
        if (stack.length >= MAX_DEPTH) return { code: 'too_deep', message: `nesting deeper than ${MAX_DEPTH} levels` }
        stack.push(c === 0x7b ? { keys: new Set(), at: '', expectKey: true } : { keys: null, at: 0, expectKey: false })
        i++
        break
      case 0x7d: // }
      case 0x5d: // ]
        stack.pop()
        i++
        break
      case 0x2c: { // ,
        const top = stack[stack.length - 1]!
        if (top.keys !== null) top.expectKey = true
        else top.at = (top.at as number) + 1
        i++
        break
      }
      case 0x3a: // :
        stack[stack.length - 1]!.expectKey = false
        i++
        break
      case 0x22: { // "
        let j = i + 1
        while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1
        const top = stack[stack.length - 1]
        if (top !== undefined && top.keys !== null && top.expectKey) {
          const key = JSON.parse(text.slice(i, j + 1)) as string
          if (top.keys.has(key)) return { code: 'duplicate_key', message: `duplicate key "${key}" in ${where(stack, stack.length - 1)}` }
          top.keys.add(key)
          top.at = key
        }
        i = j + 1
        break
      }
      default:
        i++
    }
  }
  return null
}

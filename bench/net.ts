/** Ports and readiness on 127.0.0.1. */
import { createServer, connect } from 'node:net'

/** nginx's and the example's well-known ports: other people's servers live there. */
const AVOID = new Set([80, 443, 8080, 8081, 8088, 8089])

/** A port the kernel just handed out for 127.0.0.1 and that is not on the avoid list. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer()
      s.once('error', reject)
      s.listen(0, '127.0.0.1', () => {
        const a = s.address()
        const p = typeof a === 'object' && a !== null ? a.port : 0
        s.close(() => resolve(p))
      })
    })
    if (!AVOID.has(port)) return port
  }
}

/** Resolves true when a connection to port gets any HTTP status line back, false on refusal or timeout. */
export function httpAnswers(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    let done = false
    const finish = (ok: boolean): void => {
      if (done) return
      done = true
      s.destroy()
      resolve(ok)
    }
    s.setTimeout(timeoutMs, () => finish(false))
    s.once('error', () => finish(false))
    s.once('connect', () => s.write('GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n'))
    s.on('data', (d: Buffer) => finish(d.toString('latin1').startsWith('HTTP/1.')))
    s.once('end', () => finish(false))
  })
}

/**
 * Polls until `port` answers HTTP, every `everyMs`; `gone()` lets the caller stop early when the server died.
 * @throws Error after `timeoutMs`, or when `gone()` says the process exited.
 */
export async function waitHttp(port: number, timeoutMs: number, gone: () => boolean, everyMs = 5): Promise<void> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (gone()) throw new Error('exited before answering')
    if (await httpAnswers(port, 500)) return
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`no HTTP answer on 127.0.0.1:${port} after ${timeoutMs} ms`)
}

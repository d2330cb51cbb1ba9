/** A raw TLS client for end-to-end tests: exact bytes over TLS, as `exchange` in helpers.ts does over TCP. */
import { connect as tlsConnect } from 'node:tls'

/** Raw bytes over TLS (SNI `a.test`, trusting `ca`), every byte received until the server closes (bounded: 10 s). */
export function tlsExchange(port: number, ca: string | Buffer, raw: string): Promise<string> {
  return new Promise((res, rej) => {
    const s = tlsConnect({ port, host: '127.0.0.1', ca, servername: 'a.test' })
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      s.destroy()
      rej(new Error(`no close from ${port} within 10 s`))
    }, 10_000)
    s.on('secureConnect', () => s.write(raw, 'latin1'))
    s.on('data', (b: Buffer) => chunks.push(b))
    s.on('error', (e) => {
      clearTimeout(timer)
      rej(e)
    })
    s.on('close', () => {
      clearTimeout(timer)
      res(Buffer.concat(chunks).toString('latin1'))
    })
  })
}

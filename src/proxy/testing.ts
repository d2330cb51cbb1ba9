/**
 * Certificates for tests, made with the `openssl` command: a CA (`ca`), a second unrelated CA (`other-ca`), server
 * certificates for `a.test`, `b.test` and `backend.test` signed by `ca`, a client certificate (`client`, CN
 * `dyups-client`), an intermediate CA `mid` signed by `ca` and `deep.test` signed by it (`deep-chain.pem`: the
 * certificate followed by `mid`'s), and `garbage.pem`, which holds no certificate. Each NAME comes as `NAME.pem` and
 * `NAME.key`. `etcd`: a server certificate for 127.0.0.1, signed by `ca`.
 * Made once per process in a temp directory removed at exit; without openssl the caller fails, it does not skip.
 */
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer }
    if (err.code === 'ENOENT') throw new Error('the openssl command is missing: TLS tests make their certificates with it (apt-get install openssl)')
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr?.toString() ?? err.message}`)
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '30', '-subj', `/CN=${name}`])
}

function makeCert(dir: string, ca: string, name: string, cn: string, san: string[], serial: number, ext = ''): void {
  openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`])
  writeFileSync(join(dir, `${name}.ext`), (san.length > 0 ? `subjectAltName=${san.join(',')}\n` : '') + ext)
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-set_serial', String(serial), '-out', `${name}.pem`, '-days', '30', '-extfile', `${name}.ext`])
}

let made: string | null = null

/** The directory holding the test certificates (made on first call). @throws Error when openssl is missing or fails */
export function testCertificates(): string {
  if (made !== null) return made
  const dir = mkdtempSync(join(tmpdir(), 'dyups-certs-'))
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  makeCa(dir, 'ca')
  makeCa(dir, 'other-ca')
  makeCert(dir, 'ca', 'a', 'a.test', ['DNS:a.test'], 1)
  makeCert(dir, 'ca', 'b', 'b.test', ['DNS:b.test'], 2)
  makeCert(dir, 'ca', 'backend', 'backend.test', ['DNS:backend.test'], 3)
  makeCert(dir, 'ca', 'client', 'dyups-client', [], 4)
  makeCert(dir, 'ca', 'mid', 'mid', [], 5, 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n')
  makeCert(dir, 'mid', 'deep', 'deep.test', ['DNS:deep.test'], 6)
  // For a test etcd on loopback (test/etcd.ts): clients name it by address.
  makeCert(dir, 'ca', 'etcd', '127.0.0.1', ['IP:127.0.0.1'], 7)
  writeFileSync(join(dir, 'deep-chain.pem'), readFileSync(join(dir, 'deep.pem'), 'latin1') + readFileSync(join(dir, 'mid.pem'), 'latin1'))
  writeFileSync(join(dir, 'garbage.pem'), 'not a certificate\n')
  made = dir
  return dir
}

/** Copies the test certificates into `dir` (a prefix's `conf/`, where relative certificate paths start). */
export function copyTestCertificates(dir: string): void {
  const from = testCertificates()
  for (const f of readdirSync(from)) copyFileSync(join(from, f), join(dir, f))
}

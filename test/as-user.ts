/**
 * Runs a dyups server as another user: `node as-user.js UID GID ARGS…`, started as root. Its code is loaded first, as
 * root, and only then the process becomes UID:GID (with GID as its only group) and runs the server `ARGS` describe,
 * as `dyups ARGS` would. Started with `spawn(…, { uid, gid })` instead, dyups would have to read its own files as
 * that user, which fails wherever the checkout lives in a directory only root may enter (such as /root); what the
 * tests are about, the files dyups serves, is read as that user either way.
 */
import { parseArgs } from '../src/cli.js'
import { formatError } from '../src/errors.js'
import { run } from '../src/process/index.js'

const [uid, gid, ...args] = process.argv.slice(2)
const opts = parseArgs(args)
if (typeof opts === 'string' || opts.test || opts.signal !== null) throw new Error(`as-user runs a server, not ${args.join(' ')}`)
process.setgroups!([Number(gid)])
process.setgid!(Number(gid))
process.setuid!(Number(uid))
try {
  await run(opts)
} catch (e) {
  process.stderr.write(`dyups: [emerg] ${formatError(e)}\n`)
  process.exit(1)
}

#!/usr/bin/env node
// dyups runs on Node.js 24: under an older node this hands over to the Node 24 that bin/runtime.js finds (the
// package's own, or DYUPS_NODE) and ends as that process ends; under Node 24 it runs here, in this process.
import { fileURLToPath } from 'node:url'
import { chooseNodeOrExit, launch } from './runtime.js'

const node = chooseNodeOrExit()
if (node === null) {
  // V8's compile cache (see dist/src/process/worker-main.js): a start and every worker compile less.
  (await import('node:module')).enableCompileCache?.()
  const { main } = await import('../dist/src/cli.js')
  main(process.argv.slice(2))
} else {
  launch(node, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)])
}

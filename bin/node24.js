#!/usr/bin/env node
// `node bin/node24.js ARGS...` runs `node ARGS...` under the Node that dyups runs on (see bin/runtime.js), so that
// `npm test` and `npm run bench` run their own code, and every dyups they start by process.execPath, under
// Node.js 24 even when the system's node is older. Signals are passed on; the exit status is the child's.
import { chooseNodeOrExit, launch } from './runtime.js'

launch(chooseNodeOrExit() ?? process.execPath, [...process.execArgv, ...process.argv.slice(2)])

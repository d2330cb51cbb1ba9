/** What every scenario is given, and the shape of a scenario. */
import type { Backends } from './backends.js'
import type { Contender } from './proxies.js'
import type { Section } from './report.js'
import type { Tools } from './tools.js'

export interface Options {
  /** a short smoke run: one repetition, short points, fewer sizes */
  quick: boolean
  /** repetitions of each point (medians are reported) */
  runs: number
  /** seconds per wrk measurement */
  seconds: number
  /** scenario ids to run; empty = all */
  only: string[]
  /** start dyups under node --cpu-prof, profiles in bench/results/profiles/ */
  profile: boolean
  /** keep the temporary directory (configs, logs) */
  keep: boolean
  /** run Node's floor (relay.ts) beside the proxies at the 1-worker points of `small` */
  relay: boolean
  /** worker counts of `small` to measure: `1`, `auto`; empty = both */
  workers: string[]
}

export interface Ctx {
  opts: Options
  tools: Tools
  backends: Backends
  /** nginx first, then the candidates */
  contenders: Contender[]
  /** Node's floor (a byte relay), null with --no-relay */
  relay: Contender | null
  /** temporary directory of this run */
  tmp: string
  log: (msg: string) => void
}

export interface Scenario {
  id: string
  title: string
  /** true when the scenario drives the dyups interface (nginx has none) */
  dyupsOnly: boolean
  run(ctx: Ctx): Promise<Section[]>
}

/** Every scenario, in the order a full run goes through them. */
import type { Scenario } from '../context.js'
import { small } from './small.js'
import { bodies } from './bodies.js'
import { propagation } from './propagation.js'

export const scenarios: readonly Scenario[] = [small, bodies, propagation]

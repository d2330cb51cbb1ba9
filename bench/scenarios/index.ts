/** Every scenario, in the order a full run goes through them. */
import type { Scenario } from '../context.js'
import { small } from './small.js'
import { bodies } from './bodies.js'
import { propagation } from './propagation.js'
import { updates } from './updates.js'
import { scale } from './scale.js'
import { churn } from './churn.js'
import { disturb } from './disturb.js'
import { h2 } from './h2.js'

export const scenarios: readonly Scenario[] = [small, bodies, h2, propagation, updates, scale, churn, disturb]

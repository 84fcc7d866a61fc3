/**
 * The baselines of core/baselines.ts set up with a scenario's agent settings
 * (heater.max_power_w, llm.max_parallel, llm.keep_alive_s), as SimControllers.
 */
import { createHysteresis, createTpi } from '../core/baselines.js';
import type { Scenario } from './scenario.js';
import type { SimController } from './sim-controller.js';

export type BaselineKind = 'hysteresis' | 'tpi';

export function baselineController(kind: BaselineKind, s: Scenario): SimController {
  const cfg = { maxPowerW: s.settings.maxPowerW, maxParallel: s.settings.maxParallel, keepAliveS: s.settings.keepAliveS };
  return kind === 'hysteresis' ? createHysteresis(cfg) : createTpi(cfg);
}

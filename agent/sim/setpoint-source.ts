/**
 * The setpoint of a scenario over time: the `setpoint_c` input the agent receives (held series),
 * or, when the scenario has none, the effective setpoint of `agent.thermostat.schedule` (entry's
 * setpoint_c, else its preset's value) on the simulated wall clock, else default_setpoint_c.
 */
import { createScheduleCursor } from '../core/schedule.js';
import type { ActiveSchedule } from '../core/types.js';
import type { Scenario } from './scenario.js';
import { heldSeries } from './series.js';
import { referenceWeekStartMs } from './sim-clock.js';

export interface SetpointAt {
  /** The setpoint input the agent receives (null when the scenario has no setpoint_c). */
  inputC: number | null;
  /** The effective setpoint for baselines and metrics. */
  setpointC: number;
}

/** Epoch ms of scenario time 0: Monday 2026-01-05 00:00 in the schedule's time zone (UTC without a schedule). */
export function scenarioStartWallMs(s: Scenario): number {
  return referenceWeekStartMs(s.settings.schedule?.timezone ?? 'UTC');
}

/** The schedule's active entry at a wall time, or null when the scenario has no schedule. */
export function scenarioScheduleAt(s: Scenario): ((wallMs: number) => ActiveSchedule | null) | null {
  const spec = s.settings.schedule;
  if (!spec) return null;
  const cursor = createScheduleCursor(spec);
  return (wallMs) => cursor.at(wallMs);
}

/** Effective setpoint of an active schedule entry (entry setpoint, else preset value, else default). */
export function scheduleSetpointC(active: ActiveSchedule | null, s: Scenario): number {
  if (!active) return s.settings.defaultSetpointC;
  if (active.setpointC !== null) return active.setpointC;
  if (active.preset !== null && active.preset !== 'none') return s.settings.presets[active.preset];
  return s.settings.defaultSetpointC;
}

/** A function of (scenario seconds, wall ms) → setpoints; fast for monotonic time. */
export function createSetpointSource(s: Scenario): (tS: number, wallMs: number) => SetpointAt {
  if (s.setpointC) {
    const at = heldSeries(s.setpointC);
    return (tS) => {
      const v = at(tS / 3600);
      return { inputC: v, setpointC: v };
    };
  }
  const schedule = scenarioScheduleAt(s);
  if (!schedule) {
    const fixed = { inputC: null, setpointC: s.settings.defaultSetpointC };
    return () => fixed;
  }
  return (_tS, wallMs) => ({ inputC: null, setpointC: scheduleSetpointC(schedule(wallMs), s) });
}

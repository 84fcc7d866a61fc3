/**
 * Setpoint resolution (spec mqtt-api.md): which setpoint the thermostat holds now and where it
 * comes from. Pure: the wall time is an argument.
 *
 *  - mode `heat`: manual setpoint → the operator preset (≠ none) → default. An override is ignored
 *    (and left alone: it is not ended).
 *  - mode `auto`: override (until it ends) → fresh setpoint input → active schedule entry → the
 *    operator preset (≠ none) → default.
 *  - mode `off`: resolved exactly as `auto` (for display), the override's end included.
 *  - An override ends after its duration (override_s when it has none), at a schedule transition
 *    after its start, or when the setpoint input differs from its value at the override's start by
 *    more than 0.05 K (no value at the start: any value counts). A missing or stale input does not
 *    end it.
 *  - Every result is clamped to [min_setpoint_c, max_setpoint_c].
 *  - `preset` reported: the schedule entry's preset when the schedule is the source (`none` for an
 *    entry with a plain setpoint_c), else the operator's preset.
 */
import type { ActiveSchedule, ControlConfig, OperatorState, Preset, SetpointSource } from './types.js';

/** A setpoint input change larger than this (K) ends an override. */
export const OVERRIDE_INPUT_CHANGE_K = 0.05;
/** Float slack so that exactly 0.05 K (e.g. 21.05 − 21) is not a change. */
const EPSILON_K = 1e-9;

export interface ResolveSetpointArgs {
  nowWallMs: number;
  operator: OperatorState;
  /** The fresh setpoint input value, null when missing or stale. */
  setpointInput: number | null;
  schedule: ActiveSchedule | null;
  cfg: ControlConfig['thermostat'];
}

export interface ResolvedSetpoint {
  setpointC: number;
  source: SetpointSource;
  preset: Preset;
  /** The override ended now: the caller clears it from the operator state. */
  overrideEnded: boolean;
}

type Override = NonNullable<OperatorState['override']>;

/** Why an override is over at `nowWallMs`, or null while it holds. */
export function overrideEndReason(
  override: Override,
  args: Pick<ResolveSetpointArgs, 'nowWallMs' | 'setpointInput' | 'schedule' | 'cfg'>,
): 'expired' | 'schedule_transition' | 'input_changed' | null {
  const lifeS = override.durationS ?? args.cfg.overrideS;
  if (args.nowWallMs >= override.startedWallMs + lifeS * 1000) return 'expired';
  if (args.schedule !== null && args.schedule.sinceWallMs > override.startedWallMs) return 'schedule_transition';
  const input = args.setpointInput;
  if (input !== null && Number.isFinite(input)) {
    const atStart = override.inputAtStartC;
    if (atStart === null || Math.abs(input - atStart) > OVERRIDE_INPUT_CHANGE_K + EPSILON_K) return 'input_changed';
  }
  return null;
}

export function resolveSetpoint(args: ResolveSetpointArgs): ResolvedSetpoint {
  const { operator, cfg, schedule } = args;
  const clampC = (c: number): number => Math.min(cfg.maxSetpointC, Math.max(cfg.minSetpointC, c));
  const done = (c: number, source: SetpointSource, preset: Preset, overrideEnded: boolean): ResolvedSetpoint => ({
    setpointC: clampC(c),
    source,
    preset,
    overrideEnded,
  });
  const fromOperatorPreset = (overrideEnded: boolean): ResolvedSetpoint =>
    operator.preset !== 'none'
      ? done(cfg.presets[operator.preset], 'preset', operator.preset, overrideEnded)
      : done(cfg.defaultSetpointC, 'default', operator.preset, overrideEnded);

  if (operator.mode === 'heat') {
    const manual = operator.manualSetpointC;
    if (manual !== null && Number.isFinite(manual)) return done(manual, 'manual', operator.preset, false);
    return fromOperatorPreset(false);
  }

  // auto, and off (resolved as auto for display)
  let overrideEnded = false;
  const override = operator.override;
  if (override !== null) {
    if (overrideEndReason(override, args) === null) return done(override.setpointC, 'override', operator.preset, false);
    overrideEnded = true;
  }
  const input = args.setpointInput;
  if (input !== null && Number.isFinite(input)) return done(input, 'input', operator.preset, overrideEnded);
  if (schedule !== null) {
    if (schedule.setpointC !== null) return done(schedule.setpointC, 'schedule', schedule.preset ?? 'none', overrideEnded);
    if (schedule.preset !== null && schedule.preset !== 'none') {
      return done(cfg.presets[schedule.preset], 'schedule', schedule.preset, overrideEnded);
    }
  }
  return fromOperatorPreset(overrideEnded);
}

/**
 * Operator commands (set/* topics and requests) applied to the operator state. Pure: the caller
 * gives the time and the current setpoint input; the runtime persists the result.
 */
import type { Mode, OperatorState, Preset } from './types.js';

export type OperatorCommand =
  | { kind: 'mode'; mode: Mode }
  | { kind: 'setpoint'; setpointC: number; durationS?: number | null }
  | { kind: 'preset'; preset: Preset }
  | { kind: 'power_cap'; watts: number | null }
  | { kind: 'drain' }
  | { kind: 'resume' };

export const initialOperatorState = (mode: Mode): OperatorState => ({
  mode,
  preset: 'none',
  manualSetpointC: null,
  override: null,
  powerCapW: null,
  drain: false,
});

/**
 * A setpoint in mode heat is the manual setpoint; in auto an override (ends after override_s, at
 * the next schedule transition or when the setpoint input changes); in off it is kept as the
 * manual setpoint for when the heater is switched to heat.
 */
export function applyOperatorCommand(
  s: OperatorState,
  cmd: OperatorCommand,
  ctx: { wallMs: number; setpointInputC: number | null },
): OperatorState {
  switch (cmd.kind) {
    case 'mode':
      return { ...s, mode: cmd.mode };
    case 'setpoint':
      if (s.mode === 'auto') {
        return {
          ...s,
          override: { setpointC: cmd.setpointC, startedWallMs: ctx.wallMs, durationS: cmd.durationS ?? null, inputAtStartC: ctx.setpointInputC },
        };
      }
      return { ...s, manualSetpointC: cmd.setpointC };
    case 'preset':
      // In heat a preset replaces the manual setpoint; in auto it is the fallback after input and schedule.
      return { ...s, preset: cmd.preset, manualSetpointC: s.mode === 'heat' ? null : s.manualSetpointC };
    case 'power_cap':
      return { ...s, powerCapW: cmd.watts };
    case 'drain':
      return { ...s, drain: true };
    case 'resume':
      return { ...s, drain: false };
  }
}

/** Restores a persisted operator state, keeping only well-formed fields (a damaged file never crashes). */
export function sanitizeOperatorState(raw: unknown, fallback: OperatorState): OperatorState {
  if (!raw || typeof raw !== 'object') return fallback;
  const r = raw as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const modes: Mode[] = ['off', 'heat', 'auto'];
  const presets: Preset[] = ['none', 'frost', 'eco', 'comfort', 'boost'];
  const o = r.override as Record<string, unknown> | null | undefined;
  const override =
    o && typeof o === 'object' && num(o.setpointC) !== null && num(o.startedWallMs) !== null
      ? { setpointC: num(o.setpointC)!, startedWallMs: num(o.startedWallMs)!, durationS: num(o.durationS), inputAtStartC: num(o.inputAtStartC) }
      : null;
  return {
    mode: modes.includes(r.mode as Mode) ? (r.mode as Mode) : fallback.mode,
    preset: presets.includes(r.preset as Preset) ? (r.preset as Preset) : fallback.preset,
    manualSetpointC: num(r.manualSetpointC),
    override,
    powerCapW: num(r.powerCapW),
    drain: r.drain === true,
  };
}

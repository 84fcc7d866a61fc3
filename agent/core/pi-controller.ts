/**
 * PI controller with anti-windup: room temperature error → heat demand 0..1.
 * Demand is the fraction of the unit's full heat output the room asks for.
 */

export interface PiState {
  integral: number;
  lastMonoS: number | null;
}

export interface PiParams {
  /** Demand per K of error. */
  kp: number;
  /** Integral time (s): the integral adds kp·error every tiS seconds. */
  tiS: number;
  /** Feed-forward: demand per K of (setpoint − outdoor). */
  outdoorGain: number;
}

export interface PiInput {
  nowS: number;
  setpointC: number;
  roomTempC: number;
  outdoorTempC: number | null;
  /** False while heat cannot follow demand (safety, no work, model loading): the integral does not grow. */
  canIntegrateUp: boolean;
}

/**
 * Above the setpoint by more than this (K), the integral holds no heat on: it is cut to at most 0.
 * Free gains (sun, people, equipment) lift the room over the setpoint while the integral still
 * carries the heat the night needed; without the cut it would unwind over `ti_s` and keep the
 * unit heating a room that is already too warm (measured on the mild-day scenario: 1.3 % of the
 * day's energy, nothing changed on steady-day).
 */
export const INTEGRAL_CUT_ABOVE_K = 0.2;

/** Longest gap integrated at once: a clock jump or a stall must not dump a large step into the integral. */
const MAX_DT_S = 60;

export const initialPiState: PiState = { integral: 0, lastMonoS: null };

export function piStep(state: PiState, input: PiInput, p: PiParams): { state: PiState; demand: number } {
  const error = input.setpointC - input.roomTempC;
  const feedForward = input.outdoorTempC === null ? 0 : p.outdoorGain * Math.max(0, input.setpointC - input.outdoorTempC);
  const dt = state.lastMonoS === null ? 0 : Math.min(MAX_DT_S, Math.max(0, input.nowS - state.lastMonoS));

  const proportional = p.kp * error;
  const unclamped = proportional + state.integral + feedForward;
  let integral = state.integral;
  // Conditional integration: never integrate further into saturation.
  const saturatedHigh = unclamped >= 1 && error > 0;
  const saturatedLow = unclamped <= 0 && error < 0;
  const blockedUp = error > 0 && !input.canIntegrateUp;
  if (!saturatedHigh && !saturatedLow && !blockedUp && p.tiS > 0) {
    integral += ((p.kp * error) / p.tiS) * dt;
  }
  if (error < -INTEGRAL_CUT_ABOVE_K) integral = Math.min(integral, 0);
  integral = clamp(integral, -1, 1);
  const demand = clamp(proportional + integral + feedForward, 0, 1);
  return { state: { integral, lastMonoS: input.nowS }, demand };
}

export function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/**
 * Safety rules of the design: stale or missing inputs, stuck sensors, room over-temperature,
 * GPU temperature throttle and stop. Each function is pure: state in, state out.
 */
import type { ControlConfig, InputName, Reading, RoomInputs } from './types.js';

export const INPUT_NAMES: readonly InputName[] = ['room_temperature', 'setpoint', 'outdoor_temperature', 'wall_power', 'window_open'];

/** Inputs that are configured but stale or never received. */
export function staleInputs(inputs: RoomInputs, cfg: ControlConfig['inputs'], nowS: number): InputName[] {
  return INPUT_NAMES.filter((name) => {
    const spec = cfg[name];
    if (!spec.configured) return false;
    return !isFresh<unknown>(inputs[name], spec.maxAgeS, nowS);
  });
}

export function isFresh<T>(reading: Reading<T> | null, maxAgeS: number | null, nowS: number): boolean {
  if (reading === null) return false;
  return maxAgeS === null || nowS - reading.atMonoS <= maxAgeS;
}

export function freshValue<T>(reading: Reading<T> | null, maxAgeS: number | null, nowS: number): T | null {
  return isFresh(reading, maxAgeS, nowS) && reading ? reading.value : null;
}

/* ---------- stuck sensor ---------- */

export interface StuckState {
  /** Window during which demand stayed high: start time and the room's range. */
  window: { sinceS: number; minC: number; maxC: number } | null;
  /** Flagged: the value the sensor was stuck at. Cleared when the value moves STUCK_RESUME_MOVE_K. */
  flaggedC: number | null;
}

export const initialStuckState: StuckState = { window: null, flaggedC: null };

/** Movement that ends a stuck-sensor window (the contract's 0.1 K). */
export const STUCK_MIN_MOVE_K = 0.1;
/**
 * Once flagged, the heat is cut and the first reading that moves this much from the flagged value
 * proves the sensor alive (0.01 K: the finest step building sensors report, e.g. Zigbee's
 * 0.01 °C unit). A frozen sensor, or a bridge republishing a cached value, never moves at all; a
 * live one moves within minutes of the cut. Waiting for a full 0.1 K cost a room held at full
 * power on a cold night about 5 Wh and a few hundredths of a kelvin every time.
 */
export const STUCK_RESUME_MOVE_K = 0.01;

/**
 * A sensor that looks alive but never moves while the unit heats hard is as dangerous as a dead one:
 * demand > 0.5 and heating for `implausibleAfterS` with the room moving < 0.1 K → implausible.
 */
export function trackStuck(
  s: StuckState,
  i: { nowS: number; roomC: number | null; demand: number; heating: boolean; afterS: number },
): { state: StuckState; implausible: boolean; flaggedNow: boolean } {
  if (i.roomC === null) return { state: { window: null, flaggedC: s.flaggedC }, implausible: s.flaggedC !== null, flaggedNow: false };
  if (s.flaggedC !== null) {
    if (Math.abs(i.roomC - s.flaggedC) >= STUCK_RESUME_MOVE_K) return { state: initialStuckState, implausible: false, flaggedNow: false };
    return { state: s, implausible: true, flaggedNow: false };
  }
  if (!(i.demand > 0.5 && i.heating)) return { state: { window: null, flaggedC: null }, implausible: false, flaggedNow: false };
  const w = s.window ?? { sinceS: i.nowS, minC: i.roomC, maxC: i.roomC };
  const minC = Math.min(w.minC, i.roomC);
  const maxC = Math.max(w.maxC, i.roomC);
  if (maxC - minC >= STUCK_MIN_MOVE_K) {
    return { state: { window: { sinceS: i.nowS, minC: i.roomC, maxC: i.roomC }, flaggedC: null }, implausible: false, flaggedNow: false };
  }
  if (i.nowS - w.sinceS >= i.afterS) return { state: { window: null, flaggedC: i.roomC }, implausible: true, flaggedNow: true };
  return { state: { window: { sinceS: w.sinceS, minC, maxC }, flaggedC: null }, implausible: false, flaggedNow: false };
}

/* ---------- room over-temperature ---------- */

export interface OvertempState {
  sinceS: number | null;
}

/** Cut-off at max_room_temp_c; heat resumes 1 K below it once min_off_s has passed. */
export function trackRoomOvertemp(
  s: OvertempState,
  i: { nowS: number; roomC: number | null; maxC: number; minOffS: number },
): { state: OvertempState; cut: boolean; enteredNow: boolean } {
  if (s.sinceS === null) {
    if (i.roomC !== null && i.roomC >= i.maxC) return { state: { sinceS: i.nowS }, cut: true, enteredNow: true };
    return { state: s, cut: false, enteredNow: false };
  }
  const cooled = i.roomC !== null && i.roomC <= i.maxC - 1;
  if (cooled && i.nowS - s.sinceS >= i.minOffS) return { state: { sinceS: null }, cut: false, enteredNow: false };
  return { state: s, cut: true, enteredNow: false };
}

/* ---------- GPU temperature ---------- */

export interface GpuThermalState {
  /** Ceiling imposed by the throttle (W), null when not throttling. */
  capW: number | null;
  stopped: boolean;
}

export const initialGpuThermalState: GpuThermalState = { capW: null, stopped: false };

/**
 * Above the throttle temperature the ceiling comes down by 10 % of the card's range each tick;
 * 2 K under it, it goes back up by 5 % a tick until released. At the stop temperature no work
 * runs until the card is back under the throttle temperature.
 */
export function trackGpuThermal(
  s: GpuThermalState,
  i: { tempC: number | null; throttleC: number; stopC: number; minW: number; maxW: number; currentW: number },
): { state: GpuThermalState; throttledNow: boolean; stoppedNow: boolean } {
  if (i.tempC === null) return { state: s, throttledNow: false, stoppedNow: false };
  const range = Math.max(1, i.maxW - i.minW);
  let { capW, stopped } = s;
  let stoppedNow = false;
  let throttledNow = false;
  if (i.tempC >= i.stopC) {
    stoppedNow = !stopped;
    stopped = true;
  } else if (stopped && i.tempC < i.throttleC) {
    stopped = false;
  }
  if (i.tempC > i.throttleC) {
    throttledNow = capW === null;
    const from = capW ?? i.currentW;
    capW = Math.max(i.minW, from - 0.1 * range);
  } else if (capW !== null && i.tempC <= i.throttleC - 2) {
    capW = capW + 0.05 * range;
    if (capW >= i.maxW) capW = null;
  }
  return { state: { capW, stopped }, throttledNow, stoppedNow };
}

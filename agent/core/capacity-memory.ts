/**
 * Capacity memory: remembers when the unit, giving all it could, let the room fall out of the
 * comfort band. An auxiliary heater is often capacity-limited on cold nights; when it was, the
 * heat-decision stores spare heat in the building's mass while it has spare capacity (the
 * pre-charge), so that the next cold period starts warmer. Pure: state in, state out.
 *
 * "Fell out of the band" means: while saturated (full demand, at the ceiling, the model serving
 * work) the room was first within the band (≥ setpoint − band) and then below it. A room warming
 * up from a cold start at full power is not a shortfall: it never was in the band during that
 * saturation.
 */

export interface CapacityState {
  /**
   * Within the current saturation: `armed` once the room was within the band, `short` once it then
   * fell below it (and for as long as the saturation lasts); `none` when not saturated.
   */
  phase: 'none' | 'armed' | 'short';
  /** Last time the unit was saturated with the room fallen out of the band (monotonic s). */
  shortfallS: number | null;
}

export const initialCapacityState: CapacityState = { phase: 'none', shortfallS: null };

/** How far under the setpoint the comfort band reaches (K); spec/simulation.md's band. */
export const COMFORT_BAND_LOW_K = 0.5;

/**
 * `limited`: the unit was capacity-limited (as above) within the last `memoryS`.
 * `fellNow`: the room fell out of the band on this tick while the unit was saturated.
 */
export function trackCapacity(
  s: CapacityState,
  i: { nowS: number; roomC: number | null; setpointC: number; saturated: boolean; memoryS: number },
): { state: CapacityState; limited: boolean; fellNow: boolean } {
  const remembered = s.shortfallS !== null && i.nowS - s.shortfallS < i.memoryS;
  let phase: CapacityState['phase'] = 'none';
  let shortfallS = s.shortfallS;
  if (i.saturated && i.roomC !== null) {
    if (i.roomC >= i.setpointC - COMFORT_BAND_LOW_K) phase = 'armed';
    // A fall from within the band; or, already known capacity-limited, any saturated time below
    // it (a brief pause, e.g. a sensor probe, does not end a shortfall).
    else if (s.phase !== 'none' || remembered) phase = 'short';
  }
  const fellNow = phase === 'short' && s.phase === 'armed';
  if (phase === 'short') shortfallS = i.nowS;
  const limited = shortfallS !== null && i.nowS - shortfallS < i.memoryS;
  return { state: { phase, shortfallS: limited ? shortfallS : null }, limited, fellNow };
}

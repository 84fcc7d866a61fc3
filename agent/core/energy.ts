/**
 * Energy accounting: kWh, heat and tokens. Counters only ever grow; a restore takes the larger of
 * what was persisted and what is held, so a stale file can never move a counter back.
 */

export interface EnergyCounters {
  /** Unit energy since install (kWh). */
  energyKwh: number;
  /** Energy while at least one sequence was busy (kWh): the useful part. */
  usefulKwh: number;
  tokens: number;
  jobsDone: number;
}

export const zeroCounters: EnergyCounters = { energyKwh: 0, usefulKwh: 0, tokens: 0, jobsDone: 0 };

/** Longest interval integrated in one step: after a stall or a clock jump, do not invent energy. */
export const MAX_INTEGRATION_GAP_S = 120;

export function accumulate(
  c: EnergyCounters,
  i: { powerW: number | null; dtS: number; busy: boolean; tokens?: number; jobsDone?: number },
): EnergyCounters {
  const dt = Math.min(MAX_INTEGRATION_GAP_S, Math.max(0, i.dtS));
  const p = i.powerW !== null && Number.isFinite(i.powerW) && i.powerW > 0 ? i.powerW : 0;
  const kwh = (p * dt) / 3.6e6;
  return {
    energyKwh: c.energyKwh + kwh,
    usefulKwh: c.usefulKwh + (i.busy ? kwh : 0),
    tokens: c.tokens + Math.max(0, i.tokens ?? 0),
    jobsDone: c.jobsDone + Math.max(0, i.jobsDone ?? 0),
  };
}

/** Never decreasing: the larger of each counter. */
export function mergeCounters(a: EnergyCounters, b: EnergyCounters): EnergyCounters {
  return {
    energyKwh: Math.max(a.energyKwh, b.energyKwh),
    usefulKwh: Math.max(a.usefulKwh, b.usefulKwh),
    tokens: Math.max(a.tokens, b.tokens),
    jobsDone: Math.max(a.jobsDone, b.jobsDone),
  };
}

/**
 * Best estimate of the heat delivered now (W): the plug's wall power when fresh, else the GPU
 * draw plus the rest of the unit (host_w).
 */
export function heatEstimateW(wallPowerW: number | null, gpuPowerW: number | null, hostW: number): number | null {
  if (wallPowerW !== null) return wallPowerW;
  if (gpuPowerW !== null) return gpuPowerW + hostW;
  return null;
}

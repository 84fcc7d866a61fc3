/**
 * Metrics of a simulation run (spec/simulation.md "Metrics"). Integrals are left Riemann sums over
 * the simulator's steps (each step's values are those at its start, as forward Euler uses them).
 * Comfort metrics count occupied time only; band = [Tset − 0.5, Tset + 1.0].
 */

export interface SimMetrics {
  /** ∫ (max(0, Tset − 0.5 − Ti) + max(0, Ti − Tset − 1.0)) dt over occupied time, K·h. */
  discomfort_kh: number;
  /** ∫ max(0, Tset − 0.5 − Ti) dt over occupied time, K·h. */
  cold_discomfort_kh: number;
  /** Root mean square of Ti − Tset over occupied time, K (null when never occupied). */
  rmse_k: number | null;
  /** max(0, max(Ti − Tset)) over occupied time, K. */
  max_overshoot_k: number;
  /** Occupied hours with Ti < Tset − 0.5. */
  unmet_h: number;
  /** ∫ Q_unit dt over the whole scenario, kWh. */
  energy_kwh: number;
  /** Energy while n ≥ 1 busy sequences / energy_kwh (0 when no energy). */
  useful_energy_share: number;
  tokens: number;
  /** tokens / energy_kwh (0 when no energy). */
  tokens_per_kwh: number;
  jobs_done: number;
  jobs_rejected: number;
  model_loads: number;
  /** Times the enforced power limit changed. */
  limit_changes: number;
  /** idle ↔ busy transitions (busy = n ≥ 1), starting idle. */
  on_off_switches: number;
}

/** One step's values. */
export interface MetricsSample {
  dtS: number;
  tiC: number;
  tsetC: number;
  occupied: boolean;
  /** Unit wall power over the step, W. */
  wallW: number;
  /** Busy sequences over the step. */
  busy: number;
  /** Tokens produced in the step. */
  tokens: number;
}

export interface MetricsCounts {
  jobsDone: number;
  jobsRejected: number;
  modelLoads: number;
  limitChanges: number;
}

export const BAND_LOW_K = 0.5;
export const BAND_HIGH_K = 1.0;

export class MetricsAccumulator {
  private discomfortKs = 0;
  private coldKs = 0;
  private sqErrKs = 0;
  private occupiedS = 0;
  private maxOvershoot = 0;
  private unmetS = 0;
  private energyJ = 0;
  private usefulJ = 0;
  private tokensSum = 0;
  private switches = 0;
  private wasBusy = false;

  add(s: MetricsSample): void {
    const dt = s.dtS;
    if (s.occupied) {
      const err = s.tiC - s.tsetC;
      const cold = Math.max(0, s.tsetC - BAND_LOW_K - s.tiC);
      const hot = Math.max(0, s.tiC - s.tsetC - BAND_HIGH_K);
      this.coldKs += cold * dt;
      this.discomfortKs += (cold + hot) * dt;
      this.sqErrKs += err * err * dt;
      this.occupiedS += dt;
      if (err > this.maxOvershoot) this.maxOvershoot = err;
      if (s.tiC < s.tsetC - BAND_LOW_K) this.unmetS += dt;
    }
    const e = s.wallW * dt;
    this.energyJ += e;
    const busy = s.busy >= 1;
    if (busy) this.usefulJ += e;
    if (busy !== this.wasBusy) this.switches += 1;
    this.wasBusy = busy;
    this.tokensSum += s.tokens;
  }

  /** Unrounded metrics. */
  finish(c: MetricsCounts): SimMetrics {
    const energyKwh = this.energyJ / 3.6e6;
    return {
      discomfort_kh: this.discomfortKs / 3600,
      cold_discomfort_kh: this.coldKs / 3600,
      rmse_k: this.occupiedS > 0 ? Math.sqrt(this.sqErrKs / this.occupiedS) : null,
      max_overshoot_k: this.maxOvershoot,
      unmet_h: this.unmetS / 3600,
      energy_kwh: energyKwh,
      useful_energy_share: this.energyJ > 0 ? this.usefulJ / this.energyJ : 0,
      tokens: this.tokensSum,
      tokens_per_kwh: energyKwh > 0 ? this.tokensSum / energyKwh : 0,
      jobs_done: c.jobsDone,
      jobs_rejected: c.jobsRejected,
      model_loads: c.modelLoads,
      limit_changes: c.limitChanges,
      on_off_switches: this.switches,
    };
  }
}

export function round3(x: number): number {
  const r = Math.round(x * 1000) / 1000;
  return Object.is(r, -0) ? 0 : r;
}

/** Metrics as printed: 3 decimals; tokens and tokens_per_kwh as whole numbers. */
export function roundMetrics(m: SimMetrics): SimMetrics {
  return {
    discomfort_kh: round3(m.discomfort_kh),
    cold_discomfort_kh: round3(m.cold_discomfort_kh),
    rmse_k: m.rmse_k === null ? null : round3(m.rmse_k),
    max_overshoot_k: round3(m.max_overshoot_k),
    unmet_h: round3(m.unmet_h),
    energy_kwh: round3(m.energy_kwh),
    useful_energy_share: round3(m.useful_energy_share),
    tokens: Math.round(m.tokens),
    tokens_per_kwh: Math.round(m.tokens_per_kwh),
    jobs_done: m.jobs_done,
    jobs_rejected: m.jobs_rejected,
    model_loads: m.model_loads,
    limit_changes: m.limit_changes,
    on_off_switches: m.on_off_switches,
  };
}

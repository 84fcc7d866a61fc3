/**
 * Accumulates what the demo's end summary shows (renderSummary in live-view.ts): room
 * temperature min/mean/max and time in the comfort band [setpoint − 0.5, setpoint + 1.0] K
 * (spec/simulation.md "Metrics"), the unit's energy and its useful share, tokens. Samples are
 * weighted by their duration (simulated seconds); time-weighted like the simulator's metrics.
 */
import { BAND_HIGH_K, BAND_LOW_K } from './metrics.js';
import type { DemoSummaryStats, LiveViewJobs } from './live-view.js';

export interface DemoStatsSample {
  /** Duration the values held, simulated s. */
  dtS: number;
  /** Room temperature, °C (null: unknown, not counted). */
  roomTempC: number | null;
  /** Setpoint, °C (null: unknown; the sample does not count in time in band). */
  setpointC: number | null;
  /** The unit's wall power, W (null: unknown, counted as 0). */
  wallW: number | null;
  /** Whether inference ran (busy sequences ≥ 1): its energy counts as useful. */
  busy: boolean;
  /** Tokens produced during the sample (default 0). */
  tokens?: number;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

export class DemoStatsAccumulator {
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;
  private tempS = 0;
  private tempKs = 0;
  private bandKnownS = 0;
  private inBandS = 0;
  private energyJ = 0;
  private usefulJ = 0;
  private tokensSum = 0;

  add(s: DemoStatsSample): void {
    const dt = s.dtS;
    if (!isNum(dt) || dt <= 0) return;
    if (isNum(s.roomTempC)) {
      this.min = Math.min(this.min, s.roomTempC);
      this.max = Math.max(this.max, s.roomTempC);
      this.tempS += dt;
      this.tempKs += s.roomTempC * dt;
      if (isNum(s.setpointC)) {
        this.bandKnownS += dt;
        if (s.roomTempC >= s.setpointC - BAND_LOW_K && s.roomTempC <= s.setpointC + BAND_HIGH_K) this.inBandS += dt;
      }
    }
    const e = (isNum(s.wallW) && s.wallW > 0 ? s.wallW : 0) * dt;
    this.energyJ += e;
    if (s.busy) this.usefulJ += e;
    if (isNum(s.tokens) && s.tokens > 0) this.tokensSum += s.tokens;
  }

  /** The summary so far, with what the accumulator does not know. */
  stats(extra: { realElapsedS: number; simElapsedS: number; jobs: LiveViewJobs; nodeId?: string | null; tokens?: number }): DemoSummaryStats {
    const known = this.tempS > 0;
    return {
      nodeId: extra.nodeId ?? null,
      realElapsedS: extra.realElapsedS,
      simElapsedS: extra.simElapsedS,
      roomTempC: {
        min: known ? this.min : null,
        mean: known ? this.tempKs / this.tempS : null,
        max: known ? this.max : null,
      },
      timeInBand: this.bandKnownS > 0 ? this.inBandS / this.bandKnownS : null,
      energyKwh: this.energyJ / 3.6e6,
      usefulShare: this.energyJ > 0 ? this.usefulJ / this.energyJ : null,
      tokens: extra.tokens ?? this.tokensSum,
      jobs: extra.jobs,
    };
  }
}

/**
 * The simulated heater unit (spec/simulation.md "Heater unit"): GPU draw as a function of the
 * power limit and the busy sequences, wall power, decode speed, and a small state machine for the
 * model (unloaded → loading for load_s → loaded). Pure: no I/O, no clock; time is handed in.
 * It backs the simulator and the daemon's `sim` heater backend.
 */

/** Physics of the unit (the scenario's `heater:`, the config's `heater.sim`). */
export interface HeaterPhysics {
  /** GPU draw with no model loaded, W. */
  idle_w: number;
  /** GPU draw with a model loading or loaded and no work, W. */
  loaded_idle_w: number;
  /** The card's power limit range, W. */
  min_limit_w: number;
  max_limit_w: number;
  /** Rest of the unit (CPU, fans, board), W. */
  host_w: number;
  /** Wall power = (GPU draw + host_w) / psu_efficiency. */
  psu_efficiency: number;
  /** Decode tokens/s of one sequence at full power. */
  peak_tps: number;
  /** Seconds to load the model. */
  load_s: number;
}

export const DEFAULT_HEATER_PHYSICS: Readonly<HeaterPhysics> = Object.freeze({
  idle_w: 15,
  loaded_idle_w: 30,
  min_limit_w: 100,
  max_limit_w: 350,
  host_w: 40,
  psu_efficiency: 0.9,
  peak_tps: 70,
  load_s: 10,
});

export function resolveHeaterPhysics(overrides: Partial<HeaterPhysics> = {}): HeaterPhysics {
  return { ...DEFAULT_HEATER_PHYSICS, ...overrides };
}

/** Breakpoints of eff(x), x = draw / max_limit_w (shape of RTX 3090 decode speed vs power limit). */
export const EFF_POINTS: ReadonlyArray<readonly [number, number]> = [
  [0.29, 0.17],
  [0.43, 0.86],
  [0.57, 0.94],
  [0.71, 0.97],
  [0.86, 0.99],
  [1.0, 1.0],
];

/**
 * Relative decode speed at a share x of the maximum limit: 0 below 0.2, 0.17 from 0.2 to 0.29,
 * linear through the breakpoints, 1 from 1 up.
 */
export function eff(x: number): number {
  if (!(x >= 0.2)) return 0; // also NaN
  if (x >= 1) return 1;
  const first = EFF_POINTS[0]!;
  if (x <= first[0]) return first[1];
  for (let i = 1; i < EFF_POINTS.length; i += 1) {
    const [x1, y1] = EFF_POINTS[i]!;
    if (x <= x1) {
      const [x0, y0] = EFF_POINTS[i - 1]!;
      return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
    }
  }
  return 1;
}

/** The enforced limit: clamped to [min_limit_w, min(max_limit_w, max_power_w)]. */
export function clampLimit(p: HeaterPhysics, limitW: number, maxPowerW: number): number {
  const ceiling = Math.max(p.min_limit_w, Math.min(p.max_limit_w, maxPowerW));
  return Math.min(ceiling, Math.max(p.min_limit_w, limitW));
}

export interface DrawState {
  loaded: boolean;
  loading: boolean;
  /** Busy sequences (counted only when the model is loaded). */
  busy: number;
  /** Enforced power limit, W. */
  limitW: number;
  maxParallel: number;
}

/**
 * GPU draw, W: no model → idle_w; loading, or loaded with no work → loaded_idle_w; n ≥ 1 busy →
 * min(L, loaded_idle_w + (max_limit_w − loaded_idle_w)·(0.6 + 0.4·min(1, (n − 1)/(max_parallel − 1)))).
 * With max_parallel ≤ 1 the parallel term is 0 (its numerator n − 1 is 0 for the only possible n).
 */
export function gpuDrawW(p: HeaterPhysics, s: DrawState): number {
  if (s.loaded && s.busy >= 1) {
    const spread = s.maxParallel > 1 ? Math.min(1, (s.busy - 1) / (s.maxParallel - 1)) : 0;
    return Math.min(s.limitW, p.loaded_idle_w + (p.max_limit_w - p.loaded_idle_w) * (0.6 + 0.4 * spread));
  }
  if (s.loaded || s.loading) return p.loaded_idle_w;
  return p.idle_w;
}

/** Wall power of the unit (what a plug measures, all of it heat in the room), W. */
export function wallPowerW(p: HeaterPhysics, drawW: number): number {
  return (drawW + p.host_w) / p.psu_efficiency;
}

/** Aggregate decode tokens/s with `busy` sequences at GPU draw `drawW`: peak_tps · n^0.7 · eff(draw/max_limit_w). */
export function tokensPerS(p: HeaterPhysics, busy: number, drawW: number): number {
  if (busy < 1) return 0;
  return p.peak_tps * Math.pow(busy, 0.7) * eff(drawW / p.max_limit_w);
}

export type ModelState = 'unloaded' | 'loading' | 'loaded';

export interface SimHeaterUnitOptions {
  physics: HeaterPhysics;
  /** Site ceiling (config heater.max_power_w). */
  maxPowerW: number;
  /** Config llm.max_parallel. */
  maxParallel: number;
  /** Initial enforced limit before clamping (default: the card's default, max_limit_w). */
  initialLimitW?: number;
}

/** What the unit did over one advance. */
export interface HeaterStep {
  busy: number;
  gpuW: number;
  wallW: number;
  tokensPerS: number;
  tokens: number;
}

/**
 * The unit's state: enforced limit, model state, counters. Call `setLimit`, `setModelWanted`,
 * then `advance(dtS, requestedBusy)` for each interval; the draw over an interval is computed from
 * the state at its start, then the model load progresses.
 */
export class SimHeaterUnit {
  readonly physics: HeaterPhysics;
  readonly maxPowerW: number;
  readonly maxParallel: number;
  private limit: number;
  private model: ModelState = 'unloaded';
  private loadLeftS = 0;
  private loads = 0;
  private changes = 0;

  constructor(opts: SimHeaterUnitOptions) {
    this.physics = opts.physics;
    this.maxPowerW = opts.maxPowerW;
    this.maxParallel = opts.maxParallel;
    this.limit = clampLimit(opts.physics, opts.initialLimitW ?? opts.physics.max_limit_w, opts.maxPowerW);
  }

  get limitW(): number {
    return this.limit;
  }
  get modelState(): ModelState {
    return this.model;
  }
  get modelLoaded(): boolean {
    return this.model === 'loaded';
  }
  get modelLoading(): boolean {
    return this.model === 'loading';
  }
  /** Model loads started. */
  get modelLoads(): number {
    return this.loads;
  }
  /** Times the enforced limit changed. */
  get limitChanges(): number {
    return this.changes;
  }

  /** Request a limit; it is clamped. Returns the enforced limit. */
  setLimit(limitW: number): number {
    const next = clampLimit(this.physics, limitW, this.maxPowerW);
    if (next !== this.limit) {
      this.limit = next;
      this.changes += 1;
    }
    return next;
  }

  /** Start loading (counts a load) when wanted and unloaded; unload at once when not wanted. */
  setModelWanted(wanted: boolean): void {
    if (wanted) {
      if (this.model !== 'unloaded') return;
      this.loads += 1;
      if (this.physics.load_s > 0) {
        this.model = 'loading';
        this.loadLeftS = this.physics.load_s;
      } else {
        this.model = 'loaded';
      }
    } else {
      this.model = 'unloaded';
      this.loadLeftS = 0;
    }
  }

  /** Busy sequences the unit would run for a request (0 unless the model is loaded). */
  busyFor(requestedBusy: number): number {
    if (this.model !== 'loaded') return 0;
    return Math.max(0, Math.min(Math.floor(requestedBusy), this.maxParallel));
  }

  /** Draw, wall power and decode speed now, for a requested number of busy sequences. */
  peek(requestedBusy: number): HeaterStep {
    const busy = this.busyFor(requestedBusy);
    const gpuW = gpuDrawW(this.physics, {
      loaded: this.model === 'loaded',
      loading: this.model === 'loading',
      busy,
      limitW: this.limit,
      maxParallel: this.maxParallel,
    });
    return { busy, gpuW, wallW: wallPowerW(this.physics, gpuW), tokensPerS: tokensPerS(this.physics, busy, gpuW), tokens: 0 };
  }

  /** Run `dtS` seconds with `requestedBusy` sequences wanted; then let the model load progress. */
  advance(dtS: number, requestedBusy: number): HeaterStep {
    const step = this.peek(requestedBusy);
    step.tokens = step.tokensPerS * dtS;
    if (this.model === 'loading') {
      this.loadLeftS -= dtS;
      if (this.loadLeftS <= 1e-9) {
        this.model = 'loaded';
        this.loadLeftS = 0;
      }
    }
    return step;
  }
}

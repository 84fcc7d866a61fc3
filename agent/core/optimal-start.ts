/**
 * Optimal start: the unit learns how fast it warms its room and, before a scheduled rise of the
 * setpoint, starts early so that the new setpoint is met at the scheduled time. Pure: state in,
 * state out; time is an argument.
 *
 * The learner. While the unit heats continuously at high demand, every WARMUP_WINDOW_S of
 * monotonic time gives one sample: the room's rise (K/h) over the window, the mean heat (kW) and
 * the mean room − outdoor difference (K). The model is first order:
 *
 *     dT/dt (K/h) ≈ a · heat_kW − b · (T_room − T_out)
 *
 * `a` (K/h per kW) lumps the room's effective heat capacity (with whatever else heats it, such as a
 * base heating), `b` (1/h) its losses. It is fitted by least squares with exponential forgetting
 * (WARMUP_FORGETTING per sample) on top of a prior (WARMUP_PRIOR, weighted by WARMUP_PRIOR_WEIGHT
 * samples at typical regressors). At high demand the heat is nearly always the same, so the data
 * tell the rise at that heat well and `a` apart from `b` poorly: the prior on `a` is very weak (the
 * data set it), the one on `b` is worth a sample, which holds `b` where the data say little or, in
 * a real room (air and a heavy mass, not first order), mislead. The fit is bounded (A_BOUNDS,
 * B_BOUNDS). A sample with an absurd rise (a sensor jump) is dropped. The state is plain JSON
 * (serializeOptimalStart / restoreOptimalStart persist what is learned).
 *
 * The lead. The time to go from the room's temperature to the target at full heat, integrating the
 * model (closed form), plus LEAD_MARGIN_S for the model to load and the first minutes; capped at
 * MAX_LEAD_S. A unit that is small for a heavy room would need far longer to recover a deep setback
 * (scenarios/weekly-schedule.yaml: ~8 h for eco 17 → comfort 21, which the learner finds); there the
 * energy spent early grows faster than the comfort it buys: that scenario's week gives, against
 * starting at the scheduled time, discomfort 0.45× for +2.7 % energy with 2 h, 0.32× for +4 % with
 * 3 h (then 1.09× the tpi baseline's energy, past the simulation benchmark's 1.08×). So 2 h.
 *
 * The plan (planOptimalStart, used by the heat decision): in mode auto, with no setpoint input
 * (which would win over the schedule), when the schedule's next transition raises the setpoint above
 * the current one and the room is below it, the unit aims at the next setpoint from
 * (next transition − lead) on. Once started for a transition it holds on until that transition (the
 * lead shrinks as the room warms; recomputing it must not stop and restart the warm-up).
 */
import type { ActiveSchedule, ControlConfig, Mode } from './types.js';

/** The optimal-start switch the heat decision reads (config `thermostat.optimal_start`); absent: off. */
export interface OptimalStartSetting {
  thermostat: { optimalStart?: boolean };
}

/** Length of one learning sample (s of continuous heating at high demand). */
export const WARMUP_WINDOW_S = 1800;
/** A gap between observations longer than this (s) drops the current window. */
export const MAX_OBSERVATION_GAP_S = 120;
/** Weight kept by the past at every new sample (memory ≈ 1 / (1 − λ) samples). */
export const WARMUP_FORGETTING = 0.98;
/** Weight of the prior on each parameter, in samples at typical regressors (0.3 kW, 15 K). */
export const WARMUP_PRIOR_WEIGHT = { a: 0.01, b: 1 } as const;
/** Prior: 2 K/h per kW, losses 0.03 /h (a 20 m² room with a heavy mass). */
export const WARMUP_PRIOR = { a: 2, b: 0.03 } as const;
export const A_BOUNDS = [0.1, 30] as const;
export const B_BOUNDS = [0, 0.5] as const;
/** A rise faster than this (K/h, either way) is a sensor jump, not physics: the sample is dropped. */
export const MAX_PLAUSIBLE_RATE_K_PER_H = 15;
/** Outdoor temperature assumed when there is no outdoor input (learning and lead alike). */
export const FALLBACK_OUTDOOR_C = 5;
/** At most this early (s); see above. */
export const MAX_LEAD_S = 2 * 3600;
/** Added to the modelled warm-up (s): model load, minimum off time, the first minutes. */
export const LEAD_MARGIN_S = 600;
/** A predicted rate under this (K/h) at the target means the target is out of reach: the longest lead. */
export const MIN_RATE_K_PER_H = 0.05;
/** A rise smaller than this (K) is no rise. */
const RISE_EPSILON_K = 0.05;

const PRIOR_X1 = 0.3;
const PRIOR_X2 = 15;

export interface WarmupFit {
  /** K/h per kW of heat. */
  a: number;
  /** 1/h: the rise lost per K of room − outdoor. */
  b: number;
}

/** Exponentially weighted normal equations of the fit (x1 = heat kW, x2 = −(room − outdoor) K, y = K/h). */
export interface WarmupStats {
  s11: number;
  s12: number;
  s22: number;
  s1y: number;
  s2y: number;
}

/** The learning sample being gathered (monotonic seconds; not persisted). */
export interface WarmupWindow {
  startS: number;
  startRoomC: number;
  lastS: number;
  /** ∫ heat dt (W·s) and ∫ (room − outdoor) dt (K·s) since startS. */
  heatWs: number;
  gapKs: number;
}

export interface OptimalStartState {
  fit: WarmupFit;
  stats: WarmupStats;
  /** Samples learned from, ever. */
  samples: number;
  window: WarmupWindow | null;
  /** The transition (wall ms) the unit is starting early for, null when none. */
  earlyForWallMs: number | null;
}

export const initialOptimalStartState: OptimalStartState = {
  fit: { ...WARMUP_PRIOR },
  stats: { s11: 0, s12: 0, s22: 0, s1y: 0, s2y: 0 },
  samples: 0,
  window: null,
  earlyForWallMs: null,
};

/** One learned sample (for tests and logs). */
export interface WarmupSample {
  rateKPerH: number;
  heatKw: number;
  gapK: number;
}

export interface WarmupObservation {
  nowS: number;
  roomC: number | null;
  outdoorC: number | null;
  /** Heat the unit delivers now (W), null when unknown. */
  heatW: number | null;
  /** The unit heats continuously at high demand (the decision says so for this tick). */
  warming: boolean;
}

/** Feeds one tick to the learner; a window that completes becomes a sample and updates the fit. */
export function observeWarmup(s: OptimalStartState, o: WarmupObservation): { state: OptimalStartState; sample: WarmupSample | null } {
  if (!o.warming || o.roomC === null || o.heatW === null || !Number.isFinite(o.roomC) || !Number.isFinite(o.heatW)) {
    return { state: s.window === null ? s : { ...s, window: null }, sample: null };
  }
  const gap = o.roomC - (o.outdoorC ?? FALLBACK_OUTDOOR_C);
  const w = s.window;
  if (w === null || o.nowS - w.lastS > MAX_OBSERVATION_GAP_S || o.nowS < w.lastS) {
    return { state: { ...s, window: { startS: o.nowS, startRoomC: o.roomC, lastS: o.nowS, heatWs: 0, gapKs: 0 } }, sample: null };
  }
  const dt = o.nowS - w.lastS;
  const next: WarmupWindow = { ...w, lastS: o.nowS, heatWs: w.heatWs + o.heatW * dt, gapKs: w.gapKs + gap * dt };
  const spanS = o.nowS - w.startS;
  if (spanS < WARMUP_WINDOW_S) return { state: { ...s, window: next }, sample: null };

  const fresh: WarmupWindow = { startS: o.nowS, startRoomC: o.roomC, lastS: o.nowS, heatWs: 0, gapKs: 0 };
  const sample: WarmupSample = {
    rateKPerH: ((o.roomC - w.startRoomC) / spanS) * 3600,
    heatKw: next.heatWs / spanS / 1000,
    gapK: next.gapKs / spanS,
  };
  if (Math.abs(sample.rateKPerH) > MAX_PLAUSIBLE_RATE_K_PER_H || !(sample.heatKw > 0)) return { state: { ...s, window: fresh }, sample: null };
  const learned = learnWarmup(s, sample);
  return { state: { ...learned, window: fresh }, sample };
}

/** Adds one sample to the fit (forgetting the past by WARMUP_FORGETTING). */
export function learnWarmup(s: OptimalStartState, x: WarmupSample): OptimalStartState {
  const l = WARMUP_FORGETTING;
  const x1 = x.heatKw;
  const x2 = -x.gapK;
  const y = x.rateKPerH;
  const st = s.stats;
  const stats: WarmupStats = {
    s11: l * st.s11 + x1 * x1,
    s12: l * st.s12 + x1 * x2,
    s22: l * st.s22 + x2 * x2,
    s1y: l * st.s1y + x1 * y,
    s2y: l * st.s2y + x2 * y,
  };
  return { ...s, stats, fit: solveFit(stats), samples: s.samples + 1 };
}

/** The fit of the stats and the prior, bounded. */
export function solveFit(st: WarmupStats): WarmupFit {
  const p1 = WARMUP_PRIOR_WEIGHT.a * PRIOR_X1 * PRIOR_X1;
  const p2 = WARMUP_PRIOR_WEIGHT.b * PRIOR_X2 * PRIOR_X2;
  const m11 = st.s11 + p1;
  const m22 = st.s22 + p2;
  const m12 = st.s12;
  const v1 = st.s1y + p1 * WARMUP_PRIOR.a;
  const v2 = st.s2y + p2 * WARMUP_PRIOR.b;
  const det = m11 * m22 - m12 * m12;
  if (!(det > 0) || !Number.isFinite(det)) return { ...WARMUP_PRIOR };
  const a = (m22 * v1 - m12 * v2) / det;
  const b = (m11 * v2 - m12 * v1) / det;
  return { a: clamp(a, A_BOUNDS[0], A_BOUNDS[1]), b: clamp(b, B_BOUNDS[0], B_BOUNDS[1]) };
}

/** The modelled rise (K/h) at a room temperature, outdoor temperature and heat. */
export function warmupRateKPerH(s: Pick<OptimalStartState, 'fit'>, i: { roomC: number; outdoorC: number | null; heatW: number }): number {
  return s.fit.a * (i.heatW / 1000) - s.fit.b * (i.roomC - (i.outdoorC ?? FALLBACK_OUTDOOR_C));
}

/**
 * How long before a scheduled rise to start (s): the modelled time from roomC to targetC at
 * maxHeatW, plus LEAD_MARGIN_S, within [0, MAX_LEAD_S]; 0 when the room is already there,
 * MAX_LEAD_S when the model says the target is out of reach.
 */
export function leadTimeS(
  s: Pick<OptimalStartState, 'fit'>,
  i: { roomC: number; targetC: number; outdoorC: number | null; maxHeatW: number },
): number {
  if (!(i.targetC > i.roomC)) return 0;
  const r0 = warmupRateKPerH(s, { roomC: i.roomC, outdoorC: i.outdoorC, heatW: i.maxHeatW });
  const r1 = warmupRateKPerH(s, { roomC: i.targetC, outdoorC: i.outdoorC, heatW: i.maxHeatW });
  if (!(r1 > MIN_RATE_K_PER_H)) return MAX_LEAD_S;
  const b = s.fit.b;
  // dT/dt = r(T), r linear in T with slope −b: t = ln(r0 / r1) / b; b → 0: ΔT / r0.
  const hours = b < 1e-9 ? (i.targetC - i.roomC) / r0 : Math.log(r0 / r1) / b;
  return clamp(hours * 3600 + LEAD_MARGIN_S, 0, MAX_LEAD_S);
}

/** The setpoint a schedule transition sets (entry setpoint, else its preset's), clamped; null when it sets none. */
export function transitionSetpointC(
  next: ActiveSchedule['next'],
  t: Pick<ControlConfig['thermostat'], 'presets' | 'minSetpointC' | 'maxSetpointC'>,
): number | null {
  if (next === null) return null;
  const c = next.setpointC ?? (next.preset !== null && next.preset !== 'none' ? t.presets[next.preset] : null);
  return c === null ? null : clamp(c, t.minSetpointC, t.maxSetpointC);
}

export interface OptimalStartInput {
  enabled: boolean;
  nowWallMs: number;
  mode: Mode;
  /** A fresh setpoint input (it wins over the schedule): no early start. */
  setpointInputC: number | null;
  schedule: ActiveSchedule | null;
  /** The setpoint resolved now. */
  setpointC: number;
  /** What the next transition sets (transitionSetpointC), null when nothing. */
  nextSetpointC: number | null;
  roomC: number | null;
  outdoorC: number | null;
  /** The unit's heat at full power (W). */
  maxHeatW: number;
}

export interface OptimalStartPlan {
  state: OptimalStartState;
  /** The setpoint to aim at now instead of the resolved one (null: no early start). */
  targetC: number | null;
  /** The lead computed on this tick (s), null when no rise is coming. */
  leadS: number | null;
}

/** Whether to start early now, and for which setpoint. */
export function planOptimalStart(s: OptimalStartState, i: OptimalStartInput): OptimalStartPlan {
  const sched = i.schedule;
  const nextMs = sched?.nextWallMs ?? null;
  const none = (leadS: number | null = null): OptimalStartPlan => ({
    state: s.earlyForWallMs === null ? s : { ...s, earlyForWallMs: null },
    targetC: null,
    leadS,
  });
  if (!i.enabled || i.mode !== 'auto' || i.setpointInputC !== null || nextMs === null || i.nextSetpointC === null) return none();
  if (!(i.nextSetpointC > i.setpointC + RISE_EPSILON_K) || i.roomC === null || !(nextMs > i.nowWallMs)) return none();
  if (nextMs - i.nowWallMs > MAX_LEAD_S * 1000) return none();
  const leadS = leadTimeS(s, { roomC: i.roomC, targetC: i.nextSetpointC, outdoorC: i.outdoorC, maxHeatW: i.maxHeatW });
  const started = s.earlyForWallMs === nextMs;
  if (!started && (leadS <= 0 || i.nowWallMs < nextMs - leadS * 1000)) return none(leadS);
  return { state: started ? s : { ...s, earlyForWallMs: nextMs }, targetC: i.nextSetpointC, leadS };
}

/** What is persisted (learning.json): the fit and its statistics, never a window or a plan in progress. */
export interface PersistedOptimalStart {
  version: 1;
  fit: WarmupFit;
  stats: WarmupStats;
  samples: number;
}

export function serializeOptimalStart(s: OptimalStartState): PersistedOptimalStart {
  return { version: 1, fit: { ...s.fit }, stats: { ...s.stats }, samples: s.samples };
}

/** The learner back from its JSON; anything missing, non-finite or inconsistent gives the prior. */
export function restoreOptimalStart(raw: unknown): OptimalStartState {
  const o = raw as Partial<PersistedOptimalStart> | null;
  if (o === null || typeof o !== 'object' || o.version !== 1 || typeof o.stats !== 'object' || o.stats === null) return initialOptimalStartState;
  const st = o.stats as unknown as Record<string, unknown>;
  const keys = ['s11', 's12', 's22', 's1y', 's2y'] as const;
  if (!keys.every((k) => typeof st[k] === 'number' && Number.isFinite(st[k]))) return initialOptimalStartState;
  const stats = Object.fromEntries(keys.map((k) => [k, st[k] as number])) as unknown as WarmupStats;
  // The normal matrix of real data is positive semi-definite.
  if (stats.s11 < 0 || stats.s22 < 0 || stats.s12 * stats.s12 > stats.s11 * stats.s22 * (1 + 1e-9)) return initialOptimalStartState;
  const samples = typeof o.samples === 'number' && Number.isFinite(o.samples) && o.samples >= 0 ? Math.floor(o.samples) : 0;
  return { ...initialOptimalStartState, stats, fit: solveFit(stats), samples };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

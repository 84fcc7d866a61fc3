/**
 * The retained `state` document of spec/mqtt-api.md, built from the decision, the card's
 * telemetry, the inference side and the counters. Every field is present; null when unknown.
 */
import type { GpuTelemetry, HeatDecision } from '../core/types.js';

export interface LlmStatus {
  model: string | null;
  loaded: boolean;
  accepting: boolean;
  slots: number;
  maxSlots: number;
  jobsActive: number;
  /** Jobs waiting (of jobsActive). */
  queued: number;
  jobsDone: number;
  tokensPerS: number | null;
}

export interface StateSnapshot {
  ts: string;
  mode: string;
  preset: string;
  phase: string;
  action: string;
  room_temp_c: number | null;
  setpoint_c: number | null;
  setpoint_source: string;
  outdoor_temp_c: number | null;
  demand: number | null;
  power_limit_w: number | null;
  /** The operator's power cap (set/power_cap), null when none: the ceiling under the site maximum. */
  power_cap_w: number | null;
  gpu: { power_w: number | null; temp_c: number | null; util_pct: number | null; mem_used_mib: number | null; pstate: string | null };
  wall_power_w: number | null;
  heat_w: number | null;
  energy_kwh: number;
  llm: {
    model: string | null;
    loaded: boolean;
    accepting: boolean;
    slots: number;
    max_slots: number;
    jobs_active: number;
    /** Jobs waiting, of jobs_active (a contract addition: while scarce work is stretched, running ≠ max_slots − slots). */
    queued: number;
    jobs_done: number;
    tokens_per_s: number | null;
  };
  inputs_stale: string[];
  reasons: string[];
  safe_mode: boolean;
}

/** A value as read back from JSON: every field may be missing or null (another version, a partial document). */
type Loose<T> = T extends readonly (infer U)[] ? readonly U[] | null : T extends object ? { [K in keyof T]?: Loose<T[K]> | null } : T | null;

/**
 * A retained `state` document as a client receives it (dispatch, status, the demo's view): the
 * same fields as StateSnapshot, none of them trusted to be there.
 */
export type ReceivedState = Loose<StateSnapshot>;

export function buildStateSnapshot(a: {
  wallMs: number;
  decision: HeatDecision;
  gpu: GpuTelemetry | null;
  wallPowerW: number | null;
  heatW: number | null;
  energyKwh: number;
  llm: LlmStatus;
  /** The operator's power cap, null when none. */
  powerCapW: number | null;
}): StateSnapshot {
  const d = a.decision;
  return {
    ts: new Date(a.wallMs).toISOString(),
    mode: d.mode,
    preset: d.preset,
    phase: d.phase,
    action: d.action,
    room_temp_c: round(d.roomTempC, 2),
    setpoint_c: round(d.setpointC, 2),
    setpoint_source: d.setpointSource,
    outdoor_temp_c: round(d.outdoorTempC, 2),
    demand: round(d.demand, 2),
    power_limit_w: a.gpu?.limitW ?? d.targetLimitW,
    power_cap_w: a.powerCapW,
    gpu: {
      power_w: round(a.gpu?.powerW ?? null, 1),
      temp_c: a.gpu?.tempC ?? null,
      util_pct: a.gpu?.utilPct ?? null,
      mem_used_mib: a.gpu?.memUsedMib ?? null,
      pstate: a.gpu?.pstate ?? null,
    },
    wall_power_w: round(a.wallPowerW, 1),
    heat_w: round(a.heatW, 1),
    energy_kwh: round(a.energyKwh, 4) ?? 0,
    llm: {
      model: a.llm.model,
      loaded: a.llm.loaded,
      accepting: a.llm.accepting,
      slots: a.llm.slots,
      max_slots: a.llm.maxSlots,
      jobs_active: a.llm.jobsActive,
      queued: a.llm.queued,
      jobs_done: a.llm.jobsDone,
      tokens_per_s: round(a.llm.tokensPerS, 1),
    },
    inputs_stale: d.inputsStale,
    reasons: d.reasons,
    safe_mode: d.safeMode,
  };
}

/**
 * The decision fields of a snapshot: everything but the telemetry the contract throttles.
 * A change here is published at once; telemetry at most every 10 s.
 */
export function decisionKey(s: StateSnapshot): string {
  const { ts: _ts, energy_kwh: _e, heat_w: _h, wall_power_w: _w, gpu: _g, power_limit_w, llm, ...rest } = s;
  return JSON.stringify({ ...rest, power_limit_w, llm: { model: llm.model, loaded: llm.loaded, accepting: llm.accepting } });
}

function round(x: number | null, digits: number): number | null {
  if (x === null || !Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * Heat-aware dispatch, the pure part (spec/mqtt-api.md "Node presence and state", "Inference
 * jobs"): from what the heaters retain (`status`, `state`) to the heaters a job may go to, best
 * first, and why each other heater was skipped. A client trusts a heater's state only while its
 * status is `online` and the state's `ts` is younger than twice `state.interval_s`; it prefers the
 * heater with the largest heat demand, then the most free slots. Time is an argument.
 */
import type { ReceivedState } from '../runtime/state-snapshot.js';

/** The fields of a heater's retained `state` that dispatch reads (snake_case, as published). */
export type HeaterStateDoc = ReceivedState;

/** What a client knows of one heater: its retained `status` and `state`, as received. */
export interface HeaterObservation {
  node: string;
  /** `online` / `offline` from `<base>/<id>/status`; null: none received. */
  status: string | null;
  /** The parsed `state` document; null: none received; 'invalid': not a JSON object. */
  state: HeaterStateDoc | 'invalid' | null;
}

/** Why a heater is not offered a job (stable codes; `detail` says more). */
export type SkipReason =
  | 'offline'
  | 'status_unknown'
  | 'no_state'
  | 'invalid_state'
  | 'stale_state'
  | 'model_mismatch'
  | 'no_heat_demand'
  | 'not_accepting'
  | 'full';

export interface HeaterEntry {
  node: string;
  /** true online, false offline, null no status seen. */
  online: boolean | null;
  model: string | null;
  demand: number | null;
  /** Free sequences now. */
  slots: number;
  maxSlots: number;
  /** Running + queued. */
  jobsActive: number;
  tokensPerS: number | null;
  /** Age of the state's `ts` (s); null: no usable ts. */
  ageS: number | null;
  usable: boolean;
  skip: SkipReason | null;
  /** Human words for the skip ("state 75 s old (limit 60 s)"); null when usable. */
  detail: string | null;
}

export interface FleetViewOptions {
  /** Now, epoch ms (the client's wall clock). */
  nowMs: number;
  /** The heaters' `state.interval_s` (default 30): a state older than twice it is stale. */
  stateIntervalS?: number;
  /** Only heaters serving this model id (null/absent: any). */
  model?: string | null;
  /** The heaters' `jobs.max_queue` (default 8): a heater with no free slot takes jobs while it has queue room. */
  maxQueue?: number;
}

export interface FleetView {
  /** Heaters a job may go to, best first. */
  usable: HeaterEntry[];
  /** The others, by node id, each with its skip reason. */
  skipped: HeaterEntry[];
}

export const DEFAULT_STATE_INTERVAL_S = 30;
export const DEFAULT_MAX_QUEUE = 8;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Sorts heaters for dispatch: largest demand, then most free slots, then shortest queue, then node id. */
export function compareHeaters(a: HeaterEntry, b: HeaterEntry): number {
  return (
    (b.demand ?? 0) - (a.demand ?? 0) ||
    b.slots - a.slots ||
    a.jobsActive - b.jobsActive ||
    (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)
  );
}

/** Judges one heater (usable or the first reason it is not). */
export function assessHeater(o: HeaterObservation, opts: FleetViewOptions): HeaterEntry {
  const intervalS = opts.stateIntervalS ?? DEFAULT_STATE_INTERVAL_S;
  const maxQueue = opts.maxQueue ?? DEFAULT_MAX_QUEUE;
  const s = o.state && o.state !== 'invalid' ? o.state : null;
  const llm = s?.llm ?? null;
  const tsMs = typeof s?.ts === 'string' ? Date.parse(s.ts) : NaN;
  const entry: HeaterEntry = {
    node: o.node,
    online: o.status === 'online' ? true : o.status === null ? null : false,
    model: typeof llm?.model === 'string' ? llm.model : null,
    demand: num(s?.demand),
    slots: Math.max(0, num(llm?.slots) ?? 0),
    maxSlots: Math.max(0, num(llm?.max_slots) ?? 0),
    jobsActive: Math.max(0, num(llm?.jobs_active) ?? 0),
    tokensPerS: num(llm?.tokens_per_s),
    ageS: Number.isFinite(tsMs) ? (opts.nowMs - tsMs) / 1000 : null,
    usable: false,
    skip: null,
    detail: null,
  };
  const skip = (reason: SkipReason, detail: string): HeaterEntry => ({ ...entry, skip: reason, detail });

  if (o.status === null) return skip('status_unknown', 'no status seen');
  if (o.status !== 'online') return skip('offline', `status ${JSON.stringify(o.status)}`);
  if (o.state === null) return skip('no_state', 'no state seen');
  if (o.state === 'invalid') return skip('invalid_state', 'state is not a JSON object');
  if (entry.ageS === null) return skip('invalid_state', 'state has no valid ts');
  const limitS = 2 * intervalS;
  if (entry.ageS > limitS) return skip('stale_state', `state ${Math.round(entry.ageS)} s old (limit ${limitS} s)`);
  if (opts.model && entry.model !== opts.model) return skip('model_mismatch', `serves ${entry.model ?? 'no model'}, not ${opts.model}`);
  if (llm?.accepting !== true) {
    const why = [s?.phase ? `phase ${s.phase}` : null, ...(s?.reasons ?? [])].filter((x) => x !== null).join(', ');
    if ((entry.demand ?? 0) <= 0) return skip('no_heat_demand', `room does not want heat${why ? ` (${why})` : ''}`);
    return skip('not_accepting', `not accepting jobs${why ? ` (${why})` : ''}`);
  }
  // llm.queued where the heater reports it; older heaters: what is not running (max_slots − slots).
  const queued = Math.max(0, num(llm?.queued) ?? entry.jobsActive - (entry.maxSlots - entry.slots));
  if (entry.slots <= 0 && queued >= maxQueue) return skip('full', `no free slot, ${queued} queued (max ${maxQueue})`);
  return { ...entry, usable: true };
}

/** The usable heaters ranked for heat-aware dispatch, and the skipped ones with their reasons. */
export function buildFleetView(observations: Iterable<HeaterObservation>, opts: FleetViewOptions): FleetView {
  const usable: HeaterEntry[] = [];
  const skipped: HeaterEntry[] = [];
  for (const o of observations) {
    const e = assessHeater(o, opts);
    (e.usable ? usable : skipped).push(e);
  }
  usable.sort(compareHeaters);
  skipped.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return { usable, skipped };
}

/** "3 heaters seen: h1 offline (status "offline"); h2 no_heat_demand (room does not want heat (phase idle, at_setpoint))". */
export function describeFleet(view: FleetView): string {
  const n = view.usable.length + view.skipped.length;
  if (n === 0) return 'no heater seen';
  const parts = view.skipped.map((e) => `${e.node}: ${e.skip} (${e.detail})`);
  const head = `${n} heater${n === 1 ? '' : 's'} seen, ${view.usable.length} usable`;
  return parts.length > 0 ? `${head}; skipped ${parts.join('; ')}` : head;
}
